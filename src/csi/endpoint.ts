// endpoint.ts: parses --endpoint and prepares a unix socket path: stale sockets are removed, a
// live one (another driver still running) is refused, and nothing that is not a socket is touched.
import { lstat, mkdir, unlink } from 'node:fs/promises';
import { connect } from 'node:net';
import { dirname } from 'node:path';

import { FailedPreconditionError, InvalidInputError } from '../errors.js';

export type Endpoint =
  | { readonly kind: 'unix'; readonly path: string; readonly bindAddress: string }
  | {
      readonly kind: 'tcp';
      readonly host: string;
      readonly port: number;
      readonly bindAddress: string;
    };

export function parseEndpoint(url: string): Endpoint {
  const unix = /^unix:\/\/(\/.+)$/.exec(url);
  if (unix?.[1] !== undefined) {
    const path = unix[1];
    // Linux caps sun_path at 108 bytes including the terminator.
    if (Buffer.byteLength(path) > 107) {
      throw new InvalidInputError(
        `socket path ${path} is longer than the 107 bytes Linux allows; choose a shorter --endpoint`,
        {
          field: 'endpoint',
        },
      );
    }
    return { kind: 'unix', path, bindAddress: `unix://${path}` };
  }
  const tcp = /^tcp:\/\/(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(url);
  if (tcp?.[1] !== undefined && tcp[2] !== undefined) {
    const port = Number(tcp[2]);
    if (port > 65535)
      throw new InvalidInputError(`port ${port} in --endpoint ${url} is above 65535`, {
        field: 'endpoint',
      });
    return { kind: 'tcp', host: tcp[1], port, bindAddress: `${tcp[1]}:${port}` };
  }
  throw new InvalidInputError(
    `--endpoint ${url} is neither unix:///absolute/path.sock nor tcp://HOST:PORT`,
    { field: 'endpoint' },
  );
}

/** Resolves true if something accepts connections on the socket within `timeoutMs`. */
function isServing(path: string, timeoutMs: number): Promise<boolean | NodeJS.ErrnoException> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.setTimeout(timeoutMs, () => {
      // A listener that accepts nothing in time is still a listener: treat it as live.
      socket.destroy();
      resolve(true);
    });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      resolve(error.code === 'ECONNREFUSED' ? false : error);
    });
  });
}

/**
 * Makes `path` bindable: creates its directory, removes a stale socket left by a crashed
 * process, and refuses (FailedPreconditionError) when a live process serves it or the path is
 * something other than a socket. Returns whether a stale socket was removed.
 */
export async function prepareUnixSocket(
  path: string,
  timeoutMs = 1_000,
): Promise<{ removedStale: boolean }> {
  await mkdir(dirname(path), { recursive: true });
  let stats;
  try {
    stats = await lstat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { removedStale: false };
    throw error;
  }
  if (!stats.isSocket()) {
    throw new FailedPreconditionError(
      `${path} exists and is not a socket; refusing to replace it. Remove it or choose another --endpoint`,
    );
  }
  const serving = await isServing(path, timeoutMs);
  if (serving === true) {
    throw new FailedPreconditionError(
      `another process is already serving ${path}; stop it first (only one driver per socket) or choose another --endpoint`,
    );
  }
  if (serving !== false) {
    throw new FailedPreconditionError(
      `cannot check whether ${path} is in use (${serving.code ?? serving.message}); fix its permissions or choose another --endpoint`,
    );
  }
  await unlink(path);
  return { removedStale: true };
}
