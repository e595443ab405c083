// processes.ts: long-running test processes (etcd, kube-apiserver, sidecars, driver plugins),
// each with its output in `<dir>/<name>.log`, SIGKILLed if the test process exits first.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Managed {
  readonly name: string;
  readonly child: ChildProcess;
  readonly logPath: string;
  exited: boolean;
}

const running = new Set<Managed>();
process.once('exit', () => {
  for (const m of running) m.child.kill('SIGKILL');
});

export interface LaunchOptions {
  /** Added to this process's environment (e.g. POD_NAME for a sidecar that reads it). */
  readonly env?: Readonly<Record<string, string>>;
  /** Append to an existing log instead of starting it afresh (a restarted process). */
  readonly appendLog?: boolean;
}

export function launch(
  name: string,
  command: string,
  args: string[],
  dir: string,
  options: LaunchOptions = {},
): Managed {
  const logPath = join(dir, `${name}.log`);
  const log = createWriteStream(logPath, { flags: options.appendLog === true ? 'a' : 'w' });
  const child = spawn(command, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.env !== undefined ? { env: { ...process.env, ...options.env } } : {}),
  });
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const managed: Managed = { name, child, logPath, exited: false };
  running.add(managed);
  child.once('exit', () => {
    managed.exited = true;
    running.delete(managed);
  });
  return managed;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function terminate(m: Managed, graceMs = 5_000): Promise<void> {
  if (m.exited) return;
  const gone = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
  m.child.kill('SIGTERM');
  const timer = setTimeout(() => m.child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/** SIGKILL, as a crash or an OOM kill would end it; resolves once the process has exited. */
export async function crash(m: Managed): Promise<void> {
  if (m.exited) return;
  const gone = new Promise<void>((resolve) => m.child.once('exit', () => resolve()));
  m.child.kill('SIGKILL');
  await gone;
}

/** The last `lines` lines of a log file, for error messages. */
export function tailOf(path: string, lines: number): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
