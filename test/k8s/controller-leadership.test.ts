// controller-leadership.test.ts: two whole controller replicas with leader election on a real
// etcd + kube-apiserver: only the leader changes volumes, and the follower takes over.
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { useClusterAs } from '../helpers/cluster-as.js';
import { createRequest } from '../helpers/controller-requests.js';
import { grpcError } from '../helpers/csi-client.js';
import { driverFixture } from '../helpers/driver-fixture.js';
import { waitFor } from '../helpers/wait-for.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');

describe('the controller with leader election', () => {
  it('only the leader changes volumes; a follower answers UNAVAILABLE naming the leader', async () => {
    const argv = [
      '--mode',
      'controller',
      '--leader-election-namespace',
      'kube-system',
      '--leader-election-lease-duration',
      '3s',
    ];
    const first = await driverFixture([...argv, '--node-id', 'controller-a'], {}, {}, k8s.kube);
    await waitFor(() => first.driver.kubernetes?.leadership.isLeader(), {
      timeoutMs: 5_000,
      what: 'a leader',
    });
    const second = await driverFixture([...argv, '--node-id', 'controller-b'], {}, {}, k8s.kube);
    try {
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(second.driver.kubernetes?.leadership.isLeader()).toBe(false);
      const created = await first.clients.controller.CreateVolume(createRequest('led'));
      expect(created.volume?.volumeId).toMatch(/^pvc-/);
      const refused = await grpcError(second.clients.controller.CreateVolume(createRequest('led')));
      expect(refused.code).toBe(status.UNAVAILABLE);
      expect(refused.details).toMatch(
        /^CreateVolume: this controller replica is not the leader \(controller-a_[0-9a-f]{8} is\); retry/,
      );
      expect(second.rds.emulator.state().disks).toEqual([]);
      // Reads are served by every replica.
      await second.clients.controller.ListVolumes({});
      expect(await first.driver.metrics.registry.getSingleMetricAsString('rds_csi_leader')).toMatch(
        /rds_csi_leader 1/,
      );
      expect(
        await second.driver.metrics.registry.getSingleMetricAsString('rds_csi_leader'),
      ).toMatch(/rds_csi_leader 0/);
      // The leader stops (and releases): the follower takes over and now serves mutations.
      await first.stop();
      await waitFor(() => second.driver.kubernetes?.leadership.isLeader(), {
        timeoutMs: 5_000,
        what: 'failover',
      });
      await second.clients.controller.CreateVolume(createRequest('after-failover'));
    } finally {
      await second.stop();
    }
  }, 30_000);
});
