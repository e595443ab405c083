// apiserver-outage.test.ts: issue 11's "API-server outage of 60 s (no stale clears, no lost events
// beyond the counted drops)". The real driver executable, twice (leader election on, as deployed,
// and off), each with its own emulated RDS, against a real etcd + kube-apiserver whose API server
// is stopped for OUTAGE_MS and started again on the same port and data. During the outage the
// attacher's calls keep coming and a node goes NotReady (a reconcile pass that cannot look nodes
// up); afterwards no attachment was cleared as stale, the RDS and the attachment records are as
// they were, and every event the driver's answers imply is posted (and readable from the API) or
// counted in rds_csi_events_dropped_total.
//
// A vitest case rather than a chaos-runner mode: the scenario is one fixed schedule with exact
// expectations, and the runner repeats its runs (10 in CI), which would repeat the minute too.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoreV1Api, StorageV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, expect, it } from 'vitest';

import { ATTACHMENT_ANNOTATION } from '../../src/k8s/pv-attachment-store.js';
import { volumeIdForName } from '../../src/domain/naming.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { waitFor } from '../helpers/wait-for.js';
import { OutageController, RWO, RWX, type Answer } from './outage-controller.js';

/** The issue's figure; the whole case takes about twice as long. */
const OUTAGE_MS = 60_000;
const GRACE_MS = 5_000;
/** Attacher calls during the outage: at these offsets from its start. */
const ROUNDS_AT_MS = [5_000, 25_000, 45_000];
const [A, B, C] = ['outage-a', 'outage-b', 'outage-c'] as const;

const k8s = useClusterAs('controller', 'outage-controller');
let core: CoreV1Api;
let storage: StorageV1Api;
let dir: string;
const sides: OutageController[] = [];
let passed = false;

async function setReady(name: string, ready: boolean, note: string): Promise<void> {
  const node = await core.readNode({ name });
  const now = new Date();
  node.status = {
    ...node.status,
    conditions: [
      {
        type: 'Ready',
        status: ready ? 'True' : 'False',
        reason: ready ? 'KubeletReady' : 'KubeletNotReady',
        message: note,
        lastHeartbeatTime: now,
        lastTransitionTime: now,
      },
    ],
  };
  await core.replaceNodeStatus({ name, body: node });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outage-'));
  core = k8s.adminKube.makeApiClient(CoreV1Api);
  storage = k8s.adminKube.makeApiClient(StorageV1Api);
  for (const name of [A, B, C]) {
    await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name } } });
    await setReady(name, true, 'kubelet is posting ready status');
  }
  for (const [label, elected] of [
    ['elected', true],
    ['single', false],
  ] as const) {
    const side = new OutageController({
      label,
      elected,
      dir: join(dir, label),
      kubeconfigPath: k8s.identity.kubeconfigPath,
      core,
      storage,
      gracePeriod: `${String(GRACE_MS / 1000)}s`,
    });
    sides.push(side);
    await side.start();
  }
}, 180_000);

afterAll(async () => {
  for (const side of sides) await side.stop();
  // A failed run keeps the drivers' logs and the control plane's for the post-mortem.
  if (passed) rmSync(dir, { recursive: true, force: true });
  else console.log(`logs kept in ${dir}`);
}, 60_000);

function elected(): OutageController {
  return sides[0] as OutageController;
}

function single(): OutageController {
  return sides[1] as OutageController;
}

function volume(side: OutageController, key: string) {
  const v = side.volumes.get(key);
  if (v === undefined) throw new Error(`no volume ${key}`);
  return v;
}

/** What the calls must answer while the API server is gone, by side. */
interface Expected {
  readonly code: string;
  readonly words?: RegExp;
}

async function outageRound(side: OutageController, round: number): Promise<void> {
  const isElected = side === elected();
  const notLeader: Expected = { code: 'UNAVAILABLE', words: /is not the leader.*retry/ };
  const held = volume(side, 'held');
  const during = `pvc-${side.driverName.split('.')[0] ?? ''}-during-${String(round)}`;
  const calls: [string, () => Promise<Answer>, Expected][] = [
    [
      'publish held to a second node (RWO conflict)',
      () => side.publish(held, B),
      isElected
        ? notLeader
        : { code: 'FAILED_PRECONDITION', words: /cannot be published to node outage-b/ },
    ],
    [
      'publish held again to its node (a repeat)',
      () => side.publish(held, A),
      isElected ? notLeader : { code: 'OK' },
    ],
    [
      'unpublish moving',
      () => side.unpublish(volume(side, 'moving'), B),
      isElected ? notLeader : { code: 'UNAVAILABLE', words: /could not be recorded.*retry/ },
    ],
    [
      'publish fresh',
      () => side.publish(volume(side, 'fresh'), C),
      isElected ? notLeader : { code: 'UNAVAILABLE', words: /could not be recorded.*retry/ },
    ],
    [
      'publish to a node that does not exist',
      () => side.publish(held, 'outage-gone'),
      isElected ? notLeader : { code: 'NOT_FOUND', words: /node outage-gone does not exist/ },
    ],
    [
      'CreateVolume (RDS only)',
      () => side.answer(side.createRpc(during)),
      isElected ? notLeader : { code: 'OK' },
    ],
    [
      'DeleteVolume (RDS only)',
      () =>
        side.answer(
          side.clients.controller.DeleteVolume({ volumeId: volumeIdForName(during), secrets: {} }),
        ),
      isElected ? notLeader : { code: 'OK' },
    ],
  ];
  for (const [what, call, expected] of calls) {
    const answer = await call();
    const label = `${side.driverName}, outage round ${String(round)}: ${what}`;
    expect(answer.code, `${label} (${answer.message})`).toBe(expected.code);
    if (expected.words !== undefined) expect(answer.message, label).toMatch(expected.words);
    // A replica that stepped down must not name itself as the leader to send callers to.
    if (isElected) expect(answer.message, label).not.toContain('controller-elected');
    expect(answer.ms, `${label} answered within 10 s`).toBeLessThan(10_000);
  }
}

/** Nodes in the PV's attachment record; [] when detached. */
async function recordedNodes(volumeId: string): Promise<string[]> {
  const pv = await core.readPersistentVolume({ name: volumeId });
  const raw = pv.metadata?.annotations?.[ATTACHMENT_ANNOTATION];
  if (raw === undefined) return [];
  return ((JSON.parse(raw) as { context?: { nodes?: string[] } }).context?.nodes ?? []).sort();
}

async function attachedVaNodes(side: OutageController, volumeId: string): Promise<string[]> {
  const all = await storage.listVolumeAttachment();
  return all.items
    .filter(
      (va) =>
        va.spec.attacher === side.driverName &&
        va.spec.source.persistentVolumeName === volumeId &&
        va.status?.attached === true,
    )
    .map((va) => va.spec.nodeName)
    .sort();
}

async function eventsAccounted(side: OutageController): Promise<boolean> {
  const attempted = [...side.attempted.values()].reduce((a, b) => a + b, 0);
  const posted = await side.metric('rds_csi_events_posted_total');
  const dropped = await side.metric('rds_csi_events_dropped_total');
  return posted + dropped === attempted;
}

it(`API server down for ${String(OUTAGE_MS / 1000)} s: no stale clears, defined codes, every event posted or counted`, async () => {
  // Before: volumes attached on nodes, PVs with claimRef and PVCs, the attacher's VAs.
  for (const side of sides) {
    const held = await side.createVolume('held', RWO);
    const moving = await side.createVolume('moving', RWO);
    const shared = await side.createVolume('shared', RWX);
    const leaving = await side.createVolume('leaving', RWO);
    const fresh = await side.createVolume('fresh', RWO);
    await side.attach(held, A);
    await side.attach(moving, B);
    await side.attach(shared, A);
    await side.attach(shared, B);
    await side.attach(leaving, C);
    // A second pod scheduled on B, and one for fresh on C: their VAs exist, publishes follow.
    await side.createAttachment(held, B);
    await side.createAttachment(fresh, C);
  }
  for (const side of sides) {
    await waitFor(() => eventsAccounted(side), {
      timeoutMs: 20_000,
      intervalMs: 200,
      what: `${side.driverName}: the events before the outage`,
    });
    expect(await side.metric('rds_csi_events_dropped_total'), side.driverName).toBe(0);
  }
  const disksBefore = sides.map((side) => side.rds.emulator.state().disks);
  for (const side of sides) {
    // The last detach just before: its VolumeDetached races the outage; its grace ends inside it.
    await side.detach(volume(side, 'leaving'), C);
  }
  // A node change just before the API goes: the driver's reconcile pass runs in the outage.
  await setReady(B, false, 'kubelet stopped posting node status');

  await k8s.cluster.stopApiServer();
  const outageStart = Date.now();
  const noticed = await Promise.all(
    sides.map(async (side) => {
      await waitFor(async () => (await side.probe()) === false, {
        timeoutMs: 30_000,
        intervalMs: 100,
        what: `${side.driverName}: Probe not ready with the API server down`,
      });
      return Date.now() - outageStart;
    }),
  );
  for (const side of sides) {
    const readyz = await side.readyz();
    expect(readyz.status, side.driverName).toBe(503);
    expect(readyz.body).toMatch(/k8s-nodes[\s\S]*watch of \/api\/v1\/nodes failed/);
  }
  await waitFor(async () => (await elected().metric('rds_csi_leader')) === 0, {
    timeoutMs: 15_000,
    intervalMs: 100,
    what: 'the elected controller stepping down (it cannot renew its Lease)',
  });
  for (const [round, at] of ROUNDS_AT_MS.entries()) {
    await waitFor(() => Date.now() - outageStart >= at, { timeoutMs: at + 1_000, intervalMs: 100 });
    for (const side of sides) {
      await outageRound(side, round);
      expect(await side.probe(), `${side.driverName}: Probe during the outage`).toBe(false);
    }
  }
  // The outage lasts its full length: the grace periods and the reconcile passes inside it.
  await waitFor(() => Date.now() - outageStart >= OUTAGE_MS, {
    timeoutMs: OUTAGE_MS + 1_000,
    intervalMs: 100,
  });
  await k8s.cluster.startApiServer();
  const back = Date.now();
  const recovered = await Promise.all(
    sides.map(async (side) => {
      await waitFor(async () => (await side.probe()) === true, {
        timeoutMs: 60_000,
        intervalMs: 200,
        what: `${side.driverName}: Probe ready after the API server came back`,
      });
      return Date.now() - back;
    }),
  );
  await waitFor(async () => (await elected().metric('rds_csi_leader')) === 1, {
    timeoutMs: 30_000,
    intervalMs: 200,
    what: 'the elected controller leading again',
  });
  for (const side of sides) expect((await side.readyz()).status, side.driverName).toBe(200);
  // The single controller's pass in the outage could not look nodes up, and changed nothing.
  expect(
    single()
      .logged('node lookup failed; its attachments are left alone this pass')
      .map((l) => l['node']),
  ).toContain(B);

  // After: a node change triggers a pass that can look nodes up; the attacher's retries succeed.
  const passes = await Promise.all(
    sides.map((s) =>
      s.metric('rds_csi_attachment_operation_duration_seconds_count', 'operation="reconcile"'),
    ),
  );
  await setReady(B, false, 'kubelet still not posting node status');
  for (const [i, side] of sides.entries()) {
    await waitFor(
      async () =>
        (await side.metric(
          'rds_csi_attachment_operation_duration_seconds_count',
          'operation="reconcile"',
        )) > (passes[i] ?? 0),
      { timeoutMs: 20_000, intervalMs: 200, what: `${side.driverName}: a pass after the outage` },
    );
  }
  const passedAt = Date.now();
  for (const side of sides) {
    await side.detach(volume(side, 'moving'), B);
    await side.attach(volume(side, 'fresh'), C);
    const conflict = await side.publish(volume(side, 'held'), B);
    expect(conflict.code, side.driverName).toBe('FAILED_PRECONDITION');
    await side.deleteAttachment(volume(side, 'held'), B);
  }

  // Every event attempted is posted or counted; the posted ones are in the API.
  for (const side of sides) {
    await waitFor(() => eventsAccounted(side), {
      timeoutMs: 30_000,
      intervalMs: 200,
      what: `${side.driverName}: every event posted or dropped`,
    });
    const events = await core.listNamespacedEvent({ namespace: side.namespace });
    const uids = new Set([...side.volumes.values()].map((v) => v.pvcUid));
    const inApi = new Map<string, number>();
    for (const e of events.items) {
      if (e.reportingComponent !== side.driverName) continue;
      expect(e.involvedObject.kind).toBe('PersistentVolumeClaim');
      expect(
        uids.has(e.involvedObject.uid ?? ''),
        `event ${e.metadata.name ?? ''} names our PVC`,
      ).toBe(true);
      inApi.set(e.reason ?? '', (inApi.get(e.reason ?? '') ?? 0) + (e.count ?? 1));
    }
    const accounted = new Map<string, number>();
    const posted = new Map<string, number>();
    for (const [series, value] of await side.metrics()) {
      const reason = /reason="([^"]+)"/.exec(series)?.[1];
      if (reason === undefined || value === 0) continue;
      if (series.startsWith('rds_csi_events_posted_total{'))
        posted.set(reason, (posted.get(reason) ?? 0) + value);
      if (/^rds_csi_events_(posted|dropped)_total\{/.test(series))
        accounted.set(reason, (accounted.get(reason) ?? 0) + value);
    }
    const sorted = (m: Map<string, number>) => Object.fromEntries([...m].sort());
    expect(sorted(accounted), `${side.driverName}: posted + dropped by reason`).toEqual(
      sorted(side.attempted),
    );
    expect(sorted(inApi), `${side.driverName}: in the API by reason`).toEqual(sorted(posted));
  }
  // The single controller decided a conflict in every round of the outage: each one dropped.
  expect(await single().metric('rds_csi_events_dropped_total', 'reason="AttachmentConflict"')).toBe(
    ROUNDS_AT_MS.length,
  );

  // No stale clears during or after: a cleared stale attachment would have had its grace by now.
  await waitFor(() => Date.now() - passedAt >= 2 * GRACE_MS, { timeoutMs: 3 * GRACE_MS });
  for (const [i, side] of sides.entries()) {
    expect(await side.metric('rds_csi_attachment_stale_cleared_total'), side.driverName).toBe(0);
    expect(await side.metric('rds_csi_attachment_reconcile_total', 'action="clear_stale"')).toBe(0);
    expect(
      side.logged('attachment of a deleted node marked stale; cleared after the grace period'),
    ).toEqual([]);
    const expected: Record<string, string[]> = {
      held: [A],
      moving: [],
      shared: [A, B],
      leaving: [],
      fresh: [C],
    };
    for (const [key, nodes] of Object.entries(expected)) {
      const v = volume(side, key);
      const label = `${side.driverName} ${key}`;
      expect({ label, recorded: await recordedNodes(v.volumeId) }).toEqual({
        label,
        recorded: nodes,
      });
      expect({ label, va: await attachedVaNodes(side, v.volumeId) }).toEqual({ label, va: nodes });
    }
    // The RDS: the same disks and exports as before the outage (the outage's create+delete
    // pairs left nothing behind).
    expect(side.rds.emulator.state().disks, side.driverName).toEqual(disksBefore[i]);
  }
  console.log(
    `API-server outage ${String(OUTAGE_MS)} ms: Probe not ready after ${noticed.join('/')} ms, ` +
      `ready again ${recovered.join('/')} ms after the API server (elected/single); ` +
      `events posted+dropped: ${(
        await Promise.all(
          sides.map(
            async (s) =>
              `${String(await s.metric('rds_csi_events_posted_total'))}+${String(await s.metric('rds_csi_events_dropped_total'))}`,
          ),
        )
      ).join('/')}`,
  );
  await setReady(B, true, 'kubelet is posting ready status');
  passed = true;
}, 300_000);
