// kubernetes-layer.ts: the controller's Kubernetes parts, built together: the three caches, the
// PV writer, the event recorder and (when enabled) leader election. main.ts starts it when a
// kubeconfig or in-cluster credentials exist.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import type { KubeConfig } from '@kubernetes/client-node';

import type { Clock, EventMetrics, HealthReporter, Leadership, Logger } from '../ports.js';
import { createClusterCaches, type ClusterCaches } from './caches.js';
import { EventRecorder } from './event-recorder.js';
import { LeaderElector } from './leader-election.js';
import { PvWriter } from './pv-writer.js';

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export interface KubernetesLayerOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly instance: string;
  readonly resyncMs: number;
  readonly leaderElection:
    { readonly namespace: string | undefined; readonly leaseDurationMs: number } | undefined;
  readonly clock: Clock;
  readonly log: Logger;
  readonly health: (name: string, initialReason: string) => HealthReporter;
  readonly eventMetrics: EventMetrics;
  readonly onLeadershipChange?: (leading: boolean) => void;
}

export interface KubernetesLayer {
  readonly caches: ClusterCaches;
  readonly pvs: PvWriter;
  readonly events: EventRecorder;
  /** Undefined without leader election: this replica always acts. */
  readonly elector: LeaderElector | undefined;
  readonly leadership: Leadership;
  start(): void;
  stop(): Promise<void>;
}

/** `rds.csi.srvlab.io` -> `rds-csi-srvlab-io-controller`: a valid Lease name. */
export function leaseName(driverName: string): string {
  return `${driverName.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-controller`;
}

function podNamespace(): string {
  return existsSync(SERVICE_ACCOUNT_NAMESPACE)
    ? readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim()
    : 'kube-system';
}

export function createKubernetesLayer(options: KubernetesLayerOptions): KubernetesLayer {
  const log = options.log;
  const caches = createClusterCaches({
    kubeConfig: options.kubeConfig,
    driverName: options.driverName,
    resyncMs: options.resyncMs,
    clock: options.clock,
    log,
    health: (name) => options.health(name, `${name} cache not synced yet`),
  });
  const pvs = new PvWriter({ kubeConfig: options.kubeConfig, clock: options.clock, log });
  const events = new EventRecorder({
    kubeConfig: options.kubeConfig,
    component: options.driverName,
    instance: options.instance,
    clock: options.clock,
    log,
    metrics: options.eventMetrics,
  });
  const election = options.leaderElection;
  const elector =
    election === undefined
      ? undefined
      : new LeaderElector({
          kubeConfig: options.kubeConfig,
          namespace: election.namespace ?? podNamespace(),
          name: leaseName(options.driverName),
          identity: `${options.instance}_${randomBytes(4).toString('hex')}`,
          leaseDurationMs: election.leaseDurationMs,
          renewDeadlineMs: Math.round((election.leaseDurationMs * 2) / 3),
          retryPeriodMs: Math.round((election.leaseDurationMs * 2) / 15),
          clock: options.clock,
          log,
          onStartedLeading: () => options.onLeadershipChange?.(true),
          onStoppedLeading: () => options.onLeadershipChange?.(false),
        });
  return {
    caches,
    pvs,
    events,
    elector,
    leadership: {
      isLeader: () => elector?.isLeader ?? true,
      leader: () => elector?.holder ?? '',
    },
    start: () => {
      caches.start().catch((error: unknown) => {
        log.warn('Kubernetes caches did not start', { error: String(error) });
      });
      elector?.start();
    },
    stop: async () => {
      caches.stop();
      events.stop();
      await elector?.stop();
    },
  };
}
