// volume-stats.ts: NodeGetVolumeStats: usage from statfs (or the device size for a raw block
// volume) and the volume's condition, judged against the kernel's view now: not connected, nothing
// mounted, a stale mount or a device node of another device is abnormal.
import { stat, statfs } from 'node:fs/promises';

import { NotFoundError, describeError } from '../errors.js';
import type { CallOptions, MountTable, VolumeStats } from '../ports.js';
import { deviceNumberOf, type BlockDevices } from './block-devices.js';
import type { HostFilesystems } from './filesystem.js';
import type { NvmeTransport } from './transport.js';

export interface VolumeStatsDeps {
  readonly transport: NvmeTransport;
  readonly devices: BlockDevices;
  readonly filesystems: HostFilesystems;
  readonly mounts: MountTable;
}

/** Usage and condition of the volume at `path` (a mount or a device node), read now. */
export async function readVolumeStats(
  deps: VolumeStatsDeps,
  volumeId: string,
  nqn: string,
  path: string,
  call: CallOptions = {},
): Promise<VolumeStats> {
  const info = await stat(path).catch((error: unknown) => {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new NotFoundError(`volume path ${path} does not exist`);
    return undefined; // unreadable: reported as the condition below
  });
  const device = await deps.transport.devicePath(nqn);
  const number = device === undefined ? undefined : await deps.devices.requireNumber(device);
  if (info?.isBlockDevice() === true) {
    const total = device === undefined ? 0 : await deps.filesystems.sizeBytes(device, call);
    const abnormal =
      device === undefined
        ? `volume ${volumeId} is not connected on this node`
        : deviceNumberOf(info.rdev) !== number
          ? `the device node ${path} points at ${deviceNumberOf(info.rdev)}, not the volume's ${number ?? '?'}`
          : undefined;
    return { block: true, bytes: { total }, abnormal };
  }
  const mounted = (await deps.mounts.mountsAt(path, call)).at(-1);
  let abnormal: string | undefined;
  if (mounted === undefined) abnormal = `nothing is mounted at ${path}`;
  else if (device === undefined)
    abnormal = `volume ${volumeId} is not connected on this node; ${path} is a stale mount`;
  else if (mounted.device !== number)
    abnormal = `stale mount: ${path} shows device ${mounted.device}, the volume is now ${number ?? '?'}`;
  try {
    const fs = await statfs(path);
    return {
      block: false,
      bytes: {
        total: fs.blocks * fs.bsize,
        available: fs.bavail * fs.bsize,
        used: (fs.blocks - fs.bfree) * fs.bsize,
      },
      inodes: { total: fs.files, available: fs.ffree, used: fs.files - fs.ffree },
      abnormal,
    };
  } catch (error) {
    return {
      block: false,
      bytes: { total: 0 },
      abnormal: abnormal ?? `cannot read the filesystem at ${path}: ${describeError(error)}`,
    };
  }
}
