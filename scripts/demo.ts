// demo.ts: `npm run demo`: a guided story against the quickstart's parts (the RouterOS emulator
// over SSH and the whole driver on a unix socket, in a temp dir), printing for each step the
// attachment state changes, the events the driver would post on the PVC, and the metric deltas.
//
//   1. a volume (RWX block, as KubeVirt uses) is created and published to node-a
//   2. node-b joins: a live migration starts; node-a's unpublish completes it
//   3. a second, single-node volume: node-b takes it, node-a is refused (AttachmentConflict)
//   4. node-b is deleted from the cluster: its attachment turns stale and is cleared after the
//      grace period (the same supervisor and machines, on a simulated clock: no waiting)
//
// `npm run demo -- --inspect 8090` streams the actors to the Stately inspector meanwhile.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';

import { SimulatedClock } from 'xstate';

import { AttachmentSupervisor } from '../src/actors/attachment-supervisor.js';
import { loadConfig } from '../src/config/load-config.js';
import { packageVersion, startDriver, systemClock } from '../src/main.js';
import { createLogger } from '../src/observability/logger.js';
import type { AttachmentMetrics, PersistedAttachment } from '../src/ports.js';
import { startQuickstartRds } from '../src/wiring/quickstart.js';
import { csiClients } from '../test/helpers/csi-client.js';
import { quietAttachmentMetrics } from '../test/helpers/quiet-metrics.js';

const inspectAt = process.argv.indexOf('--inspect');
const inspectPort = inspectAt >= 0 ? process.argv[inspectAt + 1] : undefined;
const dir = mkdtempSync(join(tmpdir(), 'rds-csi-demo-'));

// Every log line of the driver, parsed: state changes and events are picked out of it.
const lines: Record<string, unknown>[] = [];
const stream = new PassThrough();
stream.on('data', (chunk: Buffer) => {
  for (const text of chunk.toString('utf8').split('\n'))
    if (text.trim() !== '') lines.push(JSON.parse(text) as Record<string, unknown>);
});
const { logger } = createLogger({ format: 'json', level: 'debug', stream });

const outcome = loadConfig({
  argv: [
    '--quickstart',
    '--data-dir',
    dir,
    '--node-id',
    'node-a',
    '--standalone-nodes',
    'node-b',
    '--metrics-address',
    'off',
    ...(inspectPort !== undefined ? ['--inspect', inspectPort] : []),
  ],
  env: {},
  readFile: () => '',
  hostname: 'demo',
  cwd: process.cwd(),
  version: packageVersion(),
});
if (outcome.kind !== 'run') throw new Error('demo config did not load');
const config = outcome.config;
const rds = await startQuickstartRds(config.dataDir, 'off', logger);
const driver = await startDriver(config, {
  log: logger,
  clock: systemClock,
  version: packageVersion(),
  rds: rds.settings,
});
const { controller } = csiClients(driver.address);

async function attachmentCounters(): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const metric of await driver.metrics.registry.getMetricsAsJSON()) {
    if (!metric.name.startsWith('rds_csi_attachment_') || String(metric.type) === 'histogram')
      continue;
    for (const v of metric.values) {
      const labels = Object.entries(v.labels)
        .map(([k, value]) => `${k}="${String(value)}"`)
        .join(',');
      out.set(labels === '' ? metric.name : `${metric.name}{${labels}}`, v.value);
    }
  }
  return out;
}

const STANDALONE_EVENT = 'event (standalone: no Kubernetes to post it to)';
let seen = 0;
async function step(title: string, action: () => Promise<unknown>): Promise<void> {
  console.log(`\n== ${title}`);
  const before = await attachmentCounters();
  try {
    await action();
    console.log('   answer: OK');
  } catch (error) {
    const e = error as { code?: number; details?: string };
    console.log(`   answer: gRPC code ${String(e.code)}: ${e.details ?? String(error)}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 50));
  for (const line of lines.slice(seen)) {
    if (line['message'] === 'attachment state changed')
      console.log(
        `   state:  ${String(line['from'])} -> ${String(line['to'])} (${String(line['cause'])})`,
      );
    const text = typeof line['message'] === 'string' ? line['message'] : '';
    // Standalone events are logged (no cluster to post them to); the event's text follows.
    if (text.startsWith(STANDALONE_EVENT))
      console.log(
        `   event:  ${String(line['type'])} ${String(line['reason'])}: ${text.slice(STANDALONE_EVENT.length).trim()}`,
      );
  }
  seen = lines.length;
  const after = await attachmentCounters();
  for (const [series, value] of after) {
    const delta = value - (before.get(series) ?? 0);
    if (delta !== 0) console.log(`   metric: ${series} ${delta > 0 ? '+' : ''}${delta}`);
  }
}

console.log(
  `rds-csi-ts demo: driver on ${driver.address}, RDS emulator on 127.0.0.1:${rds.emulator.port}`,
);
if (inspectPort !== undefined)
  console.log(
    `Stately inspector: open http://localhost:${inspectPort} in a browser that reaches stately.ai`,
  );

const BLOCK_RWX = { accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' as const }, block: {} };
const BLOCK_RWO = { accessMode: { mode: 'SINGLE_NODE_WRITER' as const }, block: {} };
let vmDisk = '';
let dbDisk = '';
await step('create a 10 GiB RWX block volume (a KubeVirt VM disk)', async () => {
  const created = await controller.CreateVolume({
    name: 'vm-disk',
    capacityRange: { requiredBytes: String(10 * 1024 ** 3), limitBytes: '0' },
    volumeCapabilities: [BLOCK_RWX],
    parameters: {},
  });
  vmDisk = created.volume?.volumeId ?? '';
  console.log(`   volume: ${vmDisk}`);
});
const publish = (
  volumeId: string,
  nodeId: string,
  capability: typeof BLOCK_RWX | typeof BLOCK_RWO,
) =>
  controller.ControllerPublishVolume({
    volumeId,
    nodeId,
    volumeCapability: capability,
    readonly: false,
    volumeContext: {},
  });
await step('publish it to node-a (the VM runs there)', () => publish(vmDisk, 'node-a', BLOCK_RWX));
await step('publish it to node-b too: a live migration starts', () =>
  publish(vmDisk, 'node-b', BLOCK_RWX),
);
await step('unpublish from node-a: the migration completes, node-b keeps it', () =>
  controller.ControllerUnpublishVolume({ volumeId: vmDisk, nodeId: 'node-a' }),
);
await step('create a single-node volume and publish it to node-b', async () => {
  const created = await controller.CreateVolume({
    name: 'db-disk',
    capacityRange: { requiredBytes: String(1024 ** 3), limitBytes: '0' },
    volumeCapabilities: [BLOCK_RWO],
    parameters: {},
  });
  dbDisk = created.volume?.volumeId ?? '';
  await publish(dbDisk, 'node-b', BLOCK_RWO);
});
await step('node-a asks for it while node-b holds it: refused', () =>
  publish(dbDisk, 'node-a', BLOCK_RWO),
);

// Act 4: a deleted node, on a simulated clock (the reconciler's path; no Kubernetes here).
console.log('\n== node-b is deleted from the cluster (same machines, simulated clock)');
const clock = new SimulatedClock();
clock.set(Date.now());
const records = new Map<string, PersistedAttachment>();
const quiet: AttachmentMetrics = {
  ...quietAttachmentMetrics,
  staleCleared: () => console.log('   metric: rds_csi_attachment_stale_cleared_total +1'),
  transition: (from, to, cause) => console.log(`   state:  ${from} -> ${to} (${cause})`),
};
const simulated = new AttachmentSupervisor({
  store: {
    loadAll: () => Promise.resolve(new Map(records)),
    save: (id, record) => {
      if (record === undefined) records.delete(id);
      else records.set(id, record);
      return Promise.resolve();
    },
  },
  events: {
    post: (_v, type, reason, message) => console.log(`   event:  ${type} ${reason}: ${message}`),
  },
  metrics: quiet,
  clock,
  log: logger,
  graceMs: config.attachmentGracePeriodMs,
});
await simulated.rebuild();
await simulated.publish({
  volumeId: dbDisk,
  nodeId: 'node-b',
  multiNode: false,
  readOnly: false,
  migrationTimeoutMs: 300_000,
});
await simulated.nodeDeleted(dbDisk, 'node-b');
console.log(
  `   ... ${config.attachmentGracePeriodMs / 1000} s later (simulated), the reconciler's timer fires:`,
);
clock.increment(config.attachmentGracePeriodMs);
await new Promise((resolve) => setTimeout(resolve, 50));
simulated.stop();

console.log(
  '\nDone. The same story runs in a cluster with events on the PVCs: kubectl get events --field-selector involvedObject.kind=PersistentVolumeClaim',
);
await driver.stop();
await rds.emulator.stop();
rmSync(dir, { recursive: true, force: true });
