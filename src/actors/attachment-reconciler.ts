// attachment-reconciler.ts: the background pass that keeps attachment state true to the cluster
// (seed-decisions 5 and 7; field-lessons #7, #14).
//
//   A. state -> cluster: every attached node is looked up; one that is gone makes the attachment
//      stale, and the volume's actor clears it after the grace period (a node that comes back
//      first keeps its volume). A lookup that fails for any other reason changes nothing.
//   B. cluster -> state: records in the store with no actor are adopted; actors whose record went
//      missing are written again. A store that cannot be read changes nothing.
//
// First pass at start, then one per interval, plus one soon after a trigger (a node deleted, the
// RDS reconnected). Never inside an RPC; passes never overlap; stop() waits for a running pass.
import type { AttachmentStore, Clock, Logger } from '../ports.js';
import type { AttachmentSupervisor } from './attachment-supervisor.js';

/** Node existence from the API: true / false, and a throw for anything else (fail open). */
export interface NodeLookup {
  exists(nodeId: string): Promise<boolean>;
}

export interface ReconcilerOptions {
  readonly supervisor: AttachmentSupervisor;
  readonly nodes: NodeLookup;
  readonly store: AttachmentStore;
  readonly intervalMs: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Seconds per pass (operation="reconcile") and actions (reconcile_total{action}). */
  readonly metrics: { pass(seconds: number): void; action(action: string): void };
}

export interface PassResult {
  readonly staleMarked: number;
  readonly returned: number;
  readonly synced: number;
  readonly skipped: number;
}

const TRIGGER_DELAY_MS = 1_000;

export class AttachmentReconciler {
  private timer: unknown;
  private running: Promise<PassResult> | undefined;
  private active = false;
  private cancelled = false;
  private again = false;

  constructor(private readonly options: ReconcilerOptions) {}

  /** First pass now, then every interval. Starting twice is a programming error. */
  start(): void {
    if (this.active) throw new Error('the attachment reconciler is already running');
    this.active = true;
    this.cancelled = false;
    this.schedule(0);
  }

  /** A pass soon (coalesced with any pending one), e.g. after a node was deleted. */
  trigger(reason: string): void {
    if (!this.active) return;
    this.options.log.debug('reconcile triggered', { reason });
    if (this.running !== undefined) {
      this.again = true;
      return;
    }
    this.schedule(TRIGGER_DELAY_MS);
  }

  /** Stops the loop and waits for a pass in progress. */
  async stop(): Promise<void> {
    this.active = false;
    this.cancelled = true;
    this.options.clock.clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** One pass, now (tests and the loop). */
  async runPass(): Promise<PassResult> {
    if (this.running !== undefined) return this.running;
    this.running = this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      void this.runPass()
        .catch((error: unknown) =>
          this.options.log.warn('reconcile pass failed', { error: String(error) }),
        )
        .finally(() => {
          if (!this.active) return;
          const next = this.again ? TRIGGER_DELAY_MS : this.options.intervalMs;
          this.again = false;
          this.schedule(next);
        });
    }, delayMs);
  }

  private async pass(): Promise<PassResult> {
    this.options.supervisor.reconciling(true);
    try {
      return await this.passBody();
    } finally {
      this.options.supervisor.reconciling(false);
    }
  }

  private async passBody(): Promise<PassResult> {
    const started = this.options.clock.now();
    const { supervisor, nodes, log, metrics } = this.options;
    let staleMarked = 0;
    let returned = 0;
    let skipped = 0;
    // A: every node that holds a volume, looked up once per pass.
    const existence = new Map<string, boolean | 'unknown'>();
    for (const [volumeId, holders] of supervisor.holders()) {
      if (this.cancelled) break; // stop() aborts a pass between volumes
      for (const node of holders) {
        if (!existence.has(node)) {
          try {
            existence.set(node, await nodes.exists(node));
          } catch (error) {
            existence.set(node, 'unknown');
            log.warn('node lookup failed; its attachments are left alone this pass', {
              node,
              error: String(error),
            });
          }
        }
        const exists = existence.get(node);
        if (exists === 'unknown') {
          skipped++;
        } else if (exists === false) {
          if (await supervisor.nodeDeleted(volumeId, node).catch(() => false)) {
            staleMarked++;
            log.info('attachment of a deleted node marked stale; cleared after the grace period', {
              volumeId,
              node,
            });
          }
        } else if (supervisor.stateOf(volumeId).context?.stale?.node === node) {
          await supervisor.nodePresent(volumeId, node);
          returned++;
        }
      }
    }
    // B: the store against the actors.
    let synced = 0;
    try {
      const changed = await supervisor.syncWithStore(
        await this.options.store.loadAll({ crossCheck: false }),
      );
      synced = changed.length;
      for (const volumeId of changed) {
        metrics.action('sync_annotation');
        log.info('attachment record and actor were out of step; synced', { volumeId });
      }
    } catch (error) {
      log.warn('attachment records could not be read; nothing synced this pass', {
        error: String(error),
      });
    }
    metrics.pass((this.options.clock.now() - started) / 1000);
    return { staleMarked, returned, synced, skipped };
  }
}
