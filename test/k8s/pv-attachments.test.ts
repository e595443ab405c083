// pv-attachments.test.ts: the whole driver keeps its attachments on PVs (ControllerPublish and
// Unpublish), against a real etcd + kube-apiserver as the controller's ClusterRole: RWO fenced
// across nodes and restarts, a grace period resumed from the PV, the Go driver's annotations
// adopted, and VolumeAttachments winning a disagreement.
import { status } from '@grpc/grpc-js';
import { beforeAll, describe, expect, it } from 'vitest';

import {
  ATTACHMENT_ANNOTATION,
  GO_ATTACHED_AT,
  GO_ATTACHED_NODE,
} from '../../src/k8s/pv-attachment-store.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { createRequest } from '../helpers/controller-requests.js';
import { grpcError, retryUnavailable } from '../helpers/csi-client.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import {
  DRIVER,
  createClaim,
  createNamespace,
  createNode,
  createPersistentVolume,
  type ClaimRef,
} from '../helpers/k8s-objects.js';
import { waitFor } from '../helpers/wait-for.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
/** The PVC the volumes are bound to: their events land on it. */
let claim: ClaimRef;

beforeAll(async () => {
  // The driver runs as node worker-a: ControllerPublish to it checks the Node exists.
  await createNode(k8s.cluster, 'worker-a');
  await createNamespace(k8s.cluster, 'apps');
  claim = await createClaim(k8s.cluster, 'apps', 'data');
});

describe('attachments recorded on PVs (ControllerPublish/Unpublish)', () => {
  const argv = ['--mode', 'all', '--leader-elect', 'false', '--node-id', 'worker-a'];
  const BLOCK_RWO = { accessMode: { mode: 'SINGLE_NODE_WRITER' as const }, block: {} };

  async function publish(fixture: DriverFixture, volumeId: string, nodeId: string) {
    return untilLoaded(() =>
      fixture.clients.controller.ControllerPublishVolume({
        volumeId,
        nodeId,
        volumeCapability: BLOCK_RWO,
        volumeContext: {},
      }),
    );
  }

  const untilLoaded = <T>(call: () => Promise<T>): Promise<T> =>
    retryUnavailable(call, 'the attachment state to load');

  async function annotations(pvName: string): Promise<Record<string, string>> {
    return (await k8s.admin.readPersistentVolume({ name: pvName })).metadata?.annotations ?? {};
  }

  async function eventsFor(reason: string): Promise<string[]> {
    const list = await k8s.admin.listNamespacedEvent({
      namespace: 'apps',
      fieldSelector: `reason=${reason}`,
    });
    return list.items.map((e) => e.message ?? '');
  }

  it('fences RWO across nodes and restarts, with the state on the PV and events on the PVC', async () => {
    await createNode(k8s.cluster, 'worker-b');
    let fixture = await driverFixture(argv, {}, {}, k8s.kube);
    try {
      const created = await fixture.clients.controller.CreateVolume(createRequest('fenced'));
      const volumeId = created.volume?.volumeId ?? '';
      await createPersistentVolume(k8s.cluster, 'pv-fenced', volumeId, { claim });
      await waitFor(() => fixture.driver.kubernetes?.caches.volumes.get('pv-fenced'), {
        what: 'the PV in the cache',
      });

      const published = await publish(fixture, volumeId, 'worker-a');
      expect(published.publishContext).toMatchObject({
        nqn: `nqn.2000-02.com.mikrotik:${volumeId}`,
        nvmePort: '4420',
      });
      const attached = await annotations('pv-fenced');
      expect(attached[GO_ATTACHED_NODE]).toBe('worker-a');
      expect(JSON.parse(attached[ATTACHMENT_ANNOTATION] ?? '{}')).toMatchObject({
        v: 1,
        state: 'attached',
        context: { nodes: ['worker-a'] },
      });

      const refused = await grpcError(publish(fixture, volumeId, 'worker-b'));
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
      const unknown = await grpcError(publish(fixture, volumeId, 'no-such-node'));
      expect(unknown.code).toBe(status.NOT_FOUND);
      await waitFor(
        async () =>
          (await eventsFor('AttachmentConflict')).some((m) =>
            /Attachment to node worker-b rejected/.test(m),
          ),
        { what: 'the conflict event on the PVC' },
      );

      await fixture.clients.controller.ControllerUnpublishVolume({ volumeId, nodeId: 'worker-a' });
      const detached = await annotations('pv-fenced');
      expect(detached[GO_ATTACHED_NODE]).toBeUndefined();
      expect(JSON.parse(detached[ATTACHMENT_ANNOTATION] ?? '{}')).toMatchObject({
        state: 'grace',
        context: { detachedFrom: 'worker-a' },
      });

      // A restart inside the grace period: the new process hands the volume over as a handoff.
      await fixture.stop();
      fixture = await driverFixture(argv, {}, {}, k8s.kube);
      // Each fixture brings its own emulator: give the new one the same disk (same name, same ID).
      await fixture.clients.controller.CreateVolume(createRequest('fenced'));
      await publish(fixture, volumeId, 'worker-b');
      expect((await annotations('pv-fenced'))[GO_ATTACHED_NODE]).toBe('worker-b');
      await waitFor(
        async () =>
          (await eventsFor('VolumeAttached')).some((m) => m.includes('handoff from worker-a')),
        {
          what: 'the handoff event',
        },
      );
      expect(
        await fixture.driver.metrics.registry.getSingleMetricAsString(
          'rds_csi_attachment_grace_period_used_total',
        ),
      ).toMatch(/rds_csi_attachment_grace_period_used_total 1/);
      await fixture.clients.controller.ControllerUnpublishVolume({ volumeId, nodeId: 'worker-b' });
    } finally {
      await fixture.stop();
    }
  }, 60_000);

  it('a restart in the middle of the grace period honors the remaining time, read from the PV', async () => {
    const graceArgv = [...argv, '--attachment-grace-period', '10s'];
    let fixture = await driverFixture(graceArgv, {}, {}, k8s.kube);
    try {
      const created = await fixture.clients.controller.CreateVolume(createRequest('resumed'));
      const volumeId = created.volume?.volumeId ?? '';
      await createPersistentVolume(k8s.cluster, 'pv-resumed', volumeId);
      await publish(fixture, volumeId, 'worker-a');
      await fixture.clients.controller.ControllerUnpublishVolume({ volumeId, nodeId: 'worker-a' });
      const detachedAt = Date.now();
      const inGrace = JSON.parse(
        (await annotations('pv-resumed'))[ATTACHMENT_ANNOTATION] ?? '{}',
      ) as unknown;
      expect(inGrace).toMatchObject({ state: 'grace', context: { detachedFrom: 'worker-a' } });

      // Down for 5 s of the 10 s grace period; the new process finds the record on the PV.
      await fixture.stop();
      await new Promise((resolve) =>
        setTimeout(resolve, Math.max(0, detachedAt + 5_000 - Date.now())),
      );
      fixture = await driverFixture(graceArgv, {}, {}, k8s.kube);
      const restartedAt = Date.now();
      const onPv = async () => (await annotations('pv-resumed'))[ATTACHMENT_ANNOTATION];
      // Timing bounds below tell the three outcomes apart: a timer that fires at once on
      // restore (ends ~5 s early), one never armed (never ends), a fresh full delay (ends late).
      expect(JSON.parse((await onPv()) ?? '{}')).toMatchObject({ state: 'grace' });
      // ...and the period ends at the original deadline, not a full 10 s after the restart.
      await waitFor(async () => (await onPv()) === undefined, {
        timeoutMs: 15_000,
        intervalMs: 100,
        what: 'the grace period to end (the record removed from the PV)',
      });
      const endedAt = Date.now();
      expect(endedAt - detachedAt).toBeGreaterThanOrEqual(9_500);
      expect(endedAt - detachedAt).toBeLessThan(restartedAt - detachedAt + 10_000 - 2_000);
    } finally {
      await fixture.stop();
    }
  }, 60_000);

  it("adopts the Go driver's annotations, and lets VolumeAttachments win a disagreement", async () => {
    const adopted = 'pvc-0a1b2c3d-0000-4000-8000-00000000ad0b';
    const contradicted = 'pvc-0a1b2c3d-0000-4000-8000-0000000c0de0';
    await createPersistentVolume(k8s.cluster, 'pv-adopted', adopted, {
      annotations: { [GO_ATTACHED_NODE]: 'worker-a', [GO_ATTACHED_AT]: '2026-11-01T10:00:00Z' },
    });
    await k8s.cluster.createObject('/apis/storage.k8s.io/v1/volumeattachments', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'VolumeAttachment',
      metadata: { name: 'va-adopted' },
      spec: {
        attacher: DRIVER,
        nodeName: 'worker-a',
        source: { persistentVolumeName: 'pv-adopted' },
      },
    });
    const va = (await k8s.cluster.getObject(
      '/apis/storage.k8s.io/v1/volumeattachments/va-adopted',
    )) as Record<string, unknown>;
    await k8s.cluster.putObject('/apis/storage.k8s.io/v1/volumeattachments/va-adopted/status', {
      ...va,
      status: { attached: true },
    });
    await createPersistentVolume(k8s.cluster, 'pv-contradicted', contradicted, {
      annotations: {
        [ATTACHMENT_ANNOTATION]: JSON.stringify({
          v: 1,
          state: 'attached',
          context: {
            volumeId: contradicted,
            graceMs: 30_000,
            access: 'single',
            nodes: ['worker-a'],
            attachedAt: 1,
          },
          readOnly: {},
          savedAt: 1,
        }),
      },
    });
    const fixture = await driverFixture(argv, {}, {}, k8s.kube);
    try {
      // The emulator holds neither disk: create them under the same IDs so publish can find them.
      for (const id of [adopted, contradicted])
        await fixture.clients.controller.CreateVolume(createRequest(id));
      const refused = await grpcError(publish(fixture, adopted, 'worker-b'));
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
      expect(refused.details).toMatch(/attached to worker-a/);
      // No VolumeAttachment backs the contradicted record: it was dropped, worker-b may attach.
      await publish(fixture, contradicted, 'worker-b');
      expect(
        await fixture.driver.metrics.registry.getSingleMetricAsString(
          'rds_csi_attachment_reconcile_total',
        ),
      ).toMatch(/rds_csi_attachment_reconcile_total\{action="sync_annotation"\} 1/);
    } finally {
      await fixture.stop();
    }
  }, 60_000);
});
