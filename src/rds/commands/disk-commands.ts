// disk-commands.ts: the RouterOS commands the driver sends (routeros-cli.md section 3), built as
// values from branded inputs. renderCommand() turns them into text.
import type { Arg, Quotable, RouterOsCommand } from './render.js';
import { basenamePattern, prefixPattern } from './render.js';
import type {
  ByteCount,
  CommentText,
  DiskFilePath,
  FileName,
  MountPoint,
  Nqn,
  SlotName,
  TcpPort,
} from './values.js';

export interface NvmeExport {
  readonly port: TcpPort;
  readonly nqn: Nqn;
}

const bySlot = (slot: SlotName) => [{ key: 'slot', op: '=', value: slot }] as const;

export function getDisk(slot: SlotName): RouterOsCommand {
  return { menu: 'disk', verb: 'print', detail: true, where: bySlot(slot) };
}

/** Disks whose slot starts with `prefix` (`pvc-`, `snap-`). */
export function listDisks(prefix: SlotName): RouterOsCommand {
  return {
    menu: 'disk',
    verb: 'print',
    detail: true,
    where: [{ key: 'slot', op: '~', value: prefixPattern(prefix) }],
  };
}

/** Every disk, whatever its slot (the orphan audit checks file references against all). */
export function listAllDisks(): RouterOsCommand {
  return { menu: 'disk', verb: 'print', detail: true };
}

export function getPool(mount: MountPoint): RouterOsCommand {
  return {
    menu: 'disk',
    verb: 'print',
    detail: true,
    where: [{ key: 'mount-point', op: '=', value: mount }],
  };
}

export interface AddDisk {
  readonly slot: SlotName;
  readonly filePath: DiskFilePath;
  /** Omitted for a snapshot, which takes its source's size. */
  readonly size?: ByteCount;
  readonly copyFrom?: SlotName;
  readonly export?: NvmeExport;
  readonly comment: CommentText;
}

export function addDisk(spec: AddDisk): RouterOsCommand {
  const args: Arg[] = [['type', { kind: 'type', value: 'file' }]];
  if (spec.copyFrom !== undefined)
    args.push(['copy-from', { kind: 'find', filter: bySlot(spec.copyFrom) }]);
  args.push(['file-path', { kind: 'quoted', value: spec.filePath }]);
  if (spec.size !== undefined) args.push(['file-size', { kind: 'size', value: spec.size }]);
  args.push(['slot', { kind: 'quoted', value: spec.slot }]);
  if (spec.export !== undefined) {
    args.push(
      ['nvme-tcp-export', { kind: 'flag', value: true }],
      ['nvme-tcp-server-port', { kind: 'port', value: spec.export.port }],
      ['nvme-tcp-server-nqn', { kind: 'quoted', value: spec.export.nqn }],
    );
  }
  args.push(['comment', { kind: 'quoted', value: spec.comment }]);
  return { menu: 'disk', verb: 'add', args };
}

export function resizeDisk(slot: SlotName, size: ByteCount): RouterOsCommand {
  return {
    menu: 'disk',
    verb: 'set',
    target: bySlot(slot),
    args: [['file-size', { kind: 'size', value: size }]],
  };
}

export function removeDisk(slot: SlotName): RouterOsCommand {
  return { menu: 'disk', verb: 'remove', target: bySlot(slot) };
}

/** Files under a directory (names without the leading slash). */
export function listFiles(directory: FileName): RouterOsCommand {
  return {
    menu: 'file',
    verb: 'print',
    detail: true,
    where: [{ key: 'name', op: '~', value: prefixPattern(directory) }],
  };
}

/** Files called exactly `basename` in any directory (a disk's `<slot>.img`). */
export function findFilesNamed(basename: FileName): RouterOsCommand {
  return {
    menu: 'file',
    verb: 'print',
    detail: true,
    where: [{ key: 'name', op: '~', value: basenamePattern(basename) }],
  };
}

/** The file with exactly this name (no leading slash), if any. */
export function getFile(name: FileName): RouterOsCommand {
  return {
    menu: 'file',
    verb: 'print',
    detail: true,
    where: [{ key: 'name', op: '=', value: name }],
  };
}

export function removeFile(name: FileName): RouterOsCommand {
  return { menu: 'file', verb: 'remove', target: [{ key: 'name', op: '=', value: name }] };
}

export function monitorTraffic(slot: Quotable): RouterOsCommand {
  return { menu: 'disk', verb: 'monitor-traffic', item: slot, once: true };
}
