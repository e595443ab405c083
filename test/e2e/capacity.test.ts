// capacity.test.ts: storage capacity tracking (issue 9; field-lessons #31). The CSIDriver says
// storageCapacity: true and csi-provisioner runs with --enable-capacity, owned by the controller
// Deployment (--capacity-ownerref-level=2, POD_NAME and NAMESPACE as the chart sets them), with
// the chart's RBAC for it: one CSIStorageCapacity per WaitForFirstConsumer StorageClass appears
// with the free space GetCapacity reports from the emulator's pool, owned by the Deployment. They
// do not stay: see the known defect below.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../helpers/wait-for.js';
import { DRIVER, STORAGE_CLASS, STORAGE_CLASS_XFS, startHarness, type Harness } from './harness.js';
import type { KubeObject } from './kube-api.js';
import { quantityBytes } from './kubelet-standin.js';

const GIB = 2 ** 30;
const NAMESPACE = 'kube-system';
let harness: Harness;

interface StorageCapacity extends KubeObject {
  readonly metadata: KubeObject['metadata'] & {
    readonly labels?: Record<string, string>;
    readonly ownerReferences?: readonly { kind: string; name: string; uid: string }[];
  };
  readonly storageClassName: string;
  readonly capacity?: string;
  readonly maximumVolumeSize?: string;
  readonly nodeTopology?: Record<string, unknown>;
}

beforeAll(async () => {
  harness = await startHarness({ nodes: ['node-a'], capacity: { pollInterval: '5s' } });
}, 180_000);

afterAll(async () => {
  await harness?.stop();
}, 120_000);

async function capacities(): Promise<StorageCapacity[]> {
  const list = await harness.api.list<StorageCapacity>(
    `/apis/storage.k8s.io/v1/namespaces/${NAMESPACE}/csistoragecapacities`,
  );
  return list.items.sort((a, b) => a.storageClassName.localeCompare(b.storageClassName));
}

/** Waits until every class's object reports `bytes` (as capacity and maximum volume size). */
async function capacityIs(bytes: number, what: string): Promise<StorageCapacity[]> {
  return waitFor(
    async () => {
      const all = await capacities();
      const ok =
        all.length === 2 &&
        all.every(
          (c) =>
            c.capacity !== undefined &&
            quantityBytes(c.capacity) === bytes &&
            c.maximumVolumeSize !== undefined &&
            quantityBytes(c.maximumVolumeSize) === bytes,
        );
      return ok ? all : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 200, what: `CSIStorageCapacity at ${bytes} bytes (${what})` },
  ).catch(async (error: unknown) => {
    throw new Error(
      `${String(error)}; now: ${JSON.stringify((await capacities()).map((c) => [c.storageClassName, c.capacity]))}\n` +
        `--- csi-provisioner:\n${harness.logTail('csi-provisioner', 20)}`,
    );
  });
}

describe('end to end: storage capacity tracking', () => {
  it('publishes one CSIStorageCapacity per WaitForFirstConsumer class with the pool free space, owned by the controller Deployment', async () => {
    const free = harness.rds.emulator.freeBytes();
    expect(free).toBe(100 * GIB);
    const objects = await capacityIs(free, 'at start');
    expect(objects.map((c) => c.storageClassName)).toEqual([STORAGE_CLASS, STORAGE_CLASS_XFS]);
    const owner = harness.capacityOwner;
    expect(owner).toBeDefined();
    for (const c of objects) {
      // The driver reports no topology: one segment, every node.
      expect(c.nodeTopology).toEqual({});
      expect(c.metadata.labels).toMatchObject({
        'csi.storage.k8s.io/drivername': DRIVER,
        'csi.storage.k8s.io/managed-by': 'external-provisioner',
      });
      expect(c.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'Deployment',
          name: owner?.deploymentName,
          uid: owner?.deploymentUid,
        }),
      ]);
    }
    const driver = await harness.api.get<{ spec: { storageCapacity?: boolean } }>(
      `/apis/storage.k8s.io/v1/csidrivers/${DRIVER}`,
    );
    expect(driver.spec.storageCapacity).toBe(true);
  }, 60_000);

  // KNOWN DEFECT, not ours to fix in the sidecar: external-provisioner v6.3.0 matches its objects
  // to its work items with reflect.DeepEqual on nodeTopology; for a driver without topology the
  // item's selector has an empty, non-nil matchLabels map and the object read back has none, so
  // every object it made looks obsolete: it deletes it and creates another, over and over
  // (pkg/capacity/capacity.go WorkItem.equals, topology.Segment.GetLabelMap). The scheduler then
  // sometimes finds no CSIStorageCapacity and treats the class as full (field-lessons #31).
  // The way out is on the driver side: report a topology segment (VOLUME_ACCESSIBILITY_CONSTRAINTS
  // and NodeGetInfo accessible_topology). Until then the chart keeps capacity.enabled false by
  // default, and this test pins the churn so that it fails, and is replaced by tests that the
  // objects follow provisioning, pool changes and a controller crash, once it is gone.
  it('KNOWN DEFECT: the provisioner deletes its own objects as obsolete and makes new ones (driver without topology)', async () => {
    const first = await capacityIs(harness.rds.emulator.freeBytes(), 'at start');
    const uids = new Set(first.map((c) => c.metadata.uid));
    await waitFor(
      async () => {
        const now = (await capacities()).map((c) => c.metadata.uid);
        return [...uids].some((uid) => !now.includes(uid));
      },
      { timeoutMs: 60_000, intervalMs: 200, what: 'an object deleted by the provisioner' },
    );
    const deletes = readFileSync(join(harness.dir, 'csi-provisioner.log'), 'utf8').match(
      /verb="DELETE" URL="[^"]*\/csistoragecapacities\//g,
    );
    expect(deletes?.length ?? 0).toBeGreaterThan(0);
  }, 90_000);

  it('no component was refused anything by RBAC (no 403 in any log)', () => {
    expect(harness.forbidden()).toEqual([]);
  });
});
