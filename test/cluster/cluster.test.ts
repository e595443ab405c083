// The test control plane itself (issue 6): it starts, RBAC is really on, identities get exactly
// the role they are bound to, and kube-controller-manager binds a static PV to its claim.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { startCluster, type Cluster } from '../helpers/cluster.js';
import { waitFor } from '../helpers/wait-for.js';

let cluster: Cluster;
let startedInMs = 0;

beforeAll(async () => {
  const started = Date.now();
  cluster = await startCluster();
  startedInMs = Date.now() - started;
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

async function status(path: string, token: string): Promise<number> {
  const { request } = await import('node:https');
  return new Promise((resolve, reject) => {
    const req = request(
      `${cluster.server}${path}`,
      { rejectUnauthorized: false, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('test control plane', () => {
  it('starts etcd, kube-apiserver and kube-controller-manager within 20 s', () => {
    expect(startedInMs).toBeLessThan(20_000);
  });

  it('serves the built-in namespaces to the admin', async () => {
    const list = (await cluster.getObject('/api/v1/namespaces')) as {
      items: { metadata: { name: string } }[];
    };
    expect(list.items.map((n) => n.metadata.name)).toEqual(
      expect.arrayContaining(['default', 'kube-system', 'kube-public']),
    );
  });

  it('enforces RBAC: an identity may do what its ClusterRole allows and nothing else', async () => {
    await cluster.createObject('/apis/rbac.authorization.k8s.io/v1/clusterroles', {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: 'pv-reader' },
      rules: [{ apiGroups: [''], resources: ['persistentvolumes'], verbs: ['list'] }],
    });
    const reader = await cluster.createIdentity('reader', 'pv-reader');
    expect(await status('/api/v1/persistentvolumes', reader.token)).toBe(200);
    expect(await status('/api/v1/nodes', reader.token)).toBe(403);
    expect(await status('/api/v1/persistentvolumes', 'not-a-token')).toBe(401);
  });

  it('binds a static PV and its claim (kube-controller-manager runs the PV binder)', async () => {
    await cluster.createObject('/api/v1/persistentvolumes', {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: 'static-pv' },
      spec: {
        capacity: { storage: '1Gi' },
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        csi: { driver: 'rds.csi.srvlab.io', volumeHandle: 'pvc-static' },
        claimRef: { namespace: 'default', name: 'static-claim' },
      },
    });
    await cluster.createObject('/api/v1/namespaces/default/persistentvolumeclaims', {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'static-claim' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: '',
        volumeName: 'static-pv',
        resources: { requests: { storage: '1Gi' } },
      },
    });
    await waitFor(
      async () => {
        const pvc = (await cluster.getObject(
          '/api/v1/namespaces/default/persistentvolumeclaims/static-claim',
        )) as { status?: { phase?: string } };
        return pvc.status?.phase === 'Bound';
      },
      { timeoutMs: 20_000, intervalMs: 250, what: 'the claim to bind' },
    );
  });
});
