// reconciler-api.test.ts: the attachment reconciler against a real etcd + kube-apiserver as the
// controller's ClusterRole: a deleted node's attachment clears after the grace period, and a
// pass that cannot look nodes up clears nothing (the last test stops the API server).
import { describe, expect, it } from 'vitest';

import { AttachmentReconciler } from '../../src/actors/attachment-reconciler.js';
import { AttachmentSupervisor } from '../../src/actors/attachment-supervisor.js';
import { nodeLookup } from '../../src/k8s/node-lookup.js';
import { ATTACHMENT_ANNOTATION, PvAttachmentStore } from '../../src/k8s/pv-attachment-store.js';
import { PvWriter } from '../../src/k8s/pv-writer.js';
import { systemClock } from '../../src/main.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { createRequest } from '../helpers/controller-requests.js';
import { driverFixture } from '../helpers/driver-fixture.js';
import {
  DRIVER,
  createClaim,
  createNamespace,
  createNode,
  createPersistentVolume,
} from '../helpers/k8s-objects.js';
import { captureLog } from '../helpers/log-capture.js';
import { quietAttachmentMetrics } from '../helpers/quiet-metrics.js';
import { waitFor } from '../helpers/wait-for.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

describe('reconciler against the API server', () => {
  it('a deleted node loses its attachment after the grace period, with the event on the PVC', async () => {
    await createNode(k8s.cluster, 'worker-gone');
    await createNamespace(k8s.cluster, 'apps');
    const claim = await createClaim(k8s.cluster, 'apps', 'vm-disk');
    const fixture = await driverFixture(
      [
        '--mode',
        'all',
        '--leader-elect',
        'false',
        '--node-id',
        'worker-a',
        '--attachment-grace-period',
        '2s',
      ],
      {},
      {},
      k8s.kube,
    );
    try {
      const volumeId =
        (await fixture.clients.controller.CreateVolume(createRequest('stale-one'))).volume
          ?.volumeId ?? '';
      await createPersistentVolume(k8s.cluster, 'pv-stale', volumeId, { claim });
      await waitFor(
        () =>
          fixture.driver.kubernetes?.caches.volumes.get('pv-stale') &&
          fixture.driver.kubernetes.caches.nodes.get('worker-gone'),
        {
          what: 'the caches',
        },
      );
      await waitFor(
        async () =>
          fixture.clients.controller
            .ControllerPublishVolume({
              volumeId,
              nodeId: 'worker-gone',
              volumeCapability: { accessMode: { mode: 'SINGLE_NODE_WRITER' }, block: {} },
              volumeContext: {},
            })
            .then(() => true)
            .catch(() => false),
        { timeoutMs: 10_000, intervalMs: 200, what: 'the publish' },
      );
      const deletedAt = Date.now();
      await k8s.admin.deleteNode({ name: 'worker-gone' });
      // The node watch triggers a pass; the attachment goes stale, then clears after 2 s.
      await waitFor(
        async () =>
          (await k8s.admin.readPersistentVolume({ name: 'pv-stale' })).metadata?.annotations?.[
            ATTACHMENT_ANNOTATION
          ] === undefined,
        {
          timeoutMs: 15_000,
          intervalMs: 200,
          what: 'the stale attachment to be cleared',
        },
      );
      expect(Date.now() - deletedAt).toBeGreaterThanOrEqual(2_000);
      await waitFor(
        async () =>
          (
            await k8s.admin.listNamespacedEvent({
              namespace: 'apps',
              fieldSelector: 'reason=StaleAttachmentCleared',
            })
          ).items.some((e) =>
            (e.message ?? '').includes('Cleared stale attachment from deleted node worker-gone'),
          ),
        { what: 'the StaleAttachmentCleared event' },
      );
      const metrics = await fixture.driver.metrics.registry.metrics();
      expect(metrics).toMatch(/^rds_csi_attachment_stale_cleared_total 1$/m);
      expect(metrics).toMatch(/^rds_csi_attachment_reconcile_total\{action="clear_stale"\} 1$/m);
    } finally {
      await fixture.stop();
    }
  }, 60_000);

  it('a reconcile pass clears nothing when it cannot look nodes up (fail-open)', async () => {
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-00000000fa11';
    await createNode(k8s.cluster, 'worker-kept');
    await createPersistentVolume(k8s.cluster, 'pv-outage', volumeId);
    const writer = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    const store = new PvAttachmentStore({
      kubeConfig: k8s.kube,
      driverName: DRIVER,
      writer,
      graceMs: 200,
      log: log.logger,
      onDisagreement: () => undefined,
    });
    const supervisor = new AttachmentSupervisor({
      store,
      events: { post: () => undefined },
      metrics: quietAttachmentMetrics,
      clock: systemClock,
      log: log.logger,
      graceMs: 200,
    });
    await supervisor.rebuild();
    await supervisor.publish({
      volumeId,
      nodeId: 'worker-kept',
      multiNode: false,
      readOnly: false,
      migrationTimeoutMs: 300_000,
    });
    const reconciler = new AttachmentReconciler({
      supervisor,
      store,
      nodes: nodeLookup(k8s.kube),
      intervalMs: 300_000,
      clock: systemClock,
      log: log.logger,
      metrics: { pass: () => undefined, action: () => undefined },
    });
    // Every attachment on a PV (this one, and any an earlier test left) must survive.
    const before = supervisor.holders();
    expect(before.get(volumeId)).toEqual(['worker-kept']);
    await k8s.cluster.stopApiServer();
    const pass = await reconciler.runPass();
    expect(pass).toMatchObject({ staleMarked: 0, synced: 0 });
    expect(pass.skipped).toBe([...before.values()].flat().length);
    await new Promise((resolve) => setTimeout(resolve, 400)); // twice the grace period
    expect(supervisor.holders()).toEqual(before);
    supervisor.stop();
  }, 30_000);
});
