// What the operator is told when the RDS cannot be reached: real connection failures on loopback
// (nothing listening, a server that hangs up, one that never speaks SSH) through SshShell, into the
// readiness reason and the error every command answers meanwhile.
import { createServer, type Server, type Socket } from 'node:net';

import { afterEach, describe, expect, it } from 'vitest';

import { RdsUnavailableError } from '../../src/errors.js';
import { systemClock } from '../../src/main.js';
import { explainConnectFailure } from '../../src/rds/connect-errors.js';
import { SshShell } from '../../src/rds/ssh-shell.js';
import { freePort } from '../helpers/free-port.js';
import { captureLog } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait-for.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

/** A loopback TCP server that, per connection, hangs up at once or says nothing. */
async function server(behaviour: 'hang-up' | 'silent'): Promise<number> {
  const sockets: Socket[] = [];
  const listener: Server = createServer((socket) => {
    sockets.push(socket);
    if (behaviour === 'hang-up') socket.destroy();
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    listener.close();
  });
  const address = listener.address();
  return typeof address === 'object' && address !== null ? address.port : 0;
}

/** Connects a shell to 127.0.0.1:`port`; resolves with the first readiness reason and a command's error. */
async function failure(port: number): Promise<{ reason: string; error: unknown }> {
  const reasons: string[] = [];
  const shell = new SshShell({
    host: '127.0.0.1',
    port,
    username: 'admin',
    password: 'x',
    hostKey: { fingerprints: [], insecure: true },
    maxSessions: 1,
    commandTimeoutMs: 5_000,
    connectTimeoutMs: 1_000,
    keepaliveIntervalMs: 1_000,
    backoff: { initialMs: 60_000, maxMs: 60_000 },
    clock: systemClock,
    log: captureLog().logger,
    health: { healthy: () => undefined, unhealthy: (reason) => reasons.push(reason) },
  });
  cleanups.push(() => shell.close());
  shell.start();
  const reason = await waitFor(() => reasons[0], { timeoutMs: 10_000, what: 'a readiness reason' });
  const error = await shell.run('/disk print').catch((e: unknown) => e);
  return { reason, error };
}

const CHECKS = /--rds-address .*SSH port.*\/ip service print.*firewall/;

describe('an unreachable RDS', () => {
  it('nothing listening: says the connection was refused, and what to check', async () => {
    const port = await freePort();
    const { reason, error } = await failure(port);
    expect(reason).toMatch(
      new RegExp(
        `^RDS 127\\.0\\.0\\.1:${port} unreachable: the connection was refused \\(ECONNREFUSED\\): nothing accepts connections on that port; `,
      ),
    );
    expect(reason).toMatch(CHECKS);
    expect(reason).not.toContain('Error: connect');
    expect(error).toBeInstanceOf(RdsUnavailableError);
    expect((error as Error).message).toContain(
      `RDS 127.0.0.1:${port} is unreachable (the connection was refused`,
    );
  });

  it('a server that hangs up: says it was closed before SSH began, and what may cause it', async () => {
    const port = await server('hang-up');
    const { reason, error } = await failure(port);
    expect(reason).toContain(
      `RDS 127.0.0.1:${port} unreachable: the connection was accepted, then closed before SSH began: something other than the RouterOS SSH service may listen on that port`,
    );
    expect(reason).toMatch(CHECKS);
    expect((error as Error).message).toContain('closed before SSH began');
  });

  it('a server that never speaks SSH: says no handshake came within the connect timeout', async () => {
    const port = await server('silent');
    const { reason } = await failure(port);
    expect(reason).toContain(
      `RDS 127.0.0.1:${port} unreachable: no SSH handshake within 1000 ms: the port accepts connections but does not answer as an SSH server`,
    );
    expect(reason).toMatch(/raise --rds-connect-timeout only if the RDS is merely slow/);
  });

  it('a name that does not resolve: says so and suggests the IP (the error as Node raises it)', () => {
    const error = Object.assign(new Error('getaddrinfo ENOTFOUND rds.invalid'), {
      code: 'ENOTFOUND',
      syscall: 'getaddrinfo',
      hostname: 'rds.invalid',
    });
    expect(explainConnectFailure(error, 10_000)).toBe(
      "the host name does not resolve (ENOTFOUND): check --rds-address for a typo, and that this host's DNS knows the name, or give the RDS's IP address",
    );
    expect(explainConnectFailure(new Error('something else'), 10_000)).toBeUndefined();
  });
});
