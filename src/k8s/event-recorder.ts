// event-recorder.ts: Kubernetes events on PVCs, posted in the background (issue 6;
// seed-decisions 3; field-lessons: the Go driver's events were rejected for lacking a namespace).
//
// One recorder per process. record() never waits: it puts the event on a bounded queue and
// returns; a single worker posts them. When the queue is full (the API server is slow or gone)
// the event is dropped and counted, so a CSI call is never held up by event posting.
// Duplicates are aggregated like client-go's correlator: the same reason, type, message and
// object within the window bump `count` and `lastTimestamp` of the event already posted.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type CoreV1Event,
  type KubeConfig,
} from '@kubernetes/client-node';

import type { Clock, EventMetrics, Logger } from '../ports.js';
import { apiMessage, isNotFound } from './api-errors.js';

export type EventType = 'Normal' | 'Warning';

/** The object an event is about: always a namespaced PVC (seed-decisions 3: PVCs only). */
export interface PvcRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface EventRecord {
  readonly pvc: PvcRef;
  readonly type: EventType;
  readonly reason: string;
  readonly message: string;
}

export interface EventRecorderOptions {
  readonly kubeConfig: KubeConfig;
  /** `source.component` and `reportingController`, e.g. the driver name. */
  readonly component: string;
  /** `reportingInstance`, e.g. the pod or host name. */
  readonly instance: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: EventMetrics;
  /** Events waiting to be posted; beyond this they are dropped. */
  readonly queueSize?: number;
  /** Duplicates within this window bump the posted event's count (client-go: 10 minutes). */
  readonly aggregateWindowMs?: number;
  /** Per-request timeout; a dead API server must not stall the worker forever. */
  readonly requestTimeoutMs?: number;
  /** Attempts per event before it is dropped as post-failed. */
  readonly attempts?: number;
}

interface Posted {
  readonly name: string;
  readonly namespace: string;
  count: number;
  lastMs: number;
}

const MAX_REMEMBERED = 4096;

export class EventRecorder {
  private readonly api: CoreV1Api;
  private readonly queue: EventRecord[] = [];
  private readonly posted = new Map<string, Posted>();
  private working = false;
  private stopped = false;
  private idle: (() => void)[] = [];
  private readonly queueSize: number;
  private readonly windowMs: number;
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private sequence = 0;

  constructor(private readonly options: EventRecorderOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.queueSize = options.queueSize ?? 1000;
    this.windowMs = options.aggregateWindowMs ?? 600_000;
    this.timeoutMs = options.requestTimeoutMs ?? 5_000;
    this.attempts = options.attempts ?? 3;
  }

  /**
   * An event whose target (the PVC) could not be looked up, so it never reached the queue:
   * counted as post-failed, like one the API server refused, so posted + dropped covers every
   * event the driver meant to post (an API-server outage loses none uncounted).
   */
  lookupFailed(reason: string): void {
    this.options.metrics.dropped(reason, 'post-failed');
  }

  /** Queues an event and returns at once; drops (and counts) it when the queue is full. */
  record(event: EventRecord): void {
    if (this.stopped) return;
    if (this.queue.length >= this.queueSize) {
      this.options.metrics.dropped(event.reason, 'queue-full');
      return;
    }
    this.queue.push(event);
    if (!this.working) void this.work();
  }

  /** Events waiting to be posted. */
  get pending(): number {
    return this.queue.length + (this.working ? 1 : 0);
  }

  /** Resolves once every queued event has been posted or dropped (for shutdown and tests). */
  flush(): Promise<void> {
    if (!this.working && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Stops taking events; what is queued is still attempted until `flush()` resolves. */
  stop(): void {
    this.stopped = true;
  }

  private async work(): Promise<void> {
    this.working = true;
    try {
      for (let event = this.queue.shift(); event !== undefined; event = this.queue.shift()) {
        await this.postWithRetry(event);
      }
    } finally {
      this.working = false;
      for (const resolve of this.idle.splice(0)) resolve();
    }
  }

  private async postWithRetry(event: EventRecord): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.post(event);
        this.options.metrics.posted(event.reason);
        return;
      } catch (error) {
        if (attempt >= this.attempts) {
          this.options.metrics.dropped(event.reason, 'post-failed');
          this.options.log.warn('Kubernetes event dropped', {
            reason: event.reason,
            pvc: `${event.pvc.namespace}/${event.pvc.name}`,
            error: apiMessage(error),
          });
          return;
        }
        await new Promise((resolve) => this.options.clock.setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async post(event: EventRecord): Promise<void> {
    const now = this.options.clock.now();
    const key = JSON.stringify([
      event.pvc.namespace,
      event.pvc.name,
      event.pvc.uid ?? '',
      event.type,
      event.reason,
      event.message,
    ]);
    const seen = this.posted.get(key);
    if (seen !== undefined && now - seen.lastMs < this.windowMs) {
      try {
        await this.bounded(
          this.api.patchNamespacedEvent(
            {
              name: seen.name,
              namespace: seen.namespace,
              body: { count: seen.count + 1, lastTimestamp: new Date(now).toISOString() },
            },
            setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
          ),
        );
        seen.count++;
        seen.lastMs = now;
        return;
      } catch (error) {
        // The aggregated event was deleted (TTL or by hand): post a fresh one below.
        if (!isNotFound(error)) throw error;
        this.posted.delete(key);
      }
    }
    const name = `${event.pvc.name}.${(now * 1000 + (this.sequence++ % 1000)).toString(16)}`;
    const body: CoreV1Event = {
      metadata: { name, namespace: event.pvc.namespace },
      involvedObject: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        namespace: event.pvc.namespace,
        name: event.pvc.name,
        ...(event.pvc.uid !== undefined ? { uid: event.pvc.uid } : {}),
      },
      reason: event.reason,
      message: event.message,
      type: event.type,
      count: 1,
      firstTimestamp: new Date(now),
      lastTimestamp: new Date(now),
      source: { component: this.options.component },
      reportingComponent: this.options.component,
      reportingInstance: this.options.instance,
    };
    await this.bounded(this.api.createNamespacedEvent({ namespace: event.pvc.namespace, body }));
    if (this.posted.size >= MAX_REMEMBERED) {
      const oldest = this.posted.keys().next().value;
      if (oldest !== undefined) this.posted.delete(oldest);
    }
    this.posted.set(key, { name, namespace: event.pvc.namespace, count: 1, lastMs: now });
  }

  /** The call, or a rejection after requestTimeoutMs (the request itself is abandoned). */
  private bounded<T>(call: Promise<T>): Promise<T> {
    let timer: unknown;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.options.clock.setTimeout(
        () => reject(new Error(`the API server did not answer within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    return Promise.race([call, timeout]).finally(() => this.options.clock.clearTimeout(timer));
  }
}
