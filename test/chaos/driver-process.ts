// driver-process.ts: the real driver executable (dist/cli.js) as a child process the chaos runner
// can kill -9 and start again, with every run's output appended to one log file for replays.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';

const CLI = new URL('../../dist/cli.js', import.meta.url).pathname;

export interface DriverProcessOptions {
  readonly args: readonly string[];
  /** The unix socket the driver serves (its --endpoint without the scheme). */
  readonly socketPath: string;
  readonly logPath: string;
}

export class DriverProcess {
  private child: ChildProcess | undefined;
  private readonly log: WriteStream;
  starts = 0;
  kills = 0;

  constructor(private readonly options: DriverProcessOptions) {
    if (!existsSync(CLI)) {
      throw new Error(`${CLI} is missing: run "npm run build" first (npm run chaos does)`);
    }
    this.log = createWriteStream(options.logPath, { flags: 'a' });
  }

  get running(): boolean {
    return (
      this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null
    );
  }

  /**
   * Starts the driver and resolves once `answers()` is true (e.g. GetPluginInfo over the socket;
   * a killed driver leaves its socket file behind, so the file alone proves nothing). Mutations
   * may still answer UNAVAILABLE while it waits for the leader lease.
   */
  async start(answers: () => Promise<boolean>): Promise<void> {
    if (this.running) throw new Error('the driver is already running');
    this.starts++;
    this.log.write(`\n=== start ${String(this.starts)} at ${new Date().toISOString()}\n`);
    const child = spawn(process.execPath, [CLI, ...this.options.args], {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    const deadline = Date.now() + 20_000;
    while (!(existsSync(this.options.socketPath) && (await answers()))) {
      if (!this.running) throw new Error(`the driver exited at start; see ${this.options.logPath}`);
      if (Date.now() > deadline)
        throw new Error(`no socket after 20 s; see ${this.options.logPath}`);
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }

  /** kill -9: no drain, no lease release, no cleanup; the stale socket stays behind. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    this.kills++;
    this.log.write(`\n=== kill -9 at ${new Date().toISOString()}\n`);
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
  }

  /** SIGTERM and wait (the end of a run). */
  async stop(): Promise<void> {
    const child = this.child;
    if (child === undefined || !this.running) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(timer);
  }

  close(): void {
    this.log.end();
  }
}
