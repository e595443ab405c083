import { createActor, SimulatedClock, type AnyStateNode } from 'xstate';
import { describe, expect, it } from 'vitest';

import {
  TIMED_STATES,
  createVolumeAttachmentMachine,
  type AttachmentEmitted,
  type AttachmentEvent,
} from './volume-attachment.js';

const GRACE = 30_000;

function rig() {
  const clock = new SimulatedClock();
  clock.set(1_700_000_000_000);
  const machine = createVolumeAttachmentMachine(clock);
  const emitted: AttachmentEmitted[] = [];
  const actor = createActor(machine, { input: { volumeId: 'pvc-1', graceMs: GRACE }, clock });
  actor.on('*', (e) => emitted.push(e));
  actor.start();
  type Untimed<E> = E extends { at: number } ? Omit<E, 'at'> : E;
  const send = (event: Untimed<AttachmentEvent>) =>
    actor.send({ ...event, at: clock.now() } as AttachmentEvent);
  const publish = (node: string, multiNode = false) =>
    send({ type: 'PUBLISH', node, multiNode, migrationTimeoutMs: 300_000 });
  return { clock, machine, actor, emitted, send, publish };
}

describe('volume attachment machine', () => {
  it('names only delays that exist (a misspelled one would fire at once, unseen by tsc)', () => {
    const { machine } = rig();
    const defined = Object.keys(machine.implementations.delays);
    const used: string[] = [];
    const walk = (node: AnyStateNode): void => {
      for (const transition of node.after) used.push(String(transition.delay));
      for (const child of Object.values(node.states)) walk(child);
    };
    walk(machine.root);
    expect(used.sort()).toEqual([...defined].sort());
    // Every timed state resumes after a restore.
    for (const state of TIMED_STATES)
      expect(Object.keys(machine.root.states[state]?.on ?? {})).toContain('RESUME');
  });

  it('clears the detach record on re-attach: no handoff hole (field-lessons #12)', () => {
    const { actor, publish, send, clock, emitted } = rig();
    publish('a');
    send({ type: 'UNPUBLISH', node: 'a' });
    send({ type: 'DETACHED' });
    clock.increment(1_000);
    publish('a'); // back on a, inside what was the grace window
    clock.increment(1_000);
    publish('b'); // must not be a handoff: a holds the volume
    expect(actor.getSnapshot().context.nodes).toEqual(['a']);
    expect(emitted.at(-1)).toMatchObject({ type: 'conflict', node: 'b', holders: ['a'] });
  });

  it('hands off to another node only inside the grace window', () => {
    const first = rig();
    first.publish('a');
    first.send({ type: 'UNPUBLISH', node: 'a' });
    first.send({ type: 'DETACHED' });
    first.clock.increment(GRACE - 1);
    first.publish('b');
    expect(first.emitted.at(-1)).toMatchObject({ type: 'attached', node: 'b', handoffFrom: 'a' });

    const late = rig();
    late.publish('a');
    late.send({ type: 'UNPUBLISH', node: 'a' });
    late.send({ type: 'DETACHED' });
    late.clock.increment(GRACE);
    expect(late.actor.getSnapshot().value).toBe('detached');
    late.publish('b');
    expect(late.emitted.at(-1)).toMatchObject({
      type: 'attached',
      node: 'b',
      handoffFrom: undefined,
    });
  });

  it('a restore in the middle of the grace period honours the remaining time', () => {
    const { actor, publish, send, clock, machine } = rig();
    publish('a');
    send({ type: 'UNPUBLISH', node: 'a' });
    send({ type: 'DETACHED' });
    clock.increment(20_000);
    const persisted = actor.getPersistedSnapshot();
    actor.stop();
    const restored = createActor(machine, {
      snapshot: persisted,
      clock,
      input: { volumeId: 'pvc-1', graceMs: GRACE },
    });
    restored.start();
    restored.send({ type: 'RESUME' });
    clock.increment(9_999);
    expect(restored.getSnapshot().value).toBe('grace');
    clock.increment(1);
    expect(restored.getSnapshot().value).toBe('detached');
  });

  it('migrates RWX block to a second node, refuses a third, and completes on the source unpublish', () => {
    const { actor, publish, send, clock, emitted } = rig();
    publish('a', true);
    publish('b', true);
    expect(actor.getSnapshot().value).toBe('migrating');
    publish('c', true);
    expect(emitted.at(-1)).toMatchObject({ type: 'conflict', node: 'c' });
    clock.increment(5_000);
    send({ type: 'UNPUBLISH', node: 'a' });
    expect(actor.getSnapshot().context.nodes).toEqual(['b']);
    expect(emitted.at(-1)).toEqual({
      type: 'migrationCompleted',
      source: 'a',
      target: 'b',
      durationMs: 5_000,
    });
  });

  it('fails a migration at its timeout and keeps the source', () => {
    const { actor, publish, clock, emitted } = rig();
    publish('a', true);
    publish('b', true);
    clock.increment(300_000);
    expect(actor.getSnapshot().context.nodes).toEqual(['a']);
    expect(emitted.at(-1)).toEqual({
      type: 'migrationFailed',
      source: 'a',
      target: 'b',
      reason: 'timeout',
    });
  });

  it('clears a deleted node only after the grace period, and refuses others meanwhile', () => {
    const { actor, publish, send, clock, emitted } = rig();
    publish('a');
    send({ type: 'NODE_DELETED', node: 'a' });
    clock.increment(GRACE - 1);
    publish('b');
    expect(emitted.at(-1)).toMatchObject({ type: 'conflict', node: 'b' });
    clock.increment(1);
    expect(actor.getSnapshot().value).toBe('detached');
    expect(emitted.at(-1)).toMatchObject({ type: 'staleCleared', node: 'a' });
    publish('b');
    expect(actor.getSnapshot().context.nodes).toEqual(['b']);
  });
});
