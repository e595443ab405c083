// http-endpoint.ts: what operators and Kubernetes probes read over HTTP (--metrics-address):
//
//   GET /metrics             the driver's registry (prom-client text format), process metrics included
//   GET /healthz             liveness: 200 while the process serves (it answers from the event loop)
//   GET /readyz              readiness: 200 when every dependency is healthy (RDS connection,
//                            informers synced, leadership as registered), else 503 naming why
//   GET /debug/attachments   each volume's attachment actor: state, nodes, deadlines (JSON);
//                            loopback callers only unless --debug-endpoints public
//   GET /debug/orphans       the orphan audit: each orphan disk and file, first seen, passes, and
//                            whether and when it would be deleted (JSON); same access rule
//
// Answers come from cached state only: nothing here does I/O toward the RDS or the API server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import type { Registry } from 'prom-client';

import { describeError } from '../errors.js';
import type { HealthSource, Logger } from '../ports.js';
import { isLoopback } from '../domain/loopback.js';

export type DebugAccess = 'off' | 'loopback' | 'public';

export interface HttpEndpointOptions {
  /** `host:port`, `:port` (every interface) or `[v6]:port`. */
  readonly address: string;
  readonly registry: Registry;
  readonly health: HealthSource;
  /** What /debug/attachments shows; undefined where there is no controller. */
  readonly attachments?: () => unknown;
  /** What /debug/orphans shows; undefined where no orphan audit runs. */
  readonly orphans?: () => unknown;
  readonly debugAccess: DebugAccess;
  readonly log: Logger;
}

export interface HttpEndpoint {
  /** The address bound, `host:port` (the port is real even when 0 was asked). */
  readonly address: string;
  close(): Promise<void>;
}

/** Splits `host:port` / `:port` / `[v6]:port`; an empty host means every interface. */
export function parseListenAddress(address: string): { host: string | undefined; port: number } {
  const match = /^(?:\[([0-9a-fA-F:]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(address);
  const port = Number(match?.[3]);
  if (match === null || port > 65535) throw new Error(`not a listen address: ${address}`);
  const host = match[1] ?? match[2] ?? '';
  return { host: host === '' ? undefined : host, port };
}

export async function startHttpEndpoint(options: HttpEndpointOptions): Promise<HttpEndpoint> {
  const { host, port } = parseListenAddress(options.address);
  const server: Server = createServer((request, response) => {
    void handle(options, request, response).catch((error: unknown) => {
      options.log.error('HTTP endpoint request failed', { error: describeError(error) });
      if (!response.headersSent) send(response, 500, 'text/plain', 'internal error\n');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  const address =
    bound.family === 'IPv6' ? `[${bound.address}]:${bound.port}` : `${bound.address}:${bound.port}`;
  options.log.info('HTTP endpoint serving /metrics, /healthz, /readyz', {
    address,
    debug: options.debugAccess,
  });
  return {
    address,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  options: HttpEndpointOptions,
  request: IncomingMessage,
  response: ServerResponse,
): Promise<void> {
  const path = (request.url ?? '/').split('?')[0];
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    response.setHeader('allow', 'GET, HEAD');
    send(response, 405, 'text/plain', 'only GET and HEAD\n');
    return;
  }
  switch (path) {
    case '/metrics':
      send(response, 200, options.registry.contentType, await options.registry.metrics());
      return;
    case '/healthz':
      send(response, 200, 'text/plain', 'ok\n');
      return;
    case '/readyz': {
      const snapshot = options.health.snapshot();
      send(
        response,
        snapshot.ready ? 200 : 503,
        'application/json',
        `${JSON.stringify(snapshot, null, 2)}\n`,
      );
      return;
    }
    case '/debug/attachments':
    case '/debug/orphans': {
      if (
        options.debugAccess === 'off' ||
        (options.debugAccess === 'loopback' && !isLoopback(request.socket.remoteAddress))
      ) {
        send(
          response,
          403,
          'text/plain',
          'debug endpoints answer loopback callers only (--debug-endpoints public opens them)\n',
        );
        return;
      }
      const report = path === '/debug/orphans' ? options.orphans : options.attachments;
      if (report === undefined) {
        send(
          response,
          404,
          'text/plain',
          path === '/debug/orphans'
            ? 'no orphan audit here: it runs in the controller with Kubernetes, when --orphan-audit-interval is not 0\n'
            : 'no attachments here: this process does not serve the controller\n',
        );
        return;
      }
      send(response, 200, 'application/json', `${JSON.stringify(report(), null, 2)}\n`);
      return;
    }
    default:
      send(
        response,
        404,
        'text/plain',
        'not found: try /metrics, /healthz, /readyz, /debug/attachments, /debug/orphans\n',
      );
  }
}

function send(response: ServerResponse, status: number, type: string, body: string): void {
  response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
  response.end(response.req.method === 'HEAD' ? undefined : body);
}
