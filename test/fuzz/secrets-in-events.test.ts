// secrets-in-events.test.ts: no secret reaches a Kubernetes event (issue 11). The driver runs with
// the controller's ClusterRole against a real API server; every request carries CSI secrets whose
// keys and values are a marker, the SSH login is a password; then each event-producing path is
// made to fire (an RWO conflict, a failed stage, a migration) and every event in the cluster, and
// the driver's log, is scanned for the marker and the password.
import { status } from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';

import { useClusterAs } from '../helpers/cluster-as.js';
import { createRequest } from '../helpers/controller-requests.js';
import { grpcError, retryUnavailable } from '../helpers/csi-client.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import {
  DRIVER,
  createClaim,
  createNamespace,
  createNode,
  createPersistentVolume,
} from '../helpers/k8s-objects.js';
import { TEST_PASSWORD } from '../helpers/emulator-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const SECRET = 'evt-secret-91c4aa';
const secrets = { token: SECRET, [`${SECRET}-key`]: `${SECRET}-value`, password: SECRET };

const k8s = useClusterAs('controller', 'rds-csi-controller');

const settled = <T>(call: () => Promise<T>): Promise<T> =>
  retryUnavailable(call, 'the driver to accept requests');

describe('Kubernetes events', () => {
  let fixture: DriverFixture | undefined;
  afterAll(async () => {
    await fixture?.stop();
  });

  it('carry no CSI secret and no SSH credential, on every path that posts one', async () => {
    await createNamespace(k8s.cluster, 'vault');
    for (const name of ['worker-a', 'worker-b', 'worker-c']) await createNode(k8s.cluster, name);
    fixture = await driverFixture(
      [
        '--mode',
        'all',
        '--leader-elect',
        'false',
        '--node-id',
        'worker-a',
        '--node-transport',
        'loop',
      ],
      {},
      {},
      k8s.kube,
    );
    const { controller, node } = fixture.clients;

    const claims: Record<string, string> = {};
    const volume = async (name: string, mode: 'ReadWriteOnce' | 'ReadWriteMany') => {
      const claim = await createClaim(k8s.cluster, 'vault', name, { accessMode: mode });
      const created = await controller.CreateVolume(
        createRequest(name, undefined, {
          secrets,
          volumeCapabilities: [
            {
              accessMode: {
                mode: mode === 'ReadWriteOnce' ? 'SINGLE_NODE_WRITER' : 'MULTI_NODE_MULTI_WRITER',
              },
              block: {},
            },
          ],
        }),
      );
      const volumeId = created.volume?.volumeId ?? '';
      await createPersistentVolume(k8s.cluster, volumeId, volumeId, {
        claim,
        accessMode: mode,
        block: true,
      });
      claims[volumeId] = name;
      await waitFor(() => fixture?.driver.kubernetes?.caches.volumes.get(volumeId), {
        what: `the PV of ${name} in the cache`,
      });
      return volumeId;
    };
    const publish = (volumeId: string, nodeId: string, multi = false) =>
      controller.ControllerPublishVolume({
        volumeId,
        nodeId,
        secrets,
        volumeContext: {},
        volumeCapability: {
          accessMode: { mode: multi ? 'MULTI_NODE_MULTI_WRITER' : 'SINGLE_NODE_WRITER' },
          block: {},
        },
      });

    // RWO attached on worker-a, refused on worker-b: AttachmentConflict.
    const rwo = await volume('rwo', 'ReadWriteOnce');
    await settled(() => publish(rwo, 'worker-a'));
    expect((await grpcError(publish(rwo, 'worker-b'))).code).toBe(status.FAILED_PRECONDITION);

    // RWX on two nodes and back to one: MigrationStarted and MigrationCompleted.
    const rwx = await volume('rwx', 'ReadWriteMany');
    await settled(() => publish(rwx, 'worker-a', true));
    await publish(rwx, 'worker-b', true);
    await controller.ControllerUnpublishVolume({ volumeId: rwx, nodeId: 'worker-a', secrets });

    // A stage that fails after connecting (a mount flag mount(8) refuses): MountFailure.
    const staging = `${fixture.config.kubeletDir}/plugins/kubernetes.io/csi/${DRIVER}/${rwo}/globalmount`;
    const stage = await grpcError(
      node.NodeStageVolume({
        volumeId: rwo,
        publishContext: (await settled(() => publish(rwo, 'worker-a'))).publishContext,
        stagingTargetPath: staging,
        secrets,
        volumeCapability: {
          accessMode: { mode: 'SINGLE_NODE_WRITER' },
          mount: { fsType: 'ext4', mountFlags: ['no-such-mount-option'] },
        },
        volumeContext: {},
      }),
    );
    expect(stage.details).not.toContain(SECRET);

    const wanted = ['AttachmentConflict', 'MigrationStarted', 'MigrationCompleted', 'MountFailure'];
    const events = await waitFor(
      async () => {
        const list = await k8s.admin.listNamespacedEvent({ namespace: 'vault' });
        const reasons = new Set(list.items.map((e) => e.reason));
        return wanted.every((r) => reasons.has(r)) ? list.items : undefined;
      },
      { timeoutMs: 20_000, what: `events ${wanted.join(', ')} on the PVCs` },
    );
    // The events are about the volumes (so the scan reads real messages, not empty ones).
    for (const event of events) {
      expect(Object.values(claims)).toContain(event.involvedObject.name);
      expect(event.message ?? '').not.toBe('');
    }

    const everything = JSON.stringify((await k8s.admin.listEventForAllNamespaces()).items);
    expect(everything).not.toContain(SECRET);
    expect(everything).not.toContain(TEST_PASSWORD);
    const log = fixture.log.text();
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(TEST_PASSWORD);
  }, 120_000);
});
