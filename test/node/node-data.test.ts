// node-data.test.ts: data written through a published volume, on real loop devices, ext4 and
// mounts, survives everything a volume lives through: unstage and restage, a driver restart, a
// snapshot restore and a clone. Content is compared by SHA-256.
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  readFileSync,
  writeFileSync,
  openSync,
  fsyncSync,
  closeSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { MIB, MOUNT_RWO, createRequest } from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { loopsUnder } from '../helpers/loop-devices.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const NODE = 'test-node';
const BLOCK_RWO: VolumeCapability = { accessMode: { mode: 'SINGLE_NODE_WRITER' }, block: {} };

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

async function start(emulatorDir: string): Promise<DriverFixture> {
  const fixture = await driverFixture(['--mode', 'all', '--node-transport', 'loop'], {
    dataDir: emulatorDir,
  });
  return fixture;
}

/** ControllerPublish + NodeStage + NodePublish, as the attacher and kubelet do. */
async function attach(
  fixture: DriverFixture,
  volumeId: string,
  paths: { staging: string; target: string },
  capability: VolumeCapability = MOUNT_RWO,
) {
  const { publishContext } = await fixture.clients.controller.ControllerPublishVolume({
    volumeId,
    nodeId: NODE,
    volumeCapability: capability,
    readonly: false,
    volumeContext: {},
  });
  await fixture.clients.node.NodeStageVolume({
    volumeId,
    publishContext,
    stagingTargetPath: paths.staging,
    volumeCapability: capability,
    volumeContext: {},
  });
  await fixture.clients.node.NodePublishVolume({
    volumeId,
    publishContext,
    stagingTargetPath: paths.staging,
    targetPath: paths.target,
    volumeCapability: capability,
    readonly: false,
    volumeContext: {},
  });
}

async function detach(
  fixture: DriverFixture,
  volumeId: string,
  paths: { staging: string; target: string },
) {
  await fixture.clients.node.NodeUnpublishVolume({ volumeId, targetPath: paths.target });
  await fixture.clients.node.NodeUnstageVolume({ volumeId, stagingTargetPath: paths.staging });
  await fixture.clients.controller.ControllerUnpublishVolume({ volumeId, nodeId: NODE });
}

function writeDurably(path: string, data: Buffer): void {
  writeFileSync(path, data);
  const fd = openSync(path, 'r');
  fsyncSync(fd);
  closeSync(fd);
}

function pathsIn(dir: TempDir, name: string) {
  const staging = join(dir.path, name, 'staging');
  mkdirSync(staging, { recursive: true });
  return { staging, target: join(dir.path, name, 'target') };
}

describe('data through the node service (loop devices, ext4)', () => {
  it('survives unstage/restage, a driver restart, a snapshot restore and a clone', async () => {
    const emulatorDir = tempDir('node-emu-');
    const work = tempDir('node-paths-');
    cleanups.push(
      () => emulatorDir.remove(),
      () => work.remove(),
    );
    let fixture = await start(emulatorDir.path);
    cleanups.push(() => fixture.stop());

    const created = await fixture.clients.controller.CreateVolume(
      createRequest('data-volume', 256 * MIB),
    );
    const volumeId = created.volume?.volumeId ?? '';
    const a = pathsIn(work, 'a');
    await attach(fixture, volumeId, a);
    const data = randomBytes(3 * MIB);
    const expected = sha256(data);
    writeDurably(join(a.target, 'data.bin'), data);

    // Unstage (unmount + disconnect) and stage again: the filesystem is found, not re-made.
    await detach(fixture, volumeId, a);
    expect(existsSync(a.target)).toBe(false);
    expect(loopsUnder(emulatorDir.path)).toEqual([]);
    await attach(fixture, volumeId, a);
    expect(sha256(readFileSync(join(a.target, 'data.bin')))).toBe(expected);
    expect(
      fixture.log.lines().filter((l) => l['message'] === 'formatting a blank device (audit)'),
    ).toHaveLength(1);

    // A driver restart: the new process finds the mounts and the connection in the kernel.
    await fixture.stop();
    fixture = await start(emulatorDir.path);
    await attach(fixture, volumeId, a); // every step idempotent against what the kernel holds
    expect(sha256(readFileSync(join(a.target, 'data.bin')))).toBe(expected);
    const stats = await fixture.clients.node.NodeGetVolumeStats({ volumeId, volumePath: a.target });
    expect(stats.volumeCondition?.abnormal).toBe(false);
    expect(Number(stats.usage.find((u) => u.unit === 'BYTES')?.used)).toBeGreaterThan(3 * MIB);

    // A snapshot, restored into a new volume; and a clone of the original.
    const { snapshot } = await fixture.clients.controller.CreateSnapshot({
      name: 'data-snapshot',
      sourceVolumeId: volumeId,
      parameters: {},
      secrets: {},
    });
    const restored = await fixture.clients.controller.CreateVolume(
      createRequest('restored', 256 * MIB, {
        volumeContentSource: { snapshot: { snapshotId: snapshot?.snapshotId ?? '' } },
      }),
    );
    const clone = await fixture.clients.controller.CreateVolume(
      createRequest('clone', 256 * MIB, {
        volumeContentSource: { volume: { volumeId } },
      }),
    );
    for (const [name, copy] of [
      ['restored', restored],
      ['clone', clone],
    ] as const) {
      const copyId = copy.volume?.volumeId ?? '';
      const paths = pathsIn(work, name);
      await attach(fixture, copyId, paths);
      expect(sha256(readFileSync(join(paths.target, 'data.bin'))), name).toBe(expected);
      await detach(fixture, copyId, paths);
    }
    expect(
      fixture.log.lines().filter((l) => l['message'] === 'formatting a blank device (audit)'),
    ).toHaveLength(0);

    await detach(fixture, volumeId, a);
    expect(loopsUnder(emulatorDir.path)).toEqual([]);
  }, 120_000);

  it('a block volume: bytes written to the device node survive unstage/restage', async () => {
    const emulatorDir = tempDir('node-emu-');
    const work = tempDir('node-paths-');
    cleanups.push(
      () => emulatorDir.remove(),
      () => work.remove(),
    );
    const fixture = await start(emulatorDir.path);
    cleanups.push(() => fixture.stop());
    const created = await fixture.clients.controller.CreateVolume(
      createRequest('raw', 64 * MIB, { volumeCapabilities: [BLOCK_RWO] }),
    );
    const volumeId = created.volume?.volumeId ?? '';
    const paths = pathsIn(work, 'raw');
    await attach(fixture, volumeId, paths, BLOCK_RWO);
    const data = randomBytes(MIB);
    writeDurably(paths.target, data);
    const stats = await fixture.clients.node.NodeGetVolumeStats({
      volumeId,
      volumePath: paths.target,
    });
    expect(stats.usage).toEqual([
      { unit: 'BYTES', total: String(64 * MIB), available: '0', used: '0' },
    ]);
    await detach(fixture, volumeId, paths);
    expect(existsSync(paths.target)).toBe(false);
    await attach(fixture, volumeId, paths, BLOCK_RWO);
    expect(sha256(readFileSync(paths.target).subarray(0, MIB))).toBe(sha256(data));
    await detach(fixture, volumeId, paths);
    expect(loopsUnder(emulatorDir.path)).toEqual([]);
  }, 60_000);
});
