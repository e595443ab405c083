// The Controller service against the emulator over real SSH (issue 5): what the device holds after
// each call, in the Go rds-csi driver's naming, and the answers csi-sanity does not check.
import { closeSync, openSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { volumeIdForName } from '../../src/domain/naming.js';
import { grpcError } from '../helpers/csi-client.js';
import {
  BLOCK_RWX,
  GIB,
  MIB,
  MOUNT_RWO,
  createRequest,
  emulatorFiles,
  executed,
  expectDeviceMatchesDriver,
} from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';

let fixture: DriverFixture;
beforeAll(async () => {
  fixture = await driverFixture();
});
afterAll(async () => {
  await fixture.stop();
});
beforeEach(async () => {
  // Each test starts from an empty device; the connection stays (one handshake for the file).
  for (const disk of fixture.rds.emulator.state().disks) {
    await fixture.rds.ssh.exec(`/disk remove [find slot="${disk.slot}"]`);
  }
  for (const file of emulatorFiles(fixture.rds)) {
    await fixture.rds.ssh.exec(`/file remove [find name="${file.slice(1)}"]`);
  }
  fixture.rds.emulator.commands.clear();
});

const PVC = 'pvc-3f0e7c1a-52b4-4d7e-9a61-0c2b8d4e6f10';

describe('CreateVolume', () => {
  it('names like the Go driver: slot = volume ID, <volumePath>/<id>.img, mikrotik NQN, exported', async () => {
    const created = await fixture.clients.controller.CreateVolume(
      createRequest(PVC, 10 * GIB, {
        parameters: {
          'csi.storage.k8s.io/pvc/name': 'data-vm-0',
          'csi.storage.k8s.io/pvc/namespace': 'vms',
          nvmePort: '4421',
        },
      }),
    );
    expect(created.volume).toMatchObject({
      volumeId: PVC,
      capacityBytes: String(10 * GIB),
      volumeContext: {
        nqn: `nqn.2000-02.com.mikrotik:${PVC}`,
        nvmeAddress: '127.0.0.1',
        nvmePort: '4421',
        volumePath: '/storage-pool/metal-csi',
        'csi.storage.k8s.io/pvc/name': 'data-vm-0',
        'csi.storage.k8s.io/pvc/namespace': 'vms',
      },
    });
    const [disk] = fixture.rds.emulator.state().disks;
    expect(disk).toMatchObject({
      slot: PVC,
      filePath: `/storage-pool/metal-csi/${PVC}.img`,
      fileSize: 10 * GIB,
      nvmeTcpExport: true,
      nvmeTcpServerPort: 4421,
      nvmeTcpServerNqn: `nqn.2000-02.com.mikrotik:${PVC}`,
    });
    expect(disk?.comment).toMatch(/^rds-csi=1;kind=volume;t=\d+$/);
  });

  it('maps any other name to the same valid slot every time', async () => {
    const name = `sanity-${'x'.repeat(121)}`;
    const first = await fixture.clients.controller.CreateVolume(createRequest(name));
    const again = await fixture.clients.controller.CreateVolume(createRequest(name));
    expect(first.volume?.volumeId).toBe(volumeIdForName(name));
    expect(first.volume?.volumeId).toMatch(/^pvc-[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-/);
    expect(again.volume).toEqual(first.volume);
    expect(executed(fixture.rds, '/disk add')).toBe(1);
  });

  it('rounds up to whole MiB, never down, and honours limit_bytes', async () => {
    const odd = await fixture.clients.controller.CreateVolume(createRequest('odd', GIB + 1));
    expect(odd.volume?.capacityBytes).toBe(String(GIB + MIB));
    expect(fixture.rds.emulator.state().disks[0]?.fileSize).toBe(GIB + MIB);
    const tooTight = await grpcError(
      fixture.clients.controller.CreateVolume(
        createRequest('tight', GIB + 1, {
          capacityRange: { requiredBytes: String(GIB + 1), limitBytes: String(GIB + 2) },
        }),
      ),
    );
    expect(tooTight.code).toBe(status.OUT_OF_RANGE);
    expect(tooTight.details).toMatch(/no size in whole MiB fits/);
  });

  it('same name and size: the same volume; another size: ALREADY_EXISTS, device untouched', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC, 2 * GIB));
    const different = await grpcError(
      fixture.clients.controller.CreateVolume(createRequest(PVC, 4 * GIB)),
    );
    expect(different.code).toBe(status.ALREADY_EXISTS);
    expect(different.details).toMatch(/size is 2147483648 bytes, outside \[4294967296/);
    expect(fixture.rds.emulator.state().disks.map((d) => d.fileSize)).toEqual([2 * GIB]);
  });

  it('refuses bad parameters before sending any command to the RDS', async () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ volumePath: '/storage-pool/x; /system reset' }, /volumePath/],
      [{ volumePath: 'relative' }, /volumePath/],
      [{ nvmePort: '70000' }, /nvmePort/],
      [{ fsType: 'ntfs' }, /fsType/],
      [{ unknownKey: 'x' }, /unknownKey/],
    ];
    for (const [parameters, message] of cases) {
      const error = await grpcError(
        fixture.clients.controller.CreateVolume(createRequest('bad', GIB, { parameters })),
      );
      expect(error.code, JSON.stringify(parameters)).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toMatch(message);
    }
    expect(fixture.rds.emulator.commands.list()).toEqual([]);
  });

  it('clones a volume with copy-from: the clone holds the source bytes', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC, GIB));
    const source = join(
      fixture.rds.emulator.dataDir,
      'fs',
      'storage-pool',
      'metal-csi',
      `${PVC}.img`,
    );
    const fd = Buffer.from('hello from the source volume');
    writeFileSync(source, fd, { flag: 'r+' });
    const clone = await fixture.clients.controller.CreateVolume(
      createRequest('clone-of-pvc', 2 * GIB, {
        volumeContentSource: { volume: { volumeId: PVC } },
      }),
    );
    expect(clone.volume?.contentSource?.volume?.volumeId).toBe(PVC);
    expect(clone.volume?.capacityBytes).toBe(String(2 * GIB));
    const cloneId = clone.volume?.volumeId ?? '';
    const clonePath = join(
      fixture.rds.emulator.dataDir,
      'fs',
      'storage-pool',
      'metal-csi',
      `${cloneId}.img`,
    );
    const head = Buffer.alloc(fd.length);
    const handle = openSync(clonePath, 'r');
    readSync(handle, head, 0, head.length, 0);
    closeSync(handle);
    expect(head.toString()).toBe('hello from the source volume');
    expect(statSync(clonePath).size).toBe(2 * GIB);
    const disk = fixture.rds.emulator.state().disks.find((d) => d.slot === cloneId);
    expect(disk?.comment).toMatch(new RegExp(`;src=${PVC}$`));
    const missing = await grpcError(
      fixture.clients.controller.CreateVolume(
        createRequest('clone-of-nothing', GIB, {
          volumeContentSource: { volume: { volumeId: 'pvc-00000000-0000-0000-0000-000000000000' } },
        }),
      ),
    );
    expect(missing.code).toBe(status.NOT_FOUND);
  });
});

describe('snapshots', () => {
  it('cuts with copy-from, stores lineage in the disk comment, restores, lists and pages', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC, GIB));
    const other = await fixture.clients.controller.CreateVolume(createRequest('other', GIB));
    const snaps: string[] = [];
    for (const name of ['s1', 's2', 's3']) {
      const { snapshot } = await fixture.clients.controller.CreateSnapshot({
        name,
        sourceVolumeId: PVC,
        parameters: {},
      });
      expect(snapshot).toMatchObject({
        sourceVolumeId: PVC,
        readyToUse: true,
        sizeBytes: String(GIB),
      });
      snaps.push(snapshot?.snapshotId ?? '');
    }
    await fixture.clients.controller.CreateSnapshot({
      name: 'of-other',
      sourceVolumeId: other.volume?.volumeId ?? '',
      parameters: {},
    });
    const disk = fixture.rds.emulator.state().disks.find((d) => d.slot === snaps[0]);
    expect(disk?.comment).toMatch(new RegExp(`^rds-csi=1;kind=snapshot;t=\\d+;src=${PVC}$`));

    const page1 = await fixture.clients.controller.ListSnapshots({
      sourceVolumeId: PVC,
      maxEntries: 2,
    });
    expect(page1.entries).toHaveLength(2);
    expect(page1.nextToken).not.toBe('');
    const page2 = await fixture.clients.controller.ListSnapshots({
      sourceVolumeId: PVC,
      maxEntries: 2,
      startingToken: page1.nextToken,
    });
    expect(page2.nextToken).toBe('');
    expect([...page1.entries, ...page2.entries].map((e) => e.snapshot?.snapshotId).sort()).toEqual(
      [...snaps].sort(),
    );
    const bad = await grpcError(
      fixture.clients.controller.ListSnapshots({ maxEntries: 2, startingToken: 'not-a-token' }),
    );
    expect(bad.code).toBe(status.ABORTED);

    const restored = await fixture.clients.controller.CreateVolume(
      createRequest('restored', GIB, {
        volumeContentSource: { snapshot: { snapshotId: snaps[0] ?? '' } },
      }),
    );
    expect(restored.volume?.contentSource?.snapshot?.snapshotId).toBe(snaps[0]);
    await expectDeviceMatchesDriver(fixture.clients, fixture.rds);

    for (const id of snaps) await fixture.clients.controller.DeleteSnapshot({ snapshotId: id });
    await fixture.clients.controller.DeleteSnapshot({ snapshotId: snaps[0] ?? '' }); // idempotent
    const { snapshots } = await expectDeviceMatchesDriver(fixture.clients, fixture.rds);
    expect(snapshots).toHaveLength(1);
  });
});

describe('listing, capacity, conditions, validation, expansion, deletion', () => {
  it("ListVolumes pages through this driver's volumes only", async () => {
    const ids = [];
    for (const name of ['a', 'b', 'c']) {
      ids.push(
        (await fixture.clients.controller.CreateVolume(createRequest(name))).volume?.volumeId,
      );
    }
    await fixture.rds.ssh.exec(
      '/disk add type=file file-path="/storage-pool/manual/boot.img" file-size=1M slot="boot-disk"',
    );
    const page1 = await fixture.clients.controller.ListVolumes({ maxEntries: 2 });
    const page2 = await fixture.clients.controller.ListVolumes({
      maxEntries: 2,
      startingToken: page1.nextToken,
    });
    const listed = [...page1.entries, ...page2.entries].map((e) => e.volume?.volumeId);
    expect(listed.sort()).toEqual([...ids].sort());
    expect(page2.nextToken).toBe('');
    expect(
      (await grpcError(fixture.clients.controller.ListVolumes({ startingToken: 'zzz' }))).code,
    ).toBe(status.ABORTED);
  });

  it('GetCapacity reports the free bytes of the pool holding volumePath', async () => {
    const before = Number((await fixture.clients.controller.GetCapacity({})).availableCapacity);
    expect(before).toBe(fixture.rds.emulator.freeBytes());
    await fixture.clients.controller.CreateVolume(createRequest('cap', 3 * GIB));
    const after = Number(
      (await fixture.clients.controller.GetCapacity({ parameters: {} })).availableCapacity,
    );
    expect(before - after).toBe(3 * GIB);
    const noPool = await grpcError(
      fixture.clients.controller.GetCapacity({ parameters: { volumePath: '/no-such-pool/x' } }),
    );
    expect(noPool.code).toBe(status.NOT_FOUND);
  });

  it('topology: every volume carries the segment; a requisite list without it is RESOURCE_EXHAUSTED, nothing sent', async () => {
    const segment = { segments: { 'rds.csi.srvlab.io/rds': 'default' } };
    const other = { segments: { 'rds.csi.srvlab.io/rds': 'rack-2' } };
    // What external-provisioner sends for a WaitForFirstConsumer claim: the selected node's segment.
    const created = await fixture.clients.controller.CreateVolume(
      createRequest(PVC, GIB, {
        accessibilityRequirements: { requisite: [other, segment], preferred: [segment] },
      }),
    );
    expect(created.volume?.accessibleTopology).toEqual([segment]);
    expect(
      (await fixture.clients.controller.ListVolumes({})).entries.map(
        (e) => e.volume?.accessibleTopology,
      ),
    ).toEqual([[segment]]);
    expect(
      (await fixture.clients.controller.ControllerGetVolume({ volumeId: PVC })).volume
        ?.accessibleTopology,
    ).toEqual([segment]);
    fixture.rds.emulator.commands.clear();
    const elsewhere = await grpcError(
      fixture.clients.controller.CreateVolume(
        createRequest('pvc-elsewhere', GIB, {
          accessibilityRequirements: {
            requisite: [other, { segments: { 'topology.kubernetes.io/zone': 'z1' } }],
            preferred: [],
          },
        }),
      ),
    );
    expect(elsewhere.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(elsewhere.details).toContain('rds.csi.srvlab.io/rds=default');
    expect(elsewhere.details).toContain('"rack-2"');
    expect(fixture.rds.emulator.commands.list()).toEqual([]);
    // GetCapacity answers for our segment (or none); another segment has no capacity here.
    const free = String(fixture.rds.emulator.freeBytes());
    const capacityOf = async (accessibleTopology: typeof segment | undefined) =>
      (
        await fixture.clients.controller.GetCapacity(
          accessibleTopology === undefined ? {} : { accessibleTopology },
        )
      ).availableCapacity;
    expect(await capacityOf(segment)).toBe(free);
    expect(await capacityOf(undefined)).toBe(free);
    expect(await capacityOf(other)).toBe('0');
  });

  it('ControllerGetVolume reports an abnormal condition when the disk is not exported', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC));
    const healthy = await fixture.clients.controller.ControllerGetVolume({ volumeId: PVC });
    expect(healthy.status?.volumeCondition).toEqual({
      abnormal: false,
      message: 'disk present and exported over NVMe/TCP',
    });
    await fixture.rds.ssh.exec(`/disk set [find slot="${PVC}"] nvme-tcp-export=no`);
    const broken = await fixture.clients.controller.ControllerGetVolume({ volumeId: PVC });
    expect(broken.status?.volumeCondition?.abnormal).toBe(true);
    expect(
      (
        await grpcError(
          fixture.clients.controller.ControllerGetVolume({
            volumeId: 'pvc-00000000-0000-0000-0000-000000000000',
          }),
        )
      ).code,
    ).toBe(status.NOT_FOUND);
  });

  it('ValidateVolumeCapabilities: multi-node writers only for block', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC));
    const block = await fixture.clients.controller.ValidateVolumeCapabilities({
      volumeId: PVC,
      volumeCapabilities: [BLOCK_RWX],
    });
    expect(block.confirmed?.volumeCapabilities).toHaveLength(1);
    const mountRwx = await fixture.clients.controller.ValidateVolumeCapabilities({
      volumeId: PVC,
      volumeCapabilities: [{ ...MOUNT_RWO, accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' } }],
    });
    expect(mountRwx.confirmed).toBeNull();
    expect(mountRwx.message).toMatch(/block/);
  });

  it('expands to the exact size, read back; node expansion only for filesystems', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC, GIB));
    const grown = await fixture.clients.controller.ControllerExpandVolume({
      volumeId: PVC,
      capacityRange: { requiredBytes: String(3 * GIB), limitBytes: '0' },
      volumeCapability: MOUNT_RWO,
    });
    expect(grown).toEqual({ capacityBytes: String(3 * GIB), nodeExpansionRequired: true });
    expect(fixture.rds.emulator.state().disks[0]?.fileSize).toBe(3 * GIB);
    const block = await fixture.clients.controller.ControllerExpandVolume({
      volumeId: PVC,
      capacityRange: { requiredBytes: String(4 * GIB), limitBytes: '0' },
      volumeCapability: BLOCK_RWX,
    });
    expect(block.nodeExpansionRequired).toBe(false);
    // Shrinking is not expansion: the disk keeps its size and says so.
    const same = await fixture.clients.controller.ControllerExpandVolume({
      volumeId: PVC,
      capacityRange: { requiredBytes: String(GIB), limitBytes: '0' },
    });
    expect(same.capacityBytes).toBe(String(4 * GIB));
  });

  it('DeleteVolume removes disk and file, and is idempotent for unknown IDs', async () => {
    await fixture.clients.controller.CreateVolume(createRequest(PVC));
    await fixture.clients.controller.DeleteVolume({ volumeId: PVC });
    await fixture.clients.controller.DeleteVolume({ volumeId: PVC });
    await fixture.clients.controller.DeleteVolume({ volumeId: 'not-ours-at-all' });
    expect(fixture.rds.emulator.state().disks).toEqual([]);
    expect(emulatorFiles(fixture.rds)).toEqual([]);
  });

  it('runs every call of this file over one SSH connection and reports it as a gauge', async () => {
    expect(fixture.driver.rdsStats()?.handshakes).toBe(1);
    const text = await fixture.driver.metrics.registry.metrics();
    expect(text).toMatch(/^rds_csi_rds_connected 1$/m);
    expect(text).toMatch(/^rds_csi_rds_ssh_handshakes_total 1$/m);
    expect(text).toMatch(/^rds_csi_rds_commands_total\{command="\/disk add",result="ok"\} \d+$/m);
  });
});
