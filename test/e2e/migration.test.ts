// migration.test.ts: KubeVirt-style live migration of an RWX block volume (issue 9; field-lessons
// #13, #25), through kube-controller-manager's attach-detach controller and csi-attacher: a pod on
// node-a, then a second pod on node-b (two VolumeAttachments, MigrationStarted on the claim), then
// the source pod goes (node-a unpublished, unstaged, detached; MigrationCompleted), and node-b
// keeps reading and writing the device. Run twice: as is, and with the controller and both node
// plugins killed (SIGKILL) and restarted while the volume is attached to both nodes.
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startHarness, type Harness } from './harness.js';
import { Steps, readBlock, writeBlock } from './steps.js';

const MIB = 2 ** 20;
let harness: Harness;
let steps: Steps;

beforeAll(async () => {
  harness = await startHarness({ nodes: ['node-a', 'node-b'] });
  steps = new Steps(harness, 'e2e-migration');
  await steps.createNamespace();
}, 180_000);

afterAll(async () => {
  await harness?.stop();
}, 120_000);

/** The whole migration of one claim; `crashes` runs while both nodes hold the volume. */
async function migrate(claim: string, crashes?: () => Promise<void>): Promise<void> {
  const completedBefore = await steps.controllerMetric(
    'rds_csi_attachment_migrations_total',
    'result="completed"',
  );
  await steps.createClaim(claim, {
    node: 'node-a',
    accessMode: 'ReadWriteMany',
    volumeMode: 'Block',
    storage: '64Mi',
  });
  const pv = await steps.boundVolume(claim);
  expect(pv.spec.volumeMode).toBe('Block');

  // 1. The VM runs on node-a: attached, staged and published as a block device, written.
  await steps.createPod(`${claim}-src`, 'node-a', claim, true);
  await steps.attached(pv, 'node-a');
  const source = await steps.published('node-a', `${claim}-src`);
  expect(source.block).toBe(true);
  const before = randomBytes(64 * 1024);
  writeBlock(source.targetPath, MIB, before);

  // 2. The migration target on node-b: a second VolumeAttachment, both attached at once.
  await steps.createPod(`${claim}-dst`, 'node-b', claim, true);
  await steps.attached(pv, 'node-b');
  const started = await steps.event(claim, 'MigrationStarted');
  expect(started.type).toBe('Normal');
  expect(started.message).toContain('Live migration from node node-a to node-b started');
  const target = await steps.published('node-b', `${claim}-dst`);
  expect(readBlock(target.targetPath, MIB, before.length).equals(before)).toBe(true);
  expect((await steps.attached(pv, 'node-a', 1_000)).status?.attached).toBe(true);
  expect(await steps.controllerMetric('rds_csi_attachment_migrations_active')).toBe(1);

  if (crashes !== undefined) {
    await crashes();
    // The restarted controller rebuilt the migration from the PV's record: still migrating.
    expect(await steps.controllerMetric('rds_csi_attachment_migrations_active')).toBe(1);
    expect(readBlock(target.targetPath, MIB, before.length).equals(before)).toBe(true);
  }

  // 3. The source goes: unpublished and unstaged on node-a, then detached; node-b keeps it.
  await steps.deletePod(`${claim}-src`);
  await steps.detached(pv, 'node-a');
  const completed = await steps.event(claim, 'MigrationCompleted');
  expect(completed.message).toContain('Live migration from node node-a to node-b completed');
  const handle = pv.spec.csi.volumeHandle;
  expect(harness.node('node-a').kubelet.calls.filter((c) => c.includes(handle))).toEqual([
    `NodeStageVolume ${handle}`,
    `NodePublishVolume ${handle} ${claim}-src`,
    `NodeUnpublishVolume ${handle} ${claim}-src`,
    `NodeUnstageVolume ${handle}`,
  ]);
  expect((await steps.attached(pv, 'node-b', 1_000)).status?.attached).toBe(true);
  // Only node-b's device is left: the source's loop device went with NodeUnstage.
  expect(harness.leftovers().loopDevices).toHaveLength(1);

  // 4. The target keeps working: what node-a wrote is there, and node-b writes and reads back.
  const after = randomBytes(64 * 1024);
  writeBlock(target.targetPath, 2 * MIB, after);
  expect(readBlock(target.targetPath, 2 * MIB, after.length).equals(after)).toBe(true);
  expect(readBlock(target.targetPath, MIB, before.length).equals(before)).toBe(true);
  expect(
    harness.rds.emulator.exports().some((e) => e.nqn.endsWith(handle)),
    'the export stays while node-b uses it',
  ).toBe(true);
  expect((await steps.events(claim)).map((e) => e.reason)).not.toContain('MigrationFailed');
  expect(await steps.controllerMetric('rds_csi_attachment_migrations_active')).toBe(0);
  expect(
    await steps.controllerMetric('rds_csi_attachment_migrations_total', 'result="completed"'),
  ).toBe(crashes === undefined ? completedBefore + 1 : 1);

  // 5. The VM stops: node-b lets go, the claim and its disk are deleted.
  await steps.deletePod(`${claim}-dst`);
  await steps.detached(pv, 'node-b');
  await steps.deleteClaim(claim, pv);
  expect(harness.rds.emulator.exports().some((e) => e.nqn.endsWith(handle))).toBe(false);
  expect(harness.leftovers()).toEqual({ mounts: [], loopDevices: [] });
}

describe('end to end: live migration of an RWX block volume', () => {
  it('attaches an RWX block volume to a second node, detaches the source, and the target keeps reading and writing it', async () => {
    await migrate('vm-disk');
  }, 180_000);

  it('completes the migration when the controller and both node plugins crash while both nodes hold the volume', async () => {
    await migrate('vm-disk-crash', async () => {
      await harness.restartController();
      await harness.restartNode('node-b');
      await harness.restartNode('node-a');
    });
  }, 240_000);

  it('no component was refused anything by RBAC (no 403 in any log)', () => {
    expect(harness.forbidden()).toEqual([]);
  });
});
