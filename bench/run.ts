// run.ts: `npm run bench`. Runs every benchmark, prints a table and writes bench-results.json.
// Benchmarks are measurements, never pass/fail tests: a missed goal is reported, not failed.
import { cpus, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';

import { benchNodeStage } from './node-stage.bench.js';
import type { BenchResult } from './bench-result.js';
import { benchAttachments } from './attachments.bench.js';
import { benchControllerLifecycle } from './controller-lifecycle.bench.js';
import { benchEmulatorPrint } from './emulator-print.bench.js';

const BENCHMARKS: readonly { name: string; run: () => Promise<BenchResult[]> }[] = [
  { name: 'emulator print throughput', run: benchEmulatorPrint },
  {
    name: 'controller CreateVolume/DeleteVolume, realistic device timing',
    run: benchControllerLifecycle,
  },
  { name: 'attachment actors at 10,000 volumes', run: benchAttachments },
  { name: 'node stage and publish on loop devices', run: benchNodeStage },
];

const machine = `${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB, Node ${process.version}`;
console.log(`rds-csi-ts benchmarks on ${machine}\n`);
const all: BenchResult[] = [];
// BENCH=<text> runs only the benchmarks whose name contains it (all by default).
const only = process.env['BENCH'] ?? '';
for (const bench of BENCHMARKS.filter((b) => b.name.includes(only))) {
  console.log(`running: ${bench.name}`);
  all.push(...(await bench.run()));
}
const rows = all.map((r) => [
  r.name,
  `${r.value.toFixed(r.value >= 100 ? 0 : 2)} ${r.unit}`.trim(),
  r.detail ?? '',
  r.goal,
  r.met ? 'met' : 'MISSED',
  `${r.ratio.value.toFixed(2)}x ${r.ratio.label}`,
]);
const header = ['benchmark', 'result', 'detail', 'goal', '', 'ratio (same run)'];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i]!.length)));
for (const row of [header, ...rows])
  console.log(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  '));
mkdirSync('test-results', { recursive: true });
writeFileSync(
  'test-results/bench-results.json',
  `${JSON.stringify({ machine, results: all }, null, 2)}\n`,
);
console.log('\nwritten: test-results/bench-results.json');
