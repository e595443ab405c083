import { describe, expect, it } from 'vitest';

import { InvalidInputError, OutOfRangeError } from '../errors.js';
import { GIB, MIB, sizeForRange } from './capacity.js';

const range = (requiredBytes: number | string, limitBytes: number | string = 0) => ({
  requiredBytes: String(requiredBytes),
  limitBytes: String(limitBytes),
});

describe('sizeForRange', () => {
  it('rounds up to whole MiB, never down (1500 MiB stays 1500 MiB)', () => {
    expect(sizeForRange(range(1500 * MIB))).toBe(1500 * MIB);
    expect(sizeForRange(range(1500 * MIB + 1))).toBe(1501 * MIB);
    expect(sizeForRange(range(1))).toBe(MIB);
  });

  it('defaults to 1 GiB, or the source size when restoring', () => {
    expect(sizeForRange(null)).toBe(GIB);
    expect(sizeForRange(range(0, 0))).toBe(GIB);
    expect(sizeForRange(range(0), 3 * GIB)).toBe(3 * GIB);
    expect(sizeForRange(range(GIB), 3 * GIB)).toBe(3 * GIB);
  });

  it('honours limit_bytes and says OUT_OF_RANGE when nothing fits', () => {
    expect(sizeForRange(range(0, 512 * MIB))).toBe(512 * MIB);
    expect(sizeForRange(range(10 * MIB, 10 * MIB))).toBe(10 * MIB);
    expect(() => sizeForRange(range(2 * GIB, GIB))).toThrow(OutOfRangeError);
    expect(() => sizeForRange(range(MIB + 1, MIB + 100))).toThrow(/no size in whole MiB fits/);
    expect(() => sizeForRange(range(0, GIB), 2 * GIB)).toThrow(/source's/);
  });

  it('parses int64 strings exactly and refuses negative or absurd values', () => {
    expect(() => sizeForRange(range(-1))).toThrow(InvalidInputError);
    expect(() => sizeForRange(range('9223372036854775807'))).toThrow(OutOfRangeError);
    expect(() => sizeForRange(range('12abc'))).toThrow(InvalidInputError);
  });
});
