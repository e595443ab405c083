// ssh-shell.ts: runs RouterOS command lines over one persistent SSH connection to the RDS.
//
// One ssh2 connection, commands as exec channels multiplexed on it and bounded by a semaphore
// sized to the device's session limit; a pinned host key; reconnection in the background with
// exponential back-off and full jitter; a per-command timeout that closes the channel; health
// reported as it changes, so Probe never opens a session (issue 5; field-lessons #7, #15, #21, #23).
import { createHash } from 'node:crypto';

import ssh2 from 'ssh2';

import {
  OperationCancelledError,
  RdsUnavailableError,
  abortReason,
  describeError,
} from '../errors.js';
import type { Clock, HealthReporter, Logger, ShellObserver } from '../ports.js';
import { explainConnectFailure } from './connect-errors.js';
import { findDeviceError, type ShellResult } from './device-answer.js';
import { Semaphore } from './semaphore.js';

export interface HostKeyPolicy {
  /** SHA256 fingerprints (`SHA256:...`) accepted; empty only with `insecure`. */
  readonly fingerprints: readonly string[];
  readonly insecure: boolean;
}

export interface SshShellOptions {
  readonly host: string;
  readonly port: number;
  readonly username: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly passphrase?: string;
  readonly hostKey: HostKeyPolicy;
  /** Concurrent exec channels (the device's session limit). */
  readonly maxSessions: number;
  readonly commandTimeoutMs: number;
  readonly connectTimeoutMs: number;
  readonly keepaliveIntervalMs: number;
  readonly backoff: { readonly initialMs: number; readonly maxMs: number };
  readonly clock: Clock;
  readonly log: Logger;
  readonly health: HealthReporter;
  readonly observer?: ShellObserver;
  readonly random?: () => number;
}

export interface RunOptions {
  readonly signal?: AbortSignal;
  /** Defaults to the shell's commandTimeoutMs. */
  readonly timeoutMs?: number;
}

export interface ShellStats {
  readonly connected: boolean;
  readonly handshakes: number;
  readonly reconnects: number;
  readonly channelsInUse: number;
}

/** `SHA256:<base64 without padding>` of a host key blob, as OpenSSH prints it. */
export function hostKeyFingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const CHANNEL_RETRIES = 3;

/** The menu and verb of a command line (`/disk add`), for messages: never its arguments. */
function summary(commandLine: string): string {
  return commandLine.split(' ').slice(0, 2).join(' ');
}

export class SshShell {
  private client: ssh2.Client | undefined;
  private connecting: Promise<ssh2.Client> | undefined;
  private reconnectTimer: unknown;
  private failures = 0;
  private lastError = 'not connected yet';
  private closed = false;
  private handshakes = 0;
  private reconnects = 0;
  private readonly channels: Semaphore;
  /** Connections whose socket failed or ended: a channel closing on one of them was cut off. */
  private readonly lost = new WeakSet<ssh2.Client>();
  private readonly random: () => number;

  constructor(private readonly options: SshShellOptions) {
    this.channels = new Semaphore(options.maxSessions);
    this.random = options.random ?? Math.random;
    if (options.hostKey.insecure) {
      options.log.warn(
        'RDS host key is NOT verified (--rds-insecure-skip-host-key): anyone on the path can impersonate the RDS',
      );
    }
  }

  stats(): ShellStats {
    return {
      connected: this.client !== undefined,
      handshakes: this.handshakes,
      reconnects: this.reconnects,
      channelsInUse: this.channels.inUse,
    };
  }

  /** Connects now (reporting health) instead of on the first command; never throws. */
  start(): void {
    this.connect().catch(() => undefined);
  }

  /** Runs one command line. Rejects RdsUnavailableError (down, lost or too slow) or OperationCancelledError. */
  async run(commandLine: string, options: RunOptions = {}): Promise<ShellResult> {
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const deadline = new AbortController();
    const timer = this.options.clock.setTimeout(
      () =>
        // The RDS not answering is the RDS being unavailable (issue 5: timeouts -> UNAVAILABLE);
        // the channel is closed and the caller decides whether the outcome must be read back.
        deadline.abort(
          new RdsUnavailableError(
            `RDS ${this.options.host}:${this.options.port} did not answer "${summary(commandLine)}" within ${timeoutMs} ms; the command was abandoned`,
          ),
        ),
      timeoutMs,
    );
    const onCallerAbort = (): void =>
      deadline.abort(new OperationCancelledError('the caller cancelled the RDS command'));
    options.signal?.addEventListener('abort', onCallerAbort, { once: true });
    if (options.signal?.aborted === true) onCallerAbort();
    const started = this.options.clock.now();
    let result: 'ok' | 'device_error' | 'unavailable' | 'cancelled' = 'unavailable';
    try {
      const release = await this.channels.acquire(deadline.signal);
      try {
        const answer = await this.execWithRetry(commandLine, deadline.signal);
        result = findDeviceError(answer) === undefined ? 'ok' : 'device_error';
        return answer;
      } finally {
        release();
      }
    } catch (error) {
      if (error instanceof OperationCancelledError) result = 'cancelled';
      throw error;
    } finally {
      this.options.observer?.commandDone(
        summary(commandLine),
        result,
        (this.options.clock.now() - started) / 1000,
      );
      this.options.clock.clearTimeout(timer);
      options.signal?.removeEventListener('abort', onCallerAbort);
    }
  }

  /** Closes the connection and stops reconnecting. */
  close(): void {
    this.closed = true;
    this.options.clock.clearTimeout(this.reconnectTimer);
    this.client?.end();
    this.client = undefined;
  }

  private async execWithRetry(commandLine: string, signal: AbortSignal): Promise<ShellResult> {
    for (let attempt = 1; ; attempt++) {
      const client = await this.connected(signal);
      try {
        return await this.exec(client, commandLine, signal);
      } catch (error) {
        // The device refusing one more channel is transient (DC#235): retry a few times.
        const channelRefused =
          error instanceof Error && /Channel open failure|open failed/i.test(error.message);
        if (!channelRefused || attempt >= CHANNEL_RETRIES) throw error;
        await this.sleep(50 * attempt, signal);
      }
    }
  }

  private sleep(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = this.options.clock.setTimeout(() => resolve(), ms);
      signal.addEventListener(
        'abort',
        () => {
          this.options.clock.clearTimeout(timer);
          reject(abortReason(signal));
        },
        { once: true },
      );
    });
  }

  private async connected(signal: AbortSignal): Promise<ssh2.Client> {
    if (this.client !== undefined) return this.client;
    if (this.closed)
      throw new RdsUnavailableError('the RDS connection is closed (driver shutting down)');
    // While a back-off is pending, fail fast: the sidecars retry, and waiting would hold the call.
    if (this.connecting === undefined && this.reconnectTimer !== undefined) {
      throw new RdsUnavailableError(
        `RDS ${this.options.host}:${this.options.port} is unreachable (${this.lastError}); reconnecting in the background`,
      );
    }
    const pending = this.connect();
    const aborted = new Promise<never>((_, reject) => {
      if (signal.aborted) reject(abortReason(signal));
      signal.addEventListener('abort', () => reject(abortReason(signal)), { once: true });
    });
    pending.catch(() => undefined);
    return Promise.race([pending, aborted]);
  }

  private connect(): Promise<ssh2.Client> {
    this.connecting ??= this.handshake().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private handshake(): Promise<ssh2.Client> {
    const { options } = this;
    const client = new ssh2.Client();
    let seenKey: string | undefined;
    return new Promise<ssh2.Client>((resolve, reject) => {
      let settled = false;
      client.on('ready', () => {
        settled = true;
        client.setNoDelay(true);
        this.client = client;
        this.handshakes++;
        options.observer?.handshake();
        if (this.failures > 0) this.reconnects++;
        this.failures = 0;
        this.options.clock.clearTimeout(this.reconnectTimer);
        this.reconnectTimer = undefined;
        options.health.healthy();
        options.log.info('RDS connected', {
          rds: `${options.host}:${options.port}`,
          hostKey: seenKey,
        });
        resolve(client);
      });
      client.on('end', () => this.lost.add(client));
      client.on('error', (error: Error & { level?: string }) => {
        this.lost.add(client);
        const reason =
          error.level === 'client-authentication'
            ? `authentication as ${options.username} failed; check the RDS credentials Secret`
            : /Host denied/.test(error.message)
              ? `host key ${seenKey ?? 'unknown'} is not the pinned one (${options.hostKey.fingerprints.join(', ')}); if the RDS was reinstalled, update --rds-host-key`
              : !settled
                ? (explainConnectFailure(error, options.connectTimeoutMs) ?? describeError(error))
                : describeError(error);
        if (!settled) {
          settled = true;
          this.onDown(reason);
          reject(
            new RdsUnavailableError(
              `cannot connect to RDS ${options.host}:${options.port}: ${reason}`,
              { cause: error },
            ),
          );
        } else {
          options.log.warn('RDS connection error', { error: reason });
        }
      });
      client.on('close', () => {
        if (this.client === client) {
          this.client = undefined;
          this.onDown('connection closed');
        } else if (!settled) {
          settled = true;
          this.onDown('connection closed during the handshake');
          reject(
            new RdsUnavailableError(
              `cannot connect to RDS ${options.host}:${options.port}: connection closed during the handshake`,
            ),
          );
        }
      });
      client.connect({
        host: options.host,
        port: options.port,
        username: options.username,
        readyTimeout: options.connectTimeoutMs,
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: 3,
        ...(options.password !== undefined ? { password: options.password } : {}),
        ...(options.privateKey !== undefined ? { privateKey: options.privateKey } : {}),
        ...(options.passphrase !== undefined ? { passphrase: options.passphrase } : {}),
        hostVerifier: (key: Buffer) => {
          seenKey = hostKeyFingerprint(key);
          return options.hostKey.insecure || options.hostKey.fingerprints.includes(seenKey);
        },
      });
    });
  }

  /** Marks the connection down and schedules the next attempt: min(max, initial*2^n) * random. */
  private onDown(reason: string): void {
    const { options } = this;
    this.lastError = reason;
    this.failures++;
    options.health.unhealthy(
      `RDS ${options.host}:${options.port} unreachable: ${reason}; reconnecting`,
    );
    if (this.closed || this.reconnectTimer !== undefined) return;
    const ceiling = Math.min(
      options.backoff.maxMs,
      options.backoff.initialMs * 2 ** Math.min(this.failures - 1, 20),
    );
    const delay = Math.round(ceiling * this.random());
    options.log.warn('RDS connection down', {
      error: reason,
      retryInMs: delay,
      attempt: this.failures,
    });
    this.reconnectTimer = options.clock.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect().catch(() => undefined);
    }, delay);
  }

  private exec(
    client: ssh2.Client,
    commandLine: string,
    signal: AbortSignal,
  ): Promise<ShellResult> {
    return new Promise<ShellResult>((resolve, reject) => {
      // No channel, no command: ssh2 throws "Not connected" when the socket is already gone and
      // answers "No response from server" (or a channel-open failure) when it goes while the
      // channel opens. The command never started, so the outcome is known and a retry is safe:
      // UNAVAILABLE, never INTERNAL (which the sidecars treat as final).
      const notOpened = (error: Error): RdsUnavailableError =>
        new RdsUnavailableError(
          `RDS connection lost before the command started (${error.message}); it did not run`,
          { cause: error },
        );
      const open = (error: Error | undefined, channel: ssh2.ClientChannel): void => {
        if (error) {
          reject(notOpened(error));
          return;
        }
        // Bytes until the channel closes, decoded once: a multi-byte character split across
        // two SSH packets would otherwise decode as two U+FFFD.
        const stdout: Buffer[] = [];
        const stderr: Buffer[] = [];
        let exitCode: number | undefined;
        const onAbort = (): void => {
          channel.close();
          reject(abortReason(signal));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        channel.on('data', (data: Buffer) => stdout.push(data));
        channel.stderr.on('data', (data: Buffer) => stderr.push(data));
        channel.on('exit', (code: number | null) => (exitCode = code ?? undefined));
        channel.on('close', () => {
          signal.removeEventListener('abort', onAbort);
          if (signal.aborted) return;
          // No exit status on a connection that died: the command may or may not have run.
          if (exitCode === undefined && (this.lost.has(client) || this.client !== client)) {
            reject(
              new RdsUnavailableError(
                'RDS connection lost while the command ran; its outcome is unknown',
              ),
            );
            return;
          }
          resolve({
            stdout: Buffer.concat(stdout).toString('utf8'),
            stderr: Buffer.concat(stderr).toString('utf8'),
            exitCode,
          });
        });
      };
      try {
        client.exec(commandLine, open);
      } catch (error) {
        reject(notOpened(error instanceof Error ? error : new Error(String(error))));
      }
    });
  }
}
