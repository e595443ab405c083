// filesystem-probe.test.ts: the format decision waits between "unknown" probes on the Clock
// port, so a simulated clock drives the retries (the real interval is seconds).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';

import { captureLog } from '../helpers/log-capture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import type { CommandRunner } from '../../src/node/exec.js';
import { HostFilesystems } from '../../src/node/filesystem.js';

const dirs: TempDir[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) dir.remove();
});

/** Lets every callback the pending I/O has queued run, without moving the simulated clock. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('probing a device before formatting', () => {
  it('probes an unreadable device again only when the interval has passed on the clock', async () => {
    const dir = tempDir('probe-');
    dirs.push(dir);
    const device = join(dir.path, 'disk');
    writeFileSync(device, Buffer.alloc(8192, 1)); // readable, so blkid decides
    const probes: string[] = [];
    const runner: CommandRunner = {
      run: (command, args) => {
        probes.push([command, ...args].join(' '));
        return Promise.resolve({ code: 1, stdout: '', stderr: 'blkid: I/O error\n' });
      },
    };
    const clock = new SimulatedClock();
    const log = captureLog();
    const filesystems = new HostFilesystems({
      runner,
      clock,
      log: log.logger,
      commandTimeoutMs: 1_000,
      formatTimeoutMs: 1_000,
      probeAttempts: 3,
      probeIntervalMs: 60_000, // far beyond the test's own deadline: only the clock can end it
    });
    let settled = false;
    const probing = filesystems.probeSettled(device).finally(() => (settled = true));
    await waitFor(() => probes.length === 1, { what: 'the first probe' });
    await settle();
    clock.increment(59_999);
    await settle();
    expect(probes).toHaveLength(1);
    clock.increment(1);
    await waitFor(() => probes.length === 2, { what: 'the second probe' });
    await settle();
    expect(settled).toBe(false);
    clock.increment(60_000);
    const contents = await probing;
    expect(probes).toHaveLength(3);
    expect(contents).toEqual({
      kind: 'unknown',
      reason: `blkid ${device} exited 1: blkid: I/O error`,
    });
  });
});
