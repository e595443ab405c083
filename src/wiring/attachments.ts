// attachments.ts: part of the composition root: the attachment supervisor with the store,
// node directory and event sink of the mode the controller runs in.
//
//   standalone (quickstart, tests): records in <data-dir>/attachments.json; one node, this one;
//     events are logged (there is no cluster to post them to).
//   Kubernetes: records as PV annotations cross-checked with VolumeAttachments; nodes from the
//     Node cache; events on the PVC behind the PV's claimRef. The state is (re)built when this
//     replica becomes the leader, or at start without leader election, retried until it loads.
import { join } from 'node:path';

import { AttachmentReconciler } from '../actors/attachment-reconciler.js';
import { AttachmentSupervisor } from '../actors/attachment-supervisor.js';
import { FileAttachmentStore } from '../actors/file-attachment-store.js';
import type { Config } from '../config/load-config.js';
import type { NodeDirectory } from '../csi/controller-publish.js';
import { describeError } from '../errors.js';
import type { KubeConfig } from '@kubernetes/client-node';
import type { InspectionEvent } from 'xstate';
import { nodeLookup } from '../k8s/node-lookup.js';
import type { KubernetesLayer } from '../k8s/kubernetes-layer.js';
import { PvAttachmentStore } from '../k8s/pv-attachment-store.js';
import { attachmentMetricsPort, type DriverMetrics } from '../observability/metrics.js';
import type { Clock, Logger, VolumeEventSink } from '../ports.js';

export interface Attachments {
  readonly supervisor: AttachmentSupervisor;
  readonly nodes: NodeDirectory;
  /** Standalone: rebuilds now. Kubernetes: starts rebuilding (now, or on leadership). */
  start(): Promise<void>;
  /** Call when this replica becomes the leader. */
  onLeading(): void;
  /** Call when it stops being the leader: the reconciler stops (the new leader runs its own). */
  onNotLeading(): void;
  /** Something happened that may have changed attachments (the RDS came back): reconcile soon. */
  reconcileSoon(reason: string): void;
  stop(): Promise<void>;
}

const RETRY_MS = 2_000;

export function createAttachments(options: {
  readonly config: Config;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: DriverMetrics;
  readonly kubernetes: KubernetesLayer | undefined;
  readonly kubeConfig: KubeConfig | undefined;
  /** The Stately inspector's sink, when --inspect is on. */
  readonly inspect?: ((event: InspectionEvent) => void) | undefined;
}): Attachments {
  const { config, clock, metrics, kubernetes, kubeConfig } = options;
  const log = options.log.child({ component: 'attachments' });
  const common = {
    metrics: attachmentMetricsPort(metrics),
    clock,
    log,
    graceMs: config.attachmentGracePeriodMs,
    ...(options.inspect !== undefined ? { inspect: options.inspect } : {}),
  };
  if (kubernetes === undefined || kubeConfig === undefined) {
    const supervisor = new AttachmentSupervisor({
      ...common,
      store: new FileAttachmentStore(join(config.dataDir, 'attachments.json')),
      events: {
        post: (volumeId, type, reason, message) =>
          log.info('event (standalone: no Kubernetes to post it to)', {
            volumeId,
            type,
            reason,
            message,
          }),
      },
    });
    const own = new Set([config.nodeId, ...config.standaloneNodes]);
    return {
      supervisor,
      nodes: { has: (nodeId) => own.has(nodeId) },
      start: () => supervisor.rebuild(),
      onLeading: () => undefined,
      onNotLeading: () => undefined,
      reconcileSoon: () => undefined,
      stop: () => {
        supervisor.stop();
        return Promise.resolve();
      },
    };
  }
  const layer = kubernetes;
  const events: VolumeEventSink = {
    post: (volumeId, type, reason, message) => {
      const pv = layer.caches.volumes.list().find((p) => p.spec?.csi?.volumeHandle === volumeId);
      if (pv === undefined) {
        log.info('event not posted: no PersistentVolume for the volume', { volumeId, reason });
        return;
      }
      // Best effort, in the background: an event never delays or fails a CSI call.
      layer.pvs
        .claimOf(pv)
        .then((pvc) => {
          if (pvc === undefined)
            log.info('event not posted: the PV has no claim', { volumeId, reason });
          else layer.events.record({ pvc, type, reason, message });
        })
        .catch((error: unknown) => {
          layer.events.lookupFailed(reason);
          log.warn('event not posted: PVC lookup failed', {
            volumeId,
            reason,
            error: describeError(error),
          });
        });
    },
  };
  const store = new PvAttachmentStore({
    kubeConfig,
    driverName: config.driverName,
    writer: layer.pvs,
    graceMs: config.attachmentGracePeriodMs,
    log,
    onDisagreement: () => metrics.attachment.reconcile.inc({ action: 'sync_annotation' }),
    cached: (pvName) => layer.caches.volumes.get(pvName),
  });
  const supervisor = new AttachmentSupervisor({ ...common, events, store });
  const reconciler = new AttachmentReconciler({
    supervisor,
    store,
    intervalMs: config.attachmentReconcileIntervalMs,
    clock,
    log,
    nodes: nodeLookup(kubeConfig),
    metrics: {
      pass: (seconds) => metrics.attachment.duration.observe({ operation: 'reconcile' }, seconds),
      action: (action) => metrics.attachment.reconcile.inc({ action }),
    },
  });
  layer.caches.nodes.on((event, node) => {
    if (event === 'delete') reconciler.trigger('a node was deleted');
    const ready = node.status?.conditions?.find((c) => c.type === 'Ready')?.status;
    if (event === 'update' && ready !== undefined && ready !== 'True') {
      reconciler.trigger('a node is not Ready');
    }
  });
  let stopped = false;
  let timer: unknown;
  const rebuild = (): void => {
    if (stopped) return;
    void reconciler.stop().then(() =>
      supervisor.reload().then(
        () => {
          if (!stopped) reconciler.start();
        },
        (error: unknown) => {
          log.warn('attachment state could not be loaded; retrying', {
            error: describeError(error),
            retryInMs: RETRY_MS,
          });
          timer = clock.setTimeout(rebuild, RETRY_MS);
        },
      ),
    );
  };
  return {
    supervisor,
    nodes: {
      has: (nodeId) =>
        layer.caches.nodes.isSynced ? layer.caches.nodes.get(nodeId) !== undefined : undefined,
    },
    start: () => {
      if (layer.elector === undefined) rebuild();
      return Promise.resolve();
    },
    onLeading: rebuild,
    onNotLeading: () => void reconciler.stop(),
    reconcileSoon: (reason) => reconciler.trigger(reason),
    stop: async () => {
      stopped = true;
      clock.clearTimeout(timer);
      await reconciler.stop();
      supervisor.stop();
    },
  };
}
