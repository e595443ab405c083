// The attachment supervisor with its file store (standalone mode) on a SimulatedClock: decisions,
// persistence before the answer, rollback on a failed write, restarts that honour the time left,
// metrics and PVC events per transition.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SimulatedClock } from 'xstate';
import { afterEach, describe, expect, it } from 'vitest';

import { AttachmentSupervisor } from '../../src/actors/attachment-supervisor.js';
import { FileAttachmentStore } from '../../src/actors/file-attachment-store.js';
import {
  AlreadyExistsError,
  AttachmentConflictError,
  FailedPreconditionError,
  RdsUnavailableError,
} from '../../src/errors.js';
import type { AttachmentMetrics, AttachmentStore, PersistedAttachment } from '../../src/ports.js';
import { captureLog } from '../helpers/log-capture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const GRACE = 30_000;
const dirs: TempDir[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function recorder() {
  const events: string[] = [];
  const metrics: string[] = [];
  const states: Record<string, number>[] = [];
  const transitions: string[] = [];
  const m: AttachmentMetrics = {
    attach: (status) => metrics.push(`attach:${status}`),
    detach: (status) => metrics.push(`detach:${status}`),
    conflict: () => metrics.push('conflict'),
    gracePeriodUsed: () => metrics.push('grace_period_used'),
    staleCleared: () => metrics.push('stale_cleared'),
    reconcile: (action) => metrics.push(`reconcile:${action}`),
    migration: (result) => metrics.push(`migration:${result}`),
    actorStates: (counts) => states.push({ ...counts }),
    transition: (from, to, cause) => transitions.push(`${from} -> ${to} (${cause})`),
  };
  return { events, metrics, states, transitions, m };
}

function world(store?: AttachmentStore) {
  const dir = tempDir('att-');
  dirs.push(dir);
  const clock = new SimulatedClock();
  clock.set(1_800_000_000_000);
  const path = join(dir.path, 'attachments.json');
  const fileStore = store ?? new FileAttachmentStore(path);
  const rec = recorder();
  const make = (s: AttachmentStore = fileStore) =>
    new AttachmentSupervisor({
      store: s,
      events: {
        post: (volumeId, type, reason, message) => rec.events.push(`${type} ${reason} ${message}`),
      },
      metrics: rec.m,
      clock,
      log: captureLog().logger,
      graceMs: GRACE,
    });
  return { clock, path, fileStore, rec, make };
}

const rwo = (nodeId: string) => ({
  volumeId: 'pvc-1',
  nodeId,
  multiNode: false,
  readOnly: false,
  migrationTimeoutMs: 300_000,
});
const rwx = (nodeId: string) => ({ ...rwo(nodeId), multiNode: true });

function persisted(path: string): Record<string, PersistedAttachment> {
  return (
    JSON.parse(readFileSync(path, 'utf8')) as { volumes: Record<string, PersistedAttachment> }
  ).volumes;
}

/** An in-memory attachment store whose writes fail (with `message`) while `flaky.failing` is set. */
function flakyStore(message: string, failing = false) {
  const inner = new Map<string, PersistedAttachment>();
  const flaky = { failing, saves: 0 };
  const store: AttachmentStore = {
    loadAll: () => Promise.resolve(new Map(inner)),
    save: (id, record) => {
      flaky.saves++;
      if (flaky.failing) return Promise.reject(new Error(message));
      if (record === undefined) inner.delete(id);
      else inner.set(id, record);
      return Promise.resolve();
    },
  };
  return { inner, flaky, store };
}

describe('AttachmentSupervisor', () => {
  it('attaches, refuses a second RWO node with an event, and persists before answering', async () => {
    const { make, path, rec } = world();
    const supervisor = make();
    await supervisor.rebuild();
    await supervisor.publish(rwo('a'));
    expect(persisted(path)['pvc-1']).toMatchObject({
      state: 'attached',
      context: { nodes: ['a'] },
    });
    await supervisor.publish(rwo('a')); // idempotent
    const refused = await supervisor.publish(rwo('b')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AttachmentConflictError);
    expect((refused as Error).message).toBe(
      'volume pvc-1 cannot be published to node b: it is attached to a with single-node access',
    );
    expect(rec.metrics).toEqual(['attach:success', 'attach:success', 'conflict', 'attach:failure']);
    expect(rec.events.at(-1)).toMatch(
      /^Warning AttachmentConflict \[pvc-1\]: Attachment to node b rejected: .* Delete the pod on a to release the volume\.$/,
    );
    expect(rec.events[0]).toMatch(/^Normal VolumeAttached \[pvc-1\]: Attached to node a at /);
  });

  it('counts and logs every change of state with its cause, timers included, not restores', async () => {
    const { make, clock, rec } = world();
    const first = make();
    await first.rebuild();
    await first.publish(rwo('a'));
    await first.publish(rwo('a')); // idempotent: no change of state
    await first.unpublish('pvc-1', 'a');
    first.stop();
    const second = make();
    await second.rebuild(); // restored into grace: not a transition
    clock.increment(30_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(rec.transitions).toEqual([
      'detached -> attached (PUBLISH)',
      'attached -> detaching (UNPUBLISH)',
      'detaching -> grace (DETACHED)',
      'grace -> detached (timer)',
    ]);
  });

  it('a failed write answers UNAVAILABLE and changes nothing', async () => {
    const { flaky, store } = flakyStore('etcd unavailable', true);
    const { make, rec } = world(store);
    const supervisor = make(store);
    await supervisor.rebuild();
    const error = await supervisor.publish(rwo('a')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RdsUnavailableError);
    expect((error as Error).message).toMatch(
      /could not be recorded \(etcd unavailable\); nothing changed, retry/,
    );
    expect(supervisor.stateOf('pvc-1').state).toBe('detached');
    expect(rec.events).toEqual([]); // no event for what did not happen
    flaky.failing = false;
    await supervisor.publish(rwo('b'));
    expect(supervisor.nodesOf('pvc-1')).toEqual(['b']);
    flaky.failing = true;
    await expect(supervisor.unpublish('pvc-1', 'b')).rejects.toBeInstanceOf(RdsUnavailableError);
    expect(supervisor.stateOf('pvc-1').state).toBe('attached');
  });

  it('a timed change whose write failed is written by the next reconcile sync, and not re-adopted from the old record', async () => {
    const { inner, flaky, store } = flakyStore('the API server did not answer');
    const { make, clock } = world(store);
    const supervisor = make(store);
    await supervisor.rebuild();
    await supervisor.publish(rwo('a'));
    await supervisor.unpublish('pvc-1', 'a');
    expect(inner.get('pvc-1')?.state).toBe('grace');
    flaky.failing = true;
    clock.increment(GRACE);
    await new Promise((resolve) => setImmediate(resolve));
    // The grace period ended in memory, but the record still says grace.
    expect(supervisor.stateOf('pvc-1').state).toBe('detached');
    expect(inner.get('pvc-1')?.state).toBe('grace');
    // A pass while writes still fail changes nothing and keeps it pending.
    expect(await supervisor.syncWithStore(await store.loadAll())).toEqual([]);
    expect(inner.get('pvc-1')?.state).toBe('grace');
    flaky.failing = false;
    expect(await supervisor.syncWithStore(await store.loadAll())).toEqual(['pvc-1']);
    expect(inner.has('pvc-1')).toBe(false);
    expect(supervisor.stateOf('pvc-1').state).toBe('detached');
    // Written once: the next pass has nothing to do.
    expect(await supervisor.syncWithStore(await store.loadAll())).toEqual([]);
  });

  it('a refused publish writes nothing: it answers the conflict even while writes fail', async () => {
    // The API-server outage (test/chaos/apiserver-outage.test.ts): the refusal needs no write, so
    // the attacher is told FAILED_PRECONDITION (final), not UNAVAILABLE, and the record keeps no
    // trace of the refused node.
    const { inner, flaky, store } = flakyStore('the API server did not answer');
    const { make, rec } = world(store);
    const supervisor = make(store);
    await supervisor.rebuild();
    await supervisor.publish(rwo('a'));
    const written = flaky.saves;
    const refused = await supervisor.publish(rwo('b')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AttachmentConflictError);
    expect(flaky.saves).toBe(written);
    expect(inner.get('pvc-1')?.readOnly).toEqual({ a: false });
    flaky.failing = true;
    const during = await supervisor
      .publish({ ...rwo('b'), readOnly: true })
      .catch((e: unknown) => e);
    expect(during).toBeInstanceOf(AttachmentConflictError);
    expect(flaky.saves).toBe(written);
    expect(rec.events.filter((e) => e.startsWith('Warning AttachmentConflict'))).toHaveLength(2);
    flaky.failing = false;
    await supervisor.unpublish('pvc-1', 'a');
    // b takes it over read-only within the grace period: nothing recorded for b stands in the way.
    await supervisor.publish({ ...rwo('b'), readOnly: true });
    expect(inner.get('pvc-1')?.readOnly).toEqual({ b: true });
  });

  it('a restart in the middle of the grace period honours the time left, then hands off', async () => {
    const { make, clock, rec, path } = world();
    const first = make();
    await first.rebuild();
    await first.publish(rwo('a'));
    await first.unpublish('pvc-1', 'a');
    expect(persisted(path)['pvc-1']).toMatchObject({
      state: 'grace',
      context: { detachedFrom: 'a' },
    });
    clock.increment(20_000);
    first.stop();

    const second = make();
    await second.rebuild();
    expect(second.stateOf('pvc-1').state).toBe('grace');
    clock.increment(9_000); // 29 s after the detach: still inside the window
    await second.publish(rwo('b'));
    expect(rec.metrics).toContain('grace_period_used');
    expect(rec.events.at(-1)).toMatch(
      /Attached to node b .* \(handoff from a within the 30s grace period\)$/,
    );
  });

  it('the grace period ends on time after a restart, and the record goes with it', async () => {
    const { make, clock, path } = world();
    const first = make();
    await first.rebuild();
    await first.publish(rwo('a'));
    await first.unpublish('pvc-1', 'a');
    clock.increment(25_000);
    first.stop();
    const second = make();
    await second.rebuild();
    clock.increment(4_999);
    expect(second.stateOf('pvc-1').state).toBe('grace');
    clock.increment(1);
    await new Promise((resolve) => setImmediate(resolve));
    expect(second.stateOf('pvc-1').state).toBe('detached');
    expect(persisted(path)['pvc-1']).toBeUndefined();
  });

  it('a migration timeout survives a restart and is recorded when it fires', async () => {
    const { make, clock, path, rec } = world();
    const first = make();
    await first.rebuild();
    await first.publish(rwx('a'));
    await first.publish(rwx('b'));
    expect(persisted(path)['pvc-1']).toMatchObject({
      state: 'migrating',
      context: { nodes: ['a', 'b'] },
    });
    await expect(first.publish(rwx('c'))).rejects.toBeInstanceOf(AttachmentConflictError);
    clock.increment(200_000);
    first.stop();
    const second = make();
    await second.rebuild();
    clock.increment(100_000);
    await new Promise((resolve) => setImmediate(resolve));
    expect(persisted(path)['pvc-1']).toMatchObject({
      state: 'attached',
      context: { nodes: ['a'] },
    });
    expect(rec.metrics).toEqual(expect.arrayContaining(['migration:started', 'migration:failed']));
    expect(rec.events.at(-1)).toMatch(
      /^Warning MigrationFailed .* timed out; the volume stays with the source node$/,
    );
    expect(rec.states.at(-1)).toMatchObject({ attached: 1 });
  });

  it('refuses an incompatible repeat, and deletion while published', async () => {
    const { make } = world();
    const supervisor = make();
    await supervisor.rebuild();
    await supervisor.publish(rwo('a'));
    await expect(supervisor.publish({ ...rwo('a'), readOnly: true })).rejects.toBeInstanceOf(
      AlreadyExistsError,
    );
    await expect(supervisor.forget('pvc-1')).rejects.toBeInstanceOf(FailedPreconditionError);
    await supervisor.unpublish('pvc-1', 'a');
    await supervisor.forget('pvc-1');
    expect(supervisor.stateOf('pvc-1').state).toBe('detached');
    await supervisor.unpublish('pvc-1', 'a'); // idempotent
  });

  it('treats an unreadable record as detached instead of crashing', async () => {
    const records = new Map<string, PersistedAttachment>([
      ['pvc-bad', { v: 1, state: 'bogus', context: {}, readOnly: {}, savedAt: 0 }],
      [
        'pvc-worse',
        {
          v: 1,
          state: 'attached',
          context: { volumeId: 'pvc-worse', nodes: 'a' },
          readOnly: {},
          savedAt: 0,
        },
      ],
    ]);
    const store: AttachmentStore = {
      loadAll: () => Promise.resolve(records),
      save: () => Promise.resolve(),
    };
    const { make } = world(store);
    const supervisor = make(store);
    await supervisor.rebuild();
    expect(supervisor.size).toBe(0);
    expect(supervisor.status).toBe('ready');
    await supervisor.publish({ ...rwo('a'), volumeId: 'pvc-bad' });
  });

  it('is degraded while its records cannot be loaded, and says why to every call', async () => {
    let down = true;
    const store: AttachmentStore = {
      loadAll: () =>
        down ? Promise.reject(new Error('API server unreachable')) : Promise.resolve(new Map()),
      save: () => Promise.resolve(),
    };
    const { make } = world(store);
    const supervisor = make(store);
    expect(supervisor.status).toBe('starting');
    await expect(supervisor.rebuild()).rejects.toThrow('API server unreachable');
    expect(supervisor.status).toBe('degraded');
    const refused = await supervisor.publish(rwo('a')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(RdsUnavailableError);
    expect((refused as Error).message).toMatch(
      /could not be loaded \(.*API server unreachable\); the driver keeps retrying/,
    );
    down = false;
    await supervisor.rebuild();
    expect(supervisor.status).toBe('ready');
    await supervisor.publish(rwo('a'));
    supervisor.stop();
    expect(supervisor.status).toBe('stopped');
    await expect(supervisor.publish(rwo('a'))).rejects.toBeInstanceOf(RdsUnavailableError);
  });
});
