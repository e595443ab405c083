// values.ts: branded values that may reach a RouterOS command line, each with its parser.
//
// A value is allow-listed, never escaped into shape (STYLE.md rule 8; field-lessons #30): every
// type below admits only characters with no meaning to the RouterOS console inside a quoted
// string (no `"`, `\`, `$`, `[`, `]`, `;`, whitespace or control characters). A bad value throws
// InvalidInputError before any command exists.
import { InvalidInputError } from '../../errors.js';
import { MAX_NQN_BYTES, NQN, SLOT, VOLUME_PATH } from '../../domain/naming.js';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

export type SlotName = Brand<string, 'SlotName'>;
export type DiskFilePath = Brand<string, 'DiskFilePath'>;
export type FileName = Brand<string, 'FileName'>;
export type MountPoint = Brand<string, 'MountPoint'>;
export type Nqn = Brand<string, 'Nqn'>;
export type TcpPort = Brand<number, 'TcpPort'>;
export type ByteCount = Brand<number, 'ByteCount'>;
export type CommentText = Brand<string, 'CommentText'>;

const MIB = 1024 * 1024;
/** Lineage and marker comments: key=value pairs joined by `;`. */
const COMMENT = /^[A-Za-z0-9=;:._,-]{0,255}$/;
const MOUNT_POINT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function refuse(kind: string, value: unknown, rule: string): never {
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 80)) : String(value);
  throw new InvalidInputError(`${kind} ${shown} is not allowed: ${rule}`, { field: kind });
}

export function slotName(value: string): SlotName {
  if (!SLOT.test(value))
    refuse(
      'slot',
      value,
      'letters, digits and "-", 1-128 characters, starting with a letter or digit',
    );
  return value as SlotName;
}

export function diskFilePath(value: string): DiskFilePath {
  const dir = value.slice(0, value.lastIndexOf('/'));
  const file = value.slice(value.lastIndexOf('/') + 1);
  if (!VOLUME_PATH.test(dir) || !/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.img$/.test(file)) {
    refuse(
      'file-path',
      value,
      'an absolute path of letters, digits, ".", "_" and "-" ending in .img',
    );
  }
  return value as DiskFilePath;
}

/** A /file name: a device path without its leading slash (routeros-cli.md 4.6 quirk 8). */
export function fileName(devicePath: string): FileName {
  if (!VOLUME_PATH.test(devicePath)) refuse('file name', devicePath, 'an absolute pool path');
  return devicePath.slice(1) as FileName;
}

/** The file name of a slot's disk, `<slot>.img`. */
export function imageFileName(slot: SlotName): FileName {
  return `${slot}.img` as FileName;
}

export function mountPoint(value: string): MountPoint {
  if (!MOUNT_POINT.test(value)) refuse('mount-point', value, 'letters, digits, ".", "_" and "-"');
  return value as MountPoint;
}

export function nqn(value: string): Nqn {
  if (!NQN.test(value) || Buffer.byteLength(value) > MAX_NQN_BYTES) {
    refuse('nqn', value, 'nqn.YYYY-MM.domain:name in lowercase, at most 223 bytes');
  }
  return value as Nqn;
}

export function tcpPort(value: number): TcpPort {
  if (!Number.isInteger(value) || value < 1 || value > 65535)
    refuse('port', value, 'an integer from 1 to 65535');
  return value as TcpPort;
}

/** A disk size: whole MiB (the unit sizes are sent in), at least 1 MiB, at most 1 PiB. */
export function byteCount(value: number): ByteCount {
  if (!Number.isSafeInteger(value) || value < MIB || value % MIB !== 0 || value > 1024 ** 5) {
    refuse('size', value, 'a whole number of MiB from 1 MiB to 1 PiB');
  }
  return value as ByteCount;
}

export function commentText(value: string): CommentText {
  if (!COMMENT.test(value))
    refuse('comment', value, 'letters, digits and =;:._,- only, at most 255 characters');
  return value as CommentText;
}

/**
 * A size argument in the largest binary unit that divides it exactly (`10G`, `1536M`): never
 * truncated (field-lessons #10).
 */
export function renderSize(bytes: ByteCount): string {
  const units: [number, string][] = [
    [1024 ** 4, 'T'],
    [1024 ** 3, 'G'],
    [MIB, 'M'],
  ];
  for (const [size, suffix] of units) if (bytes % size === 0) return `${bytes / size}${suffix}`;
  return String(bytes);
}
