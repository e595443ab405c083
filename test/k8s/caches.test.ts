// caches.test.ts: the driver's list + watch caches of Nodes, PVs and VolumeAttachments against a
// real etcd + kube-apiserver, as the controller's ClusterRole from the Helm chart (a permission
// the caches need but the role lacks fails here).
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { createClusterCaches, type ClusterCaches } from '../../src/k8s/caches.js';
import type { CacheEvent } from '../../src/k8s/watched-cache.js';
import { systemClock } from '../../src/main.js';
import type { HealthReporter } from '../../src/ports.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { DRIVER, createNode, createPersistentVolume } from '../helpers/k8s-objects.js';
import { captureLog } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait-for.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

function recordingHealth(): HealthReporter & { states: string[] } {
  const states: string[] = [];
  return {
    states,
    healthy: () => states.push('healthy'),
    unhealthy: (reason) => states.push(`unhealthy: ${reason}`),
  };
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
    await createNode(k8s.cluster, 'before-start');
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
    await createNode(k8s.cluster, 'worker-a');
    await createPersistentVolume(k8s.cluster, 'ours', 'pvc-ours');
    await createPersistentVolume(k8s.cluster, 'theirs', 'pvc-theirs', {
      driver: 'other.csi.example.com',
    });
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
