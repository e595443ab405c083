// exec.ts: every host command the node runs (nvme, losetup, blkid, mkfs, mount, ...) goes through
// here: no shell, arguments as an array, a time limit that kills the child (field-lessons #21: the
// Go driver's nvme-cli timeouts were never enforced), the caller's cancellation honored, and
// output bounded so a runaway child cannot exhaust memory.
import { spawn } from 'node:child_process';

import { OperationCancelledError, OperationTimeoutError } from '../errors.js';
import type { CallOptions, Clock } from '../ports.js';
import { spawnFailure } from './command-failure.js';

export interface CommandResult {
  /** Exit status; null when the child was ended by a signal. */
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions extends CallOptions {
  /** Killed (SIGKILL) after this long; OperationTimeoutError names the command. */
  readonly timeoutMs: number;
  readonly input?: string;
}

/** Runs commands on the host. An interface so tests can count or fail them. */
export interface CommandRunner {
  run(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult>;
}

const MAX_OUTPUT = 4 * 1024 * 1024;

export class HostCommandRunner implements CommandRunner {
  /**
   * `clock` times each child's limit; `env` overrides where binaries are looked up (tests put
   * fakes first on its PATH).
   */
  constructor(
    private readonly clock: Clock,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  run(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    const line = [command, ...args].join(' ');
    if (options.signal?.aborted === true)
      return Promise.reject(new OperationCancelledError(`${line}: cancelled before it started`));
    return new Promise((resolve, reject) => {
      const child = spawn(command, args, {
        env: { ...this.env, LC_ALL: 'C' },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      let ended: Error | undefined;
      const stop = (error: Error) => {
        ended ??= error;
        child.kill('SIGKILL');
      };
      const timer = this.clock.setTimeout(
        () =>
          stop(
            new OperationTimeoutError(
              `${line}: no answer within ${String(options.timeoutMs)} ms; the process was killed`,
            ),
          ),
        options.timeoutMs,
      );
      const onAbort = () => stop(new OperationCancelledError(`${line}: cancelled`));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        if (stderr.length < MAX_OUTPUT) stderr += chunk;
      });
      child.stdin.on('error', () => undefined); // a child that exits without reading its input
      child.stdin.end(options.input ?? '');
      child.on('error', (error) => {
        this.clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        reject(ended ?? spawnFailure(command, args, error));
      });
      child.on('close', (code) => {
        this.clock.clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        if (ended !== undefined) reject(ended);
        else resolve({ code, stdout, stderr });
      });
    });
  }
}
