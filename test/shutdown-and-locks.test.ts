// Shutdown drains in-flight calls (and cuts them off at the deadline); a second operation on a
// busy volume answers ABORTED over real gRPC while the first one runs.
import { existsSync } from 'node:fs';

import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { createControllerService } from '../src/csi/controller-service.js';
import { createIdentityService } from '../src/csi/identity-service.js';
import { OperationLocks } from '../src/csi/operation-locks.js';
import { InflightCalls, wrapUnary } from '../src/csi/rpc-handler.js';
import { CsiServer } from '../src/csi/server.js';
import { HealthRegistry } from '../src/observability/health.js';
import { systemClock } from '../src/main.js';
import { csiClients, grpcError, type CsiClients } from './helpers/csi-client.js';
import { FakeRds } from './helpers/fake-rds.js';
import { captureLog } from './helpers/log-capture.js';
import { tempDir, type TempDir } from './helpers/temp-dir.js';
import { waitFor } from './helpers/wait-for.js';

interface Gate {
  readonly promise: Promise<void>;
  open(): void;
}

function gate(): Gate {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

let dir: TempDir;
let server: CsiServer | undefined;
let clients: CsiClients | undefined;

afterEach(async () => {
  clients?.close();
  await server?.shutdown(100);
  dir.remove();
});

/** A server whose CreateVolume holds the volume lock until `release` opens. */
async function serverWithSlowCreate(release: Gate, seenSignals: AbortSignal[] = []) {
  dir = tempDir();
  const log = captureLog();
  const inflight = new InflightCalls();
  const rpc = { log: log.logger, clock: systemClock, inflight };
  const locks = new OperationLocks(systemClock);
  const controller = {
    ...createControllerService({
      ...rpc,
      version: 'test',
      rds: new FakeRds(),
      locks,
      defaults: { volumePath: '/storage-pool/v', nvmeAddress: '127.0.0.1', nvmePort: 4420 },
    }),
    CreateVolume: wrapUnary(
      'CreateVolume',
      (request: { name: string }, { signal }) =>
        locks.run(request.name, 'CreateVolume', async () => {
          seenSignals.push(signal);
          await release.promise;
          return { volume: null };
        }),
      rpc,
    ),
  };
  const identity = createIdentityService({
    ...rpc,
    driverName: 'rds.csi.srvlab.io',
    version: 'test',
    servesController: true,
    health: new HealthRegistry(systemClock),
  });
  server = new CsiServer({
    endpoint: `unix://${dir.path}/csi.sock`,
    services: { identity, controller },
    inflight,
    log: log.logger,
    clock: systemClock,
  });
  const address = await server.start();
  clients = csiClients(address);
  return { server, clients, inflight, log, socket: `${dir.path}/csi.sock` };
}

describe('per-volume lock over gRPC', () => {
  it('answers ABORTED to a second call on the same volume while the first runs, then serves the retry', async () => {
    const release = gate();
    const { clients, inflight } = await serverWithSlowCreate(release);
    const first = clients.controller.CreateVolume({ name: 'pvc-1' });
    await waitFor(() => inflight.size === 1, { what: 'the first call to start' });
    const second = await grpcError(clients.controller.CreateVolume({ name: 'pvc-1' }));
    expect(second.code).toBe(Status.ABORTED);
    expect(second.details).toMatch(
      /^volume "pvc-1" is busy: CreateVolume started [\d.]+ s ago is still running/,
    );
    // Another volume is not blocked.
    const other = clients.controller.CreateVolume({ name: 'pvc-2' });
    release.open();
    await expect(first).resolves.toEqual({ volume: null });
    await expect(other).resolves.toEqual({ volume: null });
    await expect(clients.controller.CreateVolume({ name: 'pvc-1' })).resolves.toEqual({
      volume: null,
    });
  });
});

describe('shutdown', () => {
  it('stops listening at once, lets an in-flight call finish, and refuses new calls', async () => {
    const release = gate();
    const { server, clients, inflight, socket } = await serverWithSlowCreate(release);
    const inFlight = clients.controller.CreateVolume({ name: 'pvc-1' });
    await waitFor(() => inflight.size === 1);
    const stopping = server.shutdown(10_000);
    // New calls are refused once shutdown has begun.
    const late = await grpcError(clients.identity.Probe({}));
    expect(late.code).toBe(Status.UNAVAILABLE);
    // The listener is closed first, so a replacement driver can bind while this one drains.
    expect(existsSync(socket)).toBe(false);
    release.open();
    await expect(inFlight).resolves.toEqual({ volume: null });
    await expect(stopping).resolves.toEqual({ drained: true, abandoned: 0 });
  });

  it('cancels calls still running at the deadline and aborts their signal', async () => {
    const never = gate();
    const signals: AbortSignal[] = [];
    const { server, clients, inflight, log } = await serverWithSlowCreate(never, signals);
    const stuck = grpcError(clients.controller.CreateVolume({ name: 'pvc-1' }));
    await waitFor(() => inflight.size === 1);
    const started = Date.now();
    await expect(server.shutdown(200)).resolves.toEqual({ drained: false, abandoned: 1 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);
    expect(signals[0]?.aborted).toBe(true);
    const error = await stuck;
    expect([Status.CANCELLED, Status.UNAVAILABLE]).toContain(error.code);
    const warning = await waitFor(() =>
      log.lines().find((l) => String(l['message']).startsWith('shutdown deadline passed')),
    );
    expect(warning).toMatchObject({ count: 1, methods: ['CreateVolume'] });
  });

  it('is safe to call twice', async () => {
    const { server } = await serverWithSlowCreate(gate());
    const [a, b] = await Promise.all([server.shutdown(1_000), server.shutdown(1_000)]);
    expect(a).toEqual({ drained: true, abandoned: 0 });
    expect(b).toBe(a);
  });
});
