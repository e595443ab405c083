// operation-locks.ts: per-volume try-locks; a second operation on a busy volume fails at once.
//
// CSI: when an operation is already pending for a volume the plugin answers ABORTED and the CO
// retries with back-off (csi-conformance.md 1.2-1.3). Waiting instead stacked calls behind a hung
// first attempt in democratic-csi (field-lessons #21), so this never waits. A lock is released
// when its function settles, whatever the outcome; every I/O inside is bounded by its own timeout,
// so no lock outlives its operation. Read-only RPCs never take these locks (field-lessons #22).
import { VolumeBusyError } from '../errors.js';
import type { Clock } from '../ports.js';

export interface HeldLock {
  readonly key: string;
  readonly operation: string;
  readonly since: number;
}

export class OperationLocks {
  private readonly held = new Map<string, HeldLock>();

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  /**
   * Runs `fn` holding the lock for `key` (a volume ID, or a snapshot name). Throws
   * VolumeBusyError without calling `fn` when another operation holds it.
   */
  async run<T>(key: string, operation: string, fn: () => Promise<T>): Promise<T> {
    const current = this.held.get(key);
    if (current !== undefined) {
      const seconds = ((this.clock.now() - current.since) / 1000).toFixed(1);
      throw new VolumeBusyError(
        `volume "${key}" is busy: ${current.operation} started ${seconds} s ago is still running; ` +
          `${operation} was not started, retry when it finishes`,
      );
    }
    const lock: HeldLock = { key, operation, since: this.clock.now() };
    this.held.set(key, lock);
    try {
      return await fn();
    } finally {
      if (this.held.get(key) === lock) this.held.delete(key);
    }
  }

  /** Locks currently held, oldest first (for the debug endpoint and shutdown logs). */
  list(): readonly HeldLock[] {
    return [...this.held.values()].sort((a, b) => a.since - b.since);
  }
}
