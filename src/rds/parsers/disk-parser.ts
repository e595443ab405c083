// disk-parser.ts: turns `/disk print detail` output into disk records; nothing else.
//
// Sizes come from the exact `size=` bytes, never from the rounded `file-size=50.0GiB`
// (field-lessons #10); the rounded value is still cross-checked, so garbled digits are caught,
// and so is the pool's `use=` percentage. A file disk always prints its path, rounded size and
// export flag (4.1, 4.2): one without them was cut short, not a disk without an export.
import { RdsParseError } from '../../errors.js';
import type { RdsDisk, RdsPool } from '../../ports.js';
import { excerpt, parseGroupedInteger, parsePrintDetail, type DetailItem } from './print-detail.js';

const HUMAN_SIZE = /^(\d{1,10}(?:\.\d)?)(B|KiB|MiB|GiB|TiB|PiB)$/;
const UNIT: Readonly<Record<string, number>> = {
  B: 1,
  KiB: 1024,
  MiB: 1024 ** 2,
  GiB: 1024 ** 3,
  TiB: 1024 ** 4,
  PiB: 1024 ** 5,
};

function fail(item: DetailItem, message: string): never {
  throw new RdsParseError(`unexpected /disk output at line ${item.line}: ${message}`, {
    line: item.line,
  });
}

function required(item: DetailItem, key: string): string {
  const value = item.fields.get(key);
  if (value === undefined) fail(item, `missing ${key}=`);
  return value;
}

function yesNo(item: DetailItem, key: string): boolean {
  const value = item.fields.get(key) ?? 'no';
  if (value !== 'yes' && value !== 'no')
    fail(item, `${key}=${excerpt(value)} is neither yes nor no`);
  return value === 'yes';
}

/** `50.0GiB` -> bytes, approximately (one decimal); undefined when not a human size. */
export function parseHumanSize(text: string): number | undefined {
  const match = HUMAN_SIZE.exec(text);
  return match === null ? undefined : Number(match[1]) * (UNIT[match[2]!] ?? Number.NaN);
}

function checkRounded(item: DetailItem, bytes: number): void {
  const text = required(item, 'file-size');
  const approx = parseHumanSize(text);
  const unit = UNIT[HUMAN_SIZE.exec(text)?.[2] ?? ''] ?? 1;
  // One decimal of the unit, plus rounding: anything further apart is corrupted output.
  if (approx === undefined || Math.abs(approx - bytes) > unit * 0.051) {
    fail(item, `file-size=${excerpt(text)} does not agree with size=${bytes}`);
  }
}

function port(item: DetailItem): number {
  const value = parseGroupedInteger(
    required(item, 'nvme-tcp-server-port'),
    'nvme-tcp-server-port',
    item.line,
  );
  if (value < 1 || value > 65535) fail(item, `nvme-tcp-server-port=${value} is not a TCP port`);
  return value;
}

function toDisk(item: DetailItem): RdsDisk {
  const slot = required(item, 'slot');
  const type = required(item, 'type');
  const sizeBytes = parseGroupedInteger(required(item, 'size'), 'size', item.line);
  const isFile = type === 'file';
  // The path is read whenever printed, so a garbled type cannot hide the file a disk uses.
  const raw = isFile ? required(item, 'file-path') : item.fields.get('file-path');
  let filePath: string | undefined;
  if (raw !== undefined) {
    filePath = raw.startsWith('/') ? raw : `/${raw}`;
    if (/\s/.test(filePath)) fail(item, `file-path ${excerpt(raw)} contains whitespace`);
  }
  if (isFile || item.fields.has('file-size')) checkRounded(item, sizeBytes);
  if (isFile) required(item, 'nvme-tcp-export');
  let nvmeExport: RdsDisk['nvmeExport'];
  if (yesNo(item, 'nvme-tcp-export')) {
    nvmeExport = { port: port(item), nqn: required(item, 'nvme-tcp-server-nqn') };
  }
  return { slot, type, filePath, sizeBytes, nvmeExport, comment: item.comment };
}

export function parseDiskPrintDetail(output: string): RdsDisk[] {
  return parsePrintDetail(output, { legend: 'required' }).map(toDisk);
}

/** `use=5%` against size and free: the device rounds; more than a point apart is corruption. */
function checkUse(item: DetailItem, totalBytes: number, freeBytes: number): void {
  const text = required(item, 'use');
  const percent = /^(\d{1,3})%$/.exec(text)?.[1];
  const computed = ((totalBytes - freeBytes) / totalBytes) * 100;
  if (percent === undefined || Math.abs(Number(percent) - computed) > 1)
    fail(item, `use=${excerpt(text)} does not agree with size=${totalBytes} free=${freeBytes}`);
}

/** The mount points of the pools in a `/disk print detail` listing (entries with a mount point). */
export function parsePoolMountPoints(output: string): string[] {
  return parsePrintDetail(output, { legend: 'required' })
    .map((item) => item.fields.get('mount-point') ?? '')
    .filter((mountPoint) => mountPoint !== '');
}

/** The pool entry of `/disk print detail where mount-point=...`; undefined when none matched. */
export function parsePoolPrintDetail(output: string): RdsPool | undefined {
  const items = parsePrintDetail(output, { legend: 'required' });
  if (items.length === 0) return undefined;
  if (items.length > 1) fail(items[1]!, 'more than one disk has this mount point');
  const item = items[0]!;
  const totalBytes = parseGroupedInteger(required(item, 'size'), 'size', item.line);
  const freeBytes = parseGroupedInteger(required(item, 'free'), 'free', item.line);
  if (totalBytes === 0 || freeBytes > totalBytes)
    fail(item, `pool size=${totalBytes} free=${freeBytes} is impossible`);
  checkUse(item, totalBytes, freeBytes);
  return { mountPoint: required(item, 'mount-point'), totalBytes, freeBytes };
}
