// ssh-exec.ts: a plain ssh2 client for tests that talk to the emulator like any SSH user would.
import ssh2 from 'ssh2';

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit status, or undefined when the channel closed without one (dropped connection). */
  readonly code: number | undefined;
}

export interface SshSession {
  exec(command: string): Promise<ExecResult>;
  close(): void;
  readonly client: ssh2.Client;
}

export interface SshTarget {
  readonly host: string;
  readonly port: number;
  readonly username?: string;
  readonly password?: string;
  readonly privateKey?: string;
  readonly readyTimeout?: number;
}

export function connectSsh(target: SshTarget): Promise<SshSession> {
  const client = new ssh2.Client();
  return new Promise((resolve, reject) => {
    // ssh2 may emit several errors for one failure (timeout, then connection lost).
    client.on('error', reject);
    client.once('ready', () => {
      // Without it Nagle and delayed ACKs add ~40 ms to every small exec round trip.
      client.setNoDelay(true);
      resolve({
        client,
        close: () => client.end(),
        exec: (command) =>
          new Promise<ExecResult>((res, rej) => {
            client.exec(command, (error, channel) => {
              if (error) return rej(error);
              // Decoded once at the end: packets may split a multi-byte character.
              const stdout: Buffer[] = [];
              const stderr: Buffer[] = [];
              let code: number | undefined;
              channel.on('data', (d: Buffer) => stdout.push(d));
              channel.stderr.on('data', (d: Buffer) => stderr.push(d));
              channel.on('exit', (c: number | null) => (code = c ?? undefined));
              channel.on('close', () =>
                res({
                  stdout: Buffer.concat(stdout).toString('utf8'),
                  stderr: Buffer.concat(stderr).toString('utf8'),
                  code,
                }),
              );
            });
          }),
      });
    });
    client.connect({
      host: target.host,
      port: target.port,
      username: target.username ?? 'admin',
      readyTimeout: target.readyTimeout ?? 5_000,
      ...(target.password !== undefined ? { password: target.password } : {}),
      ...(target.privateKey !== undefined ? { privateKey: target.privateKey } : {}),
    });
  });
}
