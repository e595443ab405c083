// command-log.ts: every command line the emulator received, verbatim, for tests and the admin
// endpoint (the injection tests assert no line carries unescaped input).
import type { CommandClass } from './faults.js';

export interface CommandRecord {
  readonly at: number;
  readonly user: string;
  readonly line: string;
  readonly commandClass: CommandClass;
  outcome: string;
  /** When the device began executing it (after waiting for earlier mutations). */
  startedAt?: number;
  /** When the device finished executing it (latency included); unset if it never ran. */
  doneAt?: number;
}

const MAX_RECORDS = 10_000;

export class CommandLog {
  private readonly records: CommandRecord[] = [];

  constructor(private readonly now: () => number) {}

  record(line: string, user: string, commandClass: CommandClass): CommandRecord {
    const entry: CommandRecord = { at: this.now(), user, line, commandClass, outcome: 'running' };
    this.records.push(entry);
    if (this.records.length > MAX_RECORDS) this.records.shift();
    return entry;
  }

  started(record: CommandRecord): void {
    record.startedAt = this.now();
  }

  /** Stamps the end of execution: `doneAt - startedAt` is the device's own time for the command. */
  finished(record: CommandRecord): void {
    record.doneAt = this.now();
  }

  list(): readonly CommandRecord[] {
    return this.records;
  }

  clear(): void {
    this.records.length = 0;
  }
}
