// attachments.bench.ts: the attachment actors at 10,000 volumes (issue 13), side by side in one run.
//
//   heap of 10,000 actors (goal <= 100 MB), against the process's heap before them;
//   rebuild after a restart from a real API server holding 10,000 PVs (goal <= 3 s, paginated
//     lists only), against one bare paginated list of the same PVs;
//   a reconcile pass over that consistent cluster (goal: 0 writes, <= 1 s of our CPU);
//   ControllerPublish's decision + write p50 against one PV merge-patch round trip (goal <= 1.2x),
//     interleaved so both see the same API server at the same time.
import { CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';

import { AttachmentReconciler } from '../src/actors/attachment-reconciler.js';
import { AttachmentSupervisor } from '../src/actors/attachment-supervisor.js';
import { createClusterCaches } from '../src/k8s/caches.js';
import { nodeLookup } from '../src/k8s/node-lookup.js';
import { ATTACHMENT_ANNOTATION, PvAttachmentStore } from '../src/k8s/pv-attachment-store.js';
import { PvWriter } from '../src/k8s/pv-writer.js';
import { systemClock } from '../src/main.js';
import { createLogger } from '../src/observability/logger.js';
import type { AttachmentStore, PersistedAttachment } from '../src/ports.js';
import { startCluster } from '../test/helpers/cluster.js';
import { quietAttachmentMetrics } from '../test/helpers/quiet-metrics.js';
import type { BenchResult } from './bench-result.js';

const VOLUMES = 10_000;
const ATTACHED = 1_000;
const NODES = 50;
const DRIVER = 'rds.csi.srvlab.io';
const GRACE_MS = 30_000;

const { logger } = createLogger({
  format: 'json',
  level: (process.env['BENCH_LOG'] as 'debug' | undefined) ?? 'error',
});

/** A supervisor that reports nothing (no events, no metrics): the bench measures time and heap. */
function quietSupervisor(store: AttachmentStore): AttachmentSupervisor {
  return new AttachmentSupervisor({
    store,
    events: { post: () => undefined },
    metrics: quietAttachmentMetrics,
    clock: systemClock,
    log: logger,
    graceMs: GRACE_MS,
  });
}

function gc(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

function p50(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

async function pool<T>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const volumeId = (i: number) => `pvc-00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;
const nodeName = (i: number) => `node-${i % NODES}`;

/** 10,000 actors in memory (half attached, half in grace with a live timer). */
async function heapOfActors(): Promise<BenchResult> {
  const records = new Map<string, PersistedAttachment>();
  const store: AttachmentStore = {
    loadAll: () => Promise.resolve(new Map(records)),
    save: (id, record) => {
      if (record === undefined) records.delete(id);
      else records.set(id, record);
      return Promise.resolve();
    },
  };
  gc();
  const before = process.memoryUsage().heapUsed;
  const supervisor = quietSupervisor(store);
  await supervisor.rebuild();
  for (let i = 0; i < VOLUMES; i++) {
    await supervisor.publish({
      volumeId: volumeId(i),
      nodeId: nodeName(i),
      multiNode: false,
      readOnly: false,
      migrationTimeoutMs: 300_000,
    });
    if (i % 2 === 1) await supervisor.unpublish(volumeId(i), nodeName(i));
  }
  gc();
  const heapMb = (process.memoryUsage().heapUsed - before) / 1024 ** 2;
  const actors = supervisor.size;
  supervisor.stop();
  return {
    name: `heap of ${actors} attachment actors (half in grace, timers armed)`,
    value: heapMb,
    unit: 'MB',
    detail: `${((heapMb * 1024) / actors).toFixed(1)} KB per actor, records included`,
    goal: '<= 100 MB',
    met: heapMb <= 100,
    ratio: { label: 'vs the heap before them', value: (before + heapMb * 1024 ** 2) / before },
  };
}

export async function benchAttachments(): Promise<BenchResult[]> {
  const results: BenchResult[] = [await heapOfActors()];
  const cluster = await startCluster({ controllerManager: false });
  try {
    const kube = new KubeConfig();
    kube.loadFromFile(cluster.kubeconfigPath);
    const core = kube.makeApiClient(CoreV1Api);
    const now = Date.now();
    await pool(
      Array.from({ length: NODES }, (_, i) => i),
      8,
      (i) =>
        cluster.createObject('/api/v1/nodes', {
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: `node-${i}` },
        }),
    );
    // 10,000 PVs: the first 1,000 attached (with attached VolumeAttachments), the rest in grace.
    await pool(
      Array.from({ length: VOLUMES }, (_, i) => i),
      32,
      async (i) => {
        const attached = i < ATTACHED;
        const record: PersistedAttachment = {
          v: 1,
          state: attached ? 'attached' : 'grace',
          context: attached
            ? {
                volumeId: volumeId(i),
                graceMs: GRACE_MS,
                access: 'single',
                nodes: [nodeName(i)],
                attachedAt: now,
              }
            : {
                volumeId: volumeId(i),
                graceMs: GRACE_MS,
                access: 'single',
                nodes: [],
                detachedAt: now,
                detachedFrom: nodeName(i),
                graceDeadline: now + 3_600_000,
              },
          readOnly: {},
          savedAt: now,
        };
        await cluster.createObject('/api/v1/persistentvolumes', {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: {
            name: `pv-${i}`,
            annotations: { [ATTACHMENT_ANNOTATION]: JSON.stringify(record) },
          },
          spec: {
            capacity: { storage: '1Gi' },
            accessModes: ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            csi: { driver: DRIVER, volumeHandle: volumeId(i) },
          },
        });
        if (!attached) return;
        const va = (await cluster.createObject('/apis/storage.k8s.io/v1/volumeattachments', {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'VolumeAttachment',
          metadata: { name: `va-${i}` },
          spec: {
            attacher: DRIVER,
            nodeName: nodeName(i),
            source: { persistentVolumeName: `pv-${i}` },
          },
        })) as Record<string, unknown>;
        await cluster.putObject(`/apis/storage.k8s.io/v1/volumeattachments/va-${i}/status`, {
          ...va,
          status: { attached: true },
        });
      },
    );

    const writer = new PvWriter({ kubeConfig: kube, clock: systemClock, log: logger });
    let writes = 0;
    let lists = 0;
    const store = new PvAttachmentStore({
      kubeConfig: kube,
      driverName: DRIVER,
      writer,
      graceMs: GRACE_MS,
      log: logger,
      onDisagreement: () => undefined,
    });
    const counted: AttachmentStore = {
      loadAll: (options) => {
        lists++;
        return store.loadAll(options);
      },
      save: (id, record) => {
        writes++;
        return store.save(id, record);
      },
    };

    // Bare paginated list of the same PVs, for scale.
    let t0 = performance.now();
    let token: string | undefined;
    do {
      const page = await core.listPersistentVolume({
        limit: 500,
        ...(token ? { _continue: token } : {}),
      });
      token = page.metadata?._continue;
    } while (token);
    const bareListMs = performance.now() - t0;

    const supervisor = quietSupervisor(counted);
    t0 = performance.now();
    await supervisor.rebuild();
    const rebuildMs = performance.now() - t0;
    results.push({
      name: `rebuild of ${supervisor.size} volumes from the API server`,
      value: rebuildMs / 1000,
      unit: 's',
      detail: `${writes} writes; paginated PV + VolumeAttachment lists only`,
      goal: '<= 3 s',
      met: rebuildMs <= 3_000 && writes === 0,
      ratio: { label: 'vs one bare paginated list of the PVs', value: rebuildMs / bareListMs },
    });

    const reconciler = new AttachmentReconciler({
      supervisor,
      store: counted,
      nodes: nodeLookup(kube),
      intervalMs: 300_000,
      clock: systemClock,
      log: logger,
      metrics: { pass: () => undefined, action: () => undefined },
    });
    gc(); // the rebuild's garbage is the rebuild's cost, not the pass's
    const cpu0 = process.cpuUsage();
    t0 = performance.now();
    const pass = await reconciler.runPass();
    const passMs = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    results.push({
      name: `reconcile pass over a consistent cluster (${VOLUMES} PVs, ${NODES} nodes)`,
      value: cpuS,
      unit: 's CPU',
      detail: `${writes} writes, ${pass.synced} synced, ${(passMs / 1000).toFixed(2)} s wall, ${lists} loads`,
      goal: '0 writes, <= 1 s CPU',
      met: writes === 0 && cpuS <= 1,
      ratio: { label: 'wall time vs the rebuild', value: passMs / rebuildMs },
    });

    // Publish (decision + one PV patch from the watch cache's copy) vs a bare PV merge patch.
    const caches = createClusterCaches({
      kubeConfig: kube,
      driverName: DRIVER,
      resyncMs: 0,
      clock: systemClock,
      log: logger,
      health: () => ({ healthy: () => undefined, unhealthy: () => undefined }),
    });
    await caches.start();
    const fast = new AttachmentSupervisor({
      store: new PvAttachmentStore({
        kubeConfig: kube,
        driverName: DRIVER,
        writer,
        graceMs: GRACE_MS,
        log: logger,
        onDisagreement: () => undefined,
        cached: (name) => caches.volumes.get(name),
      }),
      events: { post: () => undefined },
      metrics: quietAttachmentMetrics,
      clock: systemClock,
      log: logger,
      graceMs: GRACE_MS,
    });
    await fast.rebuild();
    const publishMs: number[] = [];
    const patchMs: number[] = [];
    const recordWriteMs: number[] = [];
    const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
    for (let n = 0; n < 200; n++) {
      const i = ATTACHED + 1 + n * 2; // volumes in grace: each publish is a real attach and a write
      const publish = async () => {
        const t = performance.now();
        await fast.publish({
          volumeId: volumeId(i),
          nodeId: nodeName(i),
          multiNode: false,
          readOnly: false,
          migrationTimeoutMs: 300_000,
        });
        publishMs.push(performance.now() - t);
      };
      const patch = async () => {
        const t = performance.now();
        await core.patchPersistentVolume(
          {
            name: `pv-${i + 1}`,
            body: { metadata: { annotations: { 'bench/touch': String(n) } } },
          },
          mergePatch,
        );
        patchMs.push(performance.now() - t);
      };
      // The same write a publish makes (record + resourceVersion precondition), without the actor.
      const recordWrite = async () => {
        const record =
          caches.volumes.get(`pv-${i}`)?.metadata?.annotations?.[ATTACHMENT_ANNOTATION] ?? '';
        const t = performance.now();
        await writer.updateAnnotations(
          `pv-${i + 1}`,
          () => ({ 'bench/record': record }),
          caches.volumes.get(`pv-${i + 1}`),
        );
        recordWriteMs.push(performance.now() - t);
      };
      // Each round starts after an idle pause; the order rotates so that no measurement always
      // pays for being first after it.
      const order = [publish, patch, recordWrite];
      for (let k = 0; k < 3; k++) await (order[(n + k) % 3] ?? publish)();
      // Let the watch deliver (and the cache decode) our three writes before the next round, so
      // no measurement absorbs another's echo.
      await new Promise((resolve) => setTimeout(resolve, 30));
    }
    caches.stop();
    fast.stop();
    supervisor.stop();
    const ratio = p50(publishMs) / p50(patchMs);
    results.push({
      name: 'ControllerPublish decision + record (200 publishes)',
      value: p50(publishMs),
      unit: 'ms p50',
      detail: `bare PV patch p50 ${p50(patchMs).toFixed(2)} ms; the record's write alone ${p50(recordWriteMs).toFixed(2)} ms`,
      goal: '<= 1.2x one PV patch',
      met: ratio <= 1.2,
      ratio: { label: 'vs one PV merge-patch round trip', value: ratio },
    });
  } finally {
    await cluster.stop();
  }
  return results;
}
