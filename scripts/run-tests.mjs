// run-tests.mjs: `npm test`. Runs every suite and ends with one line `N passed, N failed`
// summed over all of them: static checks, vitest (JSON report), csi-sanity (JUnit reports) and
// the chaos runs (test/chaos/run.ts; RDS_CSI_CHAOS_RUNS, default 10).
//   node scripts/run-tests.mjs [--only static,vitest,sanity,chaos]
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SANITY_SUITES } from '../test/sanity/suites.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const results = join(root, 'test-results');
const only = (process.argv.find((a) => a.startsWith('--only=')) ?? '')
  .slice('--only='.length)
  .split(',')
  .filter(Boolean);
const wanted = (group) => only.length === 0 || only.includes(group);
const totals = [];

function record(suite, passed, failed, note = '', failures = []) {
  totals.push({ suite, passed, failed, note, failures });
  console.log(`\n== ${suite}: ${passed} passed, ${failed} failed${note ? ` (${note})` : ''}\n`);
}

/** The first non-empty line of a failure message, short enough for a summary line. */
function firstLine(message) {
  const line = (message ?? '').split('\n').find((l) => l.trim() !== '') ?? 'no message';
  return line.length > 300 ? `${line.slice(0, 300)}...` : line;
}

function run(cmd, args, options = {}) {
  console.log(`$ ${cmd} ${args.join(' ')}`);
  return spawnSync(cmd, args, { cwd: root, stdio: 'inherit', ...options }).status;
}

// --- static checks: each a pass/fail -------------------------------------------------------
function staticChecks() {
  const checks = [
    [
      'typecheck (tsc --noEmit)',
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.json'],
    ],
    ['lint (eslint)', process.execPath, ['node_modules/eslint/bin/eslint.js', '.']],
    [
      'format (prettier --check)',
      process.execPath,
      ['node_modules/prettier/bin/prettier.cjs', '--check', '.'],
    ],
    ['generated CSI types are fresh', process.execPath, ['scripts/gen-proto-types.mjs', '--check']],
    ['alert rules and dashboard (promtool)', process.execPath, ['scripts/promtool-check.mjs']],
    [
      'rendered manifests match the Helm chart',
      process.execPath,
      ['scripts/render-manifests.mjs', '--check'],
    ],
    [
      'Helm chart lints (helm lint --strict)',
      process.execPath,
      ['scripts/render-manifests.mjs', '--lint'],
    ],
    [
      'build (tsc -p tsconfig.build.json)',
      process.execPath,
      ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'],
    ],
  ];
  let passed = 0;
  const failedNames = [];
  for (const [name, cmd, args] of checks) {
    if (run(cmd, args) === 0) passed++;
    else failedNames.push(name);
  }
  record(
    'static checks',
    passed,
    failedNames.length,
    failedNames.length ? `failed: ${failedNames.join(', ')}` : '',
  );
}

// --- vitest ------------------------------------------------------------------------------------
function vitest() {
  const report = join(results, 'vitest.json');
  rmSync(report, { force: true });
  const status = run(process.execPath, [
    'node_modules/vitest/vitest.mjs',
    'run',
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${report}`,
  ]);
  if (!existsSync(report)) {
    record('vitest', 0, 1, `no report; vitest exited ${status}`);
    return;
  }
  const json = JSON.parse(readFileSync(report, 'utf8'));
  // A file that fails to load has no tests but is a failure.
  const brokenFiles = json.testResults.filter(
    (f) => f.status === 'failed' && f.assertionResults.length === 0,
  ).length;
  const failed = json.numFailedTests + brokenFiles;
  // Name what failed in the summary: CI keeps only the tail of the output.
  const failures = json.testResults.flatMap((f) => {
    const file = relative(process.cwd(), f.name);
    if (f.status === 'failed' && f.assertionResults.length === 0)
      return [`${file}: ${firstLine(f.message)}`];
    return f.assertionResults
      .filter((a) => a.status === 'failed')
      .map((a) => `${file} > ${a.fullName}: ${firstLine(a.failureMessages?.[0])}`);
  });
  record(
    'vitest',
    json.numPassedTests,
    failed,
    failed === 0 && status !== 0 ? `vitest exited ${status}` : '',
    failures,
  );
  if (failed === 0 && status !== 0) totals.at(-1).failed += 1;
}

// --- csi-sanity --------------------------------------------------------------------------------
function junitCounts(xml) {
  const statuses = [...xml.matchAll(/<testcase\b[^>]*\bstatus="([a-z]+)"/g)].map((m) => m[1]);
  const count = (...names) => statuses.filter((s) => names.includes(s)).length;
  return {
    passed: count('passed'),
    failed: count('failed', 'panicked', 'interrupted', 'aborted', 'timedout'),
    skipped: count('skipped', 'pending'),
  };
}

function waitForLine(child, pattern, timeoutMs) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(
      () => reject(new Error(`driver did not log ${pattern} within ${timeoutMs} ms:\n${seen}`)),
      timeoutMs,
    );
    const onData = (chunk) => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        resolve(seen);
      }
    };
    child.stdout.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`driver exited (${code}) before it was ready:\n${seen}`));
    });
  });
}

async function sanitySuite(suite, sanityBin) {
  const tmp = mkdtempSync('/tmp/sanity-');
  const stateDir = join(tmp, 'state');
  const driverLog = join(
    results,
    `${suite.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.driver.log`,
  );
  const driver = spawn(
    process.execPath,
    [
      'dist/cli.js',
      '--quickstart',
      '--data-dir',
      stateDir,
      '--log-level',
      'debug',
      ...suite.driverArgs,
    ],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let logText = '';
  driver.stdout.on('data', (c) => (logText += c));
  driver.stderr.on('data', (c) => (logText += c));
  try {
    await waitForLine(driver, /"message":"serving"|\] serving /, 30_000);
    const socket = join(stateDir, 'csi.sock');
    const endpoint = suite.endpointForm === 'bare-path' ? socket : `unix://${socket}`;
    const junit = join(
      results,
      `${suite.name.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}.junit.xml`,
    );
    rmSync(junit, { force: true });
    run(sanityBin, [
      `--csi.endpoint=${endpoint}`,
      `--csi.mountdir=${join(tmp, 'mnt')}`,
      `--csi.stagingdir=${join(tmp, 'stage')}`,
      `--ginkgo.junit-report=${junit}`,
      '--ginkgo.no-color',
      '--ginkgo.timeout=30m',
      ...suite.sanityArgs,
    ]);
    if (!existsSync(junit)) return record(suite.name, 0, 1, 'csi-sanity wrote no report');
    const counts = junitCounts(readFileSync(junit, 'utf8'));
    let { failed } = counts;
    const notes = [`${counts.skipped} skipped by focus or capability`];
    if (counts.passed < suite.expectPassed) {
      failed += 1;
      notes.push(`expected at least ${suite.expectPassed} passing specs`);
    }
    // The driver must stop cleanly after the suite: SIGTERM -> exit 0, socket removed.
    const code = await new Promise((resolve) => {
      driver.once('exit', (c) => resolve(c));
      driver.kill('SIGTERM');
    });
    if (code !== 0 || existsSync(socket)) {
      failed += 1;
      notes.push(
        `driver did not stop cleanly (exit ${code}, socket ${existsSync(socket) ? 'left behind' : 'removed'})`,
      );
    }
    record(suite.name, counts.passed, failed, notes.join('; '));
  } catch (error) {
    record(suite.name, 0, 1, error.message.split('\n')[0]);
  } finally {
    if (driver.exitCode === null) driver.kill('SIGKILL');
    writeFileSync(driverLog, logText);
    rmSync(tmp, { recursive: true, force: true });
  }
}

async function sanity() {
  const bin = join(root, '.tools/bin/csi-sanity');
  if (!existsSync(bin)) {
    record('csi-sanity', 0, 1, 'not installed: run bash scripts/tools.sh ensure');
    return;
  }
  for (const suite of SANITY_SUITES) await sanitySuite(suite, bin);
}

// --- chaos (issue 11): kill -9 and SSH faults during concurrent operations, 10 seeded runs ------
async function chaos() {
  const runs = process.env.RDS_CSI_CHAOS_RUNS ?? '10';
  const child = spawn(
    process.execPath,
    ['node_modules/tsx/dist/cli.mjs', 'test/chaos/run.ts', '--runs', runs],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk.toString();
    process.stdout.write(chunk); // each run's line as it ends: progress for a long suite
  });
  const code = await new Promise((resolve) => child.once('close', (c) => resolve(c)));
  writeFileSync(join(results, 'chaos.txt'), output);
  const last = /^(\d+) passed, (\d+) failed$/.exec(output.trim().split('\n').at(-1) ?? '');
  if (last === null) record('chaos', 0, 1, `no summary line; exit ${code}`);
  else record('chaos', Number(last[1]), Number(last[2]));
}

mkdirSync(results, { recursive: true });
if (wanted('static')) staticChecks();
if (wanted('vitest')) vitest();
if (wanted('sanity')) await sanity();
if (wanted('chaos')) await chaos();

const passed = totals.reduce((n, t) => n + t.passed, 0);
const failed = totals.reduce((n, t) => n + t.failed, 0);
console.log('\nSummary:');
for (const t of totals) {
  console.log(
    `  ${t.failed ? 'FAIL' : 'ok  '} ${t.suite}: ${t.passed} passed, ${t.failed} failed${t.note ? ` (${t.note})` : ''}`,
  );
  for (const f of t.failures) console.log(`         ${f}`);
}
const line = `${passed} passed, ${failed} failed`;
writeFileSync(join(results, 'summary.txt'), `${line}\n`);
console.log(line);
process.exitCode = failed === 0 ? 0 : 1;
