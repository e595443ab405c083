// Unexpected errors over the wire: the caller gets INTERNAL with a request id and no internals;
// the log gets the stack. A caller-supplied request id is used end to end.
import { Metadata, status as Status } from '@grpc/grpc-js';
import { afterEach, expect, it } from 'vitest';

import { createIdentityService } from '../src/csi/identity-service.js';
import { InflightCalls, wrapUnary } from '../src/csi/rpc-handler.js';
import { CsiServer } from '../src/csi/server.js';
import { systemClock } from '../src/main.js';
import { HealthRegistry } from '../src/observability/health.js';
import { csiClients, type CsiClients } from './helpers/csi-client.js';
import { captureLog } from './helpers/log-capture.js';
import { tempDir, type TempDir } from './helpers/temp-dir.js';
import { waitFor } from './helpers/wait-for.js';

let dir: TempDir;
let server: CsiServer;
let clients: CsiClients;

afterEach(async () => {
  clients.close();
  await server.shutdown(100);
  dir.remove();
});

it('hides an unexpected error from the caller and logs its stack with the request id', async () => {
  dir = tempDir();
  const log = captureLog();
  const inflight = new InflightCalls();
  const rpc = { log: log.logger, clock: systemClock, inflight };
  const identity = {
    ...createIdentityService({
      ...rpc,
      driverName: 'rds.csi.srvlab.io',
      version: 'test',
      servesController: false,
      health: new HealthRegistry(systemClock),
    }),
    GetPluginInfo: wrapUnary(
      'GetPluginInfo',
      () => Promise.reject(new TypeError('internal detail: token=abc at handler.ts:12')),
      rpc,
    ),
  };
  server = new CsiServer({
    endpoint: `unix://${dir.path}/csi.sock`,
    services: { identity },
    inflight,
    log: log.logger,
    clock: systemClock,
  });
  clients = csiClients(await server.start());
  const metadata = new Metadata();
  metadata.set('x-request-id', 'trace-77');
  const error = await clients.identity.GetPluginInfo({}, metadata).then(
    () => {
      throw new Error('expected failure');
    },
    (e: { code: number; details: string }) => e,
  );
  expect(error.code).toBe(Status.INTERNAL);
  expect(error.details).toBe(
    'internal error in the driver (request trace-77); the driver log has the details',
  );
  const line = await waitFor(() => log.lines().find((l) => l['requestId'] === 'trace-77'));
  expect(line).toMatchObject({ level: 'error', method: 'GetPluginInfo', grpcCode: 'INTERNAL' });
  expect(JSON.stringify(line['error'])).toContain('internal detail');
  expect((line['error'] as { stack: string }).stack).toMatch(/TypeError: internal detail/);
});
