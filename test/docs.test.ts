// The README's configuration table and the option table in src/config/options.ts cannot drift apart
// (STYLE.md rule 18): same flags, same env names, same defaults. Rules stated in several documents
// are stated as the code words them.
import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { OPTIONS, envName } from '../src/config/load-config.js';
import { MIGRATION_TIMEOUT_RULE } from '../src/domain/migration-timeout.js';

const README = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

interface Row {
  readonly flag: string;
  readonly env: string;
  readonly defaultCell: string;
}

function configRows(): Row[] {
  const section = README.slice(README.indexOf('## Configuration'), README.indexOf('### Logs'));
  return section
    .split('\n')
    .filter((line) => line.startsWith('| `--'))
    .map((line) => {
      const [flag = '', env = '', defaultCell = ''] = line
        .split('|')
        .slice(1)
        .map((cell) => cell.trim());
      return { flag: flag.replace(/`/g, ''), env: env.replace(/`/g, ''), defaultCell };
    });
}

describe('README configuration table', () => {
  it('lists exactly the options the driver has, with their env names and defaults', () => {
    const rows = configRows();
    const flagOf = (flags: string) => /^(--[a-z0-9-]+)/.exec(flags)?.[1] ?? flags;
    expect(rows.map((r) => r.flag).sort()).toEqual(OPTIONS.map((o) => flagOf(o.flags)).sort());
    for (const spec of OPTIONS) {
      const row = rows.find((r) => r.flag === flagOf(spec.flags));
      expect(row?.env, spec.flags).toBe(envName(spec));
      if (spec.defaultValue !== undefined)
        expect(row?.defaultCell, spec.flags).toBe(`\`${String(spec.defaultValue)}\``);
    }
  });
});

describe('migrationTimeoutSeconds', () => {
  it('is stated with the one rule the driver checks, wherever it is documented', () => {
    for (const path of [
      'README.md',
      'docs/install.md',
      'docs/migration-from-rds-csi.md',
      'deploy/helm/rds-csi-ts/values.yaml',
    ]) {
      const text = readFileSync(new URL(`../${path}`, import.meta.url), 'utf8').replace(
        /\s+/g,
        ' ',
      );
      expect(text, path).toContain(MIGRATION_TIMEOUT_RULE);
      expect(text, path).not.toMatch(/clamp(ed)? (by the driver )?to 30/);
    }
  });
});
