// The Dockerfile cannot be built here (no container engine), so this keeps it honest without a
// build: what the build stage COPYs exists and is in the context .dockerignore leaves, the build
// script's inputs are all copied, the runtime stage carries every file the compiled driver reads
// beside dist/, the entrypoint is the file package.json's build produces, and the apt packages
// are exactly the Debian packages of the host binaries src/node runs.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, posix, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { describe, expect, it } from 'vitest';

import { FILESYSTEMS } from '../src/csi/volume-capabilities.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

interface Instruction {
  readonly op: string;
  readonly args: string;
}
interface Stage {
  readonly name: string;
  readonly image: string;
  readonly instructions: Instruction[];
}

/** Dockerfile -> stages of instructions (comments dropped, `\` continuations joined). */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue;
    pending += (pending === '' ? '' : ' ') + line.replace(/\\$/, '').trim();
    if (!line.endsWith('\\')) {
      logical.push(pending);
      pending = '';
    }
  }
  const stages: Stage[] = [];
  for (const line of logical) {
    const [, op = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    if (op.toUpperCase() === 'FROM') {
      const [, image = '', name = String(stages.length)] =
        /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args) ?? [];
      stages.push({ name, image, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push({ op: op.toUpperCase(), args });
    }
  }
  return stages;
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly dest: string;
}

function copiesOf(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.op === 'COPY')
    .map((i) => {
      const words = i.args.split(/\s+/);
      const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
      const paths = words.filter((w) => !w.startsWith('--'));
      return { from, sources: paths.slice(0, -1), dest: paths.at(-1) ?? '' };
    });
}

/** Docker's .dockerignore rules, as far as ours uses them: `*`, `**`, `!`, last match wins. */
function isInContext(path: string, rules: readonly string[]): boolean {
  const toRegex = (pattern: string) =>
    new RegExp(
      '^' +
        pattern
          .replace(/\/$/, '')
          .replace(/[.+^${}()|[\]\\]/g, '\\$&')
          .replace(/\*\*\//g, '@@DIRS@@')
          .replace(/\*/g, '[^/]*')
          .replace(/\?/g, '[^/]')
          .replaceAll('@@DIRS@@', '(?:.*/)?') +
        '(?:/.*)?$',
    );
  let included = true;
  for (const rule of rules) {
    const negated = rule.startsWith('!');
    if (toRegex(negated ? rule.slice(1) : rule).test(path)) included = negated;
  }
  return included;
}

function filesUnder(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = posix.join(dir, name);
    return statSync(join(ROOT, path)).isDirectory() ? filesUnder(path) : [path];
  });
}

const stages = parseDockerfile(read('Dockerfile'));
const build = stages[0];
const runtime = stages.at(-1);
const pkg = JSON.parse(read('package.json')) as {
  bin: Record<string, string>;
  scripts: Record<string, string>;
};
const ignoreRules = read('.dockerignore')
  .split('\n')
  .map((l) => l.trim())
  .filter((l) => l !== '' && !l.startsWith('#'));
const contextCopies =
  build === undefined ? [] : copiesOf(build).filter((c) => c.from === undefined);
const copiedToBuild = contextCopies.flatMap((c) => c.sources.map((s) => s.replace(/\/$/, '')));

describe('Dockerfile', () => {
  it('has a build stage on node 20 bookworm and a slim bookworm runtime stage', () => {
    expect(stages).toHaveLength(2);
    expect(build?.name).toBe('build');
    expect(build?.image).toBe('node:${NODE_VERSION}-bookworm');
    expect(runtime?.image).toBe('node:${NODE_VERSION}-bookworm-slim');
    expect(read('Dockerfile')).toMatch(/^ARG NODE_VERSION=20\.\d+$/m);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines;
    const minor = /^ARG NODE_VERSION=20\.(\d+)$/m.exec(read('Dockerfile'))?.[1];
    expect(Number(minor)).toBeGreaterThanOrEqual(Number(/>=20\.(\d+)/.exec(engines.node)?.[1]));
  });

  it('copies into the build stage only paths that exist and that .dockerignore keeps', () => {
    expect(copiedToBuild.length).toBeGreaterThan(0);
    for (const source of copiedToBuild) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      const files = statSync(join(ROOT, source)).isDirectory() ? filesUnder(source) : [source];
      const kept = files.filter((f) => isInContext(f, ignoreRules));
      expect(kept.length, `${source} is in the build context`).toBeGreaterThan(0);
    }
    // The rules themselves: sources are kept, tests and repo clutter are not.
    expect(isInContext('src/cli.ts', ignoreRules)).toBe(true);
    expect(isInContext('src/csi/errors.test.ts', ignoreRules)).toBe(false);
    for (const outside of [
      'node_modules/ssh2/package.json',
      'dist/cli.js',
      '.git/HEAD',
      'test/docs.test.ts',
    ])
      expect(isInContext(outside, ignoreRules), outside).toBe(false);
  });

  it('copies every file the npm build script chain names, and runs that build', () => {
    const runs = build?.instructions.filter((i) => i.op === 'RUN').map((i) => i.args) ?? [];
    expect(runs.some((r) => /\bnpm ci\b/.test(r))).toBe(true);
    expect(runs.some((r) => /\bnpm run build\b/.test(r) && /npm prune --omit=dev/.test(r))).toBe(
      true,
    );
    const chain: string[] = [];
    const expand = (script: string) => {
      const body = pkg.scripts[script] ?? '';
      chain.push(body);
      for (const [, next = ''] of body.matchAll(/npm run ([\w:-]+)/g)) expand(next);
    };
    expand('build');
    const named = chain
      .join(' ')
      .split(/\s+/)
      .filter((w) => /^[\w./-]+\.(?:m?js|json|ts)$/.test(w) && existsSync(join(ROOT, w)));
    expect(named).toEqual(
      expect.arrayContaining(['tsconfig.build.json', 'scripts/gen-proto-types.mjs']),
    );
    const tsBuild = JSON.parse(read('tsconfig.build.json')) as { extends?: string };
    if (tsBuild.extends !== undefined) named.push(posix.normalize(tsBuild.extends));
    for (const file of named) expect(copiedToBuild, `${file} is copied`).toContain(file);
    // The proto the generator reads and the sources tsc compiles.
    expect(copiedToBuild).toEqual(expect.arrayContaining(['proto', 'src', 'package-lock.json']));
  });

  it('runs the entrypoint package.json builds, under tini, as a numeric non-root user', () => {
    const entrypoint = runtime?.instructions.find((i) => i.op === 'ENTRYPOINT')?.args ?? '[]';
    const argv = JSON.parse(entrypoint) as string[];
    const workdir = runtime?.instructions.find((i) => i.op === 'WORKDIR')?.args ?? '';
    const bin = pkg.bin['rds-csi-ts'] ?? '';
    expect(bin).toBe('dist/cli.js');
    expect(argv.slice(0, 3)).toEqual(['/usr/bin/tini', '--', 'node']);
    expect(argv.at(-1)).toBe(posix.join(workdir, bin));
    // That file is what tsc writes for src/cli.ts (rootDir src -> outDir dist).
    const tsBuild = JSON.parse(read('tsconfig.build.json')) as {
      compilerOptions: { rootDir: string; outDir: string };
    };
    const source = bin
      .replace(
        new RegExp(`^${tsBuild.compilerOptions.outDir}/`),
        `${tsBuild.compilerOptions.rootDir}/`,
      )
      .replace(/\.js$/, '.ts');
    expect(existsSync(join(ROOT, source)), source).toBe(true);
    const user = runtime?.instructions.filter((i) => i.op === 'USER').at(-1)?.args ?? '';
    expect(user).toMatch(/^\d+(?::\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
  });

  it('ships every file the compiled driver reads beside dist/ (new URL(..., import.meta.url))', () => {
    const workdir = runtime?.instructions.find((i) => i.op === 'WORKDIR')?.args ?? '';
    // What lands where: a directory source's contents go into dest; a file goes into dest/.
    const shipped = copiesOf(runtime as Stage)
      .filter((c) => c.from === 'build')
      .flatMap((c) =>
        c.sources.map((source) =>
          source.endsWith('/')
            ? `${posix.join(workdir, c.dest)}/`.replace(/\/+$/, '/')
            : c.dest.endsWith('/')
              ? posix.join(workdir, c.dest, posix.basename(source))
              : posix.join(workdir, c.dest),
        ),
      );
    const assets: string[] = [];
    for (const file of filesUnder('src').filter(
      (f) => f.endsWith('.ts') && !f.endsWith('.test.ts'),
    )) {
      for (const [, rel = ''] of read(file).matchAll(
        /new URL\('([^']+)',\s*import\.meta\.url\)/g,
      )) {
        const compiled = posix.join(workdir, 'dist', relative('src', file)).replace(/\.ts$/, '.js');
        assets.push(posix.join(posix.dirname(compiled), rel));
      }
    }
    expect(assets).toEqual(expect.arrayContaining(['/app/proto/csi.proto', '/app/package.json']));
    for (const asset of assets) {
      const from = shipped.find((s) => (s.endsWith('/') ? asset.startsWith(s) : asset === s));
      expect(from, `${asset} is copied into the runtime stage`).toBeDefined();
    }
    expect(shipped).toEqual(expect.arrayContaining(['/app/dist/', '/app/node_modules/']));
  });
});

/**
 * Every host binary src/node runs, and the Debian (bookworm) package that ships it. The test below
 * derives the binaries from the source, so a new command fails here until it is mapped.
 */
const BINARY_PACKAGES: Readonly<Record<string, string>> = {
  nvme: 'nvme-cli',
  'mkfs.ext4': 'e2fsprogs',
  resize2fs: 'e2fsprogs',
  'mkfs.xfs': 'xfsprogs',
  xfs_growfs: 'xfsprogs',
  blkid: 'util-linux',
  blockdev: 'util-linux',
  mount: 'mount',
  umount: 'mount',
  losetup: 'mount',
  mknod: 'coreutils',
};
/** Installed for the image itself, not for a command src/node runs. */
const IMAGE_PACKAGES = ['tini'];

/** Host commands src/node runs, read from its `runner.run(...)` / `this.run(...)` calls. */
function hostCommands(): string[] {
  const commands = new Set<string>();
  const dynamic: string[] = [];
  for (const file of filesUnder('src/node').filter((f) => !f.endsWith('.test.ts'))) {
    const text = read(file);
    for (const [, first = ''] of text.matchAll(/\b(?:runner|this)\.run\(\s*([^,]+),/g)) {
      const literal = /^'([^']+)'$/.exec(first.trim())?.[1];
      if (literal !== undefined) commands.add(literal);
      else dynamic.push(`${file}: ${first.trim()}`);
    }
    // filesystem.ts picks its growth tool as a [command, args] pair.
    for (const [, tool = ''] of text.matchAll(/\[\s*'([a-z0-9_.]+)',\s*\[/g)) commands.add(tool);
  }
  // The dynamic call sites are known: mkfs per supported filesystem, and the two that pass
  // `command` through (the growth pair above and the private run wrapper). A new one must be
  // taught here, or its binary could be missing from the image.
  expect(dynamic.sort()).toEqual(
    [
      'src/node/filesystem.ts: `mkfs.${fsType}`',
      'src/node/filesystem.ts: command',
      'src/node/filesystem.ts: command',
    ].sort(),
  );
  for (const fs of FILESYSTEMS) commands.add(`mkfs.${fs}`);
  return [...commands].sort();
}

function aptPackages(): string[] {
  const run = runtime?.instructions.find((i) => i.op === 'RUN' && /apt-get install/.test(i.args));
  const after = run?.args.split(/apt-get install/)[1] ?? '';
  return after
    .split('&&')[0]!
    .split(/\s+/)
    .filter((w) => w !== '' && !w.startsWith('-'))
    .sort();
}

describe('Dockerfile apt packages', () => {
  it('maps every binary src/node runs, and nothing it does not run', () => {
    expect(hostCommands()).toEqual(Object.keys(BINARY_PACKAGES).sort());
  });

  it('installs exactly the packages of those binaries, plus tini', () => {
    const wanted = [...new Set([...Object.values(BINARY_PACKAGES), ...IMAGE_PACKAGES])].sort();
    expect(aptPackages()).toEqual(wanted);
  });

  it('names the package dpkg says owns each binary on this Debian host', () => {
    // The mapping is a fact about Debian: check it where the binary is installed (the node tests
    // need all but nvme-cli here); for the rest, the package must at least exist in apt.
    let checkedByDpkg = 0;
    for (const [binary, wanted] of Object.entries(BINARY_PACKAGES)) {
      const owner = spawnSync('dpkg', ['-S', `bin/${binary}`], { encoding: 'utf8' });
      expect(owner.error, 'dpkg runs (the project machines are Debian)').toBeUndefined();
      const line = owner.stdout
        .split('\n')
        .find((l) => new RegExp(`: /(?:usr/)?s?bin/${binary.replace('.', '\\.')}$`).test(l));
      if (line !== undefined) {
        expect(line.split(':')[0], binary).toBe(wanted);
        checkedByDpkg++;
      } else {
        const known = spawnSync('apt-cache', ['show', '--no-all-versions', wanted], {
          encoding: 'utf8',
        });
        expect(known.stdout, `${wanted} (for ${binary}) is a Debian package`).toMatch(
          new RegExp(`^Package: ${wanted}$`, 'm'),
        );
      }
    }
    expect(checkedByDpkg).toBeGreaterThanOrEqual(9);
  });
});
