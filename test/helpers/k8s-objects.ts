// k8s-objects.ts: the Kubernetes objects tests arrange around the driver (namespaces, claims, the
// PersistentVolumes the provisioner would create), made on a test cluster as admin.
import type { V1PersistentVolume } from '@kubernetes/client-node';

import type { Cluster } from './cluster.js';

/** The driver name the tests run the driver under (its default). */
export const DRIVER = 'rds.csi.srvlab.io';

export interface ClaimRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid?: string;
}

export interface PvShape {
  /** The CSI driver that owns it; another one's PVs are not ours to cache. */
  readonly driver?: string;
  readonly claim?: ClaimRef;
  readonly accessMode?: 'ReadWriteOnce' | 'ReadWriteMany';
  readonly storage?: string;
  readonly block?: boolean;
  readonly reclaimPolicy?: 'Retain' | 'Delete';
  readonly volumeAttributes?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

/** A CSI PersistentVolume named `name` for the volume `volumeHandle`. */
export function persistentVolume(
  name: string,
  volumeHandle: string,
  shape: PvShape = {},
): V1PersistentVolume {
  return {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: {
      name,
      ...(shape.annotations !== undefined ? { annotations: shape.annotations } : {}),
    },
    spec: {
      capacity: { storage: shape.storage ?? '1Gi' },
      accessModes: [shape.accessMode ?? 'ReadWriteOnce'],
      persistentVolumeReclaimPolicy: shape.reclaimPolicy ?? 'Retain',
      ...(shape.block === true ? { volumeMode: 'Block' } : {}),
      csi: {
        driver: shape.driver ?? DRIVER,
        volumeHandle,
        ...(shape.volumeAttributes !== undefined
          ? { volumeAttributes: shape.volumeAttributes }
          : {}),
      },
      ...(shape.claim !== undefined ? { claimRef: { ...shape.claim } } : {}),
    },
  };
}

export async function createPersistentVolume(
  cluster: Cluster,
  name: string,
  volumeHandle: string,
  shape: PvShape = {},
): Promise<void> {
  await cluster.createObject(
    '/api/v1/persistentvolumes',
    persistentVolume(name, volumeHandle, shape),
  );
}

/** A Node object (no kubelet behind it): what ControllerPublish checks a node ID against. */
export async function createNode(cluster: Cluster, name: string): Promise<void> {
  await cluster.createObject('/api/v1/nodes', {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name },
  });
}

export async function createNamespace(cluster: Cluster, name: string): Promise<void> {
  await cluster.createObject('/api/v1/namespaces', {
    apiVersion: 'v1',
    kind: 'Namespace',
    metadata: { name },
  });
}

/** A PersistentVolumeClaim (no storage class: nothing provisions it); returns its claimRef. */
export async function createClaim(
  cluster: Cluster,
  namespace: string,
  name: string,
  { accessMode = 'ReadWriteOnce', storage = '1Gi' }: Pick<PvShape, 'accessMode' | 'storage'> = {},
): Promise<Required<ClaimRef>> {
  const created = (await cluster.createObject(
    `/api/v1/namespaces/${namespace}/persistentvolumeclaims`,
    {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, namespace },
      spec: {
        accessModes: [accessMode],
        resources: { requests: { storage } },
        storageClassName: '',
      },
    },
  )) as { metadata: { uid: string } };
  return { namespace, name, uid: created.metadata.uid };
}
