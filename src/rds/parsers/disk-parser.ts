// disk-parser.ts: turns `/disk print detail` output into disk records; nothing else.
//
// Sizes come from the exact `size=` bytes, never from the rounded `file-size=50.0GiB`
// (field-lessons #10); the rounded value is still cross-checked, so garbled digits are caught.
import { RdsParseError } from '../../errors.js';
import type { RdsDisk, RdsPool } from '../../ports.js';
import { parseGroupedInteger, parsePrintDetail, type DetailItem } from './print-detail.js';

const HUMAN_SIZE = /^(\d+(?:\.\d)?)(B|KiB|MiB|GiB|TiB|PiB)$/;
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
  if (value !== 'yes' && value !== 'no') fail(item, `${key}=${value} is neither yes nor no`);
  return value === 'yes';
}

/** `50.0GiB` -> bytes, approximately (one decimal); undefined when not a human size. */
export function parseHumanSize(text: string): number | undefined {
  const match = HUMAN_SIZE.exec(text);
  return match === null ? undefined : Number(match[1]) * (UNIT[match[2]!] ?? Number.NaN);
}

function checkRounded(item: DetailItem, bytes: number): void {
  const text = item.fields.get('file-size');
  if (text === undefined) return;
  const approx = parseHumanSize(text);
  const unit = UNIT[HUMAN_SIZE.exec(text)?.[2] ?? ''] ?? 1;
  // One decimal of the unit, plus rounding: anything further apart is corrupted output.
  if (approx === undefined || Math.abs(approx - bytes) > unit * 0.051) {
    fail(item, `file-size=${text} does not agree with size=${bytes}`);
  }
}

function toDisk(item: DetailItem): RdsDisk {
  const slot = required(item, 'slot');
  const type = required(item, 'type');
  const sizeBytes = parseGroupedInteger(required(item, 'size'), 'size', item.line);
  let filePath: string | undefined;
  if (type === 'file') {
    const raw = required(item, 'file-path');
    filePath = raw.startsWith('/') ? raw : `/${raw}`;
    if (/\s/.test(filePath)) fail(item, `file-path "${raw}" contains whitespace`);
    checkRounded(item, sizeBytes);
  }
  let nvmeExport: RdsDisk['nvmeExport'];
  if (yesNo(item, 'nvme-tcp-export')) {
    const port = parseGroupedInteger(
      required(item, 'nvme-tcp-server-port'),
      'nvme-tcp-server-port',
      item.line,
    );
    nvmeExport = { port, nqn: required(item, 'nvme-tcp-server-nqn') };
  }
  return { slot, type, filePath, sizeBytes, nvmeExport, comment: item.comment };
}

export function parseDiskPrintDetail(output: string): RdsDisk[] {
  return parsePrintDetail(output).map(toDisk);
}

/** The pool entry of `/disk print detail where mount-point=...`; undefined when none matched. */
export function parsePoolPrintDetail(output: string): RdsPool | undefined {
  const items = parsePrintDetail(output);
  if (items.length === 0) return undefined;
  if (items.length > 1) fail(items[1]!, 'more than one disk has this mount point');
  const item = items[0]!;
  const totalBytes = parseGroupedInteger(required(item, 'size'), 'size', item.line);
  const freeBytes = parseGroupedInteger(required(item, 'free'), 'free', item.line);
  if (totalBytes === 0 || freeBytes > totalBytes)
    fail(item, `pool size=${totalBytes} free=${freeBytes} is impossible`);
  return { mountPoint: required(item, 'mount-point'), totalBytes, freeBytes };
}
