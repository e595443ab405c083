// ssh-server.ts: the emulator's SSH face: a real ssh2 server that authenticates like the
// device (public key or password, nothing else), runs one command per exec channel, and applies
// the armed faults around each command.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type Server as NetServer, type Socket } from 'node:net';

import ssh2 from 'ssh2';
import type { AuthContext, Connection, ParsedKey, ServerChannel } from 'ssh2';

import type { CommandLog } from './command-log.js';
import { garble, type FaultInjector } from './faults.js';
import type { RouterConsole } from './router-console.js';
import type { SerialQueue } from './serial-queue.js';

export interface SshServerOptions {
  readonly hostKey: string;
  readonly user: string;
  readonly password: string | undefined;
  readonly authorizedKeys: readonly ParsedKey[];
  /** Concurrent exec channels per connection (OpenSSH's MaxSessions defaults to 10). */
  readonly maxSessions: number;
  readonly faults: FaultInjector;
  readonly console: RouterConsole;
  readonly commands: CommandLog;
  readonly mutations: SerialQueue;
  readonly sleep: (ms: number) => Promise<void>;
}

/** RouterOS's sshd identifies itself as ROSSSH. */
const IDENT = 'ROSSSH';

function sha256(value: string | Buffer): Buffer {
  return createHash('sha256').update(value).digest();
}

export class RouterSshServer {
  private readonly tcp: NetServer;
  private readonly ssh: ssh2.Server;
  private readonly sockets = new Set<Socket>();
  /** Our sockets by peer address, to find the one under an ssh2 connection. */
  private readonly byPeer = new Map<string, Socket>();

  constructor(private readonly options: SshServerOptions) {
    this.ssh = new ssh2.Server({ hostKeys: [options.hostKey], ident: IDENT }, (client, info) =>
      this.onClient(client, this.byPeer.get(`${info.ip}:${info.port}`)),
    );
    this.tcp = createServer((socket) => this.onSocket(socket));
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.tcp.once('error', reject);
      this.tcp.listen(port, host, () => {
        this.tcp.off('error', reject);
        const address = this.tcp.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Stops listening and cuts every connection (what a device reboot looks like). */
  close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    return new Promise((resolve) => this.tcp.close(() => resolve()));
  }

  /** Cuts every open connection without stopping the listener. */
  dropAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  get connectionCount(): number {
    return this.sockets.size;
  }

  private onSocket(socket: Socket): void {
    const { faults } = this.options;
    if (faults.refuseConnections) {
      socket.destroy();
      return;
    }
    // Small request/answer packets: Nagle plus delayed ACKs would add ~40 ms per command.
    socket.setNoDelay(true);
    const peer = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
    this.sockets.add(socket);
    this.byPeer.set(peer, socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.byPeer.delete(peer);
    });
    socket.on('error', () => socket.destroy());
    if (faults.handshakeDelayMs > 0) {
      void this.options.sleep(faults.handshakeDelayMs).then(() => {
        if (!socket.destroyed) this.ssh.injectSocket(socket);
      });
    } else {
      this.ssh.injectSocket(socket);
    }
  }

  private onClient(client: Connection, socket: Socket | undefined): void {
    let user = '';
    client.on('error', () => socket?.destroy());
    client.on('authentication', (ctx) => {
      user = ctx.username;
      this.authenticate(ctx);
    });
    client.on('request', (accept, reject) => reject?.()); // keepalive@openssh.com and others: refused, as the device does
    client.on('ready', () => {
      let open = 0;
      client.on('session', (accept, reject) => {
        if (open >= this.options.maxSessions) {
          reject();
          return;
        }
        open++;
        const session = accept();
        session.once('close', () => open--);
        session.on('pty', (acceptPty) => acceptPty?.());
        session.on('shell', (acceptShell) => {
          const stream = acceptShell();
          stream.write(
            'the RouterOS emulator answers exec requests only: ssh ... "/disk print detail"\r\n',
          );
          stream.exit(1);
          stream.end();
        });
        session.once('exec', (acceptExec, _reject, info) => {
          const stream = acceptExec();
          this.onExec(stream, info.command, user, socket).catch((error: unknown) =>
            this.onInternalError(stream, info.command, error),
          );
        });
      });
    });
  }

  private authenticate(ctx: AuthContext): void {
    const { user, password, authorizedKeys } = this.options;
    const methods: ('publickey' | 'password')[] = [];
    if (authorizedKeys.length > 0) methods.push('publickey');
    if (password !== undefined) methods.push('password');
    const userOk = ctx.username === user;
    if (ctx.method === 'password' && password !== undefined) {
      if (userOk && timingSafeEqual(sha256(ctx.password), sha256(password))) return ctx.accept();
    } else if (ctx.method === 'publickey' && userOk) {
      const key = authorizedKeys.find(
        (k) => k.type === ctx.key.algo && k.getPublicSSH().equals(ctx.key.data),
      );
      if (key !== undefined) {
        // Without a signature the client only asks whether the key would do.
        if (ctx.signature === undefined) return ctx.accept();
        if (ctx.blob !== undefined && key.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true)
          return ctx.accept();
      }
    }
    ctx.reject(methods);
  }

  private async onExec(
    stream: ServerChannel,
    line: string,
    user: string,
    socket: Socket | undefined,
  ): Promise<void> {
    const { faults, console: routerConsole, commands, mutations, sleep } = this.options;
    const { commandClass, addGiB } = routerConsole.classify(line);
    const plan = faults.plan(line, commandClass, addGiB);
    const record = commands.record(line, user, commandClass);
    const fault = plan.fault;
    if (fault?.kind === 'drop-before') {
      record.outcome = 'dropped before execution';
      socket?.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      record.outcome = 'hung';
      return; // the channel stays open, unanswered, until the client gives up
    }
    if (fault?.kind === 'fail') {
      record.outcome = `failed by fault: ${fault.message}`;
      this.answer(stream, `failure: ${fault.message}\r\n`, faults.errorExitStatus);
      return;
    }
    const run = async () => {
      commands.started(record);
      await sleep(plan.delayMs);
      return routerConsole.execute(line);
    };
    const result = commandClass === 'mutate' ? await mutations.run(run) : await run();
    commands.finished(record);
    record.outcome = result.failed ? 'error' : 'ok';
    if (fault?.kind === 'drop-after') {
      record.outcome += ', then dropped';
      socket?.destroy();
      return;
    }
    let output = result.output;
    if (fault?.kind === 'truncate') output = output.slice(0, Math.floor(output.length / 2));
    if (fault?.kind === 'garble') output = garble(output);
    this.answer(stream, output, result.failed ? faults.errorExitStatus : 0);
  }

  /**
   * A command that threw something other than a device error (an emulator bug, or its data
   * directory failing) answers a failure on its own channel and is recorded; the emulator and
   * every other session keep running. Tests read `commands.internalErrors()` to catch such bugs.
   */
  private onInternalError(stream: ServerChannel, line: string, error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.options.commands.internalError(line, message);
    try {
      this.answer(
        stream,
        `failure: emulator internal error\r\n`,
        this.options.faults.errorExitStatus,
      );
    } catch {
      // The channel is already gone (the client dropped): nothing left to answer.
    }
  }

  private answer(stream: ServerChannel, output: string, exitCode: number): void {
    if (output !== '') stream.write(output);
    stream.exit(exitCode);
    stream.end();
  }
}

/** `SHA256:<base64, no padding>` of a public key, as `ssh-keygen -lf` prints it. */
export function fingerprint(publicKey: ParsedKey): string {
  return `SHA256:${sha256(publicKey.getPublicSSH()).toString('base64').replace(/=+$/, '')}`;
}
