// caches.ts: the three shared informers the controller keeps: Nodes, this driver's
// PersistentVolumes and this driver's VolumeAttachments (issue 6), with one readiness signal.
import {
  CoreV1Api,
  StorageV1Api,
  type KubeConfig,
  type V1Node,
  type V1PersistentVolume,
  type V1VolumeAttachment,
} from '@kubernetes/client-node';

import type { Clock, HealthReporter, Logger } from '../ports.js';
import { WatchedCache } from './watched-cache.js';

export interface ClusterCaches {
  readonly nodes: WatchedCache<V1Node>;
  readonly volumes: WatchedCache<V1PersistentVolume>;
  readonly attachments: WatchedCache<V1VolumeAttachment>;
  /** Lists and starts watching all three; resolves when every cache holds its first list. */
  start(): Promise<void>;
  stop(): void;
}

export interface ClusterCachesOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly resyncMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** One reporter per cache, e.g. `k8s-nodes`; unhealthy until synced and while a watch is broken. */
  readonly health: (name: string) => HealthReporter;
}

export function createClusterCaches(options: ClusterCachesOptions): ClusterCaches {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const storage = options.kubeConfig.makeApiClient(StorageV1Api);
  const common = {
    kubeConfig: options.kubeConfig,
    resyncMs: options.resyncMs,
    clock: options.clock,
    log: options.log,
  };
  const nodes = new WatchedCache<V1Node>({
    ...common,
    path: '/api/v1/nodes',
    list: () => core.listNode(),
    health: options.health('k8s-nodes'),
  });
  const volumes = new WatchedCache<V1PersistentVolume>({
    ...common,
    path: '/api/v1/persistentvolumes',
    list: () => core.listPersistentVolume(),
    filter: (pv) => pv.spec?.csi?.driver === options.driverName,
    health: options.health('k8s-persistentvolumes'),
  });
  const attachments = new WatchedCache<V1VolumeAttachment>({
    ...common,
    path: '/apis/storage.k8s.io/v1/volumeattachments',
    list: () => storage.listVolumeAttachment(),
    filter: (va) => va.spec.attacher === options.driverName,
    health: options.health('k8s-volumeattachments'),
  });
  return {
    nodes,
    volumes,
    attachments,
    start: async () => {
      await Promise.all([nodes.start(), volumes.start(), attachments.start()]);
    },
    stop: () => {
      nodes.stop();
      volumes.stop();
      attachments.stop();
    },
  };
}
