// attachment-rebuild.test.ts: how a rebuild weighs PV attachment records against
// VolumeAttachments, against a real etcd + kube-apiserver. Found by test/e2e/node-loss.test.ts: a
// controller restarted after a lost node's attachment was cleared and the volume handed to another
// node saw two attached VolumeAttachments (the dead node's stays for minutes) and gave the RWO
// volume back to whichever came first in the list.

import { KubeConfig } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ATTACHMENT_ANNOTATION, PvAttachmentStore } from '../../src/k8s/pv-attachment-store.js';
import { PvWriter } from '../../src/k8s/pv-writer.js';
import { systemClock } from '../../src/main.js';
import { startCluster, type Cluster } from '../helpers/cluster.js';
import { captureLog } from '../helpers/log-capture.js';

const DRIVER = 'rds.csi.srvlab.io';
let cluster: Cluster;
let kube: KubeConfig;

beforeAll(async () => {
  cluster = await startCluster({ controllerManager: false });
  kube = new KubeConfig();
  kube.loadFromFile(cluster.kubeconfigPath);
}, 120_000);

afterAll(async () => {
  await cluster?.stop();
});

/** A VolumeAttachment csi-attacher has marked attached. */
async function attachedVa(name: string, pv: string, node: string): Promise<void> {
  await cluster.createObject('/apis/storage.k8s.io/v1/volumeattachments', {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'VolumeAttachment',
    metadata: { name },
    spec: { attacher: DRIVER, nodeName: node, source: { persistentVolumeName: pv } },
  });
  const va = (await cluster.getObject(
    `/apis/storage.k8s.io/v1/volumeattachments/${name}`,
  )) as Record<string, unknown>;
  await cluster.putObject(`/apis/storage.k8s.io/v1/volumeattachments/${name}/status`, {
    ...va,
    status: { attached: true },
  });
}

async function pvWithRecord(name: string, volumeId: string, record: unknown): Promise<void> {
  await cluster.createObject('/api/v1/persistentvolumes', {
    apiVersion: 'v1',
    kind: 'PersistentVolume',
    metadata: { name, annotations: { [ATTACHMENT_ANNOTATION]: JSON.stringify(record) } },
    spec: {
      capacity: { storage: '1Gi' },
      accessModes: ['ReadWriteOnce'],
      persistentVolumeReclaimPolicy: 'Retain',
      csi: { driver: DRIVER, volumeHandle: volumeId },
    },
  });
}

function store(disagreements: string[]): PvAttachmentStore {
  const log = captureLog();
  return new PvAttachmentStore({
    kubeConfig: kube,
    driverName: DRIVER,
    writer: new PvWriter({ kubeConfig: kube, clock: systemClock, log: log.logger }),
    graceMs: 30_000,
    log: log.logger,
    onDisagreement: (volumeId, detail) => disagreements.push(`${volumeId}: ${detail}`),
  });
}

describe('attachment rebuild: records against VolumeAttachments', () => {
  it('keeps the record of the node that holds an RWO volume when a released node still has an attached VolumeAttachment', async () => {
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-00000000dead';
    const record = {
      v: 1,
      state: 'attached',
      context: {
        volumeId,
        graceMs: 30_000,
        access: 'single',
        nodes: ['node-c'],
        attachedAt: 1_700_000_000_000,
      },
      readOnly: { 'node-c': false },
      savedAt: 1_700_000_000_000,
    };
    await pvWithRecord('pv-handed-over', volumeId, record);
    // The dead node's VolumeAttachment sorts first: following the list would pick it.
    await attachedVa('csi-0-dead-node', 'pv-handed-over', 'node-b');
    await attachedVa('csi-1-new-node', 'pv-handed-over', 'node-c');
    const disagreements: string[] = [];

    const loaded = await store(disagreements).loadAll();
    expect(loaded.get(volumeId)).toEqual(record);
    expect(disagreements).toEqual([]);
    const annotations = (
      (await cluster.getObject('/api/v1/persistentvolumes/pv-handed-over')) as {
        metadata: { annotations: Record<string, string> };
      }
    ).metadata.annotations;
    expect(JSON.parse(annotations[ATTACHMENT_ANNOTATION] ?? '{}')).toEqual(record);
  });

  it('still lets the VolumeAttachments win when they do not name a node the record holds', async () => {
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-0000000be11e';
    await pvWithRecord('pv-moved', volumeId, {
      v: 1,
      state: 'attached',
      context: { volumeId, graceMs: 30_000, access: 'single', nodes: ['node-x'], attachedAt: 1 },
      readOnly: {},
      savedAt: 1,
    });
    await attachedVa('csi-2-moved', 'pv-moved', 'node-y');
    const disagreements: string[] = [];

    const loaded = await store(disagreements).loadAll();
    expect(loaded.get(volumeId)).toMatchObject({
      state: 'attached',
      context: { nodes: ['node-y'] },
    });
    expect(disagreements.filter((d) => d.startsWith(volumeId))).toEqual([
      `${volumeId}: annotations say node-x, VolumeAttachments say node-y`,
    ]);
  });
});
