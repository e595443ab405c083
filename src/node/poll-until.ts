// poll-until.ts: the node's waits (settling after connect and disconnect, probe retries, a
// closing opener), on the Clock port, so tests drive them with a simulated clock.
import type { Clock } from '../ports.js';

/** Resolves once `ms` have passed on `clock`. */
export function pause(clock: Clock, ms: number): Promise<void> {
  return new Promise((resolve) => {
    clock.setTimeout(() => resolve(), ms);
  });
}

/** Polls `check` until it returns true or `timeoutMs` passes on `clock`; returns whether it did. */
export async function pollUntil(
  check: () => Promise<boolean>,
  timeoutMs: number,
  clock: Clock,
  intervalMs = 100,
): Promise<boolean> {
  const deadline = clock.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (clock.now() >= deadline) return false;
    await pause(clock, intervalMs);
  }
}
