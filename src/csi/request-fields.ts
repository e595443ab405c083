// request-fields.ts: checks every handler runs on its request first (STYLE.md rule 7): required
// fields present, strings within the CSI limits, maps within 4 KiB (csi-conformance.md 1.1).
import { InvalidInputError } from '../errors.js';

const MAX_STRING_BYTES = 128;
const MAX_MAP_BYTES = 4096;

/** A required string field: present, at most 128 bytes, no control characters. */
export function requireId(value: string, field: string): string {
  if (value === '') throw new InvalidInputError(`${field} is required`, { field });
  if (Buffer.byteLength(value) > MAX_STRING_BYTES) {
    throw new InvalidInputError(`${field} is longer than ${MAX_STRING_BYTES} bytes`, { field });
  }
  // eslint-disable-next-line no-control-regex -- refusing control characters is the point
  if (/[\u0000-\u001f\u007f]/.test(value))
    throw new InvalidInputError(`${field} contains control characters`, { field });
  return value;
}

/** A string map (parameters, contexts): at most 4 KiB of keys and values in all. */
export function checkMap(
  map: Readonly<Record<string, string>>,
  field: string,
): Readonly<Record<string, string>> {
  const bytes = Object.entries(map).reduce(
    (n, [k, v]) => n + Buffer.byteLength(k) + Buffer.byteLength(v),
    0,
  );
  if (bytes > MAX_MAP_BYTES)
    throw new InvalidInputError(
      `${field} holds ${bytes} bytes, more than the ${MAX_MAP_BYTES} CSI allows`,
      { field },
    );
  return map;
}
