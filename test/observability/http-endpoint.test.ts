// http-endpoint.test.ts: after a scripted scenario, /metrics holds exactly the counts and
// histogram samples the scenario made; /readyz turns unready when the RDS goes away and ready
// again when it is back; /debug/attachments shows the actor; only loopback callers see it.
import { Writable } from 'node:stream';

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { main } from '../../src/main.js';
import { parseListenAddress } from '../../src/observability/http-endpoint.js';
import { startEmulator } from '../../src/rds/emulator/emulator.js';
import { createRequest } from '../helpers/controller-requests.js';
import { grpcError } from '../helpers/csi-client.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { TEST_PASSWORD } from '../helpers/emulator-fixture.js';
import { waitFor } from '../helpers/wait-for.js';
import { sample } from '../helpers/metrics-text.js';

const BLOCK_RWO = { accessMode: { mode: 'SINGLE_NODE_WRITER' as const }, block: {} };
const fixtures: DriverFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.stop();
});

async function get(fixture: DriverFixture, path: string) {
  const response = await fetch(`http://${fixture.driver.httpAddress ?? ''}${path}`);
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    body: await response.text(),
  };
}

describe('HTTP endpoint', () => {
  it('serves exactly what a publish/unpublish scenario counted', async () => {
    const fixture = await driverFixture(['--mode', 'all']);
    fixtures.push(fixture);
    const { controller } = fixture.clients;
    const created = await controller.CreateVolume(createRequest('observed'));
    const volumeId = created.volume?.volumeId ?? '';
    await controller.ControllerPublishVolume({
      volumeId,
      nodeId: 'test-node',
      volumeCapability: BLOCK_RWO,
      readonly: false,
      volumeContext: {},
    });
    const unknown = await grpcError(
      controller.ControllerPublishVolume({
        volumeId,
        nodeId: 'no-such-node',
        volumeCapability: BLOCK_RWO,
        readonly: false,
        volumeContext: {},
      }),
    );
    expect(unknown.code).toBe(status.NOT_FOUND);
    await controller.ControllerUnpublishVolume({ volumeId, nodeId: 'test-node' });

    const metrics = await get(fixture, '/metrics');
    expect(metrics.status).toBe(200);
    expect(metrics.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const expected: Record<string, number> = {
      'rds_csi_rpc_total{method="CreateVolume",code="OK"}': 1,
      'rds_csi_rpc_total{method="ControllerPublishVolume",code="OK"}': 1,
      'rds_csi_rpc_total{method="ControllerPublishVolume",code="NOT_FOUND"}': 1,
      'rds_csi_rpc_total{method="ControllerUnpublishVolume",code="OK"}': 1,
      'rds_csi_rpc_duration_seconds_count{method="CreateVolume"}': 1,
      'rds_csi_attachment_attach_total{status="success"}': 1,
      'rds_csi_attachment_detach_total{status="success"}': 1,
      'rds_csi_attachment_operation_duration_seconds_count{operation="attach"}': 1,
      'rds_csi_attachment_operation_duration_seconds_count{operation="detach"}': 1,
      'rds_csi_attachment_operation_duration_seconds_bucket{le="5",operation="attach"}': 1,
      rds_csi_attachment_conflicts_total: 0,
      'rds_csi_attachment_actors{state="grace"}': 1,
      'rds_csi_attachment_actors{state="attached"}': 0,
      'rds_csi_attachment_transitions_total{from="detached",to="attached",cause="PUBLISH"}': 1,
      'rds_csi_attachment_transitions_total{from="detaching",to="grace",cause="DETACHED"}': 1,
      rds_csi_rds_connected: 1,
    };
    const actual = Object.fromEntries(
      Object.keys(expected).map((series) => [series, sample(metrics.body, series)]),
    );
    expect(actual).toEqual(expected);
    expect(sample(metrics.body, 'process_cpu_user_seconds_total')).toBeGreaterThan(0);

    const debug = await get(fixture, '/debug/attachments');
    expect(debug.status).toBe(200);
    expect(JSON.parse(debug.body)).toMatchObject({
      supervisor: 'ready',
      volumes: [{ volumeId, state: 'grace', nodes: [], detachedFrom: 'test-node' }],
    });
    expect((await get(fixture, '/nope')).status).toBe(404);
    expect((await get(fixture, '/healthz')).body).toBe('ok\n');
  });

  it('/readyz follows the RDS: unready while the emulator is stopped, ready once it is back', async () => {
    const fixture = await driverFixture(['--mode', 'all']);
    fixtures.push(fixture);
    await waitFor(async () => (await get(fixture, '/readyz')).status === 200, {
      what: 'ready at start',
    });
    const { port, dataDir } = fixture.rds.emulator;
    await fixture.rds.emulator.stop();
    const unready = await waitFor(
      async () => {
        const r = await get(fixture, '/readyz');
        return r.status === 503 ? r : undefined;
      },
      { what: 'unready after the emulator stopped' },
    );
    expect(JSON.parse(unready.body)).toMatchObject({
      ready: false,
      components: [{ component: 'rds', healthy: false }],
    });
    // The same device comes back: same address, state and host key.
    const again = await startEmulator({ dataDir, port, password: TEST_PASSWORD });
    try {
      await waitFor(async () => (await get(fixture, '/readyz')).status === 200, {
        timeoutMs: 30_000,
        what: 'ready again after the emulator restarted',
      });
      const metrics = await get(fixture, '/metrics');
      expect(sample(metrics.body, 'rds_csi_rds_connected')).toBe(1);
      expect(sample(metrics.body, 'rds_csi_rds_ssh_handshakes_total')).toBe(2);
    } finally {
      await again.stop();
    }
  }, 60_000);

  it('parses listen addresses; --debug-endpoints off closes /debug, not /metrics', async () => {
    expect(parseListenAddress(':9809')).toEqual({ host: undefined, port: 9809 });
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9809')).toEqual({ host: '::1', port: 9809 });
    expect(() => parseListenAddress('9809')).toThrow(/not a listen address/);
    const fixture = await driverFixture(['--mode', 'all', '--debug-endpoints', 'off']);
    fixtures.push(fixture);
    expect((await get(fixture, '/debug/attachments')).status).toBe(403);
    expect((await get(fixture, '/metrics')).status).toBe(200);
  });
});

describe('rds-csi-ts status', () => {
  it("prints a table of the running driver's attachment actors", async () => {
    const fixture = await driverFixture(['--mode', 'all']);
    fixtures.push(fixture);
    const created = await fixture.clients.controller.CreateVolume(createRequest('status'));
    const volumeId = created.volume?.volumeId ?? '';
    await fixture.clients.controller.ControllerPublishVolume({
      volumeId,
      nodeId: 'test-node',
      volumeCapability: BLOCK_RWO,
      readonly: false,
      volumeContext: {},
    });
    let out = '';
    let err = '';
    const code = await main({
      argv: ['status', '--address', fixture.driver.httpAddress ?? ''],
      env: {},
      stdout: new Writable({ write: (c: Buffer, _e, done) => ((out += String(c)), done()) }),
      stderr: new Writable({ write: (c: Buffer, _e, done) => ((err += String(c)), done()) }),
      onSignal: () => undefined,
      cwd: '/',
    });
    expect({ code, err }).toEqual({ code: 0, err: '' });
    const lines = out.split('\n');
    expect(lines[0]).toMatch(/^supervisor: ready; 1 volume\(s\) with an actor; at \d{4}-/);
    expect(lines[1]).toMatch(/^VOLUME\s+STATE\s+ACCESS\s+NODES\s+DETAIL$/);
    expect(lines[2]).toMatch(
      new RegExp(`^${volumeId}\\s+attached\\s+RWO\\s+test-node\\s+attached since \\d{4}-`),
    );
    const unreachable = await main({
      argv: ['status', '--address', '127.0.0.1:1'],
      env: {},
      stdout: new Writable({ write: (_c, _e, done) => done() }),
      stderr: new Writable({ write: (c: Buffer, _e, done) => ((err += String(c)), done()) }),
      onSignal: () => undefined,
      cwd: '/',
    });
    expect(unreachable).toBe(1);
    expect(err).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1\/debug\/attachments/);
  });
});
