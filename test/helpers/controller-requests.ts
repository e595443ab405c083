// controller-requests.ts: CSI Controller requests as the external-provisioner sends them, and a
// check that the emulator's disks and files are exactly what the driver reports (no leak, no
// duplicate), for the controller and fault tests.
import { expect } from 'vitest';

import type { CreateVolumeRequest } from '../../src/csi/generated/csi/v1/CreateVolumeRequest.js';
import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import type { CsiClients } from './csi-client.js';
import { emulatorFiles, type EmulatorFixture } from './emulator-fixture.js';

export { emulatorFiles };

export const GIB = 1024 ** 3;
export const MIB = 1024 ** 2;

export const MOUNT_RWO: VolumeCapability = {
  accessMode: { mode: 'SINGLE_NODE_WRITER' },
  mount: { fsType: 'ext4', mountFlags: [] },
};
export const BLOCK_RWX: VolumeCapability = {
  accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' },
  block: {},
};

export function createRequest(
  name: string,
  bytes: number = GIB,
  extra: Partial<CreateVolumeRequest> = {},
): CreateVolumeRequest {
  return {
    name,
    capacityRange: { requiredBytes: String(bytes), limitBytes: '0' },
    volumeCapabilities: [MOUNT_RWO],
    parameters: {},
    ...extra,
  };
}

/**
 * The driver's view (ListVolumes + ListSnapshots) equals the emulator's disks, and the emulator's
 * files are exactly those disks' files. Returns the volume and snapshot IDs.
 */
export async function expectDeviceMatchesDriver(
  clients: CsiClients,
  rds: EmulatorFixture,
): Promise<{ volumes: string[]; snapshots: string[] }> {
  const listed = await clients.controller.ListVolumes({ maxEntries: 0, startingToken: '' });
  const volumes = listed.entries.map((e) => e.volume?.volumeId ?? '').sort();
  const snaps = await clients.controller.ListSnapshots({ maxEntries: 0, startingToken: '' });
  const snapshots = snaps.entries.map((e) => e.snapshot?.snapshotId ?? '').sort();
  const disks = rds.emulator.state().disks;
  expect(disks.map((d) => d.slot).sort(), 'RDS disks vs the driver').toEqual(
    [...volumes, ...snapshots].sort(),
  );
  expect(emulatorFiles(rds), 'RDS files vs the disks').toEqual(disks.map((d) => d.filePath).sort());
  return { volumes, snapshots };
}

/** How many times the emulator executed a command line starting with `prefix`. */
export function executed(rds: EmulatorFixture, prefix: string): number {
  return rds.emulator.commands
    .list()
    .filter((c) => c.line.startsWith(prefix) && c.doneAt !== undefined).length;
}
