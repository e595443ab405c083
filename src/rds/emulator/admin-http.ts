// admin-http.ts: the emulator's loopback-only control endpoint, for tests that run it as a
// separate process: read state and the command log, arm faults, change latency and settings.
//
//   GET  /state               disks, exports, pool size and free bytes
//   GET  /commands            every command line received (verbatim)
//   GET  /internal-errors     commands the emulator itself failed to run (its own bugs, or its disk)
//   GET  /faults              faults still armed
//   POST /faults              {"kind":"fail","message":"not enough space","count":1,"match":{"commandClass":"mutate"}}
//                             kinds: fail, drop-before, drop-after, hang, truncate, garble;
//                             "skip":N lets the first N matching commands through first
//   POST /latency             {"preset":"realistic"|"off"} or a LatencyProfile
//   POST /settings            {"handshakeDelayMs":..,"refuseConnections":..,"errorExitStatus":..,"freeBytesCap":..}
//   POST /drop-connections    cut every open SSH connection
//   POST /reset               clear faults, latency off, settings back to defaults
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

import { isLoopback } from '../../domain/loopback.js';
import type { Emulator } from './emulator.js';
import {
  LATENCY_OFF,
  LATENCY_REALISTIC,
  type LatencyProfile,
  type OneShotFault,
} from './faults.js';

const FAULT_KINDS = new Set(['fail', 'drop-before', 'drop-after', 'hang', 'truncate', 'garble']);
const MAX_BODY = 64 * 1024;

class BadRequest extends Error {}

async function readJson(request: IncomingMessage): Promise<Record<string, unknown>> {
  let body = '';
  for await (const chunk of request) {
    body += String(chunk);
    if (body.length > MAX_BODY) throw new BadRequest('body too large');
  }
  try {
    const parsed: unknown = body === '' ? {} : JSON.parse(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
      throw new BadRequest('expected a JSON object');
    return parsed as Record<string, unknown>;
  } catch (error) {
    throw error instanceof BadRequest ? error : new BadRequest('invalid JSON');
  }
}

function armFault(emulator: Emulator, body: Record<string, unknown>): void {
  const kind = body['kind'];
  if (typeof kind !== 'string' || !FAULT_KINDS.has(kind))
    throw new BadRequest(`kind must be one of ${[...FAULT_KINDS].join(', ')}`);
  const fault: OneShotFault =
    kind === 'fail'
      ? { kind, message: typeof body['message'] === 'string' ? body['message'] : 'execution error' }
      : ({ kind } as OneShotFault);
  const count = typeof body['count'] === 'number' ? body['count'] : 1;
  const skip = typeof body['skip'] === 'number' ? body['skip'] : 0;
  const match = (body['match'] ?? {}) as { commandClass?: 'read' | 'mutate'; pattern?: string };
  emulator.faults.arm(fault, { count, match, skip });
}

function applySettings(emulator: Emulator, body: Record<string, unknown>): void {
  const { faults } = emulator;
  if (typeof body['handshakeDelayMs'] === 'number')
    faults.handshakeDelayMs = body['handshakeDelayMs'];
  if (typeof body['refuseConnections'] === 'boolean')
    faults.refuseConnections = body['refuseConnections'];
  if (body['errorExitStatus'] === 0 || body['errorExitStatus'] === 1)
    faults.errorExitStatus = body['errorExitStatus'];
  if (typeof body['freeBytesCap'] === 'number' || body['freeBytesCap'] === null) {
    faults.freeBytesCap = body['freeBytesCap'] === null ? undefined : body['freeBytesCap'];
  }
}

async function route(emulator: Emulator, request: IncomingMessage): Promise<unknown> {
  const key = `${request.method ?? 'GET'} ${request.url ?? '/'}`;
  switch (key) {
    case 'GET /state':
      return { ...emulator.state(), exports: emulator.exports(), freeBytes: emulator.freeBytes() };
    case 'GET /commands':
      return emulator.commands.list();
    case 'GET /internal-errors':
      return emulator.commands.internalErrors();
    case 'GET /faults':
      return emulator.faults.pending();
    case 'POST /faults':
      armFault(emulator, await readJson(request));
      return emulator.faults.pending();
    case 'POST /latency': {
      const body = await readJson(request);
      const profile =
        body['preset'] === 'realistic'
          ? LATENCY_REALISTIC
          : body['preset'] === 'off'
            ? LATENCY_OFF
            : (body as unknown as LatencyProfile);
      emulator.faults.setLatency(profile);
      return emulator.faults.latency;
    }
    case 'POST /settings':
      applySettings(emulator, await readJson(request));
      return { ok: true };
    case 'POST /drop-connections':
      emulator.dropConnections();
      return { ok: true };
    case 'POST /reset':
      emulator.faults.reset();
      return { ok: true };
    default:
      return undefined;
  }
}

export function startAdminServer(
  emulator: Emulator,
  host: string,
  port: number,
): Promise<{ server: Server; port: number }> {
  if (!isLoopback(host) && host !== 'localhost') {
    return Promise.reject(new Error(`--admin-listen must be a loopback address, not ${host}`));
  }
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const send = (status: number, value: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(`${JSON.stringify(value, null, 2)}\n`);
    };
    if (!isLoopback(request.socket.remoteAddress)) return send(403, { error: 'loopback only' });
    route(emulator, request).then(
      (value) =>
        value === undefined
          ? send(404, { error: `no route ${request.method} ${request.url}` })
          : send(200, value),
      (error: unknown) =>
        send(error instanceof BadRequest ? 400 : 500, { error: (error as Error).message }),
    );
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      const address = server.address();
      resolve({
        server,
        port: typeof address === 'object' && address !== null ? address.port : port,
      });
    });
  });
}
