// mkfs-options.ts: the StorageClass parameter `mkfsOptions`, checked where it enters (CreateVolume)
// and again where it is used (NodeStageVolume). Arguments reach mkfs as an argv array (no shell),
// so the check is about meaning: flags and plain values only, and never a force flag, which
// would let mkfs write over an existing filesystem (field-lessons #1). Nor a path: with one, mkfs
// writes or reads something other than the volume (`-l logdev=/dev/sda` puts the xfs log on the
// node's disk, `-d /etc` copies the node's files into an ext4 volume). Nor a value that follows
// no flag, or `--`: mkfs would take it as the device to format.
import { InvalidInputError } from '../errors.js';

/** mkfs options a StorageClass may pass: flags and plain values, never a force flag. */
const MKFS_TOKEN =
  /^(?:-{1,2}[A-Za-z][A-Za-z0-9-]*|[A-Za-z0-9=,._:+-]*[A-Za-z0-9=,._:+][A-Za-z0-9=,._:+-]*)$/;
const FORCE_FLAGS = new Set(['-F', '-f', '--force']);

/** Splits and checks a `mkfsOptions` value; throws InvalidInputError naming the bad token. */
export function parseMkfsOptions(value: string | undefined, field: string): string[] {
  if (value === undefined || value.trim() === '') return [];
  if (value.length > 256)
    throw new InvalidInputError(`${field} is longer than 256 characters`, { field });
  const tokens = value.trim().split(/\s+/);
  tokens.forEach((token, i) => {
    if (!token.startsWith('-') && !(tokens[i - 1] ?? '').startsWith('-')) {
      throw new InvalidInputError(
        `${field}: "${token.slice(0, 40)}" follows no flag; mkfs would read it as the device`,
        { field },
      );
    }
    if (token.includes('/')) {
      throw new InvalidInputError(
        `${field}: "${token.slice(0, 40)}" names a path; mkfs options may only shape the volume's own filesystem`,
        { field },
      );
    }
    if (!MKFS_TOKEN.test(token)) {
      throw new InvalidInputError(
        `${field}: "${token.slice(0, 40)}" is not an mkfs option or value`,
        {
          field,
        },
      );
    }
    if (FORCE_FLAGS.has(token)) {
      throw new InvalidInputError(
        `${field}: ${token} is refused: the driver never forces mkfs over an existing signature`,
        { field },
      );
    }
  });
  return tokens;
}
