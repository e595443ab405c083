// capacity.ts: CSI capacity ranges to exact disk sizes.
//
// Sizes are whole MiB, rounded up from required_bytes and never down (field-lessons #10), and must
// stay within limit_bytes, or the request is OUT_OF_RANGE. int64 fields arrive as decimal strings
// (proto-loader longs: String) and are parsed exactly.
import { InvalidInputError, OutOfRangeError } from '../errors.js';
import type { CapacityRange__Output } from './generated/csi/v1/CapacityRange.js';

export const MIB = 1024 * 1024;
export const GIB = 1024 * MIB;
/** Size of a volume whose request names none (the Kubernetes default is always explicit). */
export const DEFAULT_VOLUME_BYTES = GIB;
/** Largest disk the driver creates: 1 PiB (JavaScript numbers stay exact far beyond it). */
export const MAX_VOLUME_BYTES = 1024 ** 5;

export function parseInt64(value: string, field: string): number {
  if (!/^-?\d{1,19}$/.test(value))
    throw new InvalidInputError(`${field} "${value}" is not an integer`, { field });
  const big = BigInt(value);
  if (big < 0n)
    throw new InvalidInputError(`${field} must not be negative, got ${value}`, { field });
  if (big > BigInt(Number.MAX_SAFE_INTEGER))
    throw new OutOfRangeError(`${field} ${value} exceeds ${MAX_VOLUME_BYTES} bytes`);
  return Number(big);
}

export function roundUpToMiB(bytes: number): number {
  return Math.ceil(bytes / MIB) * MIB;
}

/**
 * The disk size for a capacity range: required rounded up to MiB (default 1 GiB, or `minimum` when
 * restoring from a source of that size); OUT_OF_RANGE when that exceeds limit or the maximum.
 */
export function sizeForRange(range: CapacityRange__Output | null, minimum = 0): number {
  const required =
    range === null ? 0 : parseInt64(range.requiredBytes, 'capacity_range.required_bytes');
  const limit = range === null ? 0 : parseInt64(range.limitBytes, 'capacity_range.limit_bytes');
  if (limit !== 0 && required > limit) {
    throw new OutOfRangeError(
      `capacity_range.required_bytes ${required} is larger than limit_bytes ${limit}`,
    );
  }
  let size = roundUpToMiB(Math.max(required === 0 ? DEFAULT_VOLUME_BYTES : required, minimum));
  if (limit !== 0 && size > limit) {
    // A limit below the next MiB: use it if the device could still hold exactly that much.
    if (required === 0 && limit >= minimum) size = Math.floor(limit / MIB) * MIB;
    if (size > limit || size < Math.max(required, minimum, MIB)) {
      throw new OutOfRangeError(
        `no size in whole MiB fits capacity_range [${required}, ${limit}]${minimum > 0 ? ` and the source's ${minimum} bytes` : ''}; widen the range`,
      );
    }
  }
  if (size > MAX_VOLUME_BYTES)
    throw new OutOfRangeError(
      `${size} bytes exceeds the largest volume, ${MAX_VOLUME_BYTES} bytes`,
    );
  return size;
}
