// poll-until.test.ts: the transports' settle waits run on the Clock port.
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';

import { pollUntil } from './poll-until.js';

/** Lets queued callbacks run without moving the simulated clock. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('pollUntil', () => {
  it('checks once per interval of the clock and gives up once the timeout has passed on it', async () => {
    const clock = new SimulatedClock();
    let checks = 0;
    let answer: boolean | undefined;
    void pollUntil(
      () => {
        checks++;
        return Promise.resolve(false);
      },
      1_000,
      clock,
      250,
    ).then((done) => (answer = done));
    await flush();
    expect(checks).toBe(1);
    for (let step = 1; step <= 4; step++) {
      clock.increment(249);
      await flush();
      expect(checks).toBe(step);
      clock.increment(1);
      await flush();
      expect(checks).toBe(step + 1);
    }
    expect(answer).toBe(false);
  });

  it('answers true as soon as the check holds, without waiting', async () => {
    const clock = new SimulatedClock();
    expect(await pollUntil(() => Promise.resolve(true), 1_000, clock)).toBe(true);
  });
});
