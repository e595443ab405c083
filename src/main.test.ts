import { describe, expect, it } from 'vitest';

import type { ShutdownResult } from './csi/server.js';
import { runUntilSignal } from './main.js';
import type { Logger } from './ports.js';

const silent: Logger = { error() {}, warn() {}, info() {}, debug() {}, child: () => silent };

function signals() {
  const handlers = new Map<string, () => void>();
  return {
    io: {
      onSignal: (signal: 'SIGTERM' | 'SIGINT', handler: () => void) =>
        void handlers.set(signal, handler),
    },
    send: (signal: 'SIGTERM' | 'SIGINT') => handlers.get(signal)?.(),
  };
}

describe('runUntilSignal', () => {
  it('stops the driver on the first signal, flushes logs, and exits 0', async () => {
    const { io, send } = signals();
    const calls: string[] = [];
    const driver = {
      stop: (): Promise<ShutdownResult> => {
        calls.push('stop');
        return Promise.resolve({ drained: true, abandoned: 0 });
      },
    };
    const exit = runUntilSignal(io, driver, silent, () => {
      calls.push('flush');
      return Promise.resolve();
    });
    send('SIGTERM');
    await expect(exit).resolves.toBe(0);
    expect(calls).toEqual(['stop', 'flush']);
  });

  it('gives up waiting on a second signal and exits 1', async () => {
    const { io, send } = signals();
    let stops = 0;
    const driver = {
      stop: (): Promise<ShutdownResult> => {
        stops++;
        return new Promise(() => undefined); // an in-flight call that never drains
      },
    };
    const exit = runUntilSignal(io, driver, silent, () => Promise.resolve());
    send('SIGINT');
    send('SIGTERM');
    await expect(exit).resolves.toBe(1);
    expect(stops).toBe(1);
  });

  it('exits 1 when stopping fails', async () => {
    const { io, send } = signals();
    const driver = { stop: () => Promise.reject(new Error('unlink failed')) };
    const exit = runUntilSignal(io, driver, silent, () => Promise.resolve());
    send('SIGTERM');
    await expect(exit).resolves.toBe(1);
  });
});
