// node-side.ts: builds the node side from the config: the host command runner, the NVMe
// transport the config names (nvme-cli, or loop devices over the emulator's export table), the
// filesystem and mount helpers, and the NodeVolumes they serve.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from '../config/load-config.js';
import { describeError } from '../errors.js';
import { BlockDevices } from '../node/block-devices.js';
import { HostCommandRunner } from '../node/exec.js';
import { HostFilesystems } from '../node/filesystem.js';
import { LoopTransport } from '../node/loop-transport.js';
import { ProcMountTable } from '../node/mountinfo.js';
import { NodeVolumes } from '../node/node-volumes.js';
import { NvmeCliTransport } from '../node/nvme-transport.js';
import { sweepOrphans } from '../node/orphan-sweep.js';
import type { NvmeTransport } from '../node/transport.js';
import type { KubeConfig } from '@kubernetes/client-node';

import { createNodeEvents } from '../k8s/node-events.js';
import type { Clock, EventMetrics, Logger } from '../ports.js';

export interface NodeSide {
  readonly volumes: NodeVolumes;
  stop(): Promise<void>;
}

export interface NodeSideDeps {
  readonly config: Config;
  readonly log: Logger;
  readonly clock: Clock;
  /** With a Kubernetes client, mount failures and stale mounts become events on the PVC. */
  readonly kubeConfig: KubeConfig | undefined;
  readonly eventMetrics: EventMetrics;
}

export function createNodeSide({
  config,
  log,
  clock,
  kubeConfig,
  eventMetrics,
}: NodeSideDeps): NodeSide {
  const runner = new HostCommandRunner(clock);
  const transport = createTransport(config, runner, clock, log);
  log.info('node transport ready', {
    transport: transport.kind,
    managedNqnPrefix: config.managedNqnPrefix,
  });
  const mounts = new ProcMountTable();
  const devices = new BlockDevices();
  // Runs beside the first RPCs: it only reads, unless enabled, and then only orphans.
  void sweepOrphans({
    transport,
    mounts,
    devices,
    log,
    mode: config.orphanSweep,
    blockPublishRoot: join(config.kubeletDir, 'plugins', 'kubernetes.io', 'csi', 'volumeDevices'),
  }).catch((error: unknown) => log.error('orphan sweep failed', { error: describeError(error) }));
  const events =
    kubeConfig === undefined
      ? undefined
      : createNodeEvents({
          kubeConfig,
          driverName: config.driverName,
          nodeId: config.nodeId,
          clock,
          log,
          metrics: eventMetrics,
        });
  const volumes = new NodeVolumes({
    transport,
    filesystems: new HostFilesystems({
      runner,
      clock,
      log,
      commandTimeoutMs: config.nodeCommandTimeoutMs,
      formatTimeoutMs: config.mkfsTimeoutMs,
    }),
    mounts,
    devices,
    runner,
    clock,
    log,
    commandTimeoutMs: config.nodeCommandTimeoutMs,
    mountStormLimit: config.mountStormLimit,
    nodeId: config.nodeId,
    ...(events !== undefined ? { events: events.sink } : {}),
  });
  return { volumes, stop: () => events?.stop() ?? Promise.resolve() };
}

function createTransport(
  config: Config,
  runner: HostCommandRunner,
  clock: Clock,
  log: Logger,
): NvmeTransport {
  if (config.nodeTransport === 'loop') {
    return new LoopTransport({
      exportTable: config.loopExportTable ?? '',
      managedPrefix: config.managedNqnPrefix,
      runner,
      clock,
      commandTimeoutMs: config.nodeCommandTimeoutMs,
      // Its own loop devices, as a node has its own NVMe connections (e2e: two nodes, one host).
      nodeId: config.nodeId,
    });
  }
  let hostNqn: string | undefined;
  try {
    hostNqn = readFileSync(config.hostNqnFile, 'utf8').trim() || undefined;
  } catch {
    hostNqn = undefined;
  }
  // field-lessons #24: every node must connect with its own host NQN; say which one it is.
  if (hostNqn === undefined)
    log.warn('no host NQN file; nvme-cli picks its own default host NQN', {
      hostNqnFile: config.hostNqnFile,
    });
  else log.info('host NQN', { hostNqn });
  return new NvmeCliTransport({
    managedPrefix: config.managedNqnPrefix,
    runner,
    clock,
    commandTimeoutMs: config.nodeCommandTimeoutMs,
    hostNqn,
  });
}
