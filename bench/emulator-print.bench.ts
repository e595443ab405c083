// emulator-print.bench.ts: how many `/disk print` commands the emulator answers per second over
// one SSH connection with latency off, against the same SSH stack answering a trivial command.
// Goal (issue 4): >= 1,000/s, so the emulator is never the bottleneck of other benchmarks.
import { mkdtempSync, rmSync } from 'node:fs';

import ssh2 from 'ssh2';

import { startEmulator } from '../src/rds/emulator/emulator.js';
import type { BenchResult } from './bench-result.js';

const PASSWORD = 'bench';

async function connect(port: number): Promise<ssh2.Client> {
  const client = new ssh2.Client();
  await new Promise<void>((resolve, reject) => {
    client.once('ready', () => {
      client.setNoDelay(true);
      resolve();
    });
    client.once('error', reject);
    client.connect({ host: '127.0.0.1', port, username: 'admin', password: PASSWORD });
  });
  return client;
}

function exec(client: ssh2.Client, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    client.exec(command, (error, channel) => {
      if (error) return reject(error);
      let out = '';
      channel.on('data', (d: Buffer) => (out += d.toString()));
      channel.on('close', () => resolve(out));
    });
  });
}

async function rate(
  client: ssh2.Client,
  command: string,
  total: number,
  concurrency: number,
): Promise<number> {
  let issued = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (issued < total) {
        issued++;
        await exec(client, command);
      }
    }),
  );
  return total / ((performance.now() - started) / 1000);
}

export async function benchEmulatorPrint(): Promise<BenchResult[]> {
  const dir = mkdtempSync('/tmp/bench-emu-');
  const emulator = await startEmulator({ dataDir: dir, password: PASSWORD });
  const client = await connect(emulator.port);
  try {
    for (let i = 0; i < 20; i++) {
      await exec(
        client,
        `/disk add type=file file-path=/storage-pool/metal-csi/pvc-${i}.img file-size=1G slot=pvc-${i} nvme-tcp-export=yes`,
      );
    }
    await rate(client, '/system identity print', 200, 4); // warm-up
    const results: BenchResult[] = [];
    for (const concurrency of [1, 8]) {
      const baseline = await rate(client, '/system identity print', 2000, concurrency);
      const print = await rate(client, '/disk print detail where slot~"pvc"', 2000, concurrency);
      results.push({
        name: `emulator /disk print detail (20 disks), c=${concurrency}`,
        value: print,
        unit: 'cmd/s',
        goal: '>= 1000 cmd/s',
        met: print >= 1000,
        ratio: { label: 'vs trivial command on the same SSH connection', value: print / baseline },
      });
    }
    return results;
  } finally {
    client.end();
    await emulator.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
