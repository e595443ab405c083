// orphan-auditor.ts: the controller's background audit of RDS disks and files against the
// cluster (field-lessons #2, #3; seed-decisions 3: no PVC, so log lines, no events).
//
// Each pass reads, in this order, the files of the audited directories, every disk, then the
// cluster's references: a file whose disk appears between two reads is then seen with its disk,
// and a disk whose PV appears is seen with its PV. Orphans are followed across passes; one is
// deleted only with --orphan-delete, after two passes and --orphan-min-age, under the slot's CSI
// operation lock, and after a fresh read of the cluster and the device still finds it orphaned.
//
// First-seen times are kept in memory only, on purpose: a restarted driver (or a new leader)
// starts counting again, which can only delay a deletion, never hasten one.
import { VolumeBusyError, describeError } from '../errors.js';
import type {
  ClusterReferenceSource,
  ClusterReferences,
  Clock,
  Leadership,
  Logger,
  OrphanKind,
  OrphanMetrics,
  OrphanStorage,
  RdsDisk,
  RdsFile,
  VolumeActivity,
} from '../ports.js';
import {
  advance,
  auditedDirectories,
  classify,
  isDeletable,
  oldEnoughAt,
  type Sighting,
} from './orphan-policy.js';

export interface OrphanAuditorOptions {
  readonly storage: OrphanStorage;
  readonly cluster: ClusterReferenceSource;
  readonly activity: VolumeActivity;
  readonly leadership: Leadership;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: OrphanMetrics;
  readonly intervalMs: number;
  readonly minAgeMs: number;
  /** Off (the default): orphans are reported, never deleted. */
  readonly deleteEnabled: boolean;
  /** Directories always audited (the default --volume-path). */
  readonly directories: readonly string[];
  /** When this driver created a disk (ms), from its lineage comment. */
  readonly createdAt: (disk: RdsDisk) => number | undefined;
}

export type PassResult =
  'completed' | 'not_leader' | 'stopped' | 'rds_unavailable' | 'kubernetes_unavailable';

export interface PassOutcome {
  readonly result: PassResult;
  readonly orphans: number;
  readonly deleted: number;
}

/** What /debug/orphans serves (times are ISO strings). */
export interface OrphanReport {
  readonly running: boolean;
  readonly now: string;
  readonly deleteEnabled: boolean;
  readonly minAgeSeconds: number;
  readonly intervalSeconds: number;
  readonly lastPass: { readonly at: string; readonly result: PassResult } | undefined;
  readonly note: string;
  readonly orphans: readonly {
    readonly kind: OrphanKind;
    readonly role: string;
    readonly slot: string;
    readonly path: string;
    readonly sizeBytes: number | undefined;
    readonly firstSeen: string;
    readonly lastSeen: string;
    readonly passes: number;
    readonly createdAt: string | undefined;
    /** When the two-pass and age conditions hold (at the first pass from then on). */
    readonly eligibleAt: string;
    readonly wouldDelete: boolean;
    readonly deletion: string;
  }[];
}

type Skip = { readonly skipped: string } | { readonly cleared: string } | 'deleted';

export class OrphanAuditor {
  private sightings = new Map<string, Sighting>();
  /** Directories learnt from disks and PVs, listed first in the next pass. */
  private directories: string[];
  private timer: unknown;
  private running: Promise<PassOutcome> | undefined;
  private active = false;
  private abort = new AbortController();
  private last: { at: number; result: PassResult } | undefined;

  constructor(private readonly options: OrphanAuditorOptions) {
    this.directories = auditedDirectories(options.directories, [], undefined);
  }

  /** First pass now, then one per interval. Starting twice is a programming error. */
  start(): void {
    if (this.active) throw new Error('the orphan auditor is already running');
    this.active = true;
    this.abort = new AbortController();
    this.schedule(0);
  }

  /** Stops the loop, cancels a pass in progress and waits for it. Sightings are dropped. */
  async stop(): Promise<void> {
    this.active = false;
    this.abort.abort();
    this.options.clock.clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
    this.sightings.clear();
  }

  /** One pass now (the loop and tests); joins a pass already running. */
  runPass(): Promise<PassOutcome> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  describe(): OrphanReport {
    const { clock, minAgeMs, deleteEnabled, intervalMs } = this.options;
    const iso = (ms: number) => new Date(ms).toISOString();
    const now = clock.now();
    const orphans = [...this.sightings.values()]
      .sort((a, b) => a.key.localeCompare(b.key))
      .map((s) => {
        const oldEnough = oldEnoughAt(s, minAgeMs);
        const eligibleAt = s.passes >= 2 ? oldEnough : Math.max(oldEnough, s.lastSeen + intervalMs);
        return {
          kind: s.kind,
          role: s.role,
          slot: s.slot,
          path: s.path,
          sizeBytes: s.sizeBytes,
          firstSeen: iso(s.firstSeen),
          lastSeen: iso(s.lastSeen),
          passes: s.passes,
          createdAt: s.createdAt === undefined ? undefined : iso(s.createdAt),
          eligibleAt: iso(eligibleAt),
          wouldDelete: deleteEnabled,
          deletion: !deleteEnabled
            ? 'never: dry-run (--orphan-delete is off); remove it by hand once you are sure'
            : isDeletable(s, now, minAgeMs)
              ? 'at the next pass, after a fresh check'
              : `not before ${iso(eligibleAt)} (two passes and --orphan-min-age), after a fresh check`,
        };
      });
    return {
      running: this.active,
      now: iso(now),
      deleteEnabled,
      minAgeSeconds: minAgeMs / 1000,
      intervalSeconds: intervalMs / 1000,
      lastPass:
        this.last === undefined ? undefined : { at: iso(this.last.at), result: this.last.result },
      note: 'first-seen times are kept in memory: a restart or a new leader starts counting again',
      orphans,
    };
  }

  private schedule(delayMs: number): void {
    this.options.clock.clearTimeout(this.timer);
    this.timer = this.options.clock.setTimeout(() => {
      void this.runPass()
        .catch((error: unknown) =>
          this.options.log.warn('orphan audit pass failed', { error: describeError(error) }),
        )
        .finally(() => {
          if (this.active) this.schedule(this.options.intervalMs);
        });
    }, delayMs);
  }

  private finish(result: PassResult, started: number, orphans = 0, deleted = 0): PassOutcome {
    const now = this.options.clock.now();
    this.options.metrics.pass(result, (now - started) / 1000);
    this.last = { at: now, result };
    return { result, orphans, deleted };
  }

  private async pass(): Promise<PassOutcome> {
    const { storage, cluster, leadership, log, clock } = this.options;
    const started = clock.now();
    const signal = this.abort.signal;
    // Only the leader audits: a replica that is not has an out-of-date view of nothing.
    if (!leadership.isLeader()) return this.finish('not_leader', started);
    let files: RdsFile[] = [];
    let disks: RdsDisk[];
    const listed = this.directories;
    try {
      for (const directory of listed)
        files.push(...(await storage.listFiles(directory, { signal })));
      disks = await storage.listAllDisks({ signal });
    } catch (error) {
      if (signal.aborted) return this.finish('stopped', started);
      log.warn('orphan audit pass skipped: the RDS could not be read; nothing changes', {
        error: describeError(error),
      });
      return this.finish('rds_unavailable', started);
    }
    let references: ClusterReferences;
    try {
      references = await cluster.load({ signal });
    } catch (error) {
      if (signal.aborted) return this.finish('stopped', started);
      // Fail open: without the cluster's view nothing can be shown unused, so nothing is touched.
      log.warn('orphan audit pass skipped: Kubernetes could not be read; nothing changes', {
        error: describeError(error),
      });
      return this.finish('kubernetes_unavailable', started);
    }
    if (signal.aborted) return this.finish('stopped', started);
    this.directories = auditedDirectories(this.options.directories, disks, references);
    files = files.filter((f) => !f.isDirectory);
    const classification = classify({
      disks,
      files,
      directories: listed,
      cluster: references,
      busyWith: (slot) => this.options.activity.busyWith(slot),
      createdAt: this.options.createdAt,
    });
    const step = advance(this.sightings, classification, clock.now());
    this.sightings = step.sightings;
    for (const s of step.appeared) this.decide(s, 'detected', 'unreferenced', 'orphan detected');
    for (const { sighting, reason } of step.cleared)
      this.decide(sighting, 'cleared', reason, 'orphan no longer orphaned');
    const deleted = await this.deleteEligible(signal);
    const counts = { disk: 0, file: 0 };
    for (const s of this.sightings.values()) counts[s.kind]++;
    this.options.metrics.current(counts);
    return this.finish('completed', started, this.sightings.size, deleted);
  }

  /** One metric sample and one log line per decision (STYLE.md rule 13). */
  private decide(s: Sighting, decision: string, reason: string, message: string): void {
    this.options.metrics.decision(s.kind, decision, reason);
    const line = {
      kind: s.kind,
      role: s.role,
      slot: s.slot,
      path: s.path,
      sizeBytes: s.sizeBytes,
      firstSeen: new Date(s.firstSeen).toISOString(),
      passes: s.passes,
      decision,
      reason,
    };
    if (decision === 'deleted') this.options.log.warn(message, line);
    else this.options.log.info(message, line);
  }

  private async deleteEligible(signal: AbortSignal): Promise<number> {
    const { clock, minAgeMs, deleteEnabled } = this.options;
    let deleted = 0;
    for (const s of [...this.sightings.values()]) {
      if (signal.aborted) break;
      if (!isDeletable(s, clock.now(), minAgeMs)) continue;
      if (!deleteEnabled) {
        if (s.eligibleReported) continue;
        this.sightings.set(s.key, { ...s, eligibleReported: true });
        this.decide(
          s,
          'skipped',
          'dry_run',
          'orphan would be deleted; dry-run, --orphan-delete is off',
        );
        continue;
      }
      const outcome = await this.deleteOne(s, signal);
      if (outcome === 'deleted') {
        deleted++;
        this.sightings.delete(s.key);
        this.decide(s, 'deleted', 'unreferenced', 'orphan deleted');
      } else if ('cleared' in outcome) {
        this.sightings.delete(s.key);
        this.decide(
          s,
          'cleared',
          outcome.cleared,
          'orphan no longer orphaned (checked before deleting)',
        );
      } else {
        this.decide(s, 'skipped', outcome.skipped, 'orphan not deleted this pass');
      }
    }
    return deleted;
  }

  /**
   * Deletes one orphan under its slot's operation lock (no CSI call on it can start meanwhile),
   * after a fresh read of the cluster and the device agrees it is still orphaned.
   */
  private async deleteOne(s: Sighting, signal: AbortSignal): Promise<Skip> {
    const { activity, cluster, storage, leadership } = this.options;
    try {
      return await activity.exclusive(s.slot, 'OrphanCleanup', async (): Promise<Skip> => {
        if (!leadership.isLeader()) return { skipped: 'not_leader' };
        const references = await cluster.load({ signal });
        const disks = await storage.listAllDisks({ signal });
        const fresh = classify({
          disks,
          files:
            s.kind === 'file'
              ? [{ path: s.path, isDirectory: false, approxSizeBytes: s.sizeBytes }]
              : [],
          directories: s.kind === 'file' ? [s.path.slice(0, s.path.lastIndexOf('/'))] : [],
          cluster: references,
          // This audit holds the slot's lock now: no CSI operation can be running on it.
          busyWith: () => undefined,
          createdAt: this.options.createdAt,
        });
        if (fresh.undecided.has(s.key)) return { skipped: 'snapshot_api_unavailable' };
        const kept = fresh.kept.get(s.key);
        if (kept !== undefined) return { cleared: kept };
        const still = fresh.orphans.find((o) => o.key === s.key);
        if (still === undefined) return { cleared: 'gone' };
        if (still.path !== s.path) return { skipped: 'changed' };
        if (s.kind === 'disk') await storage.removeDisk(s.slot, { signal });
        else await storage.removeFile(s.path, { signal });
        return 'deleted';
      });
    } catch (error) {
      if (error instanceof VolumeBusyError) return { skipped: 'in_flight' };
      this.options.log.warn('orphan could not be checked or deleted; retried next pass', {
        kind: s.kind,
        slot: s.slot,
        path: s.path,
        error: describeError(error),
      });
      return { skipped: 'delete_failed' };
    }
  }
}
