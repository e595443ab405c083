// run.ts: `npm run chaos` (issue 11). Each run starts ~200 concurrent create/delete and
// publish/unpublish operations against the real driver executable (controller mode, leader
// election on), the RouterOS emulator over SSH and a real etcd + kube-apiserver; kills the driver
// with SIGKILL at seeded random points (after a delay, or the instant the RDS receives its n-th
// mutation) and arms SSH faults; restarts it; lets every operation finish; then checks the
// invariants (invariants.ts). Seeds are printed: `npm run chaos -- --seed S --runs 1` replays a
// run's workload and fault schedule (timing still varies).
//
//   npm run chaos -- [--runs N] [--seed S] [--ops N] [--keep-logs]
// Ends with one line `N passed, N failed` (one per run), which scripts/run-tests.mjs reads.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoreV1Api, StorageV1Api } from '@kubernetes/client-node';

import { startEmulator, type Emulator } from '../../src/rds/emulator/emulator.js';
import type { OneShotFault } from '../../src/rds/emulator/faults.js';
import { bindComponent, startCluster, type Cluster } from '../helpers/cluster.js';
import { csiClients, type CsiClients } from '../helpers/csi-client.js';
import { TEST_PASSWORD } from '../helpers/emulator-fixture.js';
import { DriverProcess } from './driver-process.js';
import { checkConverged, deviceLeftovers, sampleFencing } from './invariants.js';
import { Random } from './random.js';
import { newLedger, planVolumes, runPlan, type Mode } from './workload.js';

const NODES = ['chaos-a', 'chaos-b', 'chaos-c'];
/** Runs keep their live volumes (1 GiB each, sparse files): a pool that 50 runs cannot fill. */
const POOL_BYTES = 64 * 1024 ** 4;

function argument(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i === -1 ? undefined : process.argv[i + 1];
}
const runs = Number(argument('--runs') ?? '10');
const baseSeed = Number(argument('--seed') ?? String(Math.floor(Math.random() * 2 ** 31)));
const minOps = Number(argument('--ops') ?? '200');
const keepLogs = process.argv.includes('--keep-logs');
if (
  !Number.isInteger(runs) ||
  runs < 1 ||
  !Number.isInteger(baseSeed) ||
  !Number.isInteger(minOps)
) {
  console.error('usage: npm run chaos -- [--runs N] [--seed S] [--ops N] [--keep-logs]');
  process.exit(2);
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

async function main(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'chaos-'));
  console.log(
    `chaos: ${String(runs)} runs from seed ${String(baseSeed)}, >= ${String(minOps)} operations each; logs in ${dir}`,
  );
  const cluster: Cluster = await startCluster({ controllerManager: false });
  const emulatorDir = join(dir, 'rds');
  mkdirSync(emulatorDir);
  let emulator: Emulator = await startEmulator({
    password: TEST_PASSWORD,
    dataDir: emulatorDir,
    poolSizeBytes: POOL_BYTES,
  });
  const rdsPort = emulator.port;
  // The controller runs with exactly the chart's controller ClusterRole.
  const { identity, adminKube } = await bindComponent(cluster, 'controller', 'chaos-controller');
  const core = adminKube.makeApiClient(CoreV1Api);
  const storage = adminKube.makeApiClient(StorageV1Api);
  for (const name of NODES)
    await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });

  const socketPath = join(dir, 'csi.sock');
  const passwordFile = join(dir, 'password');
  writeFileSync(passwordFile, TEST_PASSWORD, { mode: 0o600 });
  const driver = new DriverProcess({
    socketPath,
    logPath: join(dir, 'driver.log'),
    args: [
      '--mode',
      'controller',
      '--node-id',
      'chaos-controller',
      '--endpoint',
      `unix://${socketPath}`,
      '--rds-address',
      `127.0.0.1:${String(rdsPort)}`,
      '--rds-password-file',
      passwordFile,
      '--rds-host-key',
      emulator.hostKeyFingerprint,
      '--rds-command-timeout',
      '3s',
      '--kubeconfig',
      identity.kubeconfigPath,
      '--leader-election-namespace',
      'kube-system',
      '--leader-election-lease-duration',
      '3s',
      '--metrics-address',
      '127.0.0.1:0',
      '--log-format',
      'json',
      '--log-level',
      'info',
    ],
  });
  let clients: CsiClients = csiClients(`unix://${socketPath}`);
  const answers = async () => {
    try {
      await clients.identity.GetPluginInfo({});
      return true;
    } catch {
      return false;
    }
  };
  const restart = async () => {
    clients.close();
    clients = csiClients(`unix://${socketPath}`);
    await driver.start(answers);
  };
  await driver.start(answers);

  // The instant the RDS receives a mutation, a waiting trigger may kill the driver (so the
  // mutation runs on the device but its answer is never read).
  let mutationListeners: (() => void)[] = [];
  const watchMutations = (target: Emulator): void => {
    const record = target.commands.record.bind(target.commands);
    target.commands.record = (line, user, commandClass) => {
      const entry = record(line, user, commandClass);
      if (commandClass === 'mutate') for (const listener of mutationListeners) listener();
      return entry;
    };
  };
  watchMutations(emulator);
  const probe = async (): Promise<boolean | undefined> => {
    try {
      return (await clients.identity.Probe({})).ready?.value ?? false;
    } catch {
      return undefined; // the driver is not answering at all
    }
  };
  /** The RDS goes away (its SSH server stops) and comes back on the same port with its state. */
  const restartRds = async (downMs: number, violations: string[]): Promise<void> => {
    await emulator.stop();
    const down = Date.now();
    let noticed = false;
    while (Date.now() - down < Math.max(downMs, 3_000)) {
      if ((await probe()) === false) noticed = true;
      if (noticed && Date.now() - down >= downMs) break;
      await sleep(100);
    }
    if (!noticed)
      violations.push(`Probe stayed ready for ${String(Date.now() - down)} ms with the RDS down`);
    emulator = await startEmulator({
      password: TEST_PASSWORD,
      dataDir: emulatorDir,
      poolSizeBytes: POOL_BYTES,
      port: rdsPort,
    });
    watchMutations(emulator);
    const back = Date.now();
    while ((await probe()) !== true) {
      if (Date.now() - back > 30_000) {
        violations.push('Probe not ready 30 s after the RDS came back');
        break;
      }
      await sleep(100);
    }
  };

  const earlier = { slots: new Set<string>(), files: new Set<string>() };
  let passed = 0;
  let failed = 0;
  try {
    for (let run = 0; run < runs; run++) {
      const seed = baseSeed + run;
      const random = new Random(seed);
      const plans = planVolumes(random, NODES, minOps);
      const modes = new Map<string, Mode>(plans.map((p) => [p.volumeId, p.mode]));
      const ledger = newLedger();
      const started = Date.now();
      const killsBefore = driver.kills;
      const deps = { clients: () => clients, core, storage, ledger };

      // Seeded fault schedule: kill points and SSH faults.
      const kills = random.int(1, 3);
      const schedule = Array.from({ length: kills }, () =>
        random.chance(0.5)
          ? { kind: 'delay' as const, ms: random.int(20, 1_000), downMs: random.int(0, 500) }
          : random.chance(0.7)
            ? { kind: 'mutation' as const, n: random.int(1, 12), downMs: random.int(0, 500) }
            : { kind: 'rds' as const, ms: random.int(50, 1_500), downMs: random.int(300, 2_000) },
      );
      const faultKinds: OneShotFault[] = [
        { kind: 'drop-before' },
        { kind: 'drop-after' },
        { kind: 'hang' },
        { kind: 'garble' },
      ];
      const faults = random.chance(0.6)
        ? Array.from({ length: random.int(1, 3) }, () => ({
            fault: random.pick(faultKinds),
            commandClass: random.chance(0.7) ? ('mutate' as const) : ('read' as const),
            skip: random.int(0, 30),
          }))
        : [];
      const description = [
        ...schedule.map((k) =>
          k.kind === 'delay'
            ? `kill after ${String(k.ms)} ms`
            : k.kind === 'mutation'
              ? `kill at mutation ${String(k.n)}`
              : `RDS restart after ${String(k.ms)} ms`,
        ),
        ...faults.map((f) => `${f.fault.kind} on a ${f.commandClass} after ${String(f.skip)}`),
      ].join(', ');

      let done = false;
      const fencing: string[] = [];
      const probeViolations: string[] = [];
      const sampler = (async () => {
        while (!done) {
          await sampleFencing(core, modes, fencing).catch(() => undefined);
          await sleep(150);
        }
      })();
      const chaos = (async () => {
        for (const f of faults) {
          // Faults are armed one by one, spread over the run's first moments; each fires on the
          // next command of its class after it is armed.
          emulator.faults.arm(f.fault, { match: { commandClass: f.commandClass }, count: 1 });
          await sleep(f.skip * 10);
        }
        for (const step of schedule) {
          if (step.kind === 'rds') {
            await sleep(step.ms);
            if (done) break;
            await restartRds(step.downMs, probeViolations);
            continue;
          }
          if (step.kind === 'delay') await sleep(step.ms);
          else {
            let seen = 0;
            await new Promise<void>((resolve) => {
              const finish = () => {
                clearInterval(poll);
                mutationListeners = mutationListeners.filter((l) => l !== listener);
                resolve();
              };
              const listener = () => {
                if (++seen >= step.n) finish();
              };
              // A run whose operations all end first stops waiting.
              const poll = setInterval(() => {
                if (done) finish();
              }, 100);
              mutationListeners.push(listener);
            });
            if (done) break;
          }
          await driver.kill();
          await sleep(step.downMs);
          await restart();
        }
      })();
      const offsets = plans.map(() => random.int(0, 300));
      await Promise.all(plans.map((plan, i) => runPlan(deps, plan, offsets[i] ?? 0)));
      done = true;
      await chaos;
      await sampler;
      emulator.faults.reset();
      if (!driver.running) await restart();

      const violations = [...ledger.violations, ...fencing, ...probeViolations];
      // INTERNAL and UNKNOWN are final to the sidecars: only garbled device output may cause them.
      if (!faults.some((f) => f.fault.kind === 'garble')) {
        for (const [key, count] of ledger.codes) {
          if (/ (INTERNAL|UNKNOWN)$/.test(key))
            violations.push(`${key} answered ${String(count)} times without garbled output`);
        }
      }
      violations.push(
        ...(await checkConverged({ emulator, core, storage, plans, ledger, earlier })),
      );
      // Judged now, whether this run passed or not: a later run reports only its own leftovers.
      const left = deviceLeftovers(emulator);
      for (const slot of left.slots) earlier.slots.add(slot);
      for (const file of left.files) earlier.files.add(file);
      const seconds = ((Date.now() - started) / 1000).toFixed(1);
      const codes = [...ledger.codes].map(([k, v]) => `${k}=${String(v)}`).join(' ');
      const summary = `${String(plans.length)} volumes, ${String(ledger.rpcs)} RPCs, ${String(driver.kills - killsBefore)} kills, ${String(ledger.refusedPublishes)} publishes refused; ${description || 'no faults'}`;
      if (violations.length === 0) {
        passed++;
        console.log(
          `run ${String(run + 1)} seed ${String(seed)}: passed in ${seconds} s (${summary}) [${codes}]`,
        );
      } else {
        failed++;
        console.log(
          `run ${String(run + 1)} seed ${String(seed)}: FAILED in ${seconds} s (${summary}) [${codes}]`,
        );
        for (const v of violations.slice(0, 20)) console.log(`  - ${v}`);
        if (violations.length > 20) console.log(`  ... and ${String(violations.length - 20)} more`);
        console.log(`  replay: npm run chaos -- --seed ${String(seed)} --runs 1 --keep-logs`);
      }
    }
  } finally {
    clients.close();
    await driver.stop();
    driver.close();
    await emulator.stop();
    await cluster.stop();
    if (failed === 0 && !keepLogs) rmSync(dir, { recursive: true, force: true });
    else console.log(`driver logs: ${join(dir, 'driver.log')}`);
  }
  console.log(`${String(passed)} passed, ${String(failed)} failed`);
  return failed === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('chaos runner failed:', error);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
