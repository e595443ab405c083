// event-recorder.test.ts: events on a volume's PVC, posted as the controller's ClusterRole to a
// real etcd + kube-apiserver and read back; repeats aggregate, and with the API server gone
// posting drops and counts instead of blocking (the last test stops the API server).
import { beforeAll, describe, expect, it } from 'vitest';

import { EventRecorder } from '../../src/k8s/event-recorder.js';
import { systemClock } from '../../src/main.js';
import type { EventMetrics } from '../../src/ports.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { DRIVER, createNamespace } from '../helpers/k8s-objects.js';
import { captureLog } from '../helpers/log-capture.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

beforeAll(() => createNamespace(k8s.cluster, 'apps'));

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

describe('events on PVCs', () => {
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
