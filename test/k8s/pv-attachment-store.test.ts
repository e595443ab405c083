// pv-attachment-store.test.ts: attachment records kept on PVs (PvAttachmentStore): one round trip
// per write, and how a reconcile pass and a rebuild read them against VolumeAttachments, on a real
// etcd + kube-apiserver as the controller's ClusterRole.
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';

import {
  ATTACHMENT_ANNOTATION,
  GO_ATTACHED_NODE,
  PvAttachmentStore,
} from '../../src/k8s/pv-attachment-store.js';
import { PvWriter } from '../../src/k8s/pv-writer.js';
import { systemClock } from '../../src/main.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { DRIVER, createPersistentVolume } from '../helpers/k8s-objects.js';
import { captureLog } from '../helpers/log-capture.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

describe('attachment records on PVs (PvAttachmentStore)', () => {
  it('attachment writes take one round trip, from the cache or from our own last write', async () => {
    await createPersistentVolume(k8s.cluster, 'one-trip', 'pvc-one-trip');
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
    await createPersistentVolume(k8s.cluster, 'inflight', volumeId, {
      annotations: { [ATTACHMENT_ANNOTATION]: JSON.stringify(record) },
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
});
