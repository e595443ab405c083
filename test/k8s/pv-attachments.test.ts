// The driver's Kubernetes layer against a real etcd + kube-apiserver (issue 6), running as an
// identity bound to the controller's ClusterRole from the Helm chart (deploy/kubernetes/), so
// a permission the code needs but the role lacks fails here. The last test stops the API server.
import { PatchStrategy, setHeaderOptions, type V1PersistentVolume } from '@kubernetes/client-node';
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { AttachmentReconciler } from '../../src/actors/attachment-reconciler.js';
import { AttachmentSupervisor } from '../../src/actors/attachment-supervisor.js';
import { createClusterCaches, type ClusterCaches } from '../../src/k8s/caches.js';
import { EventRecorder } from '../../src/k8s/event-recorder.js';
import { LeaderElector } from '../../src/k8s/leader-election.js';
import { nodeLookup } from '../../src/k8s/node-lookup.js';
import { PvWriter } from '../../src/k8s/pv-writer.js';
import {
  ATTACHMENT_ANNOTATION,
  GO_ATTACHED_AT,
  GO_ATTACHED_NODE,
  PvAttachmentStore,
} from '../../src/k8s/pv-attachment-store.js';
import type { CacheEvent } from '../../src/k8s/watched-cache.js';
import { systemClock } from '../../src/main.js';
import type { EventMetrics, HealthReporter } from '../../src/ports.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { grpcError, retryUnavailable } from '../helpers/csi-client.js';
import { createRequest } from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { captureLog } from '../helpers/log-capture.js';
import { quietAttachmentMetrics } from '../helpers/quiet-metrics.js';
import { waitFor } from '../helpers/wait-for.js';

const DRIVER = 'rds.csi.srvlab.io';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

function pv(
  name: string,
  driver = DRIVER,
  claim?: { namespace: string; name: string },
): V1PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      csi: { driver, volumeHandle: `pvc-${name}` },
      ...(claim !== undefined
        ? { claimRef: { namespace: claim.namespace, name: claim.name } }
        : {}),
    },
  };
}

function recordingHealth(): HealthReporter & { states: string[] } {
  const states: string[] = [];
  return {
    states,
    healthy: () => states.push('healthy'),
    unhealthy: (reason) => states.push(`unhealthy: ${reason}`),
  };
}

function countingMetrics(): EventMetrics & { postedReasons: string[]; droppedReasons: string[] } {
  const postedReasons: string[] = [];
  const droppedReasons: string[] = [];
  return {
    postedReasons,
    droppedReasons,
    posted: (reason) => postedReasons.push(reason),
    dropped: (reason, why) => droppedReasons.push(`${reason}:${why}`),
  };
}

function eventRecorder(
  metrics: EventMetrics,
  limits: { queueSize?: number; requestTimeoutMs?: number; attempts?: number } = {},
): EventRecorder {
  return new EventRecorder({
    kubeConfig: k8s.kube,
    component: DRIVER,
    instance: 'controller-0',
    clock: systemClock,
    log: log.logger,
    metrics,
    ...limits,
  });
}

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('caches (list + watch)', () => {
  let caches: ClusterCaches;
  const seen: string[] = [];
  const reporters = new Map<string, ReturnType<typeof recordingHealth>>();

  beforeAll(async () => {
    caches = createClusterCaches({
      kubeConfig: k8s.kube,
      driverName: DRIVER,
      resyncMs: 1_000,
      clock: systemClock,
      log: log.logger,
      health: (name) => {
        const reporter = recordingHealth();
        reporters.set(name, reporter);
        return reporter;
      },
    });
    const note =
      (kind: string) =>
      (event: CacheEvent, object: { metadata?: { name?: string } }): void => {
        if (event !== 'resync') seen.push(`${kind} ${event} ${object.metadata?.name ?? ''}`);
      };
    caches.nodes.on(note('node'));
    caches.volumes.on(note('pv'));
    caches.attachments.on(note('va'));
    await k8s.cluster.createObject('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'before-start' },
    });
    await caches.start();
  }, 60_000);

  afterAll(() => caches.stop());

  it('is synced after the first list and reports each cache healthy', () => {
    expect(caches.nodes.list().map((n) => n.metadata?.name)).toContain('before-start');
    for (const name of ['k8s-nodes', 'k8s-persistentvolumes', 'k8s-volumeattachments']) {
      expect(reporters.get(name)?.states.at(-1), name).toBe('healthy');
    }
  });

  it("sees creates, updates and deletes, and keeps only this driver's PVs and attachments", async () => {
    await k8s.cluster.createObject('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-a' },
    });
    await k8s.cluster.createObject('/api/v1/persistentvolumes', pv('ours'));
    await k8s.cluster.createObject(
      '/api/v1/persistentvolumes',
      pv('theirs', 'other.csi.example.com'),
    );
    for (const [name, attacher] of [
      ['va-ours', DRIVER],
      ['va-theirs', 'other.csi.example.com'],
    ] as const) {
      await k8s.cluster.createObject('/apis/storage.k8s.io/v1/volumeattachments', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'VolumeAttachment',
        metadata: { name },
        spec: { attacher, nodeName: 'worker-a', source: { persistentVolumeName: 'ours' } },
      });
    }
    await waitFor(() => seen.includes('va add va-ours') && seen.includes('node add worker-a'), {
      what: 'the adds',
    });
    expect(caches.volumes.list().map((p) => p.metadata?.name)).toEqual(['ours']);
    expect(caches.attachments.list().map((v) => v.metadata?.name)).toEqual(['va-ours']);
    expect(seen).not.toContain('pv add theirs');
    expect(seen).not.toContain('va add va-theirs');

    await k8s.admin.patchPersistentVolume(
      { name: 'ours', body: { metadata: { labels: { touched: 'yes' } } } },
      mergePatch,
    );
    await waitFor(() => seen.includes('pv update ours'), { what: 'the update' });
    expect(caches.volumes.get('ours')?.metadata?.labels?.['touched']).toBe('yes');

    await k8s.admin.deletePersistentVolume({ name: 'ours' });
    // The pv-protection finalizer holds it (no controller-manager here): release it by hand.
    await k8s.admin.patchPersistentVolume(
      { name: 'ours', body: { metadata: { finalizers: null } } },
      mergePatch,
    );
    await waitFor(() => seen.includes('pv delete ours'), { what: 'the delete' });
    expect(caches.volumes.get('ours')).toBeUndefined();
  });

  it('re-delivers the cached objects on every resync', async () => {
    let resyncs = 0;
    caches.nodes.on((event) => {
      if (event === 'resync') resyncs++;
    });
    await waitFor(() => resyncs >= 4, { timeoutMs: 5_000, what: 'two resyncs of two nodes' });
  });
});

describe('PV writes with optimistic concurrency', () => {
  it('a patch racing another writer is retried and both changes survive', async () => {
    await k8s.cluster.createObject('/api/v1/persistentvolumes', pv('race'));
    const writer = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    const other = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    let decisions = 0;
    const written = await writer.updateAnnotations('race', async () => {
      decisions++;
      // After our read and before our patch, another writer lands: our resourceVersion is stale.
      if (decisions === 1)
        await other.updateAnnotations('race', () => ({ 'example.com/other': 'theirs' }));
      return { 'rds.csi.srvlab.io/attachment': 'worker-a' };
    });
    expect(decisions).toBe(2);
    expect(written?.metadata?.annotations).toMatchObject({
      'example.com/other': 'theirs',
      'rds.csi.srvlab.io/attachment': 'worker-a',
    });
    const stored = await k8s.admin.readPersistentVolume({ name: 'race' });
    expect(stored.metadata?.annotations).toMatchObject({
      'example.com/other': 'theirs',
      'rds.csi.srvlab.io/attachment': 'worker-a',
    });
    // null removes; nothing to change makes no write.
    const removed = await writer.updateAnnotations('race', () => ({ 'example.com/other': null }));
    expect(removed?.metadata?.annotations?.['example.com/other']).toBeUndefined();
    const unchanged = await writer.updateAnnotations('race', () => undefined);
    expect(unchanged?.metadata?.resourceVersion).toBe(removed?.metadata?.resourceVersion);
    expect(await writer.updateAnnotations('no-such-pv', () => ({ a: 'b' }))).toBeUndefined();
  });

  it('writes from a cached copy in one round trip, and recovers when that copy was stale', async () => {
    await k8s.cluster.createObject('/api/v1/persistentvolumes', pv('cached'));
    const writer = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    const fresh = await k8s.admin.readPersistentVolume({ name: 'cached' });
    let decisions = 0;
    const first = await writer.updateAnnotations(
      'cached',
      () => {
        decisions++;
        return { 'example.com/a': '1' };
      },
      fresh,
    );
    expect(decisions).toBe(1);
    // `fresh` is now stale: the precondition fails once, the PV is re-read, the change lands.
    const second = await writer.updateAnnotations(
      'cached',
      () => {
        decisions++;
        return { 'example.com/b': '2' };
      },
      fresh,
    );
    expect(decisions).toBe(3);
    expect(second?.metadata?.annotations).toMatchObject({
      'example.com/a': '1',
      'example.com/b': '2',
    });
    expect(Number(second?.metadata?.resourceVersion)).toBeGreaterThan(
      Number(first?.metadata?.resourceVersion),
    );
  });

  it('attachment writes take one round trip, from the cache or from our own last write', async () => {
    await k8s.cluster.createObject('/api/v1/persistentvolumes', pv('one-trip'));
    // Reads (GETs) the writer makes: every attempt but a first one that starts from a given copy.
    let reads = 0;
    class CountingWriter extends PvWriter {
      override updateAnnotations(
        ...[name, decide, known]: Parameters<PvWriter['updateAnnotations']>
      ) {
        let attempt = 0;
        return super.updateAnnotations(
          name,
          (current) => {
            if (attempt++ > 0 || known === undefined) reads++;
            return decide(current);
          },
          known,
        );
      }
    }
    // A watch cache that lags: it goes on returning what it held when the test began.
    let cacheCopy = await k8s.admin.readPersistentVolume({ name: 'one-trip' });
    const store = new PvAttachmentStore({
      kubeConfig: k8s.kube,
      driverName: DRIVER,
      writer: new CountingWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger }),
      graceMs: 30_000,
      log: log.logger,
      cached: () => cacheCopy,
      onDisagreement: () => undefined,
    });
    const record = (nodes: string[], at: number) => ({
      v: 1 as const,
      state: nodes.length > 0 ? 'attached' : 'detached',
      context: {
        volumeId: 'pvc-one-trip',
        graceMs: 30_000,
        access: 'single',
        nodes,
        attachedAt: at,
      },
      readOnly: {},
      savedAt: at,
    });
    // Publish, unpublish, publish: the cache is behind after the first, our own writes are not.
    await store.save('pvc-one-trip', record(['worker-a'], 1));
    await store.save('pvc-one-trip', record([], 2));
    await store.save('pvc-one-trip', record(['worker-b'], 3));
    expect(reads).toBe(0);
    // Someone else writes and the cache has seen it: the cache's copy is newer and is used.
    cacheCopy = await k8s.admin.patchPersistentVolume(
      { name: 'one-trip', body: { metadata: { labels: { team: 'storage' } } } },
      mergePatch,
    );
    await store.save('pvc-one-trip', record([], 4));
    expect(reads).toBe(0);
    // Someone else writes and the cache has not seen it: one 409, a re-read, and the write lands.
    await k8s.admin.patchPersistentVolume(
      { name: 'one-trip', body: { metadata: { labels: { team: 'platform' } } } },
      mergePatch,
    );
    await store.save('pvc-one-trip', record(['worker-c'], 5));
    expect(reads).toBe(1);
    const final = await k8s.admin.readPersistentVolume({ name: 'one-trip' });
    expect(final.metadata?.labels).toEqual({ team: 'platform' });
    expect(final.metadata?.annotations?.[GO_ATTACHED_NODE]).toBe('worker-c');
    expect(JSON.parse(final.metadata?.annotations?.[ATTACHMENT_ANNOTATION] ?? '{}')).toMatchObject({
      context: { nodes: ['worker-c'] },
    });
  });

  it('a reconcile pass reads records as they are; only a rebuild lets VolumeAttachments correct them', async () => {
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-0000000f1a9e';
    const record = {
      v: 1,
      state: 'attached',
      context: { volumeId, graceMs: 30_000, access: 'single', nodes: ['worker-a'], attachedAt: 1 },
      readOnly: {},
      savedAt: 1,
    };
    await k8s.cluster.createObject('/api/v1/persistentvolumes', {
      ...pv('inflight'),
      metadata: {
        name: 'inflight',
        annotations: { [ATTACHMENT_ANNOTATION]: JSON.stringify(record) },
      },
      spec: { ...pv('inflight').spec, csi: { driver: DRIVER, volumeHandle: volumeId } },
    });
    let disagreements = 0;
    const store = new PvAttachmentStore({
      kubeConfig: k8s.kube,
      driverName: DRIVER,
      writer: new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger }),
      graceMs: 30_000,
      log: log.logger,
      onDisagreement: (id) => {
        if (id === volumeId) disagreements++;
      },
    });
    // A publish whose VolumeAttachment is not marked attached yet: a pass must leave it alone.
    const read = await store.loadAll({ crossCheck: false });
    expect(read.get(volumeId)).toMatchObject({
      state: 'attached',
      context: { nodes: ['worker-a'] },
    });
    const annotations = async () =>
      (await k8s.admin.readPersistentVolume({ name: 'inflight' })).metadata?.annotations ?? {};
    expect((await annotations())[ATTACHMENT_ANNOTATION]).toBeDefined();
    expect(disagreements).toBe(0);
    // At a rebuild, no VolumeAttachment backs it: the record goes.
    const rebuilt = await store.loadAll();
    expect(rebuilt.has(volumeId)).toBe(false);
    expect((await annotations())[ATTACHMENT_ANNOTATION]).toBeUndefined();
    expect(disagreements).toBe(1);
  });

  it('finds the PVC through claimRef, and not a new PVC that reuses the name', async () => {
    await k8s.cluster.createObject('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: 'apps' },
    });
    const pvc = (await k8s.cluster.createObject('/api/v1/namespaces/apps/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        storageClassName: '',
      },
    })) as { metadata: { uid: string } };
    const writer = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    const bound = pv('bound', DRIVER, { namespace: 'apps', name: 'data' });
    expect(await writer.claimOf(bound)).toEqual({
      namespace: 'apps',
      name: 'data',
      uid: pvc.metadata.uid,
    });
    const stale = {
      ...bound,
      spec: { ...bound.spec, claimRef: { namespace: 'apps', name: 'data', uid: 'another-uid' } },
    };
    expect(await writer.claimOf(stale)).toBeUndefined();
    expect(await writer.claimOf(pv('unbound'))).toBeUndefined();
  });
});

describe('events', () => {
  it('posts an event on the PVC in its namespace, readable from the API, and aggregates repeats', async () => {
    const metrics = countingMetrics();
    const recorder = eventRecorder(metrics);
    const pvc = { namespace: 'apps', name: 'data' };
    const message = '[pvc-1]: Attached to node worker-a (duration: 12ms)';
    recorder.record({ pvc, type: 'Normal', reason: 'VolumeAttached', message });
    await recorder.flush();
    const first = await k8s.admin.listNamespacedEvent({
      namespace: 'apps',
      fieldSelector: 'involvedObject.name=data',
    });
    expect(first.items).toHaveLength(1);
    expect(first.items[0]).toMatchObject({
      reason: 'VolumeAttached',
      type: 'Normal',
      message,
      count: 1,
      involvedObject: { kind: 'PersistentVolumeClaim', namespace: 'apps', name: 'data' },
      source: { component: DRIVER },
    });
    for (let i = 0; i < 3; i++)
      recorder.record({ pvc, type: 'Normal', reason: 'VolumeAttached', message });
    recorder.record({
      pvc,
      type: 'Warning',
      reason: 'AttachmentConflict',
      message: 'another message',
    });
    await recorder.flush();
    const after = await k8s.admin.listNamespacedEvent({
      namespace: 'apps',
      fieldSelector: 'involvedObject.name=data',
    });
    expect(after.items.map((e) => [e.reason, e.count]).sort()).toEqual([
      ['AttachmentConflict', 1],
      ['VolumeAttached', 4],
    ]);
    expect(metrics.postedReasons).toHaveLength(5);
    expect(metrics.droppedReasons).toEqual([]);
  });
});

describe('leader election', () => {
  function elector(identity: string, events: string[]): LeaderElector {
    return new LeaderElector({
      kubeConfig: k8s.kube,
      namespace: 'kube-system',
      name: 'rds-csi-test-controller',
      identity,
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 400,
      clock: systemClock,
      log: log.logger,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stops`),
    });
  }

  it('one replica leads; when it dies silently the other takes over within the lease duration', async () => {
    const events: string[] = [];
    const a = elector('replica-a', events);
    a.start();
    await waitFor(() => a.isLeader, { what: 'replica-a to lead' });
    const b = elector('replica-b', events);
    b.start();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(b.isLeader).toBe(false);
    expect(b.holder).toBe('replica-a');

    const crashed = Date.now();
    await a.stop({ release: false });
    await waitFor(() => b.isLeader, { timeoutMs: 6_000, what: 'replica-b to take over' });
    const takeover = Date.now() - crashed;
    expect(takeover).toBeLessThanOrEqual(3_000 + 400 + 500);
    expect(takeover).toBeGreaterThanOrEqual(2_000); // it waited for the lease to expire
    expect(events).toEqual(['replica-a leads', 'replica-a stops', 'replica-b leads']);

    // A graceful stop releases the lease: the next replica takes over within a retry period or two.
    const c = elector('replica-c', events);
    c.start();
    const released = Date.now();
    await b.stop();
    await waitFor(() => c.isLeader, { timeoutMs: 3_000, what: 'replica-c to take over' });
    expect(Date.now() - released).toBeLessThan(1_500);
    await c.stop();
  }, 20_000);
});

describe('the controller with leader election', () => {
  it('only the leader changes volumes; a follower answers UNAVAILABLE naming the leader', async () => {
    const argv = [
      '--mode',
      'controller',
      '--leader-election-namespace',
      'kube-system',
      '--leader-election-lease-duration',
      '3s',
    ];
    const first = await driverFixture([...argv, '--node-id', 'controller-a'], {}, {}, k8s.kube);
    await waitFor(() => first.driver.kubernetes?.leadership.isLeader(), {
      timeoutMs: 5_000,
      what: 'a leader',
    });
    const second = await driverFixture([...argv, '--node-id', 'controller-b'], {}, {}, k8s.kube);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(second.driver.kubernetes?.leadership.isLeader()).toBe(false);
      const created = await first.clients.controller.CreateVolume(createRequest('led'));
      expect(created.volume?.volumeId).toMatch(/^pvc-/);
      const refused = await grpcError(second.clients.controller.CreateVolume(createRequest('led')));
      expect(refused.code).toBe(status.UNAVAILABLE);
      expect(refused.details).toMatch(
        /^CreateVolume: this controller replica is not the leader \(controller-a_[0-9a-f]{8} is\); retry/,
      );
      expect(second.rds.emulator.state().disks).toEqual([]);
      // Reads are served by every replica.
      await second.clients.controller.ListVolumes({});
      expect(await first.driver.metrics.registry.getSingleMetricAsString('rds_csi_leader')).toMatch(
        /rds_csi_leader 1/,
      );
      expect(
        await second.driver.metrics.registry.getSingleMetricAsString('rds_csi_leader'),
      ).toMatch(/rds_csi_leader 0/);
      // The leader stops (and releases): the follower takes over and now serves mutations.
      await first.stop();
      await waitFor(() => second.driver.kubernetes?.leadership.isLeader(), {
        timeoutMs: 5_000,
        what: 'failover',
      });
      await second.clients.controller.CreateVolume(createRequest('after-failover'));
    } finally {
      await second.stop();
    }
  }, 30_000);
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
    await k8s.cluster.createObject('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-b' },
    });
    const pvc = (await k8s.cluster.getObject(
      '/api/v1/namespaces/apps/persistentvolumeclaims/data',
    )) as { metadata: { uid: string } };
    let fixture = await driverFixture(argv, {}, {}, k8s.kube);
    try {
      const created = await fixture.clients.controller.CreateVolume(createRequest('fenced'));
      const volumeId = created.volume?.volumeId ?? '';
      await k8s.cluster.createObject('/api/v1/persistentvolumes', {
        ...pv('pv-fenced'),
        spec: {
          ...pv('pv-fenced').spec,
          csi: { driver: DRIVER, volumeHandle: volumeId },
          claimRef: { namespace: 'apps', name: 'data', uid: pvc.metadata.uid },
        },
      });
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
      await k8s.cluster.createObject('/api/v1/persistentvolumes', {
        ...pv('pv-resumed'),
        spec: { ...pv('pv-resumed').spec, csi: { driver: DRIVER, volumeHandle: volumeId } },
      });
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
    await k8s.cluster.createObject('/api/v1/persistentvolumes', {
      ...pv('pv-adopted'),
      metadata: {
        name: 'pv-adopted',
        annotations: { [GO_ATTACHED_NODE]: 'worker-a', [GO_ATTACHED_AT]: '2026-11-01T10:00:00Z' },
      },
      spec: { ...pv('pv-adopted').spec, csi: { driver: DRIVER, volumeHandle: adopted } },
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
    await k8s.cluster.createObject('/api/v1/persistentvolumes', {
      ...pv('pv-contradicted'),
      metadata: {
        name: 'pv-contradicted',
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
      },
      spec: { ...pv('pv-contradicted').spec, csi: { driver: DRIVER, volumeHandle: contradicted } },
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

describe('reconciler against the API server', () => {
  it('a deleted node loses its attachment after the grace period, with the event on the PVC', async () => {
    await k8s.cluster.createObject('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-gone' },
    });
    await k8s.cluster.createObject('/api/v1/namespaces/apps/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'vm-disk' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: '1Gi' } },
        storageClassName: '',
      },
    });
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
      await k8s.cluster.createObject('/api/v1/persistentvolumes', {
        ...pv('pv-stale'),
        spec: {
          ...pv('pv-stale').spec,
          csi: { driver: DRIVER, volumeHandle: volumeId },
          claimRef: { namespace: 'apps', name: 'vm-disk' },
        },
      });
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
});

describe('with the API server gone', () => {
  it('a reconcile pass clears nothing when it cannot look nodes up (fail-open)', async () => {
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-00000000fa11';
    await k8s.cluster.createObject('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'worker-kept' },
    });
    await k8s.cluster.createObject('/api/v1/persistentvolumes', {
      ...pv('pv-outage'),
      spec: { ...pv('pv-outage').spec, csi: { driver: DRIVER, volumeHandle: volumeId } },
    });
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
    // Earlier tests left other attachments on PVs: every one of them must survive too.
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

  it('event posting drops and counts instead of blocking the caller', async () => {
    await k8s.cluster.stopApiServer();
    const metrics = countingMetrics();
    const recorder = eventRecorder(metrics, { queueSize: 10, requestTimeoutMs: 500, attempts: 2 });
    const started = performance.now();
    const returned = new Set<unknown>();
    for (let i = 0; i < 200; i++) {
      returned.add(
        recorder.record({
          pvc: { namespace: 'apps', name: 'data' },
          type: 'Normal',
          reason: 'VolumeDetached',
          message: `n${i}`,
        }),
      );
    }
    const elapsed = performance.now() - started;
    // Each call returns at once (nothing to await) and the drops are counted before this test
    // yields once: no call waited on the network. All 200 took less than one request timeout.
    expect([...returned]).toEqual([undefined]);
    expect(elapsed).toBeLessThan(500);
    expect(
      metrics.droppedReasons.filter((d) => d === 'VolumeDetached:queue-full').length,
    ).toBeGreaterThanOrEqual(189);
    await recorder.flush();
    expect(metrics.droppedReasons.filter((d) => d === 'VolumeDetached:post-failed')).toHaveLength(
      200 - 189,
    );
    expect(metrics.postedReasons).toEqual([]);
  }, 60_000);
});
