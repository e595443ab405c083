// The gRPC server over a real unix socket, called by a real grpc-js client: identity answers,
// mode-dependent services, UNIMPLEMENTED for unbuilt RPCs, socket hygiene, and the RPC log line.
import { spawn } from 'node:child_process';
import { existsSync, lstatSync, writeFileSync } from 'node:fs';

import { status as Status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import type { Config } from '../src/config/load-config.js';
import { CONTROLLER_CAPABILITIES } from '../src/csi/controller-service.js';
import { startDriver, systemClock, packageVersion, type Driver } from '../src/main.js';
import { csiClients, grpcError, type CsiClients } from './helpers/csi-client.js';
import { driverFixture, testConfig, type DriverFixture } from './helpers/driver-fixture.js';
import { captureLog, type CapturedLog } from './helpers/log-capture.js';
import { tempDir, type TempDir } from './helpers/temp-dir.js';
import { waitFor } from './helpers/wait-for.js';

/** Node mode needs no RDS: the socket tests use it. */
const configFor = (argv: string[]): Config => testConfig(['--mode', 'node', ...argv]);

let dir: TempDir;
let driver: Driver | undefined;
let clients: CsiClients | undefined;
let fixture: DriverFixture | undefined;
let log: CapturedLog;

/** The driver with its RDS (an emulator) when it serves the controller; alone in node mode. */
async function start(...argv: string[]): Promise<{ driver: Driver; clients: CsiClients }> {
  if (!argv.join(' ').includes('--mode node')) {
    fixture = await driverFixture(argv);
    ({ driver, clients, log, dir } = fixture);
    return { driver, clients };
  }
  dir = tempDir();
  log = captureLog();
  driver = await startDriver(configFor(['--endpoint', `unix://${dir.path}/csi.sock`, ...argv]), {
    log: log.logger,
    clock: systemClock,
    version: packageVersion(),
  });
  clients = csiClients(driver.address);
  return { driver, clients };
}

/** Stops whatever the test started (a full fixture, or a bare driver and its client). */
async function stopFirst(): Promise<void> {
  if (fixture !== undefined) {
    await fixture.stop();
  } else {
    clients?.close();
    await driver?.stop();
    dir.remove();
  }
  fixture = undefined;
  clients = undefined;
  driver = undefined;
}

afterEach(stopFirst);

describe('Identity service', () => {
  it('names the driver and its version', async () => {
    const { clients } = await start();
    const info = await clients.identity.GetPluginInfo({});
    expect(info).toEqual({
      name: 'rds.csi.srvlab.io',
      vendorVersion: packageVersion(),
      manifest: {},
    });
  });

  it('takes the driver name from the config', async () => {
    const { clients } = await start('--driver-name', 'rds.csi.example.io');
    const info = await clients.identity.GetPluginInfo({});
    expect(info.name).toBe('rds.csi.example.io');
  });

  it('advertises the controller service only where it is served', async () => {
    // Without topology, so that the controller service is the only capability left to differ.
    const all = await start('--mode', 'all', '--topology', 'none');
    expect(await all.clients.identity.GetPluginCapabilities({})).toEqual({
      capabilities: [{ service: { type: 'CONTROLLER_SERVICE' }, type: 'service' }],
    });
    await stopFirst();
    const node = await start('--mode', 'node', '--topology', 'none');
    expect(await node.clients.identity.GetPluginCapabilities({})).toEqual({
      capabilities: [],
    });
  });

  it('reports readiness from the health source without doing I/O', async () => {
    const { driver, clients } = await start();
    // Ready once the RDS connection is up.
    await waitFor(async () => (await clients.identity.Probe({})).ready?.value === true, {
      what: 'RDS connected',
    });
    const sshSessions = fixture!.rds.emulator.commands.list().length;
    const other = driver.health.register('kubernetes', 'informers not synced');
    expect(await clients.identity.Probe({})).toEqual({ ready: { value: false } });
    other.healthy();
    expect(await clients.identity.Probe({})).toEqual({ ready: { value: true } });
    // Probing sent nothing to the RDS.
    expect(fixture!.rds.emulator.commands.list()).toHaveLength(sshSessions);
  });

  it('turns unready when the RDS is unreachable and ready again when it is back', async () => {
    const { clients } = await start();
    await waitFor(async () => (await clients.identity.Probe({})).ready?.value === true);
    fixture!.rds.emulator.faults.refuseConnections = true;
    fixture!.rds.emulator.dropConnections();
    await waitFor(async () => (await clients.identity.Probe({})).ready?.value === false, {
      what: 'unready',
    });
    fixture!.rds.emulator.faults.refuseConnections = false;
    await waitFor(async () => (await clients.identity.Probe({})).ready?.value === true, {
      what: 'ready again',
      timeoutMs: 10_000,
    });
  });
});

describe('services by mode', () => {
  it('advertises exactly the capabilities that work, controller and node', async () => {
    const { clients } = await start('--mode', 'all');
    expect(await clients.controller.ControllerGetCapabilities({})).toEqual({
      capabilities: [...CONTROLLER_CAPABILITIES, 'PUBLISH_UNPUBLISH_VOLUME'].map((type) => ({
        rpc: { type },
        type: 'rpc',
      })),
    });
    expect(await clients.node.NodeGetCapabilities({})).toEqual({
      capabilities: [
        'STAGE_UNSTAGE_VOLUME',
        'GET_VOLUME_STATS',
        'EXPAND_VOLUME',
        'VOLUME_CONDITION',
      ].map((type) => ({ rpc: { type }, type: 'rpc' })),
    });
    const stage = await grpcError(clients.node.NodeStageVolume({ volumeId: 'pvc-1' }));
    expect(stage.code).toBe(Status.INVALID_ARGUMENT);
    expect(stage.details).toBe('staging_target_path is required');
  });

  it('does not serve the controller in node mode nor the node service in controller mode', async () => {
    const node = await start(
      '--mode',
      'node',
      '--node-id',
      'worker-7',
      '--max-volumes-per-node',
      '12',
    );
    expect(await node.clients.node.NodeGetInfo({})).toEqual({
      nodeId: 'worker-7',
      maxVolumesPerNode: '12',
      accessibleTopology: { segments: { 'rds.csi.srvlab.io/rds': 'default' } },
    });
    expect(await node.clients.identity.GetPluginCapabilities({})).toEqual({
      capabilities: [{ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' }, type: 'service' }],
    });
    const error = await grpcError(node.clients.controller.ControllerGetCapabilities({}));
    expect(error.code).toBe(Status.UNIMPLEMENTED);
    await stopFirst();
    const controller = await start('--mode', 'controller');
    const nodeError = await grpcError(controller.clients.node.NodeGetInfo({}));
    expect(nodeError.code).toBe(Status.UNIMPLEMENTED);
  });
});

describe('topology', () => {
  it('--topology names the segment value; none reports no topology and no accessibility constraints', async () => {
    const rack = await start('--topology', 'rack-2', '--driver-name', 'rds.example.org');
    expect((await rack.clients.node.NodeGetInfo({})).accessibleTopology).toEqual({
      segments: { 'rds.example.org/rds': 'rack-2' },
    });
    expect(await rack.clients.identity.GetPluginCapabilities({})).toEqual({
      capabilities: [
        { service: { type: 'CONTROLLER_SERVICE' }, type: 'service' },
        { service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' }, type: 'service' },
      ],
    });
    await stopFirst();
    const none = await start('--topology', 'none');
    expect((await none.clients.node.NodeGetInfo({})).accessibleTopology).toBeNull();
    expect(await none.clients.identity.GetPluginCapabilities({})).toEqual({
      capabilities: [{ service: { type: 'CONTROLLER_SERVICE' }, type: 'service' }],
    });
  });
});

describe('RPC log line', () => {
  it('writes one line per RPC with request id, method, ids, duration and code', async () => {
    const { clients } = await start();
    await grpcError(
      clients.controller.ControllerPublishVolume({
        volumeId: 'pvc-42',
        nodeId: 'worker-1',
        secrets: { password: 'do-not-log-me' },
      }),
    );
    const line = await waitFor(
      () => log.lines().find((l) => l['method'] === 'ControllerPublishVolume'),
      {
        what: 'the ControllerPublishVolume log line',
      },
    );
    expect(line).toMatchObject({
      level: 'warn',
      message: 'rpc failed',
      component: 'csi',
      method: 'ControllerPublishVolume',
      volumeId: 'pvc-42',
      nodeId: 'worker-1',
      // No volume_capability: refused before anything is looked up.
      grpcCode: 'INVALID_ARGUMENT',
      authority: 'localhost',
    });
    expect(line['requestId']).toMatch(/^[0-9a-f-]{36}$/);
    expect(typeof line['durationMs']).toBe('number');
    expect(log.text()).not.toContain('do-not-log-me');
    expect(log.lines().filter((l) => l['method'] === 'ControllerPublishVolume')).toHaveLength(1);
  });

  it('logs Probe at debug only', async () => {
    const { clients } = await start();
    await clients.identity.Probe({});
    const line = await waitFor(() => log.lines().find((l) => l['method'] === 'Probe'));
    expect(line['level']).toBe('debug');
  });
});

describe('socket hygiene', () => {
  it('removes a stale socket left by a crashed process and serves', async () => {
    dir = tempDir();
    const path = `${dir.path}/csi.sock`;
    // What kill -9 leaves behind: a socket file with no listener.
    const holder = spawn(
      process.execPath,
      [
        '-e',
        "require('net').createServer().listen(process.argv[1], () => console.log('up'))",
        path,
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise((resolve) => holder.stdout.once('data', resolve));
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    expect(lstatSync(path).isSocket()).toBe(true);
    log = captureLog();
    driver = await startDriver(configFor(['--endpoint', `unix://${path}`]), {
      log: log.logger,
      clock: systemClock,
      version: 'test',
    });
    clients = csiClients(driver.address);
    expect(await clients.identity.Probe({})).toEqual({ ready: { value: true } });
    await waitFor(() =>
      log.lines().find((l) => l['message'] === 'removed a stale socket left by a previous run'),
    );
  });

  it('refuses to start when a live process serves the socket', async () => {
    const first = await start();
    const second = startDriver(configFor(['--endpoint', first.driver.address]), {
      log: captureLog().logger,
      clock: systemClock,
      version: 'test',
    });
    await expect(second).rejects.toThrow(
      /another process is already serving .*csi\.sock; stop it first/,
    );
    // The first driver is untouched and still serving.
    expect(await first.clients.identity.GetPluginInfo({})).toMatchObject({
      name: 'rds.csi.srvlab.io',
    });
  });

  it('never replaces a path that is not a socket', async () => {
    dir = tempDir();
    const path = `${dir.path}/csi.sock`;
    writeFileSync(path, 'precious');
    await expect(
      startDriver(configFor(['--endpoint', `unix://${path}`]), {
        log: captureLog().logger,
        clock: systemClock,
        version: 'test',
      }),
    ).rejects.toThrow(/exists and is not a socket; refusing to replace it/);
  });

  it('removes its socket when it stops', async () => {
    const { driver } = await start();
    const path = driver.address.slice('unix://'.length);
    clients?.close();
    clients = undefined;
    await driver.stop();
    expect(existsSync(path)).toBe(false);
  });

  it('serves on tcp for debugging and reports the bound port', async () => {
    dir = tempDir();
    log = captureLog();
    driver = await startDriver(configFor(['--endpoint', 'tcp://127.0.0.1:0']), {
      log: log.logger,
      clock: systemClock,
      version: 'test',
    });
    expect(driver.address).toMatch(/^tcp:\/\/127\.0\.0\.1:[1-9]\d*$/);
    clients = csiClients(driver.address);
    expect(await clients.identity.Probe({})).toEqual({ ready: { value: true } });
  });
});
