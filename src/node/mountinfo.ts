// mountinfo.ts: reads /proc/self/mountinfo, the kernel's own mount table, with a time limit: a
// mount storm can make it huge and slow to read (field-lessons #5).
import { readFile } from 'node:fs/promises';

import { InternalError, OperationTimeoutError, abortReason } from '../errors.js';
import type { CallOptions, MountEntry, MountTable } from '../ports.js';

/** Octal escapes the kernel uses in mountinfo paths (space, tab, newline, backslash). */
function unescape(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
    String.fromCharCode(parseInt(octal, 8)),
  );
}

/** Parses mountinfo text (proc(5)): `id parent major:minor root mountpoint options ... - fstype source superoptions`. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const [left, right] = line.split(' - ');
    const fields = left?.split(' ') ?? [];
    const tail = right?.split(' ') ?? [];
    const mountPoint = fields[4];
    if (mountPoint === undefined || tail.length < 2)
      throw new InternalError(
        `the kernel's mount table has a line this driver cannot read: ${line.slice(0, 80)}`,
      );
    entries.push({
      mountPoint: unescape(mountPoint),
      device: fields[2] ?? '',
      source: unescape(tail[1] ?? ''),
      fsType: tail[0] ?? '',
      options: (fields[5] ?? '').split(','),
    });
  }
  return entries;
}

export class ProcMountTable implements MountTable {
  constructor(
    private readonly path = '/proc/self/mountinfo',
    private readonly timeoutMs = 10_000,
  ) {}

  async mountsAt(path: string, options: CallOptions = {}): Promise<MountEntry[]> {
    return (await this.all(options)).filter((entry) => entry.mountPoint === path);
  }

  async all(options: CallOptions = {}): Promise<MountEntry[]> {
    const timeout = AbortSignal.timeout(this.timeoutMs);
    const signal =
      options.signal === undefined ? timeout : AbortSignal.any([timeout, options.signal]);
    try {
      const text = await readFile(this.path, { encoding: 'utf8', signal });
      return parseMountInfo(text);
    } catch (error) {
      if (timeout.aborted)
        throw new OperationTimeoutError(
          `reading ${this.path} took longer than ${this.timeoutMs} ms`,
        );
      if (signal.aborted) throw abortReason(signal);
      throw error;
    }
  }
}
