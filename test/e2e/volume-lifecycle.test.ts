// volume-lifecycle.test.ts: the driver in its cluster (issue 9), through the real kubernetes-csi
// sidecars and kube-controller-manager, every component with the Helm chart's RBAC only:
//   - a claim provisioned by csi-provisioner (--extra-create-metadata), bound by the PV binder,
//     attached through the VolumeAttachment the attach-detach controller creates for a pod,
//     staged and published by the kubelet stand-in, written, detached, attached again for a second
//     pod that reads the data back, then deleted with its disk;
//   - an RWO volume refused to a second node (attachError, AttachmentConflict event on the PVC);
//   - online growth through csi-resizer and NodeExpandVolume;
//   - a VolumeSnapshot through snapshot-controller and csi-snapshotter, restored into a new claim.
// The last test fails on any 403 any component logged.
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../helpers/wait-for.js';
import {
  DRIVER,
  SNAPSHOT_CLASS,
  STORAGE_CLASS,
  STORAGE_CLASS_XFS,
  startHarness,
  type Harness,
} from './harness.js';
import type { KubeObject } from './kube-api.js';
import { attachmentName, mountPoints } from './kubelet-standin.js';
import { Steps, type Claim, type PersistentVolume, type VolumeAttachment } from './steps.js';

const NS = 'e2e';
let harness: Harness;
let steps: Steps;
let startedInMs = 0;

interface VolumeSnapshot extends KubeObject {
  readonly status?: {
    readonly readyToUse?: boolean;
    readonly boundVolumeSnapshotContentName?: string;
    readonly restoreSize?: string;
  };
}
interface VolumeSnapshotContent extends KubeObject {
  readonly spec: { readonly driver: string };
  readonly status?: { readonly snapshotHandle?: string };
}
beforeAll(async () => {
  const started = Date.now();
  harness = await startHarness({ nodes: ['node-a', 'node-b'] });
  startedInMs = Date.now() - started;
  console.log(`e2e harness up in ${startedInMs} ms`, harness.timings);
  steps = new Steps(harness, NS);
  await steps.createNamespace();
}, 180_000);

afterAll(async () => {
  await harness?.stop();
}, 120_000);

/** The pod goes (graceful delete, the kubelet stand-in finishes it) and the volume detaches. */
async function deletePodAndWaitDetached(pod: string, pv: PersistentVolume, node: string) {
  await steps.deletePod(pod);
  await steps.detached(pv, node);
}

describe('end to end: the driver with the kubernetes-csi sidecars and kube-controller-manager', () => {
  it('starts the control plane, the driver, five sidecars and two kubelet stand-ins within 90 s', () => {
    expect(startedInMs).toBeLessThan(90_000);
    for (const name of ['node-a', 'node-b'])
      expect(harness.node(name).kubelet.errors).toEqual(new Map());
  });

  it('provisions, attaches, stages and publishes a claim; its data survives a detach and a re-attach; deleting it deletes the disk', async () => {
    // 1. Provisioned by csi-provisioner through CreateVolume, bound by the PV binder.
    await steps.createClaim('data', { node: 'node-a' });
    const pv = await steps.boundVolume('data');
    expect(pv.spec.csi.driver).toBe(DRIVER);
    expect(pv.spec.csi.fsType).toBe('ext4');
    expect(pv.spec.capacity['storage']).toBe('256Mi');
    const handle = pv.spec.csi.volumeHandle;
    // --extra-create-metadata reached CreateVolume: the driver returns the claim in the volume
    // context, which is how its node and controller find the PVC to post events on.
    expect(pv.spec.csi.volumeAttributes).toMatchObject({
      'csi.storage.k8s.io/pvc/name': 'data',
      'csi.storage.k8s.io/pvc/namespace': NS,
    });
    const disk = harness.rds.emulator.exports().find((e) => e.nqn.endsWith(handle));
    expect(disk, `the emulator exports ${handle}`).toBeDefined();
    const provisioned = await waitFor(
      async () => (await steps.events('data')).find((e) => e.reason === 'ProvisioningSucceeded'),
      { timeoutMs: 10_000, intervalMs: 100, what: 'the ProvisioningSucceeded event' },
    );
    expect(provisioned.message).toContain(pv.metadata.name);

    // 2. A pod on node-a: the attach-detach controller creates the VolumeAttachment (a pod bound to
    //    a node whose Node says controller-managed-attach-detach is enough), csi-attacher attaches.
    await steps.createPod('writer', 'node-a', 'data');
    const vaName = attachmentName(handle, DRIVER, 'node-a');
    const va = await waitFor(
      async () => {
        const got = await harness.api.find<VolumeAttachment>(
          `/apis/storage.k8s.io/v1/volumeattachments/${vaName}`,
        );
        return got?.status?.attached === true ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `VolumeAttachment ${vaName} attached` },
    ).catch(steps.failWithLogs('csi-attacher', 'controller'));
    expect(va.spec).toMatchObject({
      nodeName: 'node-a',
      source: { persistentVolumeName: pv.metadata.name },
    });
    // Written by kube-controller-manager (the spec), then by csi-attacher (the status subresource).
    expect(va.metadata.managedFields?.map((f) => [f.manager, f.subresource ?? ''])).toEqual(
      expect.arrayContaining([
        ['kube-controller-manager', ''],
        ['csi-attacher', 'status'],
      ]),
    );

    // 3. Staged and published at kubelet's paths; the data goes through the mounted file system.
    const first = await steps.published('node-a', 'writer');
    const kubeletDir = harness.node('node-a').kubeletDir;
    const volumeSha = createHash('sha256').update(handle).digest('hex');
    expect(first.stagingPath).toBe(
      join(kubeletDir, 'plugins/kubernetes.io/csi', DRIVER, volumeSha, 'globalmount'),
    );
    expect(first.targetPath).toBe(
      join(
        kubeletDir,
        'pods',
        first.podUid,
        'volumes/kubernetes.io~csi',
        pv.metadata.name,
        'mount',
      ),
    );
    const mounts = mountPoints();
    expect(mounts.has(first.stagingPath)).toBe(true);
    expect(mounts.has(first.targetPath)).toBe(true);
    const payload = randomBytes(64 * 1024);
    writeFileSync(join(first.targetPath, 'payload.bin'), payload);
    expect(readFileSync(join(first.targetPath, 'payload.bin')).equals(payload)).toBe(true);
    const attached = await waitFor(
      async () => (await steps.events('data')).find((e) => e.reason === 'VolumeAttached'),
      { timeoutMs: 10_000, intervalMs: 100, what: 'the VolumeAttached event' },
    );
    expect(attached.message).toContain('Attached to node node-a');

    // 3b. The controller and node-a's plugin crash (SIGKILL) while the pod uses the volume. The
    //     mounts and the attachment stay, the new node plugin's orphan sweep keeps the connection,
    //     and the teardown below runs against the new processes.
    await harness.restartController();
    await harness.restartNode('node-a');
    expect(mountPoints().has(first.targetPath)).toBe(true);
    expect(readFileSync(join(first.targetPath, 'payload.bin')).equals(payload)).toBe(true);
    const afterCrash = await harness.api.get<VolumeAttachment>(
      `/apis/storage.k8s.io/v1/volumeattachments/${vaName}`,
    );
    expect(afterCrash.status?.attached).toBe(true);
    expect(harness.logTail('node-a', 400)).not.toContain('orphaned connection');

    // 4. The pod goes: unpublished, unstaged, no longer in use, detached (VolumeAttachment gone).
    await deletePodAndWaitDetached('writer', pv, 'node-a');
    expect(mountPoints().has(first.targetPath)).toBe(false);
    expect(mountPoints().has(first.stagingPath)).toBe(false);
    expect(harness.leftovers()).toEqual({ mounts: [], loopDevices: [] });
    expect(harness.node('node-a').kubelet.calls.filter((c) => c.includes(handle))).toEqual([
      `NodeStageVolume ${handle}`,
      `NodePublishVolume ${handle} writer`,
      `NodeUnpublishVolume ${handle} writer`,
      `NodeUnstageVolume ${handle}`,
    ]);

    // 5. A second pod: attached again, staged without formatting, and the data is there.
    await steps.createPod('reader', 'node-a', 'data');
    const second = await steps.published('node-a', 'reader');
    expect(readFileSync(join(second.targetPath, 'payload.bin')).equals(payload)).toBe(true);
    await deletePodAndWaitDetached('reader', pv, 'node-a');

    // 6. Deleting the claim deletes the PV (reclaim Delete) and, through DeleteVolume, the disk.
    await steps.deleteClaim('data', pv);
    expect(harness.rds.emulator.exports().find((e) => e.nqn.endsWith(handle))).toBeUndefined();
    expect(harness.rds.emulator.state().disks.find((d) => d.slot === disk?.slot)).toBeUndefined();
    expect(harness.leftovers()).toEqual({ mounts: [], loopDevices: [] });
  }, 240_000);

  it('refuses a second node an RWO volume: the VolumeAttachment carries the error, the PVC an AttachmentConflict event', async () => {
    await steps.createClaim('shared', { node: 'node-a' });
    const pv = await steps.boundVolume('shared');
    const handle = pv.spec.csi.volumeHandle;
    await steps.createPod('holder', 'node-a', 'shared');
    const holding = await steps.published('node-a', 'holder');

    // The attach-detach controller refuses a second attachment of an RWO volume itself
    // (Multi-Attach error on the pod), so the second node's VolumeAttachment is created here the
    // way it would create one (a stale controller, a second cluster): the driver must refuse it.
    const vaName = attachmentName(handle, DRIVER, 'node-b');
    await harness.createVolumeAttachment(pv.metadata.name, handle, 'node-b');
    const refused = await waitFor(
      async () => {
        const got = await harness.api.get<VolumeAttachment>(
          `/apis/storage.k8s.io/v1/volumeattachments/${vaName}`,
        );
        return got.status?.attachError?.message !== undefined ? got : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100, what: `an attachError on ${vaName}` },
    ).catch(steps.failWithLogs('csi-attacher', 'controller'));
    expect(refused.status?.attached).not.toBe(true);
    expect(refused.status?.attachError?.message).toMatch(/FailedPrecondition/);
    expect(refused.status?.attachError?.message).toContain('node-a');
    const conflict = await waitFor(
      async () => (await steps.events('shared')).find((e) => e.reason === 'AttachmentConflict'),
      { timeoutMs: 10_000, intervalMs: 100, what: 'the AttachmentConflict event' },
    );
    expect(conflict.type).toBe('Warning');
    expect(conflict.message).toContain(`Attachment to node node-b rejected`);
    expect(conflict.message).toContain('Delete the pod on node-a to release the volume');

    // Withdrawn: csi-attacher unpublishes node-b (which never had it) and the holder keeps it.
    await harness.api.delete(`/apis/storage.k8s.io/v1/volumeattachments/${vaName}`);
    await waitFor(
      async () =>
        (await harness.api.find(`/apis/storage.k8s.io/v1/volumeattachments/${vaName}`)) ===
        undefined,
      { timeoutMs: 30_000, intervalMs: 100, what: `${vaName} deleted` },
    ).catch(steps.failWithLogs('csi-attacher', 'controller'));
    const holder = await harness.api.get<VolumeAttachment>(
      `/apis/storage.k8s.io/v1/volumeattachments/${attachmentName(handle, DRIVER, 'node-a')}`,
    );
    expect(holder.status?.attached).toBe(true);
    writeFileSync(join(holding.targetPath, 'still-mine'), 'yes');
    expect(harness.node('node-b').kubelet.calls).toEqual([]);

    await deletePodAndWaitDetached('holder', pv, 'node-a');
    await steps.deleteClaim('shared', pv);
  }, 120_000);

  it('grows a published xfs volume online: csi-resizer expands the disk, the node grows the file system', async () => {
    // xfs, not ext4: ext4's online resize needs CAP_SYS_RESOURCE, which the test machines lack.
    await steps.createClaim('grow', {
      node: 'node-a',
      storage: '512Mi',
      storageClass: STORAGE_CLASS_XFS,
    });
    const pv = await steps.boundVolume('grow');
    await steps.createPod('app', 'node-a', 'grow');
    const publication = await steps.published('node-a', 'app');
    const before = statfsSync(publication.targetPath);
    expect(before.blocks * before.bsize).toBeLessThan(512 * 2 ** 20);

    await harness.api.patch(`/api/v1/namespaces/${NS}/persistentvolumeclaims/grow`, {
      spec: { resources: { requests: { storage: '1Gi' } } },
    });
    const grown = await waitFor(
      async () => {
        const claim = await harness.api.get<Claim>(
          `/api/v1/namespaces/${NS}/persistentvolumeclaims/grow`,
        );
        return claim.status?.capacity?.['storage'] === '1Gi' ? claim : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'claim grow at 1Gi' },
    ).catch(steps.failWithLogs('csi-resizer', 'controller', 'node-a'));
    expect(grown.status?.capacity).toEqual({ storage: '1Gi' });
    const resized = await harness.api.get<PersistentVolume>(
      `/api/v1/persistentvolumes/${pv.metadata.name}`,
    );
    expect(resized.spec.capacity['storage']).toBe('1Gi');
    const disk = harness.rds.emulator
      .exports()
      .find((e) => e.nqn.endsWith(pv.spec.csi.volumeHandle));
    expect(disk?.sizeBytes).toBe(2 ** 30);
    const after = statfsSync(publication.targetPath);
    expect(after.blocks * after.bsize).toBeGreaterThan(900 * 2 ** 20);
    expect(harness.node('node-a').kubelet.calls).toContain(
      `NodeExpandVolume ${pv.spec.csi.volumeHandle}`,
    );
    const resizeEvents = (await steps.events('grow')).map((e) => e.reason);
    // The controller part is done, the node part is left to kubelet (the stand-in here).
    expect(resizeEvents).toEqual(expect.arrayContaining(['Resizing', 'FileSystemResizeRequired']));

    await deletePodAndWaitDetached('app', pv, 'node-a');
    await steps.deleteClaim('grow', pv);
  }, 120_000);

  it('snapshots a volume through the snapshot controller and csi-snapshotter, and restores it into a new claim', async () => {
    await steps.createClaim('origin', { node: 'node-a' });
    const pv = await steps.boundVolume('origin');
    await steps.createPod('origin-writer', 'node-a', 'origin');
    const source = await steps.published('node-a', 'origin-writer');
    const payload = randomBytes(32 * 1024);
    writeFileSync(join(source.targetPath, 'snap.bin'), payload);
    // Quiesce, as an application-consistent snapshot would: the pod goes, the file system is
    // unmounted (everything written reaches the disk) and the volume is detached.
    await deletePodAndWaitDetached('origin-writer', pv, 'node-a');

    await harness.api.create(`/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots`, {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshot',
      metadata: { name: 'snap' },
      spec: {
        volumeSnapshotClassName: SNAPSHOT_CLASS,
        source: { persistentVolumeClaimName: 'origin' },
      },
    });
    const ready = await waitFor(
      async () => {
        const got = await harness.api.get<VolumeSnapshot>(
          `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots/snap`,
        );
        return got.status?.readyToUse === true ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: 'VolumeSnapshot snap ready' },
    ).catch(steps.failWithLogs('snapshot-controller', 'csi-snapshotter', 'controller'));
    const contentName = ready.status?.boundVolumeSnapshotContentName ?? '';
    const content = await harness.api.get<VolumeSnapshotContent>(
      `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${contentName}`,
    );
    expect(content.spec.driver).toBe(DRIVER);
    expect(content.status?.snapshotHandle).toBeTruthy();
    expect(ready.status?.restoreSize).toBe('256Mi');
    // A controller crash between the snapshot and the restore: the snapshot is found by its ID.
    await harness.restartController();

    // Restored: csi-provisioner passes the snapshot as the content source of CreateVolume.
    await harness.api.create(`/api/v1/namespaces/${NS}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: {
        name: 'restored',
        annotations: { 'volume.kubernetes.io/selected-node': 'node-a' },
      },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: STORAGE_CLASS,
        resources: { requests: { storage: '256Mi' } },
        dataSource: { apiGroup: 'snapshot.storage.k8s.io', kind: 'VolumeSnapshot', name: 'snap' },
      },
    });
    const restoredPv = await steps.boundVolume('restored');
    expect(restoredPv.spec.csi.volumeHandle).not.toBe(pv.spec.csi.volumeHandle);
    await steps.createPod('restore-reader', 'node-a', 'restored');
    const restored = await steps.published('node-a', 'restore-reader');
    expect(readFileSync(join(restored.targetPath, 'snap.bin')).equals(payload)).toBe(true);

    await deletePodAndWaitDetached('restore-reader', restoredPv, 'node-a');
    await steps.deleteClaim('restored', restoredPv);
    await harness.api.delete(
      `/apis/snapshot.storage.k8s.io/v1/namespaces/${NS}/volumesnapshots/snap`,
    );
    await waitFor(
      async () =>
        (await harness.api.find(
          `/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents/${contentName}`,
        )) === undefined,
      { timeoutMs: 60_000, intervalMs: 100, what: `content ${contentName} deleted` },
    ).catch(steps.failWithLogs('snapshot-controller', 'csi-snapshotter', 'controller'));
    await steps.deleteClaim('origin', pv);
    expect(harness.rds.emulator.state().disks).toEqual([]);
    expect(harness.leftovers()).toEqual({ mounts: [], loopDevices: [] });
  }, 180_000);

  it('no component was refused anything by RBAC (no 403 in any log)', () => {
    expect(harness.forbidden()).toEqual([]);
  });
});
