// watched-cache.ts: a shared informer: list, then watch, kept in a local cache, with a periodic
// resync and automatic restart after errors (client-node's ListWatch stops on the first error).
//
// `synced` resolves after the first complete list; health reports the cache unready until then and
// while the watch is broken. A `filter` keeps only this driver's objects (PVs of its driver name,
// VolumeAttachments of its attacher): the API has no field selector for those fields.
import {
  makeInformer,
  type Informer,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type ObjectCache,
} from '@kubernetes/client-node';

import type { Clock, HealthReporter, Logger } from '../ports.js';
import { apiMessage, jitteredBackoffMs } from './api-errors.js';

export type CacheEvent = 'add' | 'update' | 'delete' | 'resync';
export type CacheHandler<T> = (event: CacheEvent, object: T) => void;

export interface WatchedCacheOptions<T extends KubernetesObject> {
  readonly kubeConfig: KubeConfig;
  /** The collection's API path, e.g. `/api/v1/nodes`. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<T>>;
  readonly filter?: (object: T) => boolean;
  /** Re-delivers every cached object as `resync` this often (0: never). */
  readonly resyncMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly health: HealthReporter;
  readonly random?: () => number;
}

export class WatchedCache<T extends KubernetesObject> {
  private readonly informer: Informer<T> & ObjectCache<T>;
  private readonly handlers: CacheHandler<T>[] = [];
  private restartTimer: unknown;
  private resyncTimer: unknown;
  private failures = 0;
  private errors = 0;
  private syncedFlag = false;
  private stopped = false;
  private resolveSynced!: () => void;
  /** Resolves once the first list has been loaded into the cache. */
  readonly synced: Promise<void> = new Promise((resolve) => (this.resolveSynced = resolve));

  constructor(private readonly options: WatchedCacheOptions<T>) {
    this.informer = makeInformer(options.kubeConfig, options.path, options.list);
    const keep = options.filter ?? (() => true);
    const emit = (event: CacheEvent) => (object: T) => {
      if (!keep(object)) return;
      for (const handler of this.handlers) handler(event, object);
    };
    this.informer.on('add', emit('add'));
    this.informer.on('update', emit('update'));
    this.informer.on('delete', emit('delete'));
    this.informer.on('connect', () => {
      this.failures = 0;
    });
    this.informer.on('error', (error: unknown) => this.onError(error));
  }

  /** True once the first list is in the cache. */
  get isSynced(): boolean {
    return this.syncedFlag;
  }

  on(handler: CacheHandler<T>): void {
    this.handlers.push(handler);
  }

  /** Starts listing and watching; resolves when the first list is in the cache. */
  async start(): Promise<void> {
    await this.begin();
    await this.synced;
    this.scheduleResync();
  }

  stop(): void {
    this.stopped = true;
    this.options.clock.clearTimeout(this.restartTimer);
    this.options.clock.clearTimeout(this.resyncTimer);
    void this.informer.stop().catch(() => undefined);
  }

  /** Cached objects that pass the filter. */
  list(): T[] {
    const keep = this.options.filter ?? (() => true);
    return this.informer.list().filter(keep);
  }

  get(name: string, namespace?: string): T | undefined {
    const object = this.informer.get(name, namespace);
    return object !== undefined && (this.options.filter ?? (() => true))(object)
      ? object
      : undefined;
  }

  private async begin(): Promise<void> {
    // ListWatch.start() resolves even when its list failed (it reports through 'error'): only a
    // start without a new error means the cache holds a complete list.
    const errorsBefore = this.errors;
    try {
      await this.informer.start();
    } catch (error) {
      this.onError(error);
      return;
    }
    if (this.errors !== errorsBefore || this.stopped) return;
    this.failures = 0;
    this.options.health.healthy();
    this.syncedFlag = true;
    this.resolveSynced();
  }

  private onError(error: unknown): void {
    this.errors++;
    if (this.stopped) return;
    this.failures++;
    const delay = 250 + jitteredBackoffMs(this.failures, 250, 30_000, this.options.random);
    const reason = `watch of ${this.options.path} failed (${apiMessage(error)}); restarting in ${delay} ms`;
    this.options.health.unhealthy(reason);
    this.options.log.warn('Kubernetes watch failed', {
      path: this.options.path,
      error: apiMessage(error),
      retryInMs: delay,
    });
    this.options.clock.clearTimeout(this.restartTimer);
    this.restartTimer = this.options.clock.setTimeout(() => void this.begin(), delay);
  }

  private scheduleResync(): void {
    if (this.options.resyncMs <= 0 || this.stopped) return;
    this.resyncTimer = this.options.clock.setTimeout(() => {
      for (const object of this.list())
        for (const handler of this.handlers) handler('resync', object);
      this.scheduleResync();
    }, this.options.resyncMs);
  }
}
