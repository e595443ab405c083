// block-devices.ts: device numbers and in-use facts read from sysfs, the kernel's own view. Mounts
// are compared by device number (mountinfo's major:minor), never by /dev path, which changes
// when NVMe controllers renumber (field-lessons #17).
import { readFile, readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';

export class BlockDevices {
  constructor(private readonly sysfs = '/sys') {}

  /** `major:minor` of a block device given by its /dev path; undefined when it does not exist. */
  async number(device: string): Promise<string | undefined> {
    try {
      return (
        await readFile(join(this.sysfs, 'class', 'block', basename(device), 'dev'), 'utf8')
      ).trim();
    } catch {
      return undefined;
    }
  }

  /** Devices stacked on this one (device-mapper, md): they hold it open. */
  async holders(device: string): Promise<string[]> {
    try {
      return await readdir(join(this.sysfs, 'class', 'block', basename(device), 'holders'));
    } catch {
      return [];
    }
  }
}
