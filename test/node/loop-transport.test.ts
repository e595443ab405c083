// loop-transport.test.ts: two node plugins on one host each get loop devices of their own, on real
// loop devices: one node's disconnect leaves the other's device attached and working (what a live
// migration's target needs when the source unstages; found by test/e2e/migration.test.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { DEFAULT_MANAGED_NQN_PREFIX, MIKROTIK_NQN_PREFIX } from '../../src/domain/naming.js';
import { HostCommandRunner } from '../../src/node/exec.js';
import { LoopTransport } from '../../src/node/loop-transport.js';
import { systemClock } from '../../src/main.js';
import { loopsUnder } from '../helpers/loop-devices.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const MIB = 2 ** 20;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0).reverse()) cleanup();
});

function emulatorDir(): { dir: TempDir; table: string; nqn: string; file: string } {
  const dir = tempDir('loop-transport-');
  cleanups.push(() => {
    for (const device of loopsUnder(dir.path)) spawnSync('losetup', ['--detach', device]);
    dir.remove();
  });
  mkdirSync(join(dir.path, 'fs'));
  const file = join(dir.path, 'fs', 'pvc-1.img');
  writeFileSync(file, '');
  truncateSync(file, 16 * MIB);
  const nqn = `${MIKROTIK_NQN_PREFIX}pvc-1`;
  const table = join(dir.path, 'exports.json');
  writeFileSync(table, JSON.stringify([{ nqn, port: 4420, backingFile: file }]));
  return { dir, table, nqn, file };
}

function transport(table: string, nodeId?: string): LoopTransport {
  return new LoopTransport({
    exportTable: table,
    managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
    runner: new HostCommandRunner(systemClock),
    clock: systemClock,
    commandTimeoutMs: 10_000,
    settleTimeoutMs: 2_000,
    ...(nodeId !== undefined ? { nodeId } : {}),
  });
}

function writeAt(device: string, offset: number, data: Buffer): void {
  const args = [`of=${device}`, 'bs=4096', `seek=${offset / 4096}`, 'oflag=direct', 'status=none'];
  const done = spawnSync('dd', [...args, 'conv=fsync,notrunc'], { input: data });
  expect(done.status, done.stderr.toString()).toBe(0);
}

function readAt(device: string, offset: number, length: number): Buffer {
  const args = [`if=${device}`, 'bs=4096', `skip=${offset / 4096}`, `count=${length / 4096}`];
  const done = spawnSync('dd', [...args, 'iflag=direct', 'status=none']);
  expect(done.status, done.stderr.toString()).toBe(0);
  return done.stdout;
}

const TARGET = { address: '127.0.0.1', port: 4420 };

describe('loop transport: one host, several nodes', () => {
  it('gives each node its own loop device, and one node disconnecting leaves the other working', async () => {
    const { dir, table, nqn, file } = emulatorDir();
    const a = transport(table, 'node-a');
    const b = transport(table, 'node-b');

    const onA = await a.connect({ nqn, ...TARGET });
    const onB = await b.connect({ nqn, ...TARGET });
    expect(onA.made).toBe(true);
    expect(onB.made).toBe(true);
    expect(onB.device).not.toBe(onA.device);
    expect(await a.devicePath(nqn)).toBe(onA.device);
    expect(await b.devicePath(nqn)).toBe(onB.device);
    expect(await a.connected()).toEqual([nqn]);
    expect(loopsUnder(dir.path).sort()).toEqual([onA.device, onB.device].sort());
    // A repeat finds the node's own device.
    expect(await b.connect({ nqn, ...TARGET })).toEqual({ device: onB.device, made: false });

    // One disk behind both: what node-a writes, node-b reads.
    const data = Buffer.alloc(8192, 0x5a);
    writeAt(onA.device, MIB, data);
    expect(readAt(onB.device, MIB, data.length).equals(data)).toBe(true);

    // node-a lets go: only its device and its link go.
    await a.disconnect(nqn);
    expect(await a.devicePath(nqn)).toBeUndefined();
    expect(await a.connected()).toEqual([]);
    expect(await b.devicePath(nqn)).toBe(onB.device);
    expect(loopsUnder(dir.path)).toEqual([onB.device]);
    expect(readdirSync(join(dir.path, 'node-links', 'node-a'))).toEqual([]);
    expect(existsSync(file)).toBe(true);
    const more = Buffer.alloc(8192, 0xa5);
    writeAt(onB.device, 2 * MIB, more);
    expect(readAt(onB.device, 2 * MIB, more.length).equals(more)).toBe(true);
    expect(readAt(onB.device, MIB, data.length).equals(data)).toBe(true);

    await b.disconnect(nqn);
    expect(loopsUnder(dir.path)).toEqual([]);
  });

  it('without a node ID attaches the backing file itself and never counts a node link as its own', async () => {
    const { table, nqn, file } = emulatorDir();
    const shared = transport(table);
    const a = transport(table, 'node-a');
    const onA = await a.connect({ nqn, ...TARGET });
    expect(await shared.devicePath(nqn)).toBeUndefined();
    expect(await shared.connected()).toEqual([]);

    const direct = await shared.connect({ nqn, ...TARGET });
    expect(direct.made).toBe(true);
    expect(direct.device).not.toBe(onA.device);
    const backing = execFileSync(
      'losetup',
      ['--noheadings', '--output', 'BACK-FILE', direct.device],
      {
        encoding: 'utf8',
      },
    ).trim();
    expect(backing).toBe(file);
    expect(await a.devicePath(nqn)).toBe(onA.device);
    await shared.disconnect(nqn);
    expect(await a.devicePath(nqn)).toBe(onA.device);
    await a.disconnect(nqn);
  });

  it('replaces a link left by a crash that points at an older file of the same name', async () => {
    const { dir, table, nqn, file } = emulatorDir();
    const links = join(dir.path, 'node-links', 'node-a');
    mkdirSync(links, { recursive: true });
    // A stale link: a file of the same name that is not the exported one (another inode).
    writeFileSync(join(links, 'pvc-1.img'), 'stale');
    writeFileSync(file, '');
    truncateSync(file, 16 * MIB);
    const a = transport(table, 'node-a');
    const { device } = await a.connect({ nqn, ...TARGET });
    const size = execFileSync('blockdev', ['--getsize64', device], { encoding: 'utf8' }).trim();
    expect(size).toBe(String(16 * MIB));
    await a.disconnect(nqn);
  });
});
