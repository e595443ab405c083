// node-events.test.ts: the node plugin, running as an identity bound to exactly the node's
// ClusterRole, posts a failed stage as a MountFailure Warning on the PVC behind the PV's
// claimRef, readable from a real API server. The stage itself answers as it would without one.
import { execFileSync } from 'node:child_process';
import { mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import { MIKROTIK_NQN_PREFIX } from '../../src/domain/naming.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { grpcError } from '../helpers/csi-client.js';
import { driverFixture } from '../helpers/driver-fixture.js';
import { createClaim, createNamespace, createPersistentVolume } from '../helpers/k8s-objects.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const VOLUME = 'pvc-0a1b2c3d-0000-4000-8000-00000000e7e7';
const k8s = useClusterAs('node', 'rds-csi-node');

describe('node events on the PVC', () => {
  it('a stage refused (the device holds ext4, xfs was asked for) is a MountFailure Warning', async () => {
    await createNamespace(k8s.cluster, 'vms');
    const claim = await createClaim(k8s.cluster, 'vms', 'disk', { storage: '256Mi' });
    await createPersistentVolume(k8s.cluster, VOLUME, VOLUME, { claim, storage: '256Mi' });

    // The volume's file already holds ext4; the export table names it.
    const dir = tempDir('node-events-');
    mkdirSync(join(dir.path, 'fs'));
    const file = join(dir.path, 'fs', `${VOLUME}.img`);
    writeFileSync(file, '');
    truncateSync(file, 256 * 1024 * 1024);
    execFileSync('mkfs.ext4', ['-q', '-F', file]);
    const table = join(dir.path, 'exports.json');
    writeFileSync(
      table,
      JSON.stringify([{ nqn: `${MIKROTIK_NQN_PREFIX}${VOLUME}`, backingFile: file }]),
    );
    const fixture = await driverFixture(
      ['--mode', 'node', '--node-transport', 'loop', '--loop-export-table', table],
      {},
      {},
      k8s.kube,
    );
    try {
      const refused = await grpcError(
        fixture.clients.node.NodeStageVolume({
          volumeId: VOLUME,
          publishContext: {},
          stagingTargetPath: join(dir.path, 'staging'),
          volumeCapability: {
            accessMode: { mode: 'SINGLE_NODE_WRITER' },
            mount: { fsType: 'xfs', mountFlags: [] },
          },
          volumeContext: {},
        }),
      );
      expect(refused.code).toBe(status.FAILED_PRECONDITION);
      expect(refused.details).toMatch(/holds ext4, but xfs was asked for/);
      const events = await waitFor(
        async () => {
          const list = await k8s.admin.listNamespacedEvent({
            namespace: 'vms',
            fieldSelector: 'reason=MountFailure',
          });
          return list.items[0];
        },
        { what: 'the MountFailure event on the PVC' },
      );
      expect(events.type).toBe('Warning');
      expect(events.involvedObject).toMatchObject({
        kind: 'PersistentVolumeClaim',
        name: 'disk',
        namespace: 'vms',
        uid: claim.uid,
      });
      expect(events.message).toMatch(
        new RegExp(
          `^\\[${VOLUME}\\]: staging on node test-node at .*/staging failed at .*Z: volume ${VOLUME} holds ext4, but xfs was asked for; it was neither mounted nor formatted \\(the connection this attempt made was undone\\)$`,
        ),
      );
    } finally {
      await fixture.stop();
      dir.remove();
    }
  }, 60_000);
});
