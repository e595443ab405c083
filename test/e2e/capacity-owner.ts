// capacity-owner.ts: the objects a cluster has around the controller pod, so csi-provisioner's
// --enable-capacity finds the owner of its CSIStorageCapacity objects as it does under the chart:
// POD_NAME -> its ReplicaSet -> the Deployment (--capacity-ownerref-level=2). Only their API
// objects: no scheduler, ReplicaSet or Deployment controller runs in the test control plane, and no
// kubelet stand-in takes a pod without spec.nodeName, so nothing acts on them.
import type { KubeApi, KubeObject } from './kube-api.js';

export interface CapacityOwner {
  readonly deploymentName: string;
  readonly deploymentUid: string;
  readonly podName: string;
}

const NAME = 'rds-csi-ts-controller';
const LABELS = { app: NAME };
const TEMPLATE = {
  metadata: { labels: LABELS },
  spec: { containers: [{ name: 'csi-provisioner', image: 'registry.invalid/never-pulled:1' }] },
};

export async function capacityOwnerPod(api: KubeApi, namespace: string): Promise<CapacityOwner> {
  const deployment = await api.create<KubeObject>(
    `/apis/apps/v1/namespaces/${namespace}/deployments`,
    {
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: NAME, labels: LABELS },
      spec: { replicas: 1, selector: { matchLabels: LABELS }, template: TEMPLATE },
    },
  );
  const ownedBy = (object: KubeObject, apiVersion: string, kind: string) => [
    {
      apiVersion,
      kind,
      name: object.metadata.name,
      uid: object.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    },
  ];
  const replicaSet = await api.create<KubeObject>(
    `/apis/apps/v1/namespaces/${namespace}/replicasets`,
    {
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: {
        name: `${NAME}-5d8f7c`,
        labels: LABELS,
        ownerReferences: ownedBy(deployment, 'apps/v1', 'Deployment'),
      },
      spec: { replicas: 1, selector: { matchLabels: LABELS }, template: TEMPLATE },
    },
  );
  const pod = await api.create<KubeObject>(`/api/v1/namespaces/${namespace}/pods`, {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${NAME}-5d8f7c-x2x9q`,
      labels: LABELS,
      ownerReferences: ownedBy(replicaSet, 'apps/v1', 'ReplicaSet'),
    },
    spec: TEMPLATE.spec,
  });
  return {
    deploymentName: deployment.metadata.name,
    deploymentUid: deployment.metadata.uid,
    podName: pod.metadata.name,
  };
}
