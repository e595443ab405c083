// controller-lifecycle.bench.ts: CreateVolume and DeleteVolume through the whole driver (gRPC on a
// unix socket, controller, RDS client, one SSH connection) against the emulator with the device's
// realistic timing (routeros-cli.md 7: print 50-100 ms, add 0.5 s + per-GiB time).
//
// Printed side by side (issue 5): p50/p99 and ops/s at concurrency 1, 8 and 32; at c=1 the ratio
// of CreateVolume latency to the emulator's own time for the commands it ran (goal <= 1.05: the
// driver adds almost nothing to the device's time); SSH handshakes per 1,000 operations (goal:
// only the connection the driver keeps).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { packageVersion, startDriver, systemClock } from '../src/main.js';
import { createLogger } from '../src/observability/logger.js';
import type { CommandRecord } from '../src/rds/emulator/command-log.js';
import { startEmulator } from '../src/rds/emulator/emulator.js';
import { LATENCY_REALISTIC } from '../src/rds/emulator/faults.js';
import { csiClients } from '../test/helpers/csi-client.js';
import { testConfig } from '../test/helpers/driver-fixture.js';
import type { BenchResult } from './bench-result.js';

const GIB = 1024 ** 3;
const PASSWORD = 'bench';
/** Operations per concurrency level: enough for a p99 to mean something, short enough to wait for. */
const OPS: Readonly<Record<number, number>> = { 1: 20, 8: 48, 32: 96 };

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;
}

/** Summed device time of the executed commands, all and mutations only (queueing excluded). */
function deviceTime(log: readonly CommandRecord[]): { allMs: number; mutateMs: number } {
  let allMs = 0;
  let mutateMs = 0;
  for (const c of log) {
    if (c.doneAt === undefined || c.startedAt === undefined) continue;
    allMs += c.doneAt - c.startedAt;
    if (c.commandClass === 'mutate') mutateMs += c.doneAt - c.startedAt;
  }
  return { allMs, mutateMs };
}

interface Run {
  readonly latencies: number[];
  readonly seconds: number;
}

async function runAll(
  total: number,
  concurrency: number,
  op: (i: number) => Promise<unknown>,
): Promise<Run> {
  const latencies: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const i = next++;
        const t0 = performance.now();
        await op(i);
        latencies.push(performance.now() - t0);
      }
    }),
  );
  return {
    latencies: latencies.sort((a, b) => a - b),
    seconds: (performance.now() - started) / 1000,
  };
}

export async function benchControllerLifecycle(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-ctl-'));
  const emulator = await startEmulator({
    dataDir: join(dir, 'rds'),
    password: PASSWORD,
    latency: LATENCY_REALISTIC,
    poolSizeBytes: 1024 * GIB,
  });
  const config = testConfig(
    ['--endpoint', `unix://${dir}/csi.sock`, '--mode', 'controller'],
    emulator.port,
    emulator.hostKeyFingerprint,
  );
  const { logger } = createLogger({ format: 'json', level: 'error' });
  const driver = await startDriver(config, {
    log: logger,
    clock: systemClock,
    version: packageVersion(),
    rds: {
      host: emulator.host,
      port: emulator.port,
      username: emulator.user,
      password: PASSWORD,
      hostKey: { fingerprints: [emulator.hostKeyFingerprint], insecure: false },
      nvmeAddress: '127.0.0.1',
    },
  });
  const clients = csiClients(driver.address);
  const request = (name: string) => ({
    name,
    capacityRange: { requiredBytes: String(GIB), limitBytes: '0' },
    volumeCapabilities: [
      {
        accessMode: { mode: 'SINGLE_NODE_WRITER' as const },
        mount: { fsType: 'ext4', mountFlags: [] },
      },
    ],
    parameters: {},
  });
  try {
    // Warm-up: connection, code paths, the pool directory.
    const warm = await clients.controller.CreateVolume(request('warm-up'));
    await clients.controller.DeleteVolume({ volumeId: warm.volume?.volumeId ?? '' });

    const results: BenchResult[] = [];
    let operations = 2;
    for (const concurrency of [1, 8, 32]) {
      const total = OPS[concurrency] ?? 20;
      const ids: string[] = [];
      emulator.commands.clear();
      const create = await runAll(total, concurrency, async (i) => {
        const created = await clients.controller.CreateVolume(
          request(`bench-c${concurrency}-${i}`),
        );
        ids.push(created.volume?.volumeId ?? '');
      });
      const createLog = deviceTime(emulator.commands.list());
      emulator.commands.clear();
      const remove = await runAll(total, concurrency, (i) =>
        clients.controller.DeleteVolume({ volumeId: ids[i] ?? '' }),
      );
      const deleteLog = deviceTime(emulator.commands.list());
      operations += 2 * total;
      const createRate = total / create.seconds;
      const deleteRate = total / remove.seconds;
      const meanCreate = create.latencies.reduce((a, b) => a + b, 0) / total;
      // At c=1 commands never overlap: the sum of their times is the device's time per operation.
      const deviceRatio = meanCreate / (createLog.allMs / total);
      // The device runs one mutation at a time: no client can beat 1 / (mutation time per op).
      const ceiling = (log: { mutateMs: number }) => total / (log.mutateMs / 1000);
      results.push(
        {
          name: `CreateVolume c=${concurrency} (${total} x 1 GiB)`,
          value: createRate,
          unit: 'ops/s',
          detail: `p50 ${percentile(create.latencies, 50).toFixed(0)} ms, p99 ${percentile(create.latencies, 99).toFixed(0)} ms`,
          goal: concurrency === 1 ? '<= 1.05x device time' : '-',
          met: concurrency === 1 ? deviceRatio <= 1.05 : true,
          ratio:
            concurrency === 1
              ? { label: "latency vs the emulator's own command time", value: deviceRatio }
              : {
                  label: "throughput vs the device's serialized-mutation ceiling",
                  value: createRate / ceiling(createLog),
                },
        },
        {
          name: `DeleteVolume c=${concurrency}`,
          value: deleteRate,
          unit: 'ops/s',
          detail: `p50 ${percentile(remove.latencies, 50).toFixed(0)} ms, p99 ${percentile(remove.latencies, 99).toFixed(0)} ms`,
          goal: '-',
          met: true,
          ratio: {
            label: "throughput vs the device's serialized-mutation ceiling",
            value: deleteRate / ceiling(deleteLog),
          },
        },
      );
    }
    const handshakes = driver.rdsStats()?.handshakes ?? NaN;
    results.push({
      name: `SSH handshakes per 1,000 operations (${operations} ops)`,
      value: (handshakes / operations) * 1000,
      unit: '',
      detail: `${handshakes} handshake(s) in all`,
      goal: 'only the kept connection (1)',
      met: handshakes === 1,
      ratio: { label: 'handshakes vs connections kept', value: handshakes / 1 },
    });
    return results;
  } finally {
    clients.close();
    await driver.stop();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
