// command-log.ts: every command line the emulator received, verbatim, for tests and the admin
// endpoint (the injection tests assert no line carries unescaped input).
import type { CommandClass } from './faults.js';

export interface CommandRecord {
  readonly at: number;
  readonly user: string;
  readonly line: string;
  readonly commandClass: CommandClass;
  outcome: string;
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

  list(): readonly CommandRecord[] {
    return this.records;
  }

  clear(): void {
    this.records.length = 0;
  }
}
