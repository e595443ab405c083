// device-log.ts: the emulator's /log: what the device would record about disks and logins.
import { CRLF } from './print-format.js';

export interface LogEntry {
  readonly time: number;
  readonly topics: string;
  readonly message: string;
}

const MAX_ENTRIES = 1000;

export class DeviceLog {
  private readonly entries: LogEntry[] = [];

  constructor(private readonly now: () => number) {}

  info(topic: string, message: string): void {
    this.entries.push({ time: this.now(), topics: `${topic},info`, message });
    if (this.entries.length > MAX_ENTRIES) this.entries.shift();
  }

  list(): readonly LogEntry[] {
    return this.entries;
  }
}

function timestamp(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** `/log print`: ` time topics message` per entry ([inferred] layout). */
export function renderLog(entries: readonly LogEntry[]): string {
  return entries.map((e) => ` ${timestamp(e.time)} ${e.topics} ${e.message}${CRLF}`).join('');
}
