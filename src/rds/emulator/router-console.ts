// router-console.ts: runs one exec'd command line (`;`-separated commands) against the state and
// produces exactly what the device would print.
import { DeviceFailure } from './device-errors.js';
import { runDiskCommand } from './disk-menu.js';
import type { ExecContext } from './exec-context.js';
import type { CommandClass } from './faults.js';
import { runFileCommand } from './file-menu.js';
import { CliSyntaxError, lexCommandLine } from './lexer.js';
import { CliError, parseCommand, type ParsedCommand } from './parser.js';
import { CRLF } from './print-format.js';
import { runSystemCommand, type SystemInfo } from './system-menu.js';
import { parseSizeArgument } from './units.js';

export interface ConsoleResult {
  readonly output: string;
  /** A console or execution error ended the line (later commands did not run). */
  readonly failed: boolean;
}

const MUTATING_VERBS = new Set(['add', 'set', 'remove']);

export class RouterConsole {
  constructor(
    private readonly ctx: ExecContext,
    private readonly info: SystemInfo,
  ) {}

  /** Read or mutate (for latency, faults and serialization), and GiB created by `/disk add`. */
  classify(line: string): { commandClass: CommandClass; addGiB: number } {
    let commands: ParsedCommand[];
    try {
      commands = lexCommandLine(line).map((units) => parseCommand(units));
    } catch {
      return { commandClass: 'read', addGiB: 0 };
    }
    const mutating = commands.filter((c) => MUTATING_VERBS.has(c.verb));
    const addGiB = mutating
      .filter((c) => c.verb === 'add')
      .reduce((sum, c) => {
        const size = c.args.get('file-size');
        return sum + (size?.kind === 'text' ? (parseSizeArgument(size.text) ?? 0) / 1024 ** 3 : 0);
      }, 0);
    return { commandClass: mutating.length > 0 ? 'mutate' : 'read', addGiB };
  }

  async execute(line: string): Promise<ConsoleResult> {
    let output = '';
    let commands;
    try {
      commands = lexCommandLine(line);
    } catch (error) {
      if (error instanceof CliSyntaxError)
        return { output: `syntax error (line 1 column ${error.column})${CRLF}`, failed: true };
      throw error;
    }
    for (const units of commands) {
      try {
        output += await this.run(parseCommand(units));
      } catch (error) {
        if (error instanceof CliError)
          return { output: `${output}${error.message}${CRLF}`, failed: true };
        if (error instanceof DeviceFailure)
          return { output: `${output}${error.message}${CRLF}`, failed: true };
        throw error;
      }
    }
    return { output, failed: false };
  }

  private run(command: ParsedCommand): Promise<string> {
    switch (command.path[0]) {
      case 'disk':
        return runDiskCommand(command, this.ctx);
      case 'file':
        return runFileCommand(command, this.ctx);
      default:
        return Promise.resolve(runSystemCommand(command, this.ctx, this.info));
    }
  }
}
