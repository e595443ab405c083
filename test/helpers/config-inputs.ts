// config-inputs.ts: loadConfig inputs for tests: a controller's RDS settings in the env, no
// files, a fixed host name and working directory.
import { expect } from 'vitest';

import { InvalidConfigError } from '../../src/errors.js';
import { loadConfig, type Config, type ConfigInputs } from '../../src/config/load-config.js';

export const FINGERPRINT = `SHA256:${'A'.repeat(43)}`;
/** What a controller needs to reach its RDS; most tests are not about it. */
const RDS_ENV = {
  RDS_CSI_RDS_ADDRESS: '10.42.241.3',
  RDS_CSI_RDS_PASSWORD_FILE: '/secrets/rds/password',
  RDS_CSI_RDS_HOST_KEY: FINGERPRINT,
};

export function inputs(overrides: Partial<ConfigInputs> = {}): ConfigInputs {
  return {
    argv: [],
    ...overrides,
    env: { ...RDS_ENV, ...overrides.env },
    readFile: () => {
      throw new Error('ENOENT: no such file');
    },
    hostname: 'worker-1',
    cwd: '/home/me/project',
    version: '9.9.9',
    ...(overrides.readFile ? { readFile: overrides.readFile } : {}),
    ...(overrides.hostname ? { hostname: overrides.hostname } : {}),
  };
}

export function run(overrides: Partial<ConfigInputs> = {}): Config {
  const outcome = loadConfig(inputs(overrides));
  if (outcome.kind !== 'run') throw new Error(`expected a config, got exit: ${outcome.output}`);
  return outcome.config;
}

export function problemsOf(overrides: Partial<ConfigInputs>): readonly string[] {
  try {
    loadConfig(inputs(overrides));
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidConfigError);
    return (error as InvalidConfigError).problems;
  }
  throw new Error('expected InvalidConfigError');
}
