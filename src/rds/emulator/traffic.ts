// traffic.ts: /disk monitor-traffic counters, read from the kernel's loop devices backed by the
// emulator's files (the node's test transport attaches them), so the numbers are real I/O.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { CRLF } from './print-format.js';
import { groupDigits, humanRate } from './units.js';

/** /sys/block/<dev>/stat fields, in kernel order (Documentation/block/stat.rst). */
const STAT_FIELDS = [
  'readOps',
  'readMerges',
  'readSectors',
  'readTimeMs',
  'writeOps',
  'writeMerges',
  'writeSectors',
  'writeTimeMs',
  'inFlight',
  'activeTimeMs',
  'waitTimeMs',
  'discardOps',
  'discardMerges',
  'discardSectors',
  'discardTimeMs',
  'flushOps',
  'flushTimeMs',
] as const;

export type Counters = Record<(typeof STAT_FIELDS)[number], number>;

export interface TrafficSample {
  readonly counters: Counters;
  readonly readOpsPerSecond: number;
  readonly writeOpsPerSecond: number;
  readonly readBitsPerSecond: number;
  readonly writeBitsPerSecond: number;
}

function zero(): Counters {
  return Object.fromEntries(STAT_FIELDS.map((f) => [f, 0])) as Counters;
}

export class TrafficMonitor {
  private readonly last = new Map<string, { at: number; counters: Counters }>();

  constructor(
    private readonly fsRoot: string,
    private readonly now: () => number,
    private readonly sysBlock = '/sys/block',
  ) {}

  /** Counters of loop devices backed by `files`, or by any file of the pool when undefined. */
  sample(slot: string, files: readonly string[] | undefined): TrafficSample {
    const counters = zero();
    for (const device of this.loopDevices()) {
      const backing = device.backingFile.replace(/ \(deleted\)$/, '');
      const ours =
        files === undefined ? backing.startsWith(`${this.fsRoot}/`) : files.includes(backing);
      if (!ours) continue;
      for (const field of STAT_FIELDS) counters[field] += device.stat[field];
    }
    const at = this.now();
    const previous = this.last.get(slot);
    this.last.set(slot, { at, counters });
    const seconds = previous === undefined ? 0 : (at - previous.at) / 1000;
    const rate = (field: keyof Counters, factor = 1): number =>
      seconds <= 0 || previous === undefined
        ? 0
        : (Math.max(0, counters[field] - previous.counters[field]) * factor) / seconds;
    return {
      counters,
      readOpsPerSecond: Math.round(rate('readOps')),
      writeOpsPerSecond: Math.round(rate('writeOps')),
      readBitsPerSecond: rate('readSectors', 512 * 8),
      writeBitsPerSecond: rate('writeSectors', 512 * 8),
    };
  }

  private loopDevices(): { backingFile: string; stat: Counters }[] {
    let names: string[];
    try {
      names = readdirSync(this.sysBlock).filter((n) => n.startsWith('loop'));
    } catch {
      return [];
    }
    const devices: { backingFile: string; stat: Counters }[] = [];
    for (const name of names) {
      try {
        const backingFile = readFileSync(
          join(this.sysBlock, name, 'loop', 'backing_file'),
          'utf8',
        ).trim();
        const values = readFileSync(join(this.sysBlock, name, 'stat'), 'utf8')
          .trim()
          .split(/\s+/)
          .map(Number);
        const stat = zero();
        STAT_FIELDS.forEach((field, i) => (stat[field] = values[i] ?? 0));
        devices.push({ backingFile, stat });
      } catch {
        // Not attached (no loop/ directory) or detached meanwhile.
      }
    }
    return devices;
  }
}

/** The `monitor-traffic ... once` block (routeros-cli.md 4.5): right-aligned keys and values. */
export function renderMonitor(slot: string, sample: TrafficSample): string {
  const c = sample.counters;
  const rows: [string, string][] = [
    ['slot', slot],
    ['read-ops', groupDigits(c.readOps)],
    ['read-ops-per-second', groupDigits(sample.readOpsPerSecond)],
    ['read-bytes', groupDigits(c.readSectors * 512)],
    ['read-rate', humanRate(sample.readBitsPerSecond)],
    ['read-merges', groupDigits(c.readMerges)],
    ['read-time', `${c.readTimeMs}ms`],
    ['write-ops', groupDigits(c.writeOps)],
    ['write-ops-per-second', groupDigits(sample.writeOpsPerSecond)],
    ['write-bytes', groupDigits(c.writeSectors * 512)],
    ['write-rate', humanRate(sample.writeBitsPerSecond)],
    ['write-merges', groupDigits(c.writeMerges)],
    ['write-time', `${c.writeTimeMs}ms`],
    ['in-flight-ops', groupDigits(c.inFlight)],
    ['active-time', `${c.activeTimeMs}ms`],
    ['wait-time', `${c.waitTimeMs}ms`],
    ['discard-ops', groupDigits(c.discardOps)],
    ['discard-bytes', groupDigits(c.discardSectors * 512)],
    ['discard-merges', groupDigits(c.discardMerges)],
    ['discard-time', `${c.discardTimeMs}ms`],
    ['flush-ops', groupDigits(c.flushOps)],
    ['flush-time', `${c.flushTimeMs}ms`],
  ];
  return renderKeyValueBlock(rows);
}

/** `key: value` lines, keys right-aligned two past the longest, values right-aligned. */
export function renderKeyValueBlock(
  rows: readonly (readonly [string, string])[],
  alignValues = true,
): string {
  const keyWidth = Math.max(...rows.map(([k]) => k.length)) + 2;
  const valueWidth = Math.max(...rows.map(([, v]) => v.length)) + 1;
  return rows
    .map(
      ([key, value]) =>
        `${key.padStart(keyWidth)}:${alignValues ? value.padStart(valueWidth) : ` ${value}`}${CRLF}`,
    )
    .join('');
}
