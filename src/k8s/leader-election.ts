// leader-election.ts: one active controller among replicas, through a coordination.k8s.io Lease,
// following client-go's leaderelection: acquire when the lease is free or expired, renew every
// retry period, give up leadership when renewal fails for longer than the renew deadline.
//
// Expiry is judged by the local clock from when this process last saw the lease change, never by
// comparing the holder's timestamps with ours (clock skew between nodes must not matter).
import {
  CoordinationV1Api,
  V1MicroTime,
  type KubeConfig,
  type V1Lease,
} from '@kubernetes/client-node';

import type { Clock, HealthReporter, Logger } from '../ports.js';
import { apiMessage, isConflict, isNotFound } from './api-errors.js';

export interface LeaderElectionOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  readonly name: string;
  /** This replica's identity (pod name + random suffix). */
  readonly identity: string;
  /** client-go defaults: 15 s, 10 s, 2 s. */
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onStartedLeading: () => void;
  readonly onStoppedLeading: () => void;
  /** Reports leadership to health (informational: a follower is healthy). */
  readonly health?: HealthReporter;
}

interface Observed {
  readonly holder: string;
  readonly renewTime: string;
  readonly resourceVersion: string;
  /** Local time when this process saw the lease last change. */
  readonly seenAtMs: number;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private observed: Observed | undefined;
  private leading = false;
  private lastRenewMs = 0;
  private timer: unknown;
  private stopped = false;

  constructor(private readonly options: LeaderElectionOptions) {
    this.api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    if (options.renewDeadlineMs >= options.leaseDurationMs) {
      throw new Error(
        'leader election: the renew deadline must be shorter than the lease duration',
      );
    }
  }

  get isLeader(): boolean {
    return this.leading;
  }

  /**
   * The current holder as last observed ('' when none). A replica that stepped down because it
   * could not renew (the API server is gone) last saw its own name there: that is not a leader to
   * send callers to, so it reports none.
   */
  get holder(): string {
    const holder = this.observed?.holder ?? '';
    return holder === this.options.identity && !this.leading ? '' : holder;
  }

  start(): void {
    void this.tick();
  }

  /**
   * Stops campaigning. A leader releases the lease so a follower takes over at once; with
   * `release: false` it just goes silent, as a crashed process would, and the lease expires.
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.stopped = true;
    this.options.clock.clearTimeout(this.timer);
    if (!this.leading) return;
    this.setLeading(false);
    if (options.release === false) return;
    try {
      const lease = await this.api.readNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
      });
      if (lease.spec?.holderIdentity !== this.options.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 };
      await this.api.replaceNamespacedLease({
        name: this.options.name,
        namespace: this.options.namespace,
        body: lease,
      });
    } catch (error) {
      this.options.log.warn(
        'could not release the leader lease; a follower takes over when it expires',
        {
          error: apiMessage(error),
        },
      );
    }
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const ok = await this.tryAcquireOrRenew().catch((error: unknown) => {
      this.options.log.warn('leader election: lease update failed', { error: apiMessage(error) });
      return false;
    });
    if (this.stopped) return; // stop() ran while the round was in flight
    const now = this.options.clock.now();
    if (ok) {
      this.lastRenewMs = now;
      if (!this.leading) this.setLeading(true);
    } else if (this.leading && now - this.lastRenewMs >= this.options.renewDeadlineMs) {
      this.options.log.warn(
        'leader election: could not renew the lease within the renew deadline; stepping down',
        {
          renewDeadlineMs: this.options.renewDeadlineMs,
        },
      );
      this.setLeading(false);
    }
    if (!this.stopped)
      this.timer = this.options.clock.setTimeout(
        () => void this.tick(),
        this.options.retryPeriodMs,
      );
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    const { log, identity, name, namespace } = this.options;
    if (leading) {
      log.info('became the leader', { identity, lease: `${namespace}/${name}` });
      this.options.health?.healthy();
      this.options.onStartedLeading();
    } else {
      log.info('stopped leading', { identity, lease: `${namespace}/${name}` });
      this.options.onStoppedLeading();
    }
  }

  /** One round: true when this replica holds the lease afterwards. */
  private async tryAcquireOrRenew(): Promise<boolean> {
    const { namespace, name, identity } = this.options;
    const now = this.options.clock.now();
    const spec = {
      holderIdentity: identity,
      leaseDurationSeconds: Math.ceil(this.options.leaseDurationMs / 1000),
      // MicroTime: serialized with microseconds, as the API requires for Lease times.
      renewTime: new V1MicroTime(now),
    };
    let lease: V1Lease;
    try {
      lease = await this.api.readNamespacedLease({ name, namespace });
    } catch (error) {
      if (!isNotFound(error)) throw error;
      try {
        const created = await this.api.createNamespacedLease({
          namespace,
          body: {
            metadata: { name, namespace },
            spec: { ...spec, acquireTime: spec.renewTime, leaseTransitions: 0 },
          },
        });
        this.observe(created, now);
        return true;
      } catch (createError) {
        if (isConflict(createError)) return false; // another replica created it first
        throw createError;
      }
    }
    this.observe(lease, now);
    const holder = lease.spec?.holderIdentity ?? '';
    const observed = this.observed;
    const expired =
      holder === '' ||
      (observed !== undefined &&
        now - observed.seenAtMs >= (lease.spec?.leaseDurationSeconds ?? 0) * 1000);
    if (holder !== identity && !expired) return false;
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    lease.spec = {
      ...lease.spec,
      ...spec,
      leaseTransitions: transitions,
      ...(holder === identity ? {} : { acquireTime: spec.renewTime }),
    };
    try {
      const written = await this.api.replaceNamespacedLease({ name, namespace, body: lease });
      this.observe(written, now);
      return true;
    } catch (error) {
      if (isConflict(error)) return false; // someone else renewed or acquired in between
      throw error;
    }
  }

  private observe(lease: V1Lease, now: number): void {
    const holder = lease.spec?.holderIdentity ?? '';
    const renewTime = String(lease.spec?.renewTime ?? '');
    const resourceVersion = lease.metadata?.resourceVersion ?? '';
    if (
      this.observed === undefined ||
      this.observed.holder !== holder ||
      this.observed.renewTime !== renewTime ||
      this.observed.resourceVersion !== resourceVersion
    ) {
      this.observed = { holder, renewTime, resourceVersion, seenAtMs: now };
    }
  }
}
