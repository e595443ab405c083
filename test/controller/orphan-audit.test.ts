// The orphan audit end to end (issue 11; field-lessons #2, #3): the controller over real SSH to
// the emulator and a real kube-apiserver, as the identity of the chart's controller ClusterRole,
// with the snapshot CRDs installed. Volumes with PVs, a snapshot with its VolumeSnapshotContent,
// an orphan disk, an orphan file and foreign disks; time moves through the driver's own clock.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { parseAllDocuments } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { packageVersion, startDriver, systemClock, type Driver } from '../../src/main.js';
import { volumeIdForName } from '../../src/domain/naming.js';
import type { Clock } from '../../src/ports.js';
import { FS_DIR } from '../../src/rds/emulator/state-store.js';
import type { CrdDocument } from '../helpers/cluster.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { GIB, createRequest, emulatorFiles } from '../helpers/controller-requests.js';
import { csiClients, grpcError, type CsiClients } from '../helpers/csi-client.js';
import { emulatorRdsSettings, testConfig } from '../helpers/driver-fixture.js';
import { emulatorFixture, type EmulatorFixture } from '../helpers/emulator-fixture.js';
import { DRIVER, createPersistentVolume } from '../helpers/k8s-objects.js';
import { captureLog, type CapturedLog } from '../helpers/log-capture.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { sample } from '../helpers/metrics-text.js';

const DIR = '/storage-pool/metal-csi';
const MIN = 60_000;
const CRDS = new URL('../../.tools/bin/snapshot-crds/', import.meta.url).pathname;
const CONTENTS = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

const LIVE = volumeIdForName('live-volume');
const ORPHAN = volumeIdForName('orphan-volume');
const FRESH = volumeIdForName('fresh-volume');
/** A file no disk uses: left by an interrupted create or a hand-made copy. */
const LOOSE = 'pvc-0b7d7a58-9a7e-4c4e-8f51-3c1f4e2a9d10';
/** A managed-looking file that a disk of the host's own (not ours) uses. */
const HOSTS = 'pvc-5e1d2c3b-4a59-4687-9a0b-c1d2e3f40516';

const k8s = useClusterAs('controller', 'rds-csi-orphans');
let rds: EmulatorFixture;
let snapshotId = '';
/** The driver's clock runs this far ahead of the wall clock (the tests move it). */
const ahead = { ms: 0 };
const clock: Clock = { ...systemClock, now: () => Date.now() + ahead.ms };

interface Controller {
  readonly driver: Driver;
  readonly clients: CsiClients;
  readonly log: CapturedLog;
  stop(): Promise<void>;
}
const running: Controller[] = [];

async function startController(argv: string[]): Promise<Controller> {
  const dir = tempDir('orphan-drv-');
  const log = captureLog('info');
  const config = testConfig(
    [
      '--mode',
      'controller',
      '--endpoint',
      `unix://${dir.path}/csi.sock`,
      '--data-dir',
      dir.path,
      '--leader-election-namespace',
      'default',
      ...argv,
    ],
    rds.emulator.port,
    rds.emulator.hostKeyFingerprint,
  );
  const driver = await startDriver(config, {
    log: log.logger,
    clock,
    version: packageVersion(),
    rds: emulatorRdsSettings(rds.emulator),
    kubeConfig: k8s.kube,
  });
  const clients = csiClients(driver.address);
  const controller = {
    driver,
    clients,
    log,
    stop: async () => {
      clients.close();
      await driver.stop();
      dir.remove();
    },
  };
  running.push(controller);
  return controller;
}

async function get(driver: Driver, path: string): Promise<{ status: number; body: string }> {
  const response = await fetch(`http://${driver.httpAddress ?? ''}${path}`);
  return { status: response.status, body: await response.text() };
}

function orphanAudit(driver: Driver) {
  if (driver.orphans === undefined) throw new Error('the orphan audit is not running');
  return driver.orphans;
}

async function createPv(volumeId: string): Promise<void> {
  await createPersistentVolume(k8s.cluster, volumeId, volumeId, {
    reclaimPolicy: 'Delete',
    volumeAttributes: { volumePath: DIR },
  });
}

function diskSlots(): string[] {
  return rds.emulator
    .state()
    .disks.map((d) => d.slot)
    .sort();
}

beforeAll(async () => {
  // The snapshot CRDs (the pinned external-snapshotter client's own, scripts/tools.sh).
  const file = join(CRDS, 'snapshot.storage.k8s.io_volumesnapshotcontents.yaml');
  for (const doc of parseAllDocuments(readFileSync(file, 'utf8'))) {
    const crd = doc.toJS() as CrdDocument | null;
    if (crd !== null) await k8s.cluster.applyCrd(crd);
  }
  rds = await emulatorFixture();
}, 120_000);

afterAll(async () => {
  for (const c of running.splice(0)) await c.stop().catch(() => undefined);
  await rds?.stop();
});

describe('orphan audit', () => {
  it('dry-run: reports the orphan disk and file (log, metric, /debug/orphans), deletes nothing', async () => {
    const a = await startController(['--leader-elect', 'false']);
    const { controller } = a.clients;
    const audit = orphanAudit(a.driver);
    // The first pass runs at start, on an empty device.
    await waitFor(() => audit.describe().lastPass?.result === 'completed');
    await controller.CreateVolume(createRequest('live-volume', GIB));
    await createPv(LIVE);
    const snap = await controller.CreateSnapshot({
      name: 'live-snap',
      sourceVolumeId: LIVE,
      parameters: {},
    });
    snapshotId = snap.snapshot?.snapshotId ?? '';
    // The snapshotter's two steps: the content, then its status naming the snapshot.
    await k8s.cluster.createObject(CONTENTS, {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotContent',
      metadata: { name: 'snapcontent-live' },
      spec: {
        deletionPolicy: 'Delete',
        driver: DRIVER,
        source: { volumeHandle: LIVE },
        volumeSnapshotRef: { name: 'live-snap', namespace: 'default' },
      },
    });
    const content = (await k8s.cluster.getObject(`${CONTENTS}/snapcontent-live`)) as object;
    await k8s.cluster.putObject(`${CONTENTS}/snapcontent-live/status`, {
      ...content,
      status: { snapshotHandle: snapshotId, readyToUse: true },
    });
    await controller.CreateVolume(createRequest('orphan-volume', GIB)); // no PV will ever name it
    const fs = join(rds.emulator.dataDir, FS_DIR);
    writeFileSync(join(fs, DIR, `${LOOSE}.img`), Buffer.alloc(4096));
    await rds.ssh.exec(
      `/disk add type=file file-path=${DIR}/nixos-root.img file-size=64M slot="nixos-root"`,
    );
    await rds.ssh.exec(
      `/disk add type=file file-path=${DIR}/${HOSTS}.img file-size=64M slot="nixos-data"`,
    );

    expect((await audit.auditor.runPass()).result).toBe('completed');
    let report = audit.describe();
    expect(report.orphans.map((o) => [o.kind, o.slot, o.path, o.passes])).toEqual([
      ['disk', ORPHAN, `${DIR}/${ORPHAN}.img`, 1],
      ['file', LOOSE, `${DIR}/${LOOSE}.img`, 1],
    ]);
    expect(report.orphans[0]?.sizeBytes).toBe(GIB);
    ahead.ms += 2 * 60 * MIN;
    await audit.auditor.runPass();
    report = audit.describe();
    expect(report.orphans.map((o) => o.passes)).toEqual([2, 2]);
    expect(report.orphans.every((o) => !o.wouldDelete && /dry-run/.test(o.deletion))).toBe(true);

    expect(diskSlots()).toEqual([LIVE, ORPHAN, snapshotId, 'nixos-root', 'nixos-data'].sort());
    expect(emulatorFiles(rds)).toContain(`${DIR}/${LOOSE}.img`);

    const debug = await get(a.driver, '/debug/orphans');
    expect(debug.status).toBe(200);
    const served = JSON.parse(debug.body) as typeof report;
    expect(served).toMatchObject({ running: true, deleteEnabled: false, minAgeSeconds: 3600 });
    expect(served.orphans.map((o) => o.slot)).toEqual([ORPHAN, LOOSE]);
    expect(served.orphans[0]).toMatchObject({ kind: 'disk', passes: 2, wouldDelete: false });
    expect(typeof served.orphans[0]?.firstSeen).toBe('string');
    expect((await get(a.driver, '/nope')).body).toContain('/debug/orphans');

    const metrics = (await get(a.driver, '/metrics')).body;
    const series = (labels: string) => sample(metrics, `rds_csi_orphan_audit_${labels}`);
    expect(series('orphans{kind="disk"}')).toBe(1);
    expect(series('orphans{kind="file"}')).toBe(1);
    expect(series('decisions_total{kind="disk",decision="skipped",reason="dry_run"}')).toBe(1);
    expect(series('decisions_total{kind="file",decision="skipped",reason="dry_run"}')).toBe(1);
    const decisions = a.log
      .lines()
      .filter((l) => l['component'] === 'orphan-audit' && l['decision'] !== undefined);
    expect(decisions.map((l) => [l['message'], l['slot'], l['reason']])).toEqual([
      ['orphan detected', ORPHAN, 'unreferenced'],
      ['orphan detected', LOOSE, 'unreferenced'],
      ['orphan would be deleted; dry-run, --orphan-delete is off', ORPHAN, 'dry_run'],
      ['orphan would be deleted; dry-run, --orphan-delete is off', LOOSE, 'dry_run'],
    ]);
    await a.stop();
    running.splice(running.indexOf(a), 1);
  }, 60_000);

  it('with --orphan-delete: only true orphans go, after two passes spanning the minimum age', async () => {
    const b = await startController([
      '--leader-elect',
      'false',
      '--orphan-delete',
      'true',
      '--rds-command-timeout',
      '2s',
    ]);
    const audit = orphanAudit(b.driver);
    // A restarted driver counts from its own first sighting again (its pass at start).
    await waitFor(() => audit.describe().lastPass?.result === 'completed');
    expect(audit.describe().orphans.map((o) => [o.slot, o.passes])).toEqual([
      [ORPHAN, 1],
      [LOOSE, 1],
    ]);

    // A CreateVolume in flight: its disk exists, its read-back hangs, its lock is held.
    rds.emulator.faults.setLatency({
      read: { baseMs: 0, jitterMs: 0 },
      mutate: { baseMs: 1_500, jitterMs: 0 },
      addPerGiBMs: 0,
    });
    const creating = grpcError(b.clients.controller.CreateVolume(createRequest('fresh-volume')));
    await waitFor(() =>
      rds.emulator.commands
        .list()
        .some((c) => c.line.startsWith('/disk add') && c.line.includes(FRESH)),
    );
    rds.emulator.faults.arm({ kind: 'hang' }, { match: { pattern: `where slot="${FRESH}"` } });
    await waitFor(
      () =>
        rds.emulator.commands.list().some((c) => c.outcome === 'hung' && c.line.includes(FRESH)),
      { timeoutMs: 5_000, what: 'the read-back after /disk add to hang' },
    );
    rds.emulator.faults.reset();
    expect(diskSlots()).toContain(FRESH);
    await audit.auditor.runPass();
    expect(audit.describe().orphans.map((o) => o.slot)).not.toContain(FRESH);
    expect((await creating).code).toBe(status.UNAVAILABLE);
    // The provisioner retries (same answer, the disk is there), then creates the PV.
    await b.clients.controller.CreateVolume(createRequest('fresh-volume'));
    await audit.auditor.runPass(); // before the PV: the new disk is only a first sighting
    expect(audit.describe().orphans.find((o) => o.slot === FRESH)?.passes).toBe(1);
    await createPv(FRESH);

    ahead.ms += 30 * MIN;
    await audit.auditor.runPass(); // second pass, 30 min after the first: too young
    expect(diskSlots()).toContain(ORPHAN);
    // Passes at start, during the create, before the PV, now: four, the first 30 min ago.
    expect(audit.describe().orphans.map((o) => [o.slot, o.passes])).toEqual([
      [ORPHAN, 4],
      [LOOSE, 4],
    ]);
    ahead.ms += 31 * MIN;
    const outcome = await audit.auditor.runPass();
    expect(outcome).toMatchObject({ result: 'completed', deleted: 2, orphans: 0 });
    expect(diskSlots()).toEqual([FRESH, LIVE, snapshotId, 'nixos-root', 'nixos-data'].sort());
    const files = emulatorFiles(rds);
    expect(files).not.toContain(`${DIR}/${ORPHAN}.img`);
    expect(files).not.toContain(`${DIR}/${LOOSE}.img`);
    for (const kept of [LIVE, FRESH, snapshotId, 'nixos-root', HOSTS])
      expect(files).toContain(`${DIR}/${kept}.img`);

    const metrics = (await get(b.driver, '/metrics')).body;
    const series = (labels: string) => sample(metrics, `rds_csi_orphan_audit_${labels}`);
    expect(series('orphans{kind="disk"}')).toBe(0);
    expect(series('orphans{kind="file"}')).toBe(0);
    expect(series('decisions_total{kind="disk",decision="deleted",reason="unreferenced"}')).toBe(1);
    expect(series('decisions_total{kind="file",decision="deleted",reason="unreferenced"}')).toBe(1);
    expect(series('decisions_total{kind="disk",decision="cleared",reason="pv"}')).toBe(1);
    const deleted = b.log.lines().filter((l) => l['message'] === 'orphan deleted');
    expect(deleted.map((l) => [l['kind'], l['path']])).toEqual([
      ['disk', `${DIR}/${ORPHAN}.img`],
      ['file', `${DIR}/${LOOSE}.img`],
    ]);
    // More passes, hours later: nothing else qualifies.
    ahead.ms += 5 * 60 * MIN;
    await audit.auditor.runPass();
    await audit.auditor.runPass();
    expect(diskSlots()).toContain(FRESH);
    expect(audit.describe().orphans).toEqual([]);
  }, 60_000);

  it('runs on the leader only, and skips a pass the API server cannot answer', async () => {
    for (const c of running.splice(0)) await c.stop();
    const leader = await startController([]);
    await waitFor(() => leader.driver.kubernetes?.elector?.isLeader, {
      timeoutMs: 15_000,
      what: 'the first replica to win the Lease',
    });
    const follower = await startController([]);
    expect(follower.driver.kubernetes?.elector?.isLeader).toBe(false);
    const served = JSON.parse((await get(follower.driver, '/debug/orphans')).body) as {
      running: boolean;
    };
    expect(served.running).toBe(false);
    expect(
      sample(
        (await get(follower.driver, '/metrics')).body,
        'rds_csi_orphan_audit_passes_total{result="completed"}',
      ),
    ).toBe(0);
    await waitFor(() => orphanAudit(leader.driver).describe().lastPass?.result === 'completed', {
      timeoutMs: 10_000,
      what: "the leader's first pass",
    });
    writeFileSync(join(rds.emulator.dataDir, FS_DIR, DIR, `${LOOSE}.img`), Buffer.alloc(4096));
    await k8s.cluster.stopApiServer();
    const outcome = await orphanAudit(leader.driver).auditor.runPass();
    expect(outcome.result).toBe('kubernetes_unavailable');
    expect(emulatorFiles(rds)).toContain(`${DIR}/${LOOSE}.img`);
    expect(
      sample(
        (await get(leader.driver, '/metrics')).body,
        'rds_csi_orphan_audit_passes_total{result="kubernetes_unavailable"}',
      ),
    ).toBe(1);
    expect(
      leader.log
        .lines()
        .some(
          (l) =>
            l['message'] ===
            'orphan audit pass skipped: Kubernetes could not be read; nothing changes',
        ),
    ).toBe(true);
  }, 60_000);
});
