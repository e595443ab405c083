// node-stage.bench.ts: NodeStageVolume (through gRPC: probe, mkfs, mount, and every check around
// them) against the raw commands it cannot avoid (mkfs.ext4 + mount) on the same kind of loop
// device in the same run (issue 8 goal: <= 1.1x); and NodePublishVolume p50 against a raw bind
// mount. Each stage gets a fresh blank 1 GiB file attached as a loop device before the clock
// starts, so both sides format the same thing; the two sides alternate to share the machine's
// noise. mkfs.ext4 initializes lazily, so raw mkfs + mount takes ~15-60 ms at any size here;
// the probe that proves a device blank before formatting (blkid -p, field-lessons #1) is not in
// the raw baseline and is reported beside it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { MIKROTIK_NQN_PREFIX } from '../src/domain/naming.js';
import { csiClients } from '../test/helpers/csi-client.js';
import { driverFixture } from '../test/helpers/driver-fixture.js';
import type { BenchResult } from './bench-result.js';

const ROUNDS = 8;
const PUBLISHES = 40;
const GIB = 1024 ** 3;

function p50(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? NaN;
}

function sh(command: string, ...args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8' }).trim();
}

export async function benchNodeStage(): Promise<BenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'node-bench-'));
  const fs = join(dir, 'fs');
  mkdirSync(fs);
  const table = join(dir, 'exports.json');
  const slots = Array.from({ length: ROUNDS }, (_, i) => `pvc-bench-${String(i)}`);
  const rows = slots.map((slot) => ({
    nqn: `${MIKROTIK_NQN_PREFIX}${slot}`,
    port: 4420,
    slot,
    backingFile: join(fs, `${slot}.img`),
    sizeBytes: GIB,
  }));
  writeFileSync(table, JSON.stringify(rows));
  const fixture = await driverFixture([
    '--mode',
    'node',
    '--node-transport',
    'loop',
    '--loop-export-table',
    table,
    '--log-level',
    'error',
  ]);
  const clients = csiClients(fixture.driver.address);
  const stageMs: number[] = [];
  const rawMs: number[] = [];
  const probeMs: number[] = [];
  const publishMs: number[] = [];
  const bindMs: number[] = [];
  const capability = {
    accessMode: { mode: 'SINGLE_NODE_WRITER' as const },
    mount: { fsType: 'ext4', mountFlags: [] },
  };
  try {
    for (let i = 0; i < ROUNDS; i++) {
      // Raw: a fresh blank file on a loop device, mkfs.ext4 and mount.
      const rawFile = join(dir, `raw-${String(i)}.img`);
      writeFileSync(rawFile, '');
      truncateSync(rawFile, GIB);
      const rawDevice = sh('losetup', '--find', '--show', rawFile);
      const rawMount = join(dir, `raw-${String(i)}`);
      mkdirSync(rawMount);
      let t0 = performance.now();
      try {
        sh('blkid', '-p', rawDevice); // exit 2 on a blank device: the probe field-lessons #1 asks for
      } catch {
        // blank, as expected
      }
      probeMs.push(performance.now() - t0);
      t0 = performance.now();
      sh('mkfs.ext4', '-q', rawDevice);
      sh('mount', '-t', 'ext4', rawDevice, rawMount);
      rawMs.push(performance.now() - t0);
      sh('umount', rawMount);
      sh('losetup', '--detach', rawDevice);

      // The driver: the same on its own volume, attached beforehand (the connect is not timed).
      const slot = slots[i] ?? '';
      const file = join(fs, `${slot}.img`);
      writeFileSync(file, '');
      truncateSync(file, GIB);
      sh('losetup', '--find', '--show', file);
      const staging = join(dir, `stage-${String(i)}`);
      mkdirSync(staging);
      t0 = performance.now();
      await clients.node.NodeStageVolume({
        volumeId: slot,
        publishContext: { nqn: `${MIKROTIK_NQN_PREFIX}${slot}` },
        stagingTargetPath: staging,
        volumeCapability: capability,
        volumeContext: {},
      });
      stageMs.push(performance.now() - t0);

      if (i === 0) {
        for (let n = 0; n < PUBLISHES; n++) {
          const target = join(dir, `target-${String(n)}`);
          t0 = performance.now();
          await clients.node.NodePublishVolume({
            volumeId: slot,
            publishContext: {},
            stagingTargetPath: staging,
            targetPath: target,
            volumeCapability: capability,
            readonly: false,
            volumeContext: {},
          });
          publishMs.push(performance.now() - t0);
          await clients.node.NodeUnpublishVolume({ volumeId: slot, targetPath: target });
          const bindTarget = join(dir, `bind-${String(n)}`);
          mkdirSync(bindTarget);
          t0 = performance.now();
          sh('mount', '--bind', staging, bindTarget);
          bindMs.push(performance.now() - t0);
          sh('umount', bindTarget);
        }
      }
      await clients.node.NodeUnstageVolume({ volumeId: slot, stagingTargetPath: staging });
    }
  } finally {
    clients.close();
    await fixture.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const stageRatio = p50(stageMs) / p50(rawMs);
  const publishRatio = p50(publishMs) / p50(bindMs);
  return [
    {
      name: `NodeStageVolume, 1 GiB ext4 (format + mount), ${String(ROUNDS)} rounds`,
      value: p50(stageMs),
      unit: 'ms p50',
      detail: `raw mkfs.ext4 + mount p50 ${p50(rawMs).toFixed(1)} ms; the blank probe alone (blkid -p) ${p50(probeMs).toFixed(1)} ms; stage vs raw probe + mkfs + mount ${(p50(stageMs) / (p50(rawMs) + p50(probeMs))).toFixed(2)}x`,
      goal: '<= 1.1x raw mkfs + mount',
      met: stageRatio <= 1.1,
      ratio: { label: 'vs raw mkfs.ext4 + mount, same device kind', value: stageRatio },
    },
    {
      name: `NodePublishVolume (bind mount), ${String(PUBLISHES)} publishes`,
      value: p50(publishMs),
      unit: 'ms p50',
      detail: `raw mount --bind p50 ${p50(bindMs).toFixed(1)} ms`,
      goal: 'reported (no goal set)',
      met: true,
      ratio: { label: 'vs a raw mount --bind', value: publishRatio },
    },
  ];
}
