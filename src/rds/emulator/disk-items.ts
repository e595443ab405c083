// disk-items.ts: how /disk entries print: property order, line groups, quoting, flags.
//
// Order and grouping reproduce the device capture in routeros-cli.md 4.1 (type..fs, model,
// size..raid-master, nvme-tcp..swap, file-path, file-size file-offset). Strings the device quotes
// (slot, model, NQN, allow-host-name) are quoted; paths and enums are not. There is no `status`,
// `source-volume` or `creation-time` field: the device has none (4.6 quirks 10 and 13).
import type { DetailLayout, PrintItem, Prop } from './print-format.js';
import type { DiskState } from './state-store.js';
import { groupDigits, humanSize } from './units.js';

/** [inferred] Legend and columns for /disk; the device's exact legend is not recorded (4.6 quirk 2). */
export const DISK_LAYOUT: DetailLayout = {
  legend: 'Flags: X - disabled, E - empty, B - block-device, M - mounted; F - file-based',
  indexWidth: 2,
  flagsWidth: 11,
};

export const POOL_ID = 1;

/** A string as the console prints it: in quotes, `"` and `\\` escaped, control bytes as `\\XX`. */
export function quoted(value: string): string {
  let out = '';
  for (const ch of value) {
    const code = ch.charCodeAt(0);
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code < 0x20 || code === 0x7f)
      out += `\\${code.toString(16).toUpperCase().padStart(2, '0')}`;
    else out += ch;
  }
  return `"${out}"`;
}

const yesNo = (value: boolean): string => (value ? 'yes' : 'no');

function prop(key: string, value: string, raw: string = value): Prop {
  return { key, value, raw };
}

function str(key: string, value: string): Prop {
  return prop(key, quoted(value), value);
}

function bool(key: string, value: boolean): Prop {
  return prop(key, yesNo(value));
}

export function diskItem(disk: DiskState): PrintItem {
  const exportProps = disk.nvmeTcpExport
    ? [
        bool('nvme-tcp-export', true),
        prop('nvme-tcp-server-port', String(disk.nvmeTcpServerPort)),
        str('nvme-tcp-server-nqn', disk.nvmeTcpServerNqn),
        str('nvme-tcp-server-allow-host-name', disk.nvmeTcpServerAllowHostName),
      ]
    : [bool('nvme-tcp-export', false)];
  return {
    id: disk.id,
    flags: '',
    comment: disk.comment,
    groups: [
      [
        prop('type', disk.type),
        str('slot', disk.slot),
        str('slot-default', ''),
        str('parent', ''),
        prop('fs', '-'),
      ],
      [str('model', disk.filePath)],
      [
        prop('size', groupDigits(disk.fileSize), String(disk.fileSize)),
        bool('mount-filesystem', disk.mountFilesystem),
        bool('mount-read-only', disk.mountReadOnly),
        bool('compress', disk.compress),
        prop('sector-size', '512'),
        prop('raid-master', 'none'),
      ],
      [
        ...exportProps,
        bool('iscsi-export', disk.iscsiExport),
        bool('nfs-sharing', disk.nfsSharing),
        bool('smb-sharing', disk.smbSharing),
        bool('media-sharing', disk.mediaSharing),
        prop('media-interface', 'none'),
        bool('swap', disk.swap),
      ],
      [prop('file-path', disk.filePath)],
      [
        prop('file-size', humanSize(disk.fileSize), String(disk.fileSize)),
        prop('file-offset', String(disk.fileOffset)),
      ],
    ],
  };
}

/** The storage pool: the Btrfs partition every file disk lives on (4.4, [inferred] layout). */
export function poolItem(pool: { sizeBytes: number; freeBytes: number }): PrintItem {
  const use =
    pool.sizeBytes === 0
      ? 0
      : Math.round(((pool.sizeBytes - pool.freeBytes) / pool.sizeBytes) * 100);
  return {
    id: POOL_ID,
    flags: 'BM',
    comment: '',
    groups: [
      [
        prop('type', 'partition'),
        str('slot', 'storage-pool'),
        str('slot-default', ''),
        str('parent', ''),
        prop('fs', 'btrfs'),
      ],
      [str('model', 'storage-pool')],
      [
        prop('size', groupDigits(pool.sizeBytes), String(pool.sizeBytes)),
        prop('free', groupDigits(pool.freeBytes), String(pool.freeBytes)),
        prop('use', `${use}%`),
        str('mount-point', 'storage-pool'),
        prop('file-system', 'btrfs'),
      ],
    ],
  };
}
