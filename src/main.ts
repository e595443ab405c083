// main.ts: the composition root. Parses the config, builds every adapter, serves gRPC, and owns
// the process lifecycle (signals, drain, exit codes). The only importer of concrete adapters.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Writable } from 'node:stream';

import { loadConfig, type Config } from './config.js';
import { createControllerService } from './csi/controller-service.js';
import { createIdentityService } from './csi/identity-service.js';
import { createNodeService } from './csi/node-service.js';
import { InflightCalls } from './csi/rpc-handler.js';
import { CsiServer, type CsiServices, type ShutdownResult } from './csi/server.js';
import { InvalidConfigError, describeError } from './errors.js';
import { HealthRegistry } from './observability/health.js';
import { createLogger } from './observability/logger.js';
import type { Clock, Logger } from './ports.js';
import { startEmulator, type Emulator } from './rds/emulator/emulator.js';

/** Exit codes: 0 clean stop, 1 runtime failure or forced stop, 2 bad configuration. */
export const EXIT = { ok: 0, failure: 1, badConfig: 2 } as const;

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

export interface Driver {
  /** The address actually served, e.g. `unix:///csi/csi.sock`. */
  readonly address: string;
  readonly health: HealthRegistry;
  /** Drains and stops everything; safe to call twice. */
  stop(): Promise<ShutdownResult>;
}

export interface DriverDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly version: string;
}

/** Builds and starts the driver for `config`. Throws if the endpoint cannot be served. */
export async function startDriver(config: Config, deps: DriverDeps): Promise<Driver> {
  const { log, clock, version } = deps;
  const health = new HealthRegistry(clock);
  const inflight = new InflightCalls();
  const rpc = { log: log.child({ component: 'csi' }), clock, inflight };
  const servesController = config.mode !== 'node';
  const servesNode = config.mode !== 'controller';
  const services: CsiServices = {
    identity: createIdentityService({
      ...rpc,
      driverName: config.driverName,
      version,
      servesController,
      health,
    }),
    ...(servesController ? { controller: createControllerService({ ...rpc, version }) } : {}),
    ...(servesNode
      ? {
          node: createNodeService({
            ...rpc,
            version,
            nodeId: config.nodeId,
            maxVolumesPerNode: config.maxVolumesPerNode,
          }),
        }
      : {}),
  };
  const server = new CsiServer({
    endpoint: config.endpoint,
    services,
    inflight,
    log: rpc.log,
    clock,
  });
  const address = await server.start();
  return { address, health, stop: () => server.shutdown(config.shutdownTimeoutMs) };
}

export interface ProcessIo {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable;
  /** Registers a signal handler (process.on in production). */
  readonly onSignal: (signal: 'SIGTERM' | 'SIGINT', handler: () => void) => void;
  readonly cwd: string;
}

/**
 * Runs the driver until SIGTERM or SIGINT; resolves with the process exit code.
 * The first signal drains (up to --shutdown-timeout); a second one forces exit 1 at once.
 */
export async function main(io: ProcessIo): Promise<number> {
  const version = packageVersion();
  let config: Config;
  try {
    const outcome = loadConfig({
      argv: io.argv,
      env: io.env,
      readFile: (path) => readFileSync(path, 'utf8'),
      hostname: hostname(),
      cwd: io.cwd,
      version,
    });
    if (outcome.kind === 'exit') {
      io.stdout.write(outcome.output);
      return outcome.code;
    }
    config = outcome.config;
  } catch (error) {
    if (!(error instanceof InvalidConfigError)) throw error;
    io.stderr.write(`rds-csi-ts: ${error.message}\n(run rds-csi-ts --help for all options)\n`);
    return EXIT.badConfig;
  }

  const logging = createLogger({
    format: config.logFormat,
    level: config.logLevel,
    stream: io.stdout,
  });
  const log = logging.logger.child({ component: 'driver' });
  log.info('starting', {
    version,
    mode: config.mode,
    endpoint: config.endpoint,
    driverName: config.driverName,
    nodeId: config.nodeId,
  });
  let driver: Driver;
  let rds: QuickstartRds | undefined;
  try {
    if (config.quickstart) rds = await startQuickstartRds(config.dataDir, log);
    driver = await startDriver(config, { log: logging.logger, clock: systemClock, version });
  } catch (error) {
    log.error('cannot start', { error: describeError(error) });
    await rds?.emulator.stop();
    await logging.close();
    return EXIT.failure;
  }
  log.info('serving', { address: driver.address, mode: config.mode });
  if (rds !== undefined) io.stdout.write(quickstartBanner(config, driver.address, version, rds));
  const stopAll = {
    stop: async () => {
      const result = await driver.stop();
      await rds?.emulator.stop();
      return result;
    },
  };
  return runUntilSignal(io, stopAll, log, () => logging.close());
}

interface QuickstartRds {
  readonly emulator: Emulator;
  readonly password: string;
}

/**
 * The quickstart's RDS: the RouterOS emulator, embedded, with its state, host key and disk files
 * under `<data-dir>/rds-emulator` and a password generated once and kept beside them.
 */
async function startQuickstartRds(dataDir: string, log: Logger): Promise<QuickstartRds> {
  const dir = join(dataDir, 'rds-emulator');
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'admin-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, `${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const emulator = await startEmulator({ dataDir: dir, password });
  log.info('RouterOS emulator started', {
    address: `${emulator.host}:${emulator.port}`,
    hostKey: emulator.hostKeyFingerprint,
    dataDir: dir,
  });
  return { emulator, password };
}

/**
 * Resolves with the exit code once the driver has stopped after SIGTERM/SIGINT: 0 after a clean
 * drain, 1 if stopping failed or a second signal asked to give up waiting.
 */
export function runUntilSignal(
  io: Pick<ProcessIo, 'onSignal'>,
  driver: Pick<Driver, 'stop'>,
  log: Logger,
  flush: () => Promise<void>,
): Promise<number> {
  return new Promise<number>((resolve) => {
    let stopping = false;
    const onSignal = (signal: string): void => {
      if (stopping) {
        log.warn('second signal: exiting without waiting for in-flight calls', { signal });
        resolve(EXIT.failure);
        return;
      }
      stopping = true;
      log.info('stopping: no new calls accepted, draining in-flight ones', { signal });
      driver
        .stop()
        .then(async (result) => {
          log.info('stopped', { drained: result.drained, abandoned: result.abandoned });
          await flush();
          resolve(EXIT.ok);
        })
        .catch((error: unknown) => {
          log.error('shutdown failed', { error: describeError(error) });
          resolve(EXIT.failure);
        });
    };
    io.onSignal('SIGTERM', () => onSignal('SIGTERM'));
    io.onSignal('SIGINT', () => onSignal('SIGINT'));
  });
}

function quickstartBanner(
  config: Config,
  address: string,
  version: string,
  rds: QuickstartRds,
): string {
  const services = config.mode === 'all' ? 'Identity, Controller and Node' : config.mode;
  const { emulator } = rds;
  return [
    '',
    `rds-csi-ts ${version} quickstart: serving ${services} on ${address}`,
    `  state directory: ${config.dataDir}`,
    `  RDS: the RouterOS emulator on ${emulator.host}:${emulator.port} (user ${emulator.user}, host key ${emulator.hostKeyFingerprint})`,
    '',
    'Try next:',
    `  ssh -p ${emulator.port} ${emulator.user}@${emulator.host} '/disk print detail'`,
    `        poke the RDS stand-in (password: ${rds.password}); try /file print detail, /system resource print`,
    `  .tools/bin/csi-sanity --csi.endpoint=${address} --ginkgo.focus='Identity Service'`,
    '        run the CSI conformance suite against this driver (npm test installs csi-sanity)',
    '  npm test        run every test suite',
    '  Ctrl-C          stop: in-flight calls drain, the socket is removed',
    '',
    'This version serves Identity and node information; volume operations answer UNIMPLEMENTED.',
    '',
  ].join('\n');
}
