// node-loss.test.ts: a node is lost while it holds an RWO volume (issue 9; field-lessons #7;
// seed-decisions 5). Its kubelet and node plugin die, its kernel state goes (mounts, devices), and
// its Node object is deleted, as a cloud node controller does; its pod and VolumeAttachment stay
// (no pod garbage collector runs, and the attach-detach controller keeps a dead node's attachment).
// The driver marks the attachment stale, refuses another node until the grace period has passed
// (AttachmentConflict naming the time), then clears it (StaleAttachmentCleared on the claim, the
// stale-cleared metric, the PV's record), and the replacement node attaches (its VolumeAttachment
// is made by the test, as the attach-detach controller would once it gave up on the dead node),
// and the replacement node finds the data. Run twice: as is, and with the controller killed while
// the attachment is stale and again once the replacement holds the volume.
import { spawnSync } from 'node:child_process';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { csiClients } from '../helpers/csi-client.js';
import { waitFor } from '../helpers/wait-for.js';
import { DRIVER, startHarness, type Harness } from './harness.js';
import { attachmentName, mountPoints } from './kubelet-standin.js';
import { Steps, type PersistentVolume, type VolumeAttachment } from './steps.js';

/** Short, so the test sees both sides of it; the default is 30 s (seed-decisions 1). */
const GRACE_MS = 15_000;
const ATTACHMENT_ANNOTATION = 'rds.csi.srvlab.io/attachment';
let harness: Harness;
let steps: Steps;

beforeAll(async () => {
  harness = await startHarness({
    nodes: ['node-a', 'node-b', 'node-c'],
    controllerArgs: ['--attachment-grace-period', `${GRACE_MS / 1000}s`],
  });
  steps = new Steps(harness, 'e2e-node-loss');
  await steps.createNamespace();
}, 180_000);

afterAll(async () => {
  await harness?.stop();
}, 120_000);

interface AttachmentMetadata {
  readonly status?: { readonly attachmentMetadata?: Record<string, string> };
}
interface VolumeContext {
  readonly spec: { readonly csi: { readonly volumeAttributes?: Record<string, string> } };
}
interface AttachmentRecord {
  readonly state: string;
  readonly context: {
    readonly nodes: readonly string[];
    readonly stale?: { readonly node: string; readonly since: number; readonly deadline: number };
  };
}

async function record(pv: PersistentVolume): Promise<AttachmentRecord | undefined> {
  const got = await harness.api.get<PersistentVolume>(
    `/api/v1/persistentvolumes/${pv.metadata.name}`,
  );
  const text = got.metadata.annotations?.[ATTACHMENT_ANNOTATION];
  return text === undefined ? undefined : (JSON.parse(text) as AttachmentRecord);
}

/** What dies with a node's kernel: its mounts and its loop devices (its "NVMe connections"). */
function powerOff(node: string): void {
  const kubeletDir = harness.node(node).kubeletDir;
  const mounts = [...mountPoints()].filter((p) => p.startsWith(`${kubeletDir}/`));
  for (const mount of mounts.reverse()) spawnSync('umount', ['--lazy', mount]);
  const links = join(harness.rds.dir.path, 'node-links', node);
  for (const entry of readdirSync('/sys/block').filter((d) => d.startsWith('loop'))) {
    let backing: string;
    try {
      backing = readFileSync(`/sys/block/${entry}/loop/backing_file`, 'utf8').trim();
    } catch {
      continue;
    }
    if (backing.startsWith(`${links}/`)) spawnSync('losetup', ['--detach', `/dev/${entry}`]);
  }
}

/** One lost node and the volume's way to the replacement; `crash` runs at the two moments. */
async function loseNode(
  claim: string,
  lost: string,
  replacement: string,
  crash?: () => Promise<void>,
): Promise<void> {
  const clearedBefore = await steps.controllerMetric('rds_csi_attachment_stale_cleared_total');
  await steps.createClaim(claim, { node: lost });
  const pv = await steps.boundVolume(claim);
  const handle = pv.spec.csi.volumeHandle;
  await steps.createPod(`${claim}-1`, lost, claim);
  await steps.attached(pv, lost);
  const first = await steps.published(lost, `${claim}-1`);
  const file = join(first.targetPath, 'rows.db');
  writeFileSync(file, `rows of ${claim}\n`);
  const fd = openSync(file, 'r');
  fsyncSync(fd);
  closeSync(fd);

  // 1. The node is lost, then its Node object deleted.
  await harness.crashNode(lost);
  powerOff(lost);
  const deletedAt = Date.now();
  await harness.api.delete(`/api/v1/nodes/${lost}`);

  // 2. The driver notices (the reconciler runs on a node deletion) and marks it stale.
  const stale = await waitFor(
    async () => {
      const r = await record(pv);
      return r?.state === 'stale' ? r : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `the attachment of ${claim} marked stale` },
  ).catch(steps.failWithLogs('controller'));
  expect(stale.context.nodes).toEqual([lost]);
  expect(stale.context.stale?.node).toBe(lost);
  const deadline = stale.context.stale?.deadline ?? 0;
  expect(deadline - (stale.context.stale?.since ?? 0)).toBe(GRACE_MS);
  expect(stale.context.stale?.since).toBeGreaterThanOrEqual(deletedAt - 1_000);

  // 3. The replacement node's attachment, as the attach-detach controller makes it once it gives
  //    up on the dead node: refused while the grace runs, with the time it ends.
  await harness.createVolumeAttachment(pv.metadata.name, handle, replacement);
  const vaPath = `/apis/storage.k8s.io/v1/volumeattachments/${attachmentName(handle, DRIVER, replacement)}`;
  const refused = await waitFor(
    async () => {
      const va = await harness.api.get<VolumeAttachment>(vaPath);
      return va.status?.attachError?.message !== undefined ? va : undefined;
    },
    { timeoutMs: 15_000, intervalMs: 100, what: `the refusal of ${replacement}` },
  ).catch(steps.failWithLogs('csi-attacher', 'controller'));
  expect(refused.status?.attached).not.toBe(true);
  expect(refused.status?.attachError?.message).toContain(
    `its node ${lost} was deleted; the attachment is cleared after the grace period, at ${new Date(deadline).toISOString()}`,
  );
  const conflict = await steps.event(claim, 'AttachmentConflict');
  expect(conflict.message).toContain(`Attachment to node ${replacement} rejected`);
  expect(Date.now()).toBeLessThan(deadline);

  if (crash !== undefined) await crash();

  // 4. The grace ends: cleared (event, metric, record), and the replacement attaches.
  const cleared = await steps.event(claim, 'StaleAttachmentCleared', GRACE_MS + 60_000);
  expect(cleared.message).toContain(`Cleared stale attachment from deleted node ${lost}`);
  expect(cleared.message).toContain(
    `deleted since ${new Date(stale.context.stale?.since ?? 0).toISOString()}`,
  );
  const attached = await steps.attached(pv, replacement, 60_000);
  expect(attached.status?.attachError).toBeUndefined();
  // The attacher's retry came after the deadline, never before it.
  expect(Date.now()).toBeGreaterThanOrEqual(deadline);
  expect((await record(pv))?.context.nodes).toEqual([replacement]);
  expect(await steps.controllerMetric('rds_csi_attachment_stale_cleared_total')).toBe(
    crash === undefined ? clearedBefore + 1 : 1,
  );
  expect(
    await steps.controllerMetric('rds_csi_attachment_reconcile_total', 'action="clear_stale"'),
  ).toBeGreaterThanOrEqual(1);
  // The dead node's VolumeAttachment is still there: the driver's record did not wait for it.
  expect((await steps.attached(pv, lost, 1_000)).status?.attached).toBe(true);

  if (crash !== undefined) {
    await crash();
    // Rebuilt with the dead node's VolumeAttachment still attached: the record keeps node-b.
    expect((await record(pv))?.context.nodes).toEqual([replacement]);
  }

  // 5. The replacement node stages the volume (what kubelet does for the rescheduled pod) and
  //    finds the data the lost node wrote.
  const staged = join(harness.node(replacement).kubeletDir, 'staging', claim);
  mkdirSync(staged, { recursive: true });
  const node = csiClients(harness.node(replacement).endpoint);
  try {
    const va = await harness.api.get<VolumeAttachment & AttachmentMetadata>(vaPath);
    const got = await harness.api.get<PersistentVolume & VolumeContext>(
      `/api/v1/persistentvolumes/${pv.metadata.name}`,
    );
    await node.node.NodeStageVolume({
      volumeId: handle,
      publishContext: va.status?.attachmentMetadata ?? {},
      stagingTargetPath: staged,
      volumeCapability: {
        accessMode: { mode: 'SINGLE_NODE_WRITER' },
        mount: { fsType: 'ext4', mountFlags: [] },
      },
      secrets: {},
      volumeContext: got.spec.csi.volumeAttributes ?? {},
    });
    expect(readFileSync(join(staged, 'rows.db'), 'utf8')).toBe(`rows of ${claim}\n`);
    await node.node.NodeUnstageVolume({ volumeId: handle, stagingTargetPath: staged });
  } finally {
    node.close();
  }

  // 6. The operator clears what Kubernetes keeps of the dead node (its pod, and its
  //    VolumeAttachment, which the attach-detach controller would force-detach only after 6
  //    minutes): csi-attacher unpublishes the dead node, which the driver no longer holds.
  await harness.api.delete(`/api/v1/namespaces/${steps.namespace}/pods/${claim}-1`, {
    gracePeriodSeconds: 0,
  });
  await harness.api.delete(steps.attachmentPath(pv, lost));
  await steps.detached(pv, lost);
  expect((await record(pv))?.context.nodes).toEqual([replacement]);
  await harness.api.delete(vaPath);
  await steps.detached(pv, replacement);
  await steps.deleteClaim(claim, pv);
  expect(harness.rds.emulator.exports().some((e) => e.nqn.endsWith(handle))).toBe(false);
}

describe('end to end: a node is lost while it holds a volume', () => {
  it('clears the lost node attachment after the grace period and attaches the volume to the replacement node', async () => {
    await loseNode('db', 'node-a', 'node-b');
  }, 240_000);

  it('keeps the stale deadline and the replacement attachment when the controller crashes during the grace and after the handover', async () => {
    await loseNode('db-crash', 'node-b', 'node-c', () => harness.restartController());
  }, 300_000);

  it('no component was refused anything by RBAC (no 403 in any log)', () => {
    expect(harness.forbidden()).toEqual([]);
  });
});
