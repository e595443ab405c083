// orphan-audit.ts: part of the composition root: the orphan auditor over the controller's RDS
// client, its CSI operation locks, fresh Kubernetes lists and the driver's metrics.
//
// Built only for a controller with the Kubernetes API and --orphan-audit-interval > 0: without
// the cluster no disk can be shown unreferenced (the quickstart has no audit). It runs on the
// leader only: at start without leader election, else from winning the Lease until losing it.
// main.ts starts it after the attachment reconciler and stops it after (seed-decisions 7).
import type { KubeConfig } from '@kubernetes/client-node';

import { OrphanAuditor, type OrphanReport } from '../actors/orphan-auditor.js';
import type { Config } from '../config/load-config.js';
import { decodeLineage } from '../domain/disk-lineage.js';
import type { OperationLocks } from '../csi/operation-locks.js';
import { clusterReferenceSource } from '../k8s/orphan-references.js';
import { orphanMetricsPort, type DriverMetrics } from '../observability/metrics.js';
import type { Clock, Leadership, Logger, OrphanStorage } from '../ports.js';

export interface OrphanAudit {
  readonly auditor: OrphanAuditor;
  /** Starts the loop now unless leader election decides (then onLeadership does). */
  start(): void;
  onLeadership(leading: boolean): void;
  describe(): OrphanReport;
  stop(): Promise<void>;
}

export function createOrphanAudit(options: {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: DriverMetrics;
  readonly storage: OrphanStorage;
  readonly locks: OperationLocks;
  readonly kubeConfig: KubeConfig | undefined;
  readonly leadership: Leadership | undefined;
  /** True when a Lease decides who leads (start waits for onLeadership). */
  readonly elected: boolean;
}): OrphanAudit | undefined {
  const { config, kubeConfig, locks } = options;
  if (config.orphanAuditIntervalMs === 0 || kubeConfig === undefined) return undefined;
  const log = options.log.child({ component: 'orphan-audit' });
  const auditor = new OrphanAuditor({
    storage: options.storage,
    cluster: clusterReferenceSource(kubeConfig, {
      onSnapshotsUnreadable: (why) =>
        log.warn('VolumeSnapshotContents could not be listed; snapshots are not judged this pass', {
          error: why,
        }),
    }),
    activity: {
      busyWith: (slot) => locks.list().find((lock) => lock.key === slot)?.operation,
      exclusive: (slot, operation, fn) => locks.run(slot, operation, fn),
    },
    leadership: options.leadership ?? { isLeader: () => true, leader: () => '' },
    clock: options.clock,
    log,
    metrics: orphanMetricsPort(options.metrics),
    intervalMs: config.orphanAuditIntervalMs,
    minAgeMs: config.orphanMinAgeMs,
    deleteEnabled: config.orphanDelete,
    directories: [config.volumePath],
    createdAt: (disk) => {
      const seconds = decodeLineage(disk.comment).createdAt;
      return seconds === undefined ? undefined : seconds * 1000;
    },
  });
  let stopped = false;
  let started = false;
  const begin = (): void => {
    if (stopped || started) return;
    started = true;
    log.info('orphan audit started', {
      intervalMs: config.orphanAuditIntervalMs,
      minAgeMs: config.orphanMinAgeMs,
      deleteEnabled: config.orphanDelete,
    });
    auditor.start();
  };
  const end = async (): Promise<void> => {
    if (!started) return;
    started = false;
    await auditor.stop();
  };
  return {
    auditor,
    start: () => {
      if (!options.elected) begin();
    },
    onLeadership: (leading) => (leading ? begin() : void end()),
    describe: () => auditor.describe(),
    stop: async () => {
      stopped = true;
      await end();
    },
  };
}
