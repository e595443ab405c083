// fake-rds.ts: a small in-memory RdsBackend for tests that are not about the device (locks,
// shutdown). Controller behaviour against the device is tested over SSH with the emulator.
import { NotFoundError } from '../../src/errors.js';
import type { CreateDiskSpec, RdsBackend, RdsDisk, RdsFile, RdsPool } from '../../src/ports.js';

export class FakeRds implements RdsBackend {
  readonly disks = new Map<string, RdsDisk>();

  getDisk(slot: string): Promise<RdsDisk | undefined> {
    return Promise.resolve(this.disks.get(slot));
  }
  listDisks(prefix: string): Promise<RdsDisk[]> {
    return Promise.resolve([...this.disks.values()].filter((d) => d.slot.startsWith(prefix)));
  }
  createDisk(spec: CreateDiskSpec): Promise<RdsDisk> {
    const disk: RdsDisk = {
      slot: spec.slot,
      type: 'file',
      filePath: spec.filePath,
      sizeBytes: spec.sizeBytes ?? this.disks.get(spec.copyFromSlot ?? '')?.sizeBytes ?? 0,
      nvmeExport: spec.nvmeExport,
      comment: spec.comment,
    };
    this.disks.set(spec.slot, disk);
    return Promise.resolve(disk);
  }
  resizeDisk(slot: string, sizeBytes: number): Promise<RdsDisk> {
    const disk = this.disks.get(slot);
    if (disk === undefined) return Promise.reject(new NotFoundError(slot));
    const grown = { ...disk, sizeBytes };
    this.disks.set(slot, grown);
    return Promise.resolve(grown);
  }
  removeDisk(slot: string): Promise<void> {
    this.disks.delete(slot);
    return Promise.resolve();
  }
  listFiles(): Promise<RdsFile[]> {
    return Promise.resolve([]);
  }
  getPool(mountPoint: string): Promise<RdsPool> {
    return Promise.resolve({ mountPoint, totalBytes: 100 * 1024 ** 3, freeBytes: 50 * 1024 ** 3 });
  }
}
