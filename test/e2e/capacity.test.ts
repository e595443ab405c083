// capacity.test.ts: storage capacity tracking (issue 9; field-lessons #31). The CSIDriver says
// storageCapacity: true and csi-provisioner runs with --enable-capacity, owned by the controller
// Deployment (--capacity-ownerref-level=2, POD_NAME and NAMESPACE as the chart sets them), with
// the chart's RBAC for it: one CSIStorageCapacity per WaitForFirstConsumer StorageClass for the
// driver's topology segment, with the free space GetCapacity reports from the emulator's pool,
// owned by the Deployment; they stay (no churn), follow provisioning, space used outside the
// driver and a controller crash.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { waitFor } from '../helpers/wait-for.js';
import { DRIVER, STORAGE_CLASS, STORAGE_CLASS_XFS, startHarness, type Harness } from './harness.js';
import type { KubeObject } from './kube-api.js';
import { quantityBytes } from './kubelet-standin.js';
import { Steps } from './steps.js';

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

/** Every DELETE of a CSIStorageCapacity object the provisioner logged (its -v=5 request log). */
function capacityDeletes(): string[] {
  return (
    readFileSync(join(harness.dir, 'csi-provisioner.log'), 'utf8').match(
      /verb="DELETE" URL="[^"]*\/csistoragecapacities\/[^"]*"/g,
    ) ?? []
  );
}

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
      // The driver's one segment: the nodes labelled by kubelet from NodeGetInfo.
      expect(c.nodeTopology).toEqual({ matchLabels: { [`${DRIVER}/rds`]: 'default' } });
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

  // Without a topology segment, external-provisioner v6.3.0 cannot match its objects to its work
  // items (reflect.DeepEqual on nodeTopology: an empty, non-nil matchLabels map against none read
  // back; pkg/capacity/capacity.go WorkItem.equals), so it deleted and recreated every object
  // over and over and the scheduler sometimes found none and took the class as full. The driver
  // reports a segment (src/csi/topology.ts), and the objects stay.
  it('keeps its objects: same UIDs over two polls, no DELETE of any by the provisioner', async () => {
    const first = await capacityIs(harness.rds.emulator.freeBytes(), 'at start');
    await new Promise((resolve) => setTimeout(resolve, 11_000));
    const later = await capacityIs(harness.rds.emulator.freeBytes(), 'two polls later');
    expect(later.map((c) => c.metadata.uid)).toEqual(first.map((c) => c.metadata.uid));
    expect(capacityDeletes()).toEqual([]);
  }, 60_000);

  it('follows provisioning, space used outside the driver and a controller crash', async () => {
    const steps = new Steps(harness, 'capacity');
    await steps.createNamespace();
    const start = harness.rds.emulator.freeBytes();
    const uids = (await capacityIs(start, 'at start')).map((c) => c.metadata.uid);
    await steps.createClaim('data', { node: 'node-a', storage: '3Gi' });
    const pv = await steps.boundVolume('data');
    await capacityIs(start - 3 * GIB, 'after a 3 GiB volume');
    // Another user of the pool: a disk made on the RDS by hand.
    await harness.rds.ssh.exec(
      '/disk add type=file file-path=/storage-pool/by-hand/big.img file-size=5G slot=by-hand',
    );
    await capacityIs(start - 8 * GIB, 'after 5 GiB used by hand');
    await harness.restartController();
    await harness.rds.ssh.exec('/disk remove [find slot="by-hand"]');
    await harness.rds.ssh.exec('/file remove [find name="storage-pool/by-hand/big.img"]');
    const afterCrash = await capacityIs(
      start - 3 * GIB,
      'after the crash, the hand-made disk gone',
    );
    // The restarted provisioner took over the same objects.
    expect(afterCrash.map((c) => c.metadata.uid)).toEqual(uids);
    await steps.deleteClaim('data', pv);
    await capacityIs(start, 'after the volume was deleted');
    expect(capacityDeletes()).toEqual([]);
  }, 180_000);

  it('no component was refused anything by RBAC (no 403 in any log)', () => {
    expect(harness.forbidden()).toEqual([]);
  });
});
