// migration-timeout.ts: the StorageClass parameter `migrationTimeoutSeconds`: how long a KubeVirt
// live migration may keep a volume attached to two nodes before the attachment returns to one.
// One rule, used where the parameter enters (CreateVolume), where a stored volume context is
// read back (ControllerPublish) and by the attachment machine's migration timer; the README, the
// install guide and the error message all quote MIGRATION_TIMEOUT_RULE.
import { InvalidInputError } from '../errors.js';

/** Bounds and default of the migration window, in seconds. */
export const MIGRATION_TIMEOUT_SECONDS = { min: 30, max: 3600, default: 300 } as const;

const { min, max } = MIGRATION_TIMEOUT_SECONDS;

/** The rule in words, as the documentation and the error message state it. */
export const MIGRATION_TIMEOUT_RULE = `a whole number of seconds from ${min} to ${max} (default ${MIGRATION_TIMEOUT_SECONDS.default})`;

/** A StorageClass value: absent or empty means the default; anything else outside the rule is refused. */
export function parseMigrationTimeoutSeconds(value: string | undefined): number {
  if (value === undefined || value === '') return MIGRATION_TIMEOUT_SECONDS.default;
  const seconds = Number(value);
  if (!/^\d{1,7}$/.test(value) || seconds < min || seconds > max) {
    throw new InvalidInputError(
      `parameter migrationTimeoutSeconds="${value.slice(0, 40)}" must be ${MIGRATION_TIMEOUT_RULE}`,
      { field: 'parameters.migrationTimeoutSeconds' },
    );
  }
  return seconds;
}

/**
 * The window of a volume already created, from its stored volume context, in ms. Volumes made
 * by this driver hold a checked value; a volume adopted from the Go driver may hold none (the
 * default) or one outside the rule, which is held to the nearest bound rather than refusing to
 * attach a volume that exists.
 */
export function storedMigrationTimeoutMs(value: string | undefined): number {
  const seconds = Number(value ?? MIGRATION_TIMEOUT_SECONDS.default);
  const usable = Number.isFinite(seconds) ? seconds : MIGRATION_TIMEOUT_SECONDS.default;
  return Math.min(max, Math.max(min, usable)) * 1000;
}
