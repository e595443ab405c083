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

export interface InternalError {
  readonly at: number;
  readonly line: string;
  readonly message: string;
}

const MAX_RECORDS = 10_000;

export class CommandLog {
  private readonly records: CommandRecord[] = [];
  private readonly errors: InternalError[] = [];

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

  /** A command the emulator could not execute for a reason of its own (not a device error). */
  internalError(line: string, message: string): void {
    const record = this.records.findLast((r) => r.line === line && r.outcome === 'running');
    if (record !== undefined) record.outcome = `emulator internal error: ${message}`;
    this.errors.push({ at: this.now(), line, message });
    if (this.errors.length > MAX_RECORDS) this.errors.shift();
    process.stderr.write(
      `rds emulator: internal error running ${JSON.stringify(line)}: ${message}\n`,
    );
  }

  internalErrors(): readonly InternalError[] {
    return this.errors;
  }

  list(): readonly CommandRecord[] {
    return this.records;
  }

  clear(): void {
    this.records.length = 0;
    this.errors.length = 0;
  }
}
