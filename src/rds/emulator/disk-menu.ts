// disk-menu.ts: /disk add, set, remove, print and monitor-traffic over real sparse files.
import { constants } from 'node:fs';
import { mkdir, open, rm, stat, truncate } from 'node:fs/promises';
import { dirname } from 'node:path';

import { DeviceFailure, FAILURES, invalidValue } from './device-errors.js';
import { DISK_LAYOUT, POOL_ID, diskItem, poolItem } from './disk-items.js';
import type { ExecContext } from './exec-context.js';
import { resolveItems } from './item-query.js';
import { CliError, type ParsedCommand, type Value } from './parser.js';
import type { PrintItem } from './print-format.js';
import { runPrint } from './print-command.js';
import type { DiskState } from './state-store.js';
import { renderMonitor } from './traffic.js';
import { parseSizeArgument } from './units.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DEVICE_PATH = /^\/[A-Za-z0-9._\-/]+$/;
const NQN = /^nqn\.[0-9]{4}-[0-9]{2}\.[A-Za-z0-9.-]+:[A-Za-z0-9._:-]+$/;

export function diskItems(ctx: ExecContext): PrintItem[] {
  return [
    poolItem({ sizeBytes: ctx.store.state.poolSizeBytes, freeBytes: ctx.freeBytes() }),
    ...ctx.store.state.disks.map((d) => diskItem(d)),
  ];
}

function text(command: ParsedCommand, key: string): string | undefined {
  const value = command.args.get(key);
  if (value === undefined) return undefined;
  if (value.kind !== 'text') throw new CliError(invalidValue(key), value.column);
  return value.text;
}

function yesNo(command: ParsedCommand, key: string): boolean | undefined {
  const value = text(command, key);
  if (value === undefined) return undefined;
  if (value === 'yes') return true;
  if (value === 'no') return false;
  throw new CliError(invalidValue(key), command.args.get(key)?.column);
}

function checked(command: ParsedCommand, key: string, pattern: RegExp): string | undefined {
  const value = text(command, key);
  if (value !== undefined && !pattern.test(value))
    throw new CliError(invalidValue(key), command.args.get(key)?.column);
  return value;
}

function sizeArg(command: ParsedCommand, key: string): number | undefined {
  const value = text(command, key);
  if (value === undefined) return undefined;
  const bytes = parseSizeArgument(value);
  if (bytes === undefined) throw new CliError(invalidValue(key), command.args.get(key)?.column);
  return bytes;
}

function portArg(command: ParsedCommand): number | undefined {
  const value = text(command, 'nvme-tcp-server-port');
  if (value === undefined) return undefined;
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535) {
    throw new CliError(
      invalidValue('nvme-tcp-server-port'),
      command.args.get('nvme-tcp-server-port')?.column,
    );
  }
  return port;
}

/** Applies the writable properties `set` and `add` share. */
function settable(command: ParsedCommand, disk: DiskState): DiskState {
  return {
    ...disk,
    comment: text(command, 'comment') ?? disk.comment,
    nvmeTcpExport: yesNo(command, 'nvme-tcp-export') ?? disk.nvmeTcpExport,
    nvmeTcpServerPort: portArg(command) ?? disk.nvmeTcpServerPort,
    nvmeTcpServerNqn: checked(command, 'nvme-tcp-server-nqn', NQN) ?? disk.nvmeTcpServerNqn,
    nvmeTcpServerAllowHostName:
      text(command, 'nvme-tcp-server-allow-host-name') ?? disk.nvmeTcpServerAllowHostName,
    iscsiExport: yesNo(command, 'iscsi-export') ?? disk.iscsiExport,
    nfsSharing: yesNo(command, 'nfs-sharing') ?? disk.nfsSharing,
    smbSharing: yesNo(command, 'smb-sharing') ?? disk.smbSharing,
    mediaSharing: yesNo(command, 'media-sharing') ?? disk.mediaSharing,
    mountFilesystem: yesNo(command, 'mount-filesystem') ?? disk.mountFilesystem,
    mountReadOnly: yesNo(command, 'mount-read-only') ?? disk.mountReadOnly,
    compress: yesNo(command, 'compress') ?? disk.compress,
    swap: yesNo(command, 'swap') ?? disk.swap,
  };
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

async function createBackingFile(
  ctx: ExecContext,
  hostPath: string,
  size: number,
  source: string | undefined,
): Promise<void> {
  await mkdir(dirname(hostPath), { recursive: true });
  if (source !== undefined) {
    // Content copy that keeps holes and reflinks where the filesystem can (Btrfs on the device).
    await ctx.copyFile(source, hostPath);
    if ((await stat(hostPath)).size < size) await truncate(hostPath, size);
    return;
  }
  const handle = await open(
    hostPath,
    constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY,
    0o644,
  );
  try {
    await handle.truncate(size);
  } finally {
    await handle.close();
  }
}

function newDisk(id: number, slot: string, filePath: string, fileSize: number): DiskState {
  return {
    id,
    slot,
    type: 'file',
    filePath,
    fileSize,
    fileOffset: 0,
    nvmeTcpExport: false,
    nvmeTcpServerPort: 4420,
    nvmeTcpServerNqn: `nqn.2000-02.com.mikrotik:${slot}`,
    nvmeTcpServerAllowHostName: '',
    iscsiExport: false,
    nfsSharing: false,
    smbSharing: false,
    mediaSharing: false,
    mountFilesystem: true,
    mountReadOnly: false,
    compress: false,
    swap: false,
    comment: '',
  };
}

async function add(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  // Argument values are checked before anything is looked up, as the console parses them first.
  const type = text(command, 'type') ?? 'file';
  if (type !== 'file') throw new CliError(invalidValue('type'), command.args.get('type')?.column);
  const slot = checked(command, 'slot', NAME) ?? `file${ctx.store.state.nextId}`;
  const filePath = checked(command, 'file-path', DEVICE_PATH);
  const explicitSize = sizeArg(command, 'file-size');
  const configured = settable(
    command,
    newDisk(ctx.store.state.nextId, slot, filePath ?? '', explicitSize ?? 0),
  );
  const disks = ctx.store.state.disks;
  if (filePath === undefined) throw new DeviceFailure(FAILURES.missingFilePath);
  if (disks.some((d) => d.slot === slot)) throw new DeviceFailure(FAILURES.slotExists);
  let source: DiskState | undefined;
  const copyFrom = command.args.get('copy-from');
  if (copyFrom !== undefined) {
    const ids = resolveItems(copyFrom, diskItems(ctx), 'slot');
    source = disks.find((d) => d.id === ids[0]);
    if (source === undefined || ids.length !== 1) throw new DeviceFailure(FAILURES.noSuchItem);
  }
  const size = explicitSize ?? source?.fileSize;
  if (size === undefined) throw new DeviceFailure(FAILURES.missingFileSize);
  if (source !== undefined && size < source.fileSize)
    throw new DeviceFailure(FAILURES.cannotShrink);
  const hostPath = ctx.store.hostPath(filePath);
  if (await fileExists(hostPath)) throw new DeviceFailure(FAILURES.fileExists);
  if (size > ctx.freeBytes()) throw new DeviceFailure(FAILURES.notEnoughSpace);
  await createBackingFile(
    ctx,
    hostPath,
    size,
    source === undefined ? undefined : ctx.store.hostPath(source.filePath),
  );
  const disk: DiskState = { ...configured, fileSize: size };
  ctx.store.commit({ ...ctx.store.state, nextId: disk.id + 1, disks: [...disks, disk] });
  ctx.usageChanged();
  ctx.deviceLog.info(
    'disk',
    `disk ${slot} added (${filePath}, ${size} bytes${source ? `, copy of ${source.slot}` : ''})`,
  );
  return '';
}

function targets(
  command: ParsedCommand,
  ctx: ExecContext,
  reference: Value | undefined,
): DiskState[] {
  if (reference === undefined) throw new CliError('expected item numbers', undefined);
  const ids = resolveItems(reference, diskItems(ctx), 'slot');
  if (ids.includes(POOL_ID)) throw new DeviceFailure('can not change storage pool');
  const found = ctx.store.state.disks.filter((d) => ids.includes(d.id));
  if (found.length === 0 && (reference.kind === 'text' || ctx.settings.emptyFindIsError)) {
    throw new DeviceFailure(FAILURES.noSuchItem);
  }
  return found;
}

async function set(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  const found = targets(command, ctx, command.positional[0]);
  const newSize = sizeArg(command, 'file-size');
  let disks = ctx.store.state.disks;
  for (const disk of found) {
    let next = settable(command, disk);
    if (newSize !== undefined && newSize !== disk.fileSize) {
      if (newSize < disk.fileSize && !ctx.settings.allowShrink)
        throw new DeviceFailure(FAILURES.cannotShrink);
      if (newSize - disk.fileSize > ctx.freeBytes())
        throw new DeviceFailure(FAILURES.notEnoughSpace);
      await truncate(ctx.store.hostPath(disk.filePath), newSize);
      next = { ...next, fileSize: newSize };
    }
    disks = disks.map((d) => (d.id === disk.id ? next : d));
  }
  ctx.store.commit({ ...ctx.store.state, disks });
  ctx.usageChanged();
  for (const disk of found) ctx.deviceLog.info('disk', `disk ${disk.slot} changed`);
  return '';
}

async function remove(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  const found = targets(command, ctx, command.positional[0]);
  const ids = new Set(found.map((d) => d.id));
  ctx.store.commit({
    ...ctx.store.state,
    disks: ctx.store.state.disks.filter((d) => !ids.has(d.id)),
  });
  if (ctx.settings.removeDeletesFile) {
    for (const disk of found) await rm(ctx.store.hostPath(disk.filePath), { force: true });
  }
  ctx.usageChanged();
  for (const disk of found) ctx.deviceLog.info('disk', `disk ${disk.slot} removed`);
  return '';
}

function monitorTraffic(command: ParsedCommand, ctx: ExecContext): string {
  const reference = command.positional[0];
  if (reference === undefined) throw new CliError('expected item numbers', undefined);
  const ids = resolveItems(reference, diskItems(ctx), 'slot');
  if (ids.length === 0) throw new DeviceFailure(FAILURES.noSuchItem);
  const disk = ctx.store.state.disks.find((d) => d.id === ids[0]);
  const slot = disk?.slot ?? 'storage-pool';
  const files = disk === undefined ? undefined : [ctx.store.hostPath(disk.filePath)];
  return renderMonitor(slot, ctx.traffic.sample(slot, files));
}

export async function runDiskCommand(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  switch (command.verb) {
    case 'print':
      return runPrint(command, diskItems(ctx), DISK_LAYOUT, ['slot', 'type', 'size', 'file-path']);
    case 'add':
      return add(command, ctx);
    case 'set':
      return set(command, ctx);
    case 'remove':
      return remove(command, ctx);
    case 'monitor-traffic':
      return monitorTraffic(command, ctx);
    default:
      throw new CliError(`bad command name ${command.verb}`, undefined);
  }
}
