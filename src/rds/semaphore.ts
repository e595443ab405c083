// semaphore.ts: bounds concurrent SSH exec channels to the device's session limit; a waiter
// gives up when its signal aborts (every wait is bounded: STYLE.md rule 15).
import { abortReason } from '../errors.js';

export class Semaphore {
  private available: number;
  private readonly waiters: {
    resolve: () => void;
    reject: (e: Error) => void;
    signal?: AbortSignal;
    onAbort: () => void;
  }[] = [];

  constructor(readonly size: number) {
    this.available = size;
  }

  get inUse(): number {
    return this.size - this.available;
  }

  /** Resolves with a release function once a slot is free; rejects with the signal's reason. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted === true) return Promise.reject(abortReason(signal));
    const release = this.releaser();
    if (this.available > 0) {
      this.available--;
      return Promise.resolve(release);
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: () => resolve(release),
        reject,
        ...(signal ? { signal } : {}),
        onAbort: () => {
          const index = this.waiters.indexOf(waiter);
          if (index !== -1) this.waiters.splice(index, 1);
          reject(signal === undefined ? new Error('aborted') : abortReason(signal));
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next === undefined) {
        this.available++;
        return;
      }
      next.signal?.removeEventListener('abort', next.onAbort);
      next.resolve();
    };
  }
}
