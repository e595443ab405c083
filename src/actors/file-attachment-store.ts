// file-attachment-store.ts: attachment records in one JSON file, for standalone mode (the
// quickstart and csi-sanity, where there is no Kubernetes API to hold PV annotations). Written
// whole on every change through a temp file, fsync and rename, so a crash leaves the old or the
// new file, never half of one. Small by nature: a laptop or CI run has a handful of volumes.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

import type { AttachmentStore, PersistedAttachment } from '../ports.js';

interface FileShape {
  readonly v: 1;
  readonly volumes: Record<string, PersistedAttachment>;
}

export class FileAttachmentStore implements AttachmentStore {
  private volumes: Record<string, PersistedAttachment> | undefined;
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly path: string) {}

  loadAll(): Promise<Map<string, PersistedAttachment>> {
    return Promise.resolve(new Map(Object.entries(this.read())));
  }

  save(volumeId: string, record: PersistedAttachment | undefined): Promise<void> {
    const volumes = { ...this.read() };
    if (record === undefined) delete volumes[volumeId];
    else volumes[volumeId] = record;
    this.volumes = volumes;
    const shape: FileShape = { v: 1, volumes };
    // Writes are chained so the file always ends with the newest whole state.
    this.writing = this.writing.then(() =>
      writeAtomic(this.path, `${JSON.stringify(shape, null, 1)}\n`),
    );
    return this.writing;
  }

  private read(): Record<string, PersistedAttachment> {
    if (this.volumes !== undefined) return this.volumes;
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      this.volumes = {};
      return this.volumes;
    }
    const parsed = JSON.parse(text) as Partial<FileShape>;
    if (parsed.v !== 1 || typeof parsed.volumes !== 'object') {
      throw new Error(`${this.path} is not an attachment state file (version ${String(parsed.v)})`);
    }
    this.volumes = parsed.volumes;
    return this.volumes;
  }
}

function writeAtomic(path: string, text: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  return Promise.resolve();
}
