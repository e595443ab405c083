// block-devices.ts: device numbers and in-use facts read from sysfs, the kernel's own view. Mounts
// are compared by device number (mountinfo's major:minor), never by /dev path, which changes
// when NVMe controllers renumber (field-lessons #17).
import { lstat, readFile, readdir, readlink } from 'node:fs/promises';
import { basename, join } from 'node:path';

import { FailedPreconditionError } from '../errors.js';

export class BlockDevices {
  constructor(
    private readonly sysfs = '/sys',
    private readonly proc = '/proc',
  ) {}

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

  /** `major:minor` of a device the volume is using; FailedPreconditionError when it is gone. */
  async requireNumber(device: string): Promise<string> {
    const number = await this.number(device);
    if (number === undefined) {
      throw new FailedPreconditionError(
        `${device} vanished from sysfs while in use (its connection dropped or was renumbered); retry once the volume is connected again`,
      );
    }
    return number;
  }

  /** Devices stacked on this one (device-mapper, md): they hold it open. */
  holders(device: string): Promise<string[]> {
    return listDir(join(this.sysfs, 'class', 'block', basename(device), 'holders'));
  }

  /**
   * Processes holding the device open, as `pid (command)`, other than `exceptPid` (the driver
   * itself: field-lessons #6, the in-use check that saw the plugin and blocked every teardown).
   */
  async openers(device: string, exceptPid = process.pid): Promise<string[]> {
    const out: string[] = [];
    for (const pid of (await listDir(this.proc)).filter((p) => /^\d+$/.test(p))) {
      if (Number(pid) === exceptPid) continue;
      for (const fd of await listDir(join(this.proc, pid, 'fd'))) {
        const target = await readlink(join(this.proc, pid, 'fd', fd)).catch(() => '');
        if (target !== device) continue;
        const command = await readFile(join(this.proc, pid, 'comm'), 'utf8').catch(() => '?');
        out.push(`${pid} (${command.trim()})`);
        break;
      }
    }
    return out;
  }

  /** Loop devices whose backing file is this device (kubelet holds block volumes open so). */
  async loopsBackedBy(device: string): Promise<string[]> {
    return [...(await loopBackings(this.sysfs))].filter(([, f]) => f === device).map(([d]) => d);
  }

  /**
   * Block device nodes under `root` by device number (`major:minor`): the nodes NodePublish made
   * for raw block volumes (kubelet's volumeDevices/publish/<pv>/<pod>). Symlinks are not followed;
   * the walk stops at `maxDepth` levels and `maxEntries` entries (then says so).
   */
  async nodesUnder(
    root: string,
    { maxDepth = 6, maxEntries = 50_000 } = {},
  ): Promise<{ nodes: Map<string, string[]>; complete: boolean }> {
    const nodes = new Map<string, string[]>();
    let seen = 0;
    let complete = true;
    const walk = async (dir: string, depth: number): Promise<void> => {
      for (const name of await listDir(dir)) {
        if (++seen > maxEntries) {
          complete = false;
          return;
        }
        const path = join(dir, name);
        const info = await lstat(path).catch(() => undefined);
        if (info === undefined) continue;
        if (info.isBlockDevice()) {
          const number = deviceNumberOf(info.rdev);
          nodes.set(number, [...(nodes.get(number) ?? []), path]);
        } else if (info.isDirectory()) {
          if (depth < maxDepth) await walk(path, depth + 1);
          else complete = false;
        }
      }
    };
    await walk(root, 1);
    return { nodes, complete };
  }
}

/** `major:minor` from a stat rdev (Linux encoding). */
export function deviceNumberOf(rdev: number): string {
  const high = Math.floor(rdev / 2 ** 32);
  const low = rdev >>> 0;
  const major = ((low >>> 8) & 0xfff) | ((high & 0xfffff000) >>> 0);
  const minor = (low & 0xff) | ((low >>> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/** The entries of a directory; none when it cannot be read (absent in sysfs means "not there"). */
export async function listDir(directory: string): Promise<string[]> {
  try {
    return await readdir(directory);
  } catch {
    return [];
  }
}

/** `/dev/loopN` -> its backing file, for every attached loop device (sysfs, read now). */
export async function loopBackings(sysfs = '/sys'): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const name of (await listDir(join(sysfs, 'block'))).filter((n) => /^loop\d+$/.test(n))) {
    const backing = await readFile(join(sysfs, 'block', name, 'loop', 'backing_file'), 'utf8')
      .then((text) => text.trim().replace(/ \(deleted\)$/, ''))
      .catch(() => undefined); // not attached
    if (backing !== undefined) out.set(`/dev/${name}`, backing);
  }
  return out;
}
