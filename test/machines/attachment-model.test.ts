// Model-based tests of the volume attachment machine (issue 13): xstate/graph generates paths
// through the machine, including its delayed transitions, and a small runner replays each path
// against a real actor on a SimulatedClock (createTestModel refuses machines with `after`,
// xstate.md section 4), checking the policy's invariants after every step. Every path runs twice:
// straight, and with the actor persisted and restored after every step (a controller restart).
import {
  createActor,
  getNextSnapshot,
  SimulatedClock,
  type Actor,
  type SnapshotFrom,
} from 'xstate';
import { getShortestPaths } from 'xstate/graph';
import { describe, expect, it } from 'vitest';

import {
  createVolumeAttachmentMachine,
  type AttachmentContext,
  type AttachmentEmitted,
  type AttachmentEvent,
  type VolumeAttachmentMachine,
} from '../../src/machines/volume-attachment.js';

const GRACE_MS = 30_000;
const MIGRATION_MS = 300_000;
const STEP_MS = 100;
const NODES = ['node-a', 'node-b', 'node-c'];

type Snapshot = SnapshotFrom<VolumeAttachmentMachine>;
type ModelEvent = AttachmentEvent | { type: `xstate.after.${string}` };

/** The events offered in every state: each policy event with each node, plus its delayed ones. */
function eventsFor(snapshot: Snapshot): ModelEvent[] {
  const after = [...snapshot._nodes.flatMap((n) => n.ownEvents)]
    .filter((type) => type.startsWith('xstate.after.'))
    .map((type) => ({ type }) as ModelEvent);
  const publish = NODES.flatMap((node) => [
    { type: 'PUBLISH', node, at: 0, multiNode: false, migrationTimeoutMs: MIGRATION_MS } as const,
    { type: 'PUBLISH', node, at: 0, multiNode: true, migrationTimeoutMs: MIGRATION_MS } as const,
  ]);
  const perNode = NODES.slice(0, 2).flatMap((node) => [
    { type: 'UNPUBLISH', node, at: 0 } as const,
    { type: 'NODE_DELETED', node, at: 0 } as const,
    { type: 'NODE_PRESENT', node } as const,
  ]);
  return [...publish, ...perNode, { type: 'DETACHED', at: 0 }, { type: 'DETACH_FAILED' }, ...after];
}

/** State identity for the traversal: no times (they would make the graph infinite). */
function serialize(snapshot: Snapshot): string {
  const c = snapshot.context;
  return JSON.stringify([
    snapshot.value,
    c.access,
    c.nodes,
    c.detachedFrom ?? null,
    c.migration ? [c.migration.source, c.migration.target] : null,
    c.stale?.node ?? null,
  ]);
}

function paths(): { name: string; steps: { event: ModelEvent; value: unknown }[] }[] {
  const machine = createVolumeAttachmentMachine({ now: () => 0 });
  const shortest = getShortestPaths(machine, {
    input: { volumeId: 'pvc-model', graceMs: GRACE_MS },
    events: eventsFor as (s: Snapshot) => AttachmentEvent[],
    serializeState: (s: Snapshot) => serialize(s),
  });
  // Every edge: the shortest path to each state, then each event offered there (including the
  // delayed ones), so start, complete, abort and timeout of a migration each get a path.
  const out: { name: string; steps: { event: ModelEvent; value: unknown }[] }[] = [];
  const seen = new Set<string>();
  for (const path of shortest) {
    const steps = path.steps
      .filter((s) => (s.event as { type: string }).type !== 'xstate.init')
      .map((s) => ({ event: s.event, value: s.state.value }));
    for (const event of eventsFor(path.state)) {
      const next = getNextSnapshot(machine, path.state, event as AttachmentEvent);
      const key = `${serialize(path.state)} ${JSON.stringify(event)}`;
      if (seen.has(key)) continue;
      seen.add(key);
      const all = [...steps, { event, value: next.value }];
      out.push({ name: all.map((s) => describeEvent(s.event)).join(' -> '), steps: all });
    }
  }
  return out;
}

function describeEvent(event: ModelEvent): string {
  if (event.type.startsWith('xstate.after.')) return event.type.split('.')[2] ?? event.type;
  const e = event as AttachmentEvent;
  const node = 'node' in e ? ` ${e.node}` : '';
  const multi = e.type === 'PUBLISH' && e.multiNode ? ' rwx' : '';
  return `${e.type}${node}${multi}`;
}

/** What must hold in every state the actor ever reaches. */
function checkInvariants(snapshot: Snapshot, where: string): void {
  const c: AttachmentContext = snapshot.context;
  const state = String(snapshot.value);
  if (c.access === 'single')
    expect(c.nodes.length, `${where}: never two RWO nodes`).toBeLessThanOrEqual(1);
  expect(c.nodes.length, `${where}: never more than two nodes`).toBeLessThanOrEqual(2);
  expect(new Set(c.nodes).size, `${where}: no node twice`).toBe(c.nodes.length);
  const expectedNodes: Record<string, number> = {
    detached: 0,
    grace: 0,
    attached: 1,
    detaching: 1,
    stale: 1,
    migrating: 2,
  };
  expect(c.nodes.length, `${where}: nodes in ${state}`).toBe(expectedNodes[state]);
  if (state === 'migrating') expect(c.migration, where).toBeDefined();
  else expect(c.migration, `${where}: migration only while migrating`).toBeUndefined();
  if (state === 'grace') expect(c.graceDeadline, where).toBeDefined();
  if (state === 'stale') expect(c.stale?.node, where).toBe(c.nodes[0]);
  if (state === 'attached')
    expect(c.detachedAt, `${where}: an attach clears the detach record`).toBeUndefined();
}

interface Run {
  readonly clock: SimulatedClock;
  actor: Actor<VolumeAttachmentMachine>;
  readonly emitted: AttachmentEmitted[];
  readonly machine: VolumeAttachmentMachine;
}

function startRun(): Run {
  const clock = new SimulatedClock();
  clock.set(1_000_000);
  const machine = createVolumeAttachmentMachine(clock);
  const run: Run = {
    clock,
    machine,
    emitted: [],
    actor: createActor(machine, { input: { volumeId: 'pvc-model', graceMs: GRACE_MS }, clock }),
  };
  run.actor.on('*', (e) => run.emitted.push(e));
  run.actor.start();
  return run;
}

/** A controller restart: persist, stop, restore from the snapshot, RESUME. */
function restart(run: Run): void {
  const persisted = JSON.parse(JSON.stringify(run.actor.getPersistedSnapshot())) as Snapshot;
  run.actor.stop();
  run.actor = createActor(run.machine, {
    snapshot: persisted,
    clock: run.clock,
    input: { volumeId: 'pvc-model', graceMs: GRACE_MS },
  });
  run.actor.on('*', (e) => run.emitted.push(e));
  run.actor.start();
  run.actor.send({ type: 'RESUME' });
}

function timeLeft(snapshot: Snapshot, now: number): number {
  const c = snapshot.context;
  const deadline = snapshot.matches('grace')
    ? c.graceDeadline
    : snapshot.matches('migrating')
      ? c.migration?.deadline
      : c.stale?.deadline;
  return (deadline ?? now) - now;
}

/** The report each kind of step must produce (undefined: none is required). */
function expectedReport(
  before: Snapshot,
  event: ModelEvent,
  after: Snapshot,
): AttachmentEmitted['type'] | undefined {
  const from = String(before.value);
  const to = String(after.value);
  if (event.type.startsWith('xstate.after.')) {
    const byState: Record<string, AttachmentEmitted['type']> = {
      grace: 'graceExpired',
      migrating: 'migrationFailed',
      stale: 'staleCleared',
    };
    return byState[from];
  }
  const e = event as AttachmentEvent;
  const changed = serialize(before) !== serialize(after);
  switch (e.type) {
    case 'PUBLISH':
      // A publish that changes nothing is either a repeat from a holder or a refusal.
      if (!changed) return before.context.nodes.includes(e.node) ? undefined : 'conflict';
      if (to === 'migrating') return 'migrationStarted';
      return from === 'detached' || from === 'grace' ? 'attached' : undefined;
    case 'UNPUBLISH':
      if (!changed) return undefined;
      if (to === 'detaching') return 'detaching';
      if (from === 'migrating') {
        return before.context.migration?.source === e.node
          ? 'migrationCompleted'
          : 'migrationFailed';
      }
      return undefined;
    case 'DETACHED':
      return from === 'detaching' ? 'detached' : undefined;
    case 'NODE_DELETED':
      return from === 'attached' && to === 'stale' ? 'staleDetected' : undefined;
    default:
      return undefined;
  }
}

function replay(steps: { event: ModelEvent; value: unknown }[], restarts: boolean): void {
  const run = startRun();
  let deletedNodes = new Set<string>();
  for (const [i, step] of steps.entries()) {
    const where = `step ${i + 1} (${describeEvent(step.event)})`;
    const before = run.actor.getSnapshot();
    const emittedBefore = run.emitted.length;
    if (step.event.type.startsWith('xstate.after.')) {
      const left = timeLeft(before, run.clock.now());
      expect(left, `${where}: a pending deadline`).toBeGreaterThan(0);
      run.clock.increment(left - 1);
      expect(run.actor.getSnapshot().value, `${where}: nothing fires before the deadline`).toEqual(
        before.value,
      );
      run.clock.increment(1);
    } else {
      const event = {
        ...step.event,
        ...('at' in step.event ? { at: run.clock.now() } : {}),
      } as AttachmentEvent;
      if (event.type === 'NODE_DELETED') deletedNodes = new Set([...deletedNodes, event.node]);
      if (event.type === 'NODE_PRESENT' || event.type === 'PUBLISH') {
        deletedNodes.delete(event.node);
      }
      run.actor.send(event);
    }
    const after = run.actor.getSnapshot();
    expect(after.value, `${where}: state`).toEqual(step.value);
    checkInvariants(after, where);
    const reports = run.emitted.slice(emittedBefore);
    const expected = expectedReport(before, step.event, after);
    if (expected !== undefined)
      expect(
        reports.map((r) => r.type),
        `${where}: reports`,
      ).toContain(expected);
    for (const report of reports) {
      if (report.type === 'attached' && report.handoffFrom !== undefined) {
        expect(before.matches('grace'), `${where}: handoff only from grace`).toBe(true);
        expect(report.at, `${where}: handoff only inside the grace window`).toBeLessThan(
          before.context.graceDeadline ?? 0,
        );
      }
      if (report.type === 'staleCleared') {
        expect(
          run.clock.now() - report.since,
          `${where}: stale cleared only after the grace`,
        ).toBeGreaterThanOrEqual(GRACE_MS);
        expect(
          deletedNodes.has(report.node),
          `${where}: stale cleared only for a deleted node`,
        ).toBe(true);
      }
    }
    run.clock.increment(STEP_MS);
    if (restarts && after.context.nodes.length + (after.matches('grace') ? 1 : 0) > 0) restart(run);
  }
  run.actor.stop();
}

const PATHS = paths();

describe('volume attachment machine, model-based', () => {
  it('reaches every state, through every delayed transition', () => {
    const values = new Set(PATHS.flatMap((p) => p.steps.map((s) => String(s.value))));
    expect([...values].sort()).toEqual([
      'attached',
      'detached',
      'detaching',
      'grace',
      'migrating',
      'stale',
    ]);
    const delayed = new Set(
      PATHS.flatMap((p) =>
        p.steps.map((s) => s.event.type).filter((t) => t.startsWith('xstate.after.')),
      ),
    );
    expect([...delayed].map((t) => t.split('.')[2]).sort()).toEqual([
      'grace',
      'migrationTimeout',
      'staleGrace',
    ]);
    expect(PATHS.length).toBeGreaterThan(200);
  });

  it.each(PATHS.map((p) => [p.name, p.steps] as const))('path: %s', (_name, steps) => {
    replay([...steps], false);
    replay([...steps], true);
  });
});
