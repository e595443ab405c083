import { describe, expect, it } from 'vitest';

import { InvalidInputError } from '../errors.js';

import {
  MIGRATION_TIMEOUT_RULE,
  parseMigrationTimeoutSeconds,
  storedMigrationTimeoutMs,
} from './migration-timeout.js';

describe('migrationTimeoutSeconds', () => {
  it('takes whole seconds within the bounds; absent or empty is the default', () => {
    expect(parseMigrationTimeoutSeconds('30')).toBe(30);
    expect(parseMigrationTimeoutSeconds('3600')).toBe(3600);
    expect(parseMigrationTimeoutSeconds(undefined)).toBe(300);
    expect(parseMigrationTimeoutSeconds('')).toBe(300);
  });

  it('refuses anything else, naming the rule', () => {
    for (const bad of ['5', '29', '3601', 'abc', '1e3', '30.5', '-30', ' 30', '0x20']) {
      expect(() => parseMigrationTimeoutSeconds(bad)).toThrow(InvalidInputError);
      expect(() => parseMigrationTimeoutSeconds(bad)).toThrow(`must be ${MIGRATION_TIMEOUT_RULE}`);
    }
    expect(MIGRATION_TIMEOUT_RULE).toBe('a whole number of seconds from 30 to 3600 (default 300)');
  });

  it('holds a stored value (an adopted volume) to the bounds rather than refusing to attach', () => {
    expect(storedMigrationTimeoutMs(undefined)).toBe(300_000);
    expect(storedMigrationTimeoutMs('5')).toBe(30_000);
    expect(storedMigrationTimeoutMs('90000')).toBe(3_600_000);
    expect(storedMigrationTimeoutMs('junk')).toBe(300_000);
  });
});
