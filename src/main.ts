// main.ts: the composition root. Parses the config, builds every adapter, serves gRPC, and owns
// the process lifecycle (signals, drain, exit codes). The only importer of concrete adapters.
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Writable } from 'node:stream';

import type { KubeConfig } from '@kubernetes/client-node';

import { loadConfig, type Config } from './config/load-config.js';
import { createControllerService } from './csi/controller-service.js';
import { createIdentityService } from './csi/identity-service.js';
import { createNodeService } from './csi/node-service.js';
import { topologyKey } from './csi/topology.js';
import { OperationLocks } from './csi/operation-locks.js';
import { InflightCalls } from './csi/rpc-handler.js';
import { CsiServer, type CsiServices, type ShutdownResult } from './csi/server.js';
import { InvalidConfigError, describeError } from './errors.js';
import { HealthRegistry } from './observability/health.js';
import { startStatelyInspector } from './observability/stately-inspector.js';
import {
  startHttpEndpoint,
  type HttpEndpoint,
  type HttpEndpointOptions,
} from './observability/http-endpoint.js';
import { createLogger } from './observability/logger.js';
import type { Clock, Logger } from './ports.js';
import { quickstartBanner, startQuickstartRds, type QuickstartRds } from './wiring/quickstart.js';
import { RdsClient } from './rds/rds-client.js';
import { SshShell, type ShellStats } from './rds/ssh-shell.js';
import {
  connectionGauge,
  createMetrics,
  eventMetrics,
  shellObserver,
  type DriverMetrics,
} from './observability/metrics.js';
import { createAttachments, type Attachments } from './wiring/attachments.js';
import { createOrphanAudit, type OrphanAudit } from './wiring/orphan-audit.js';
import { loadKubeConfig } from './k8s/kube-config.js';
import { statusCommand } from './cli/status.js';
import { createNodeSide } from './wiring/node-side.js';
import { createKubernetesLayer, type KubernetesLayer } from './k8s/kubernetes-layer.js';
import { rdsSettingsFromConfig, type RdsSettings } from './wiring/rds-settings.js';

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
  /** The driver's Prometheus registry and metrics, served at `httpAddress`. */
  readonly metrics: DriverMetrics;
  /** Where /metrics, /healthz, /readyz and /debug/attachments answer (`host:port`); off: undefined. */
  readonly httpAddress: string | undefined;
  /** The RDS connection's counters (controller only). */
  rdsStats(): ShellStats | undefined;
  /** Caches, PV writer, events and leader election (controller with a Kubernetes API only). */
  readonly kubernetes: KubernetesLayer | undefined;
  /** The orphan audit (controller with a Kubernetes API, unless --orphan-audit-interval 0s). */
  readonly orphans: OrphanAudit | undefined;
  /** Drains and stops everything; safe to call twice. */
  stop(): Promise<ShutdownResult>;
}

export interface DriverDeps {
  readonly log: Logger;
  readonly clock: Clock;
  readonly version: string;
  /** How to reach the RDS; required when the controller is served. */
  readonly rds?: RdsSettings;
  /** The Kubernetes API; without it: no caches, events or leader election (quickstart). */
  readonly kubeConfig?: KubeConfig;
}

/** The controller's RDS: one SSH connection (started now, so health is known) and the client. */
function connectRds(
  config: Config,
  settings: RdsSettings,
  deps: DriverDeps,
  health: HealthRegistry,
  metrics: DriverMetrics,
  onRdsReconnect: () => void,
): { rds: RdsClient; shell: SshShell } {
  const log = deps.log.child({ component: 'rds' });
  const rdsHealth = health.register(
    'rds',
    `not connected to ${settings.host}:${settings.port} yet`,
  );
  const shell = new SshShell({
    host: settings.host,
    port: settings.port,
    username: settings.username,
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.privateKey !== undefined ? { privateKey: settings.privateKey } : {}),
    ...(settings.passphrase !== undefined ? { passphrase: settings.passphrase } : {}),
    hostKey: settings.hostKey,
    maxSessions: config.rdsMaxSessions,
    commandTimeoutMs: config.rdsCommandTimeoutMs,
    connectTimeoutMs: config.rdsConnectTimeoutMs,
    keepaliveIntervalMs: 15_000,
    backoff: { initialMs: 500, maxMs: 30_000 },
    clock: deps.clock,
    log,
    health: connectionGauge(metrics, {
      ...rdsHealth,
      // A reconnect after an outage is when attachment state most likely drifted (field-lessons #7).
      healthy: () => {
        rdsHealth.healthy();
        onRdsReconnect();
      },
    }),
    observer: shellObserver(metrics),
  });
  shell.start();
  return { rds: new RdsClient({ shell, log }), shell };
}

/** Builds and starts the driver for `config`. Throws if the endpoint cannot be served. */
export async function startDriver(config: Config, deps: DriverDeps): Promise<Driver> {
  const { log, clock, version } = deps;
  const health = new HealthRegistry(clock);
  const metrics = createMetrics();
  const inflight = new InflightCalls();
  const rpc = {
    log: log.child({ component: 'csi' }),
    clock,
    inflight,
    observe: (method: string, code: string, seconds: number) => {
      metrics.rpcs.inc({ method, code });
      metrics.rpcSeconds.observe({ method }, seconds);
    },
  };
  const servesController = config.mode !== 'node';
  const servesNode = config.mode !== 'controller';
  let backend: { rds: RdsClient; shell: SshShell } | undefined;
  /** Built after the RDS connection, which reports reconnects to it. */
  const late: { attachments?: Attachments | undefined } = {};
  if (servesController) {
    if (deps.rds === undefined)
      throw new InvalidConfigError([
        'the controller needs RDS settings (--rds-address and credentials)',
      ]);
    backend = connectRds(config, deps.rds, deps, health, metrics, () =>
      late.attachments?.reconcileSoon('the RDS connection is back'),
    );
  }
  let kubernetes: KubernetesLayer | undefined;
  let leadingHook: (leading: boolean) => void = () => undefined;
  if (servesController && deps.kubeConfig !== undefined) {
    kubernetes = createKubernetesLayer({
      kubeConfig: deps.kubeConfig,
      driverName: config.driverName,
      instance: config.nodeId,
      resyncMs: config.kubernetesResyncMs,
      leaderElection: config.leaderElect
        ? {
            namespace: config.leaderElectionNamespace,
            leaseDurationMs: config.leaderElectionLeaseDurationMs,
          }
        : undefined,
      clock,
      log: log.child({ component: 'k8s' }),
      health: (name, reason) => health.register(name, reason),
      eventMetrics: eventMetrics(metrics),
      onLeadershipChange: (leading) => {
        metrics.leader.set(leading ? 1 : 0);
        leadingHook(leading);
      },
    });
    metrics.leader.set(kubernetes.elector === undefined ? 1 : 0);
  } else {
    metrics.leader.set(servesController ? 1 : 0);
  }
  const inspector =
    servesController && config.inspectPort !== undefined
      ? await startStatelyInspector(config.inspectPort, log.child({ component: 'inspector' }))
      : undefined;
  const attachments = servesController
    ? createAttachments({
        config,
        clock,
        log,
        metrics,
        kubernetes,
        kubeConfig: deps.kubeConfig,
        inspect: inspector?.inspect,
      })
    : undefined;
  late.attachments = attachments;
  const locks = new OperationLocks(clock);
  const orphans =
    backend !== undefined && kubernetes !== undefined
      ? createOrphanAudit({
          config,
          clock,
          log,
          metrics,
          storage: backend.rds,
          locks,
          kubeConfig: deps.kubeConfig,
          leadership: kubernetes.leadership,
          elected: kubernetes.elector !== undefined,
        })
      : undefined;
  leadingHook = (leading) => {
    if (leading) attachments?.onLeading();
    else attachments?.onNotLeading();
    orphans?.onLeadership(leading);
  };
  await attachments?.start();
  const nodeSide = servesNode
    ? createNodeSide({
        config,
        log: log.child({ component: 'node' }),
        clock,
        kubeConfig: deps.kubeConfig,
        eventMetrics: eventMetrics(metrics),
      })
    : undefined;
  // The segment the Identity, Controller and Node services share; none with --topology none.
  const topologyDeps =
    config.topology === 'none'
      ? {}
      : { topology: { key: topologyKey(config.driverName), value: config.topology } };
  const services: CsiServices = {
    identity: createIdentityService({
      ...rpc,
      driverName: config.driverName,
      version,
      servesController,
      health,
      ...topologyDeps,
    }),
    ...(backend !== undefined
      ? {
          controller: createControllerService({
            ...rpc,
            version,
            rds: backend.rds,
            locks,
            ...(kubernetes !== undefined ? { leadership: kubernetes.leadership } : {}),
            ...(attachments !== undefined
              ? {
                  attachmentRecords: attachments.supervisor,
                  publishing: { attachments: attachments.supervisor, nodes: attachments.nodes },
                  publishDefaults: {
                    nvmeAddress: deps.rds?.nvmeAddress,
                    nvmePort: config.nvmePort,
                  },
                }
              : {}),
            ...topologyDeps,
            defaults: {
              volumePath: config.volumePath,
              nvmeAddress: deps.rds?.nvmeAddress,
              nvmePort: config.nvmePort,
            },
          }),
        }
      : {}),
    ...(nodeSide !== undefined
      ? {
          node: createNodeService({
            ...rpc,
            version,
            nodeId: config.nodeId,
            maxVolumesPerNode: config.maxVolumesPerNode,
            volumes: nodeSide.volumes,
            kubeletDir: config.kubeletDir,
            ...topologyDeps,
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
  let address: string;
  let http: HttpEndpoint | undefined;
  try {
    address = await server.start();
    http = await startObservability(config, {
      registry: metrics.registry,
      health,
      ...(attachments !== undefined
        ? { attachments: () => attachments.supervisor.describe() }
        : {}),
      ...(orphans !== undefined ? { orphans: () => orphans.describe() } : {}),
      debugAccess: config.debugEndpoints,
      log: log.child({ component: 'http' }),
    });
  } catch (error) {
    await server.shutdown(0).catch(() => undefined);
    backend?.shell.close();
    throw error;
  }
  kubernetes?.start();
  // After the attachments (seed-decisions 7): they rebuild first; the audit only reads until sure.
  orphans?.start();
  return {
    address,
    httpAddress: http?.address,
    health,
    metrics,
    rdsStats: () => backend?.shell.stats(),
    kubernetes,
    orphans,
    stop: async () => {
      const result = await server.shutdown(config.shutdownTimeoutMs);
      await http?.close();
      await kubernetes?.stop();
      await attachments?.stop();
      await orphans?.stop();
      inspector?.stop();
      await nodeSide?.stop();
      backend?.shell.close();
      return result;
    },
  };
}

/**
 * The HTTP endpoint, unless off. The quickstart's local port falls back to a free one when taken
 * (another quickstart, a test run); elsewhere a taken port is a startup error, as probes need it.
 */
async function startObservability(
  config: Config,
  options: Omit<HttpEndpointOptions, 'address'>,
): Promise<HttpEndpoint | undefined> {
  if (config.metricsAddress === 'off') return undefined;
  try {
    return await startHttpEndpoint({ ...options, address: config.metricsAddress });
  } catch (error) {
    if (!config.quickstart || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') {
      throw new InvalidConfigError([
        `--metrics-address ${config.metricsAddress} cannot be served: ${describeError(error)}`,
      ]);
    }
    options.log.warn('metrics port taken; serving on a free port instead', {
      wanted: config.metricsAddress,
    });
    return startHttpEndpoint({ ...options, address: '127.0.0.1:0' });
  }
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
  if (io.argv[0] === 'status') return statusCommand(io.argv.slice(1), io);
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
      // A terminal's width (--help wraps to it); piped output has none.
      columns: (io.stdout as Partial<Pick<NodeJS.WriteStream, 'columns'>>).columns,
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

  // The controller fences attachments through Kubernetes: without the API it would fence nothing
  // (field-lessons #26), so outside the quickstart it refuses to start.
  let kubeConfig: KubeConfig | undefined;
  try {
    // A node uses the API only for events on PVCs: optional there.
    kubeConfig = config.quickstart ? undefined : loadKubeConfig(config.kubeconfig, io.env);
    if (kubeConfig === undefined && config.mode !== 'node' && !config.quickstart) {
      throw new InvalidConfigError([
        `--mode ${config.mode} needs the Kubernetes API for attachment fencing and leader election: run in a pod (in-cluster credentials) or give --kubeconfig (env RDS_CSI_KUBECONFIG); --quickstart runs without it`,
      ]);
    }
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
    if (config.quickstart)
      rds = await startQuickstartRds(config.dataDir, config.emulatorLatency, log);
    const settings =
      rds?.settings ??
      rdsSettingsFromConfig(
        config,
        (path) => readFileSync(path, 'utf8'),
        (secret) => logging.redactor.addSecretValue(secret),
      );
    driver = await startDriver(config, {
      log: logging.logger,
      clock: systemClock,
      version,
      ...(settings !== undefined ? { rds: settings } : {}),
      ...(kubeConfig !== undefined ? { kubeConfig } : {}),
    });
  } catch (error) {
    log.error('cannot start', { error: describeError(error) });
    await rds?.emulator.stop();
    await logging.close();
    return EXIT.failure;
  }
  log.info('serving', { address: driver.address, mode: config.mode });
  if (rds !== undefined)
    io.stdout.write(quickstartBanner(config, driver.address, version, rds, driver.httpAddress));
  const stopAll = {
    stop: async () => {
      const result = await driver.stop();
      await rds?.emulator.stop();
      return result;
    },
  };
  return runUntilSignal(io, stopAll, log, () => logging.close());
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
