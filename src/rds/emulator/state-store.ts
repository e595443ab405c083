// state-store.ts: the emulator's durable state: disks, pool settings, and the export table.
//
// Everything a client has been told succeeded is on disk before the answer leaves: each mutation
// writes state.json via write-temp, fsync, rename, fsync(dir), so a kill -9 at any instant leaves
// either the old or the new state, never a torn one. Files are not kept here: they are the real
// files under `<dataDir>/fs/`, so a file can outlive its disk and the reverse, as on the device.
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

export interface DiskState {
  readonly id: number;
  readonly slot: string;
  readonly type: 'file';
  /** Absolute device path with leading slash, e.g. `/storage-pool/metal-csi/pvc-1.img`. */
  readonly filePath: string;
  readonly fileSize: number;
  readonly fileOffset: number;
  readonly nvmeTcpExport: boolean;
  readonly nvmeTcpServerPort: number;
  readonly nvmeTcpServerNqn: string;
  readonly nvmeTcpServerAllowHostName: string;
  readonly iscsiExport: boolean;
  readonly nfsSharing: boolean;
  readonly smbSharing: boolean;
  readonly mediaSharing: boolean;
  readonly mountFilesystem: boolean;
  readonly mountReadOnly: boolean;
  readonly compress: boolean;
  readonly swap: boolean;
  readonly comment: string;
}

export interface EmulatorState {
  readonly version: 1;
  readonly nextId: number;
  readonly poolSizeBytes: number;
  readonly identity: string;
  readonly disks: readonly DiskState[];
}

/** One row of the export table the node's loop transport reads (exports.json). */
export interface ExportEntry {
  readonly nqn: string;
  readonly port: number;
  readonly slot: string;
  /** Host path of the backing file. */
  readonly backingFile: string;
  readonly sizeBytes: number;
}

export const STATE_FILE = 'state.json';
export const EXPORTS_FILE = 'exports.json';
export const FS_DIR = 'fs';

/** Writes `data` to `path` so that a crash leaves either the old or the new content. */
export function writeFileAtomic(path: string, data: string): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, 'w', 0o600);
  try {
    writeSync(fd, data);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(temp, path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}

export class StateStore {
  private current: EmulatorState;

  constructor(
    readonly dataDir: string,
    defaults: { poolSizeBytes: number; identity: string },
  ) {
    mkdirSync(join(dataDir, FS_DIR), { recursive: true });
    // Pool size and identity are settings of this run; disks and ids are what persists.
    const loaded = this.load();
    // Id 1 is the storage pool's (disk-items.ts POOL_ID); file disks start at 2.
    this.current = {
      version: 1,
      nextId: loaded?.nextId ?? 2,
      disks: loaded?.disks ?? [],
      ...defaults,
    };
    this.save();
  }

  get state(): EmulatorState {
    return this.current;
  }

  /** Host path of a device path (`/storage-pool/x.img` -> `<dataDir>/fs/storage-pool/x.img`). */
  hostPath(devicePath: string): string {
    return join(this.dataDir, FS_DIR, devicePath.replace(/^\/+/, ''));
  }

  /** Replaces the state and makes it durable before returning. */
  commit(next: EmulatorState): void {
    this.current = next;
    this.save();
  }

  exports(): ExportEntry[] {
    return this.current.disks
      .filter((d) => d.nvmeTcpExport)
      .map((d) => ({
        nqn: d.nvmeTcpServerNqn,
        port: d.nvmeTcpServerPort,
        slot: d.slot,
        backingFile: this.hostPath(d.filePath),
        sizeBytes: d.fileSize,
      }));
  }

  private load(): EmulatorState | undefined {
    let text: string;
    try {
      text = readFileSync(join(this.dataDir, STATE_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const state = JSON.parse(text) as EmulatorState;
    if (state.version !== 1)
      throw new Error(`unsupported emulator state version ${String(state.version)}`);
    return state;
  }

  private save(): void {
    writeFileAtomic(join(this.dataDir, STATE_FILE), `${JSON.stringify(this.current, null, 2)}\n`);
    writeFileAtomic(
      join(this.dataDir, EXPORTS_FILE),
      `${JSON.stringify(this.exports(), null, 2)}\n`,
    );
  }
}
