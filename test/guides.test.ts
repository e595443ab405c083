// The install and migration guides cannot drift from the driver (STYLE.md rule 18): every flag,
// environment variable, Helm value, repository path, link, metric and alert they name exists;
// the error messages they quote are the ones the driver writes; and the compatibility claims of
// the migration guide (Go StorageClass parameters, the Go Secret's host key line, ext3) are run
// against the real parsers.
import { createHash, generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

import { OPTIONS, envName, loadConfig } from '../src/config/load-config.js';
import { checkCapabilities } from '../src/csi/volume-capabilities.js';
import { KNOWN_PARAMETERS, parseVolumeParameters } from '../src/csi/volume-parameters.js';
import { InvalidInputError } from '../src/errors.js';
import { leaseName } from '../src/k8s/kubernetes-layer.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
const GUIDES = ['docs/install.md', 'docs/migration-from-rds-csi.md'] as const;
const install = read('docs/install.md');
const migration = read('docs/migration-from-rds-csi.md');
const CHART = 'deploy/helm/rds-csi-ts';
const values = parseYaml(read(`${CHART}/values.yaml`)) as Record<string, unknown>;

/** Flags of other programs the guides show; any other `--flag` must be the driver's. */
const OTHER_TOOLS_FLAGS: Readonly<Record<string, string>> = {
  '--set-file': 'helm',
  '--namespace': 'helm',
  '--create-namespace': 'helm',
  '--from-file': 'kubectl',
};
const DRIVER_FLAGS = new Set([
  ...OPTIONS.map((o) => /^(--[a-z0-9-]+)/.exec(o.flags)?.[1] ?? ''),
  '--help',
  '--version',
]);

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory())
      return name === 'generated' ? [] : sourceFiles(path);
    return path.endsWith('.ts') && !path.endsWith('.test.ts') ? [path] : [];
  });
}
const SOURCE = sourceFiles('src')
  .map((f) => read(f))
  .join('\n');

/** A markdown section: from its heading to the next heading of the same or a higher level. */
function section(text: string, heading: string): string {
  const start = text.indexOf(`\n${heading}\n`);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = /^#+/.exec(heading)?.[0].length ?? 2;
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(new RegExp(`\\n#{1,${level}} `));
  return end === -1 ? rest : rest.slice(0, end);
}

/** Cells of column `index` of every table row in `text` (header and rule rows dropped). */
function column(text: string, index: number): string[] {
  const rows = text.split('\n').filter((l) => l.startsWith('|') && !/^\|\s*-/.test(l));
  return rows.slice(1).map((row) => row.split(/(?<!\\)\|/)[index + 1]?.trim() ?? '');
}

const codeSpans = (text: string) => [...text.matchAll(/`([^`\n]+)`/g)].map((m) => m[1] ?? '');

function hasValuePath(path: string): boolean {
  let node: unknown = values;
  for (const key of path.split('.')) {
    if (key === '*') return typeof node === 'object' && node !== null;
    if (typeof node !== 'object' || node === null || !(key in node)) return false;
    node = (node as Record<string, unknown>)[key];
  }
  return true;
}

/** `rds.address`, `capacity.enabled: false` -> the value path, when it starts at a chart key. */
function valuePathsIn(spans: readonly string[]): string[] {
  return spans
    .map((s) => /^([a-z][A-Za-z]*(?:\.[A-Za-z*]+)+)(?::.*)?$/.exec(s)?.[1])
    .filter((p): p is string => p !== undefined && p.split('.')[0]! in values)
    .filter((p) => !p.startsWith('rds.csi.')); // the driver name, not a value
}

function leafPaths(node: unknown, prefix = ''): string[] {
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return [prefix];
  return Object.entries(node).flatMap(([k, v]) => leafPaths(v, prefix ? `${prefix}.${k}` : k));
}

/** YAML blocks that are chart values (not Kubernetes objects). */
function valuesBlocks(text: string): unknown[] {
  return [...text.matchAll(/```yaml\n([\s\S]*?)```/g)]
    .map((m) => m[1] ?? '')
    .filter((body) => !/^apiVersion:/m.test(body))
    .map((body) => parseYaml(body) as unknown);
}

describe('install and migration guides', () => {
  it('name only driver flags (or the listed flags of helm and kubectl)', () => {
    for (const guide of GUIDES) {
      for (const [flag = ''] of read(guide).matchAll(/(?<![-\w])--[a-z][a-z0-9-]*/g)) {
        const known = DRIVER_FLAGS.has(flag) || flag in OTHER_TOOLS_FLAGS;
        expect(known, `${guide}: ${flag}`).toBe(true);
      }
    }
  });

  it('name only environment variables the driver reads', () => {
    const envs = new Set(OPTIONS.map(envName));
    for (const guide of GUIDES) {
      for (const [env = ''] of read(guide).matchAll(/\bRDS_CSI_[A-Z_]+/g))
        expect(envs.has(env), `${guide}: ${env}`).toBe(true);
    }
  });

  it('name only values the chart has (migration guide: our column and the values file)', () => {
    const installPaths = [
      ...valuePathsIn(codeSpans(install)),
      ...[...install.matchAll(/--set-file ([\w.]+)=/g)].map((m) => m[1] ?? ''),
      ...valuesBlocks(install).flatMap((block) => leafPaths(block)),
    ];
    const ours = column(section(migration, '### Helm values'), 1).join(' ');
    const migrationPaths = [
      ...valuePathsIn(codeSpans(ours)),
      ...valuesBlocks(migration).flatMap((block) => leafPaths(block)),
      ...valuePathsIn(
        codeSpans(section(migration, '## Step 5: install rds-csi-ts with the old names')),
      ),
    ];
    expect(installPaths.length).toBeGreaterThan(20);
    expect(migrationPaths.length).toBeGreaterThan(20);
    for (const path of [...installPaths, ...migrationPaths])
      expect(hasValuePath(path), `values.yaml has ${path}`).toBe(true);
  });

  it('link to files and headings that exist', () => {
    const slug = (heading: string) =>
      heading
        .toLowerCase()
        .replace(/[^\w\s-]/g, '')
        .trim()
        .replace(/\s/g, '-');
    const headings = (file: string) =>
      [...read(file).matchAll(/^#+ (.+)$/gm)].map((m) => slug(m[1] ?? ''));
    for (const guide of GUIDES) {
      for (const [, target = ''] of read(guide).matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^https?:/.test(target)) continue;
        const [path = '', anchor] = target.split('#');
        const file = path === '' ? guide : posix.normalize(posix.join(posix.dirname(guide), path));
        expect(existsSync(join(ROOT, file)), `${guide} -> ${target}`).toBe(true);
        if (anchor !== undefined) expect(headings(file), `${guide} -> ${target}`).toContain(anchor);
      }
      for (const path of codeSpans(read(guide)).filter((s) => /^(deploy|src|test|docs)\//.test(s)))
        expect(existsSync(join(ROOT, path.replace(/\/$/, ''))), `${guide}: ${path}`).toBe(true);
    }
  });

  it('quote error messages the driver writes (troubleshooting table)', () => {
    const messages = column(section(install, '## Troubleshooting'), 1).map((cell) =>
      (/^`(.+)`$/.exec(cell)?.[1] ?? '').replace(/\\\|/g, '|'),
    );
    expect(messages.length).toBeGreaterThanOrEqual(18);
    for (const message of messages) {
      expect(message, 'each row quotes one message').not.toBe('');
      // Placeholders stand for what the driver fills in; every literal piece is in src/.
      const pieces = message
        .split(/<[^>]+>/)
        .map((p) => p.replace(/^[\s:;,.()"]+|[\s:;,.()"]+$/g, ''))
        .filter((p) => p.length >= 4);
      expect(pieces.length, message).toBeGreaterThan(0);
      for (const piece of pieces)
        expect(SOURCE.includes(piece), `src/ writes "${piece}"`).toBe(true);
    }
  });

  it('name metrics the driver exports and every alert rule there is', () => {
    const metrics = read('src/observability/metrics.ts');
    for (const guide of GUIDES) {
      // Whole names only: the Go driver's families (`rds_csi_disk_*`) end in `_` and never match.
      const names = [...read(guide).matchAll(/\brds_csi_[a-z_]+[a-z]\b/g)].map((m) => m[0]);
      expect(names.length, guide).toBeGreaterThan(0);
      for (const name of names)
        expect(metrics.includes(`'${name}'`), `${guide}: ${name}`).toBe(true);
    }
    const rules = [...read('deploy/prometheus/rules.yaml').matchAll(/- alert: (\w+)/g)].map(
      (m) => m[1],
    );
    const named = [...install.matchAll(/`(RdsCsi\w+)`/g)].map((m) => m[1]);
    expect([...new Set(named)].sort()).toEqual([...rules].sort());
  });

  it('name the objects the chart creates as the chart names them', () => {
    const fullname = 'rds-csi-ts'; // the release name both guides install under
    const controller = read(`${CHART}/templates/controller.yaml`);
    expect(controller).toContain('name: {{ $fullname }}-controller');
    expect(controller).toMatch(/- name: driver\n/);
    expect(read(`${CHART}/templates/metrics.yaml`)).toContain('name: {{ $fullname }}-metrics');
    expect(install).toContain(`deploy/${fullname}-controller`);
    expect(install).toContain(`${fullname}-metrics`);
    for (const guide of [install, migration])
      expect(guide).toContain(leaseName('rds.csi.srvlab.io'));
    const secret = read(`${CHART}/templates/secret.yaml`);
    for (const key of ['private-key', 'host-key', 'password', 'private-key-passphrase']) {
      expect(secret).toContain(`${key}:`);
      expect(install).toContain(`\`${key}\``);
    }
    const chart = parseYaml(read(`${CHART}/Chart.yaml`)) as { kubeVersion: string };
    const minor = /^>=1\.(\d+)/.exec(chart.kubeVersion)?.[1];
    expect(install).toMatch(new RegExp(`\\| Kubernetes +\\| 1\\.${minor} or later`));
    const snapshotter = /^CSI_SNAPSHOTTER_VERSION=(v[\d.]+)$/m.exec(read('scripts/tools.sh'))?.[1];
    expect(install).toContain(`external-snapshotter v${snapshotter?.slice(1)}`);
    expect(install).toContain(`ref=${snapshotter}`);
  });
});

describe('migration guide claims, run against the driver', () => {
  const defaults = {
    volumePath: '/storage-pool/metal-csi',
    nvmeAddress: undefined,
    nvmePort: 4420,
  };

  it('the Go chart StorageClass parameters work unchanged', () => {
    // The Go chart's class, as CreateVolume receives it: the provisioner strips its own
    // csi.storage.k8s.io/fstype, and passes the PVC keys with --extra-create-metadata.
    const params = parseVolumeParameters(
      {
        nvmeAddress: '10.42.68.1',
        nvmePort: '4420',
        volumePath: '/storage-pool/metal-csi',
        'csi.storage.k8s.io/pvc/name': 'data',
        'csi.storage.k8s.io/pvc/namespace': 'default',
      },
      defaults,
    );
    expect(params).toMatchObject({ nvmeAddress: '10.42.68.1', nvmePort: 4420, ctrlLossTmo: -1 });
    const same = column(section(migration, '### StorageClass parameters'), 0)
      .slice(0, 3)
      .flatMap((cell) => codeSpans(cell));
    expect(same).toEqual([
      'volumePath',
      'nvmeAddress',
      'nvmePort',
      'ctrlLossTmo',
      'reconnectDelay',
      'keepAliveTmo',
      'migrationTimeoutSeconds',
    ]);
    for (const name of same) expect(KNOWN_PARAMETERS).toContain(name);
  });

  it('refuses rdsAddress, sshPort and nqnPrefix with the message the guide quotes', () => {
    for (const key of ['rdsAddress', 'sshPort', 'nqnPrefix']) {
      let error: unknown;
      try {
        parseVolumeParameters({ [key]: '1', nvmeAddress: '10.42.68.1' }, defaults);
      } catch (caught) {
        error = caught;
      }
      expect(error, key).toBeInstanceOf(InvalidInputError);
      const message = (error as Error).message;
      expect(message).toContain(`unknown StorageClass parameter "${key}"`);
      if (key === 'rdsAddress') {
        const quoted = /`(unknown StorageClass parameter "rdsAddress"; known: [^`]+)\.\.\.`/.exec(
          migration,
        )?.[1];
        expect(quoted).toBeDefined();
        expect(message.startsWith(quoted ?? '-')).toBe(true);
      }
    }
  });

  it("accepts the Go Secret's rds-host-key line, and a known_hosts line, as --rds-host-key", () => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    const raw = Buffer.from(jwk.x ?? '', 'base64url');
    const string = (b: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, b.length]), b]);
    const blob = Buffer.concat([string(Buffer.from('ssh-ed25519')), string(raw)]);
    const fingerprint = `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
    const goSecretValue = `ssh-ed25519 ${blob.toString('base64')}\n`; // ssh-keyscan | cut -d' ' -f2-
    const knownHosts = `10.42.241.3 ssh-ed25519 ${blob.toString('base64')}`;
    for (const hostKey of [goSecretValue, knownHosts, fingerprint]) {
      const outcome = loadConfig({
        argv: [
          '--mode',
          'controller',
          '--rds-address',
          '10.42.241.3',
          '--rds-private-key-file',
          '/k',
        ],
        env: { RDS_CSI_RDS_HOST_KEY: hostKey },
        readFile: () => '',
        hostname: 'controller-0',
        cwd: '/',
        version: 'test',
      });
      expect(outcome.kind).toBe('run');
      if (outcome.kind === 'run') expect(outcome.config.rdsHostKey).toEqual([fingerprint]);
    }
  });

  it('refuses ext3 at attach with the message the guide quotes', () => {
    const quoted = /reports\n?\s*`([^`]+)`/.exec(migration)?.[1];
    expect(quoted).toBe(
      'volume_capability[0].mount.fs_type "ext3" is not supported; use ext4 or xfs',
    );
    expect(() =>
      checkCapabilities(
        [
          {
            accessType: 'mount',
            mount: { fsType: 'ext3', mountFlags: [], volumeMountGroup: '' },
            accessMode: { mode: 'SINGLE_NODE_WRITER' },
          },
        ],
        'volume_capability',
      ),
    ).toThrow(quoted);
  });
});
