import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';

import { VolumeBusyError } from '../errors.js';
import { OperationLocks } from './operation-locks.js';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('OperationLocks', () => {
  it('refuses a second operation on the same volume at once, naming the first', async () => {
    const clock = new SimulatedClock();
    const locks = new OperationLocks(clock);
    const gate = deferred();
    const first = locks.run('pvc-1', 'CreateVolume', () => gate.promise);
    clock.increment(1_500);
    let secondRan = false;
    await expect(
      locks.run('pvc-1', 'DeleteVolume', () => {
        secondRan = true;
        return Promise.resolve();
      }),
    ).rejects.toThrow(
      new VolumeBusyError(
        'volume "pvc-1" is busy: CreateVolume started 1.5 s ago is still running; DeleteVolume was not started, retry when it finishes',
      ),
    );
    expect(secondRan).toBe(false);
    gate.resolve();
    await first;
  });

  it('lets operations on different volumes run together', async () => {
    const locks = new OperationLocks(new SimulatedClock());
    const gate = deferred();
    const a = locks.run('pvc-a', 'CreateVolume', () => gate.promise);
    await expect(locks.run('pvc-b', 'CreateVolume', () => Promise.resolve('b'))).resolves.toBe('b');
    expect(locks.list().map((l) => l.key)).toEqual(['pvc-a']);
    gate.resolve();
    await a;
  });

  it('releases the lock when the operation fails, so a retry can run', async () => {
    const locks = new OperationLocks(new SimulatedClock());
    await expect(
      locks.run('pvc-1', 'CreateVolume', () => Promise.reject(new Error('boom'))),
    ).rejects.toThrow('boom');
    expect(locks.list()).toEqual([]);
    await expect(locks.run('pvc-1', 'CreateVolume', () => Promise.resolve(7))).resolves.toBe(7);
  });

  it('releases the lock when the operation throws synchronously', async () => {
    const locks = new OperationLocks(new SimulatedClock());
    await expect(
      locks.run('pvc-1', 'X', () => {
        throw new Error('sync');
      }),
    ).rejects.toThrow('sync');
    expect(locks.list()).toEqual([]);
  });
});
