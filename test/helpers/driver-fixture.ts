// driver-fixture.ts: the whole driver in-process, against an in-process RouterOS emulator over real
// SSH, on a unix socket in a temp dir, with a typed gRPC client. `stop()` tears everything down.
import { tmpdir } from 'node:os';

import type { KubeConfig } from '@kubernetes/client-node';

import { loadConfig, type Config } from '../../src/config/load-config.js';
import { packageVersion, startDriver, systemClock, type Driver } from '../../src/main.js';
import type { Emulator, EmulatorOptions } from '../../src/rds/emulator/emulator.js';
import type { RdsSettings } from '../../src/wiring/rds-settings.js';
import { csiClients, type CsiClients } from './csi-client.js';
import { TEST_PASSWORD, emulatorFixture, type EmulatorFixture } from './emulator-fixture.js';
import { captureLog, type CapturedLog } from './log-capture.js';
import { tempDir, type TempDir } from './temp-dir.js';

export interface DriverFixture {
  readonly driver: Driver;
  readonly clients: CsiClients;
  readonly rds: EmulatorFixture;
  readonly log: CapturedLog;
  readonly config: Config;
  readonly dir: TempDir;
  stop(): Promise<void>;
}

export function testConfig(
  argv: readonly string[],
  rdsPort = 22,
  hostKey = `SHA256:${'A'.repeat(43)}`,
): Config {
  const outcome = loadConfig({
    argv: [
      '--rds-address',
      `127.0.0.1:${rdsPort}`,
      '--rds-password-file',
      '/dev/null',
      '--rds-host-key',
      hostKey,
      // Many drivers run at once in tests: each HTTP endpoint on a free loopback port.
      ...(argv.includes('--metrics-address') ? [] : ['--metrics-address', '127.0.0.1:0']),
      // Test paths live in temp dirs.
      ...(argv.includes('--kubelet-dir') ? [] : ['--kubelet-dir', tmpdir()]),
      ...argv,
    ],
    env: {},
    readFile: () => '',
    hostname: 'test-node',
    cwd: '/',
    version: 'test',
  });
  if (outcome.kind !== 'run') throw new Error('expected a config');
  return outcome.config;
}

/** How the driver reaches an in-process emulator: password login, its pinned host key. */
export function emulatorRdsSettings(emulator: Emulator): RdsSettings {
  return {
    host: '127.0.0.1',
    port: emulator.port,
    username: 'admin',
    password: TEST_PASSWORD,
    hostKey: { fingerprints: [emulator.hostKeyFingerprint], insecure: false },
    nvmeAddress: '127.0.0.1',
  };
}

export async function driverFixture(
  argv: readonly string[] = [],
  emulator: Partial<EmulatorOptions> = {},
  rdsOverrides: Partial<RdsSettings> = {},
  kubeConfig?: KubeConfig,
): Promise<DriverFixture> {
  const dir = tempDir('drv-');
  const rds = await emulatorFixture(emulator);
  const log = captureLog();
  // The loop transport reads this emulator's export table unless the test names another.
  const loop =
    argv.includes('loop') && !argv.includes('--loop-export-table')
      ? ['--loop-export-table', `${rds.dir.path}/exports.json`]
      : [];
  const config = testConfig(
    ['--endpoint', `unix://${dir.path}/csi.sock`, '--data-dir', dir.path, ...loop, ...argv],
    rds.emulator.port,
    rds.emulator.hostKeyFingerprint,
  );
  const driver = await startDriver(config, {
    log: log.logger,
    clock: systemClock,
    version: packageVersion(),
    rds: { ...emulatorRdsSettings(rds.emulator), ...rdsOverrides },
    ...(kubeConfig !== undefined ? { kubeConfig } : {}),
  });
  const clients = csiClients(driver.address);
  return {
    driver,
    clients,
    rds,
    log,
    config,
    dir,
    stop: async () => {
      clients.close();
      await driver.stop();
      await rds.stop();
      dir.remove();
    },
  };
}
