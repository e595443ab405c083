// The attachment reconciler on a SimulatedClock with the file store: deleted nodes cleared only
// after the grace period, fail-open on lookup errors, nodes that return keep their volumes, both
// directions, and no writes at all on a consistent state.
import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';

import { AttachmentReconciler, type NodeLookup } from '../../src/actors/attachment-reconciler.js';
import { AttachmentSupervisor } from '../../src/actors/attachment-supervisor.js';
import { FileAttachmentStore } from '../../src/actors/file-attachment-store.js';
import type { AttachmentMetrics, AttachmentStore, PersistedAttachment } from '../../src/ports.js';
import { captureLog } from '../helpers/log-capture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const GRACE = 30_000;
const dirs: TempDir[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

async function rig(lookup: NodeLookup) {
  const dir = tempDir('rec-');
  dirs.push(dir);
  const clock = new SimulatedClock();
  clock.set(1_800_000_000_000);
  const file = new FileAttachmentStore(`${dir.path}/attachments.json`);
  let writes = 0;
  const store: AttachmentStore = {
    loadAll: () => file.loadAll(),
    save: (id, record) => {
      writes++;
      return file.save(id, record);
    },
  };
  const events: string[] = [];
  const actions: string[] = [];
  const metrics: AttachmentMetrics = {
    attach: () => undefined,
    detach: () => undefined,
    conflict: () => undefined,
    gracePeriodUsed: () => undefined,
    staleCleared: () => actions.push('stale_cleared_total'),
    reconcile: (action) => actions.push(`reconcile_total{${action}}`),
    migration: () => undefined,
    actorStates: () => undefined,
    transition: () => undefined,
  };
  const log = captureLog();
  const supervisor = new AttachmentSupervisor({
    store,
    events: { post: (_v, type, reason, message) => events.push(`${type} ${reason} ${message}`) },
    metrics,
    clock,
    log: log.logger,
    graceMs: GRACE,
  });
  await supervisor.rebuild();
  const passes: number[] = [];
  const reconciler = new AttachmentReconciler({
    supervisor,
    nodes: lookup,
    store,
    intervalMs: 300_000,
    clock,
    log: log.logger,
    metrics: { pass: (s) => passes.push(s), action: (a) => actions.push(`reconcile_total{${a}}`) },
  });
  const publish = (volumeId: string, nodeId: string) =>
    supervisor.publish({
      volumeId,
      nodeId,
      multiNode: false,
      readOnly: false,
      migrationTimeoutMs: 300_000,
    });
  return {
    clock,
    supervisor,
    reconciler,
    events,
    actions,
    passes,
    file,
    publish,
    writes: () => writes,
    log,
  };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('AttachmentReconciler', () => {
  it('clears a deleted node only after the grace period, with its event and metrics', async () => {
    const deleted = new Set<string>();
    const r = await rig({ exists: (n) => Promise.resolve(!deleted.has(n)) });
    await r.publish('pvc-1', 'a');
    await r.publish('pvc-2', 'b');
    deleted.add('a');
    expect(await r.reconciler.runPass()).toMatchObject({ staleMarked: 1, skipped: 0 });
    expect(r.supervisor.stateOf('pvc-1').state).toBe('stale');
    r.clock.increment(GRACE - 1);
    await settle();
    expect(r.supervisor.stateOf('pvc-1').state).toBe('stale');
    r.clock.increment(1);
    await settle();
    expect(r.supervisor.stateOf('pvc-1').state).toBe('detached');
    expect(r.supervisor.nodesOf('pvc-2')).toEqual(['b']);
    expect(r.actions).toEqual(['stale_cleared_total', 'reconcile_total{clear_stale}']);
    expect(r.events.at(-1)).toMatch(
      /^Normal StaleAttachmentCleared \[pvc-1\]: Cleared stale attachment from deleted node a /,
    );
    expect((await r.file.loadAll()).has('pvc-1')).toBe(false);
    await r.publish('pvc-1', 'c');
  });

  it('shows the supervisor as reconciling during a pass, and ready after', async () => {
    const seen: string[] = [];
    const ref: { supervisor?: { status: string } } = {};
    const r = await rig({
      exists: () => {
        seen.push(ref.supervisor?.status ?? '');
        return Promise.resolve(true);
      },
    });
    ref.supervisor = r.supervisor;
    await r.publish('pvc-1', 'a');
    await r.reconciler.runPass();
    expect(seen).toEqual(['reconciling']);
    expect(r.supervisor.status).toBe('ready');
  });

  it('fails open: a node lookup error changes nothing', async () => {
    const r = await rig({ exists: () => Promise.reject(new Error('the API server is down')) });
    await r.publish('pvc-1', 'a');
    const writes = r.writes();
    expect(await r.reconciler.runPass()).toMatchObject({ staleMarked: 0, skipped: 1 });
    r.clock.increment(10 * GRACE);
    await settle();
    expect(r.supervisor.nodesOf('pvc-1')).toEqual(['a']);
    expect(r.writes()).toBe(writes);
  });

  it('a node that returns within the grace period keeps its volume', async () => {
    let gone = true;
    const r = await rig({ exists: () => Promise.resolve(!gone) });
    await r.publish('pvc-1', 'a');
    await r.reconciler.runPass();
    expect(r.supervisor.stateOf('pvc-1').state).toBe('stale');
    gone = false;
    expect(await r.reconciler.runPass()).toMatchObject({ returned: 1 });
    r.clock.increment(GRACE);
    await settle();
    expect(r.supervisor.nodesOf('pvc-1')).toEqual(['a']);
  });

  it('syncs both directions, and a pass over a consistent state writes nothing', async () => {
    const r = await rig({ exists: () => Promise.resolve(true) });
    await r.publish('pvc-1', 'a');
    const before = r.writes();
    expect(await r.reconciler.runPass()).toMatchObject({ staleMarked: 0, synced: 0 });
    expect(r.writes()).toBe(before);
    expect(r.passes).toHaveLength(1);

    // Another writer adds a record (e.g. a previous leader's late write); and ours goes missing.
    const foreign: PersistedAttachment = {
      v: 1,
      state: 'attached',
      context: { volumeId: 'pvc-9', graceMs: GRACE, access: 'single', nodes: ['z'], attachedAt: 1 },
      readOnly: {},
      savedAt: 1,
    };
    await r.file.save('pvc-9', foreign);
    await r.file.save('pvc-1', undefined);
    expect(await r.reconciler.runPass()).toMatchObject({ synced: 2 });
    expect(r.supervisor.nodesOf('pvc-9')).toEqual(['z']);
    expect((await r.file.loadAll()).get('pvc-1')?.context['nodes']).toEqual(['a']);
    expect(r.actions.filter((a) => a === 'reconcile_total{sync_annotation}')).toHaveLength(2);
  });

  it('runs at start and per interval, refuses a second start, and stops cleanly', async () => {
    const r = await rig({ exists: () => Promise.resolve(true) });
    r.reconciler.start();
    expect(() => r.reconciler.start()).toThrow('already running');
    r.clock.increment(0);
    await settle();
    await settle();
    expect(r.passes).toHaveLength(1);
    r.clock.increment(300_000);
    await settle();
    await settle();
    expect(r.passes).toHaveLength(2);
    await r.reconciler.stop();
    r.clock.increment(900_000);
    await settle();
    expect(r.passes).toHaveLength(2);
  });
});
