// pv-writer.test.ts: PV annotation writes with optimistic concurrency, and the PVC behind a PV's
// claimRef, against a real etcd + kube-apiserver as the controller's ClusterRole.
import { describe, expect, it } from 'vitest';

import { PvWriter } from '../../src/k8s/pv-writer.js';
import { systemClock } from '../../src/main.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import {
  createClaim,
  createNamespace,
  createPersistentVolume,
  persistentVolume,
} from '../helpers/k8s-objects.js';
import { captureLog } from '../helpers/log-capture.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

describe('PV writes with optimistic concurrency', () => {
  it('a patch racing another writer is retried and both changes survive', async () => {
    await createPersistentVolume(k8s.cluster, 'race', 'pvc-race');
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
    await createPersistentVolume(k8s.cluster, 'cached', 'pvc-cached');
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

  it('finds the PVC through claimRef, and not a new PVC that reuses the name', async () => {
    await createNamespace(k8s.cluster, 'apps');
    const claim = await createClaim(k8s.cluster, 'apps', 'data');
    const writer = new PvWriter({ kubeConfig: k8s.kube, clock: systemClock, log: log.logger });
    const bound = persistentVolume('bound', 'pvc-bound', {
      claim: { namespace: 'apps', name: 'data' },
    });
    expect(await writer.claimOf(bound)).toEqual(claim);
    const stale = {
      ...bound,
      spec: { ...bound.spec, claimRef: { namespace: 'apps', name: 'data', uid: 'another-uid' } },
    };
    expect(await writer.claimOf(stale)).toBeUndefined();
    expect(await writer.claimOf(persistentVolume('unbound', 'pvc-unbound'))).toBeUndefined();
  });
});
