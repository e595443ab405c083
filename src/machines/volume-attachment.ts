// volume-attachment.ts: the attachment policy of one volume as an XState v5 machine (issue 13;
// seed-decisions 4; field-lessons #12, #13, #25).
//
// Pure: every time a transition needs comes with its event (`at`), and timed states keep their
// deadlines in context as absolute times; the only clock read is the injected `now()` inside the
// named delays, which turns a deadline into the time left. A restored actor is sent RESUME and
// re-enters its timed state, so it honours the remaining time (xstate.md section 2).
//
//   detached --PUBLISH--> attached --UNPUBLISH(holder)--> detaching --DETACHED--> grace --after--> detached
//   attached --PUBLISH(2nd node, RWX block)--> migrating --UNPUBLISH(source)--> attached (target)
//   attached --NODE_DELETED(holder)--> stale --after grace--> detached (StaleAttachmentCleared)
//   any refused PUBLISH passes through conflict (reported) and returns where it was.
import { assign, emit, setup } from 'xstate';

/** RWO: one node. RWX (block only): a second node starts a bounded migration. */
export type AccessKind = 'single' | 'multi';

export interface Migration {
  readonly source: string;
  readonly target: string;
  readonly startedAt: number;
  readonly deadline: number;
}

export interface StaleHolder {
  readonly node: string;
  readonly since: number;
  readonly deadline: number;
}

export interface AttachmentContext {
  readonly volumeId: string;
  readonly graceMs: number;
  readonly access: AccessKind;
  /** Attached nodes: [] detached, [holder], or [source, target] while migrating. */
  readonly nodes: readonly string[];
  readonly attachedAt: number | undefined;
  /** The last real detach (cleared by every attach: field-lessons #12). */
  readonly detachedAt: number | undefined;
  readonly detachedFrom: string | undefined;
  readonly graceDeadline: number | undefined;
  readonly migration: Migration | undefined;
  readonly stale: StaleHolder | undefined;
}

export interface AttachmentInput {
  readonly volumeId: string;
  readonly graceMs: number;
}

export type AttachmentEvent =
  | {
      readonly type: 'PUBLISH';
      readonly node: string;
      readonly at: number;
      /** The request's capability allows two nodes (MULTI_NODE_MULTI_WRITER, block). */
      readonly multiNode: boolean;
      readonly migrationTimeoutMs: number;
    }
  | { readonly type: 'UNPUBLISH'; readonly node: string; readonly at: number }
  /** The detach is durable (persisted): the grace window starts. */
  | { readonly type: 'DETACHED'; readonly at: number }
  /** The detach could not be made durable: the node stays attached. */
  | { readonly type: 'DETACH_FAILED' }
  /** The reconciler found the node deleted from Kubernetes. */
  | { readonly type: 'NODE_DELETED'; readonly node: string; readonly at: number }
  /** The node exists again (recreated, or the lookup was wrong). */
  | { readonly type: 'NODE_PRESENT'; readonly node: string }
  /** Sent after every restore: re-arms the timer of a timed state from its stored deadline. */
  | { readonly type: 'RESUME' };

/** What the machine reports; the supervisor turns these into metrics, events and answers. */
export type AttachmentEmitted =
  | {
      readonly type: 'attached';
      readonly node: string;
      readonly at: number;
      readonly handoffFrom: string | undefined;
    }
  | {
      readonly type: 'conflict';
      readonly node: string;
      readonly holders: readonly string[];
      readonly reason: string;
    }
  | { readonly type: 'detaching'; readonly node: string }
  | {
      readonly type: 'detached';
      readonly node: string;
      readonly at: number;
      readonly graceDeadline: number;
    }
  | { readonly type: 'graceExpired'; readonly node: string | undefined }
  | {
      readonly type: 'migrationStarted';
      readonly source: string;
      readonly target: string;
      readonly deadline: number;
    }
  | {
      readonly type: 'migrationCompleted';
      readonly source: string;
      readonly target: string;
      readonly durationMs: number;
    }
  | {
      readonly type: 'migrationFailed';
      readonly source: string;
      readonly target: string;
      readonly reason: 'timeout' | 'aborted';
    }
  | { readonly type: 'staleDetected'; readonly node: string; readonly deadline: number }
  | { readonly type: 'staleCleared'; readonly node: string; readonly since: number };

export interface MachineClock {
  now(): number;
}

/** setTimeout's ceiling: longer delays would fire at once (Node clamps them to 1 ms). */
const MAX_DELAY_MS = 2 ** 31 - 1;

function remaining(deadline: number | undefined, clock: MachineClock): number {
  if (deadline === undefined) return 0;
  return Math.min(MAX_DELAY_MS, Math.max(0, deadline - clock.now()));
}

export const TIMED_STATES = ['grace', 'migrating', 'stale'] as const;

export function createVolumeAttachmentMachine(clock: MachineClock) {
  return setup({
    types: {
      context: {} as AttachmentContext,
      events: {} as AttachmentEvent,
      input: {} as AttachmentInput,
      emitted: {} as AttachmentEmitted,
    },
    delays: {
      grace: ({ context }) => remaining(context.graceDeadline, clock),
      migrationTimeout: ({ context }) => remaining(context.migration?.deadline, clock),
      staleGrace: ({ context }) => remaining(context.stale?.deadline, clock),
    },
    guards: {
      isHolder: ({ context, event }) =>
        'node' in event && context.nodes[0] === event.node && context.nodes.length === 1,
      isAttachedNode: ({ context, event }) => 'node' in event && context.nodes.includes(event.node),
      isMigrationSource: ({ context, event }) =>
        'node' in event && context.migration?.source === event.node,
      isMigrationTarget: ({ context, event }) =>
        'node' in event && context.migration?.target === event.node,
      mayStartMigration: ({ context, event }) =>
        event.type === 'PUBLISH' &&
        event.multiNode &&
        context.access === 'multi' &&
        context.nodes.length === 1,
      isStaleNode: ({ context, event }) => 'node' in event && context.stale?.node === event.node,
      isMigrating: ({ context }) => context.migration !== undefined,
      isStale: ({ context }) => context.stale !== undefined,
      isLastDetachedNode: ({ context, event }) =>
        'node' in event && context.detachedFrom === event.node,
    },
    actions: {
      attach: assign(({ event }) => {
        if (event.type !== 'PUBLISH') return {};
        // Every attach clears the detach record: grace may only bridge a real detach (#12).
        return {
          nodes: [event.node],
          access: event.multiNode ? ('multi' as const) : ('single' as const),
          attachedAt: event.at,
          detachedAt: undefined,
          detachedFrom: undefined,
          graceDeadline: undefined,
          stale: undefined,
          migration: undefined,
        };
      }),
      reportAttached: emit(({ event }, params: { handoffFrom: string | undefined }) => ({
        type: 'attached' as const,
        node: 'node' in event ? event.node : '',
        at: 'at' in event ? event.at : 0,
        handoffFrom: params.handoffFrom,
      })),
      reportConflict: emit(({ context, event }) => ({
        type: 'conflict' as const,
        node: 'node' in event ? event.node : '',
        holders: context.nodes,
        reason:
          context.stale !== undefined
            ? `its node ${context.stale.node} was deleted; the attachment is cleared after the grace period, at ${new Date(context.stale.deadline).toISOString()}`
            : context.migration !== undefined
              ? `it is already attached to two nodes (${context.nodes.join(', ')}: a live migration)`
              : context.access === 'multi'
                ? `it is attached to ${context.nodes.join(', ')} and a second node needs a MULTI_NODE_MULTI_WRITER block request`
                : `it is attached to ${context.nodes.join(', ')} with single-node access`,
      })),
      reportDetachInProgress: emit(({ context, event }) => ({
        type: 'conflict' as const,
        node: 'node' in event ? event.node : '',
        holders: context.nodes,
        reason: `its detach from ${context.nodes.join(', ')} is being recorded; retry`,
      })),
      reportDetaching: emit(({ context }) => ({
        type: 'detaching' as const,
        node: context.nodes[0] ?? '',
      })),
      finishDetach: assign(({ context, event }) => {
        const at = event.type === 'DETACHED' ? event.at : 0;
        return {
          nodes: [],
          detachedAt: at,
          detachedFrom: context.nodes[0],
          graceDeadline: at + context.graceMs,
          attachedAt: undefined,
          stale: undefined,
        };
      }),
      reportDetached: emit(({ context }) => ({
        type: 'detached' as const,
        node: context.detachedFrom ?? '',
        at: context.detachedAt ?? 0,
        graceDeadline: context.graceDeadline ?? 0,
      })),
      expireGrace: assign({ graceDeadline: undefined }),
      reportGraceExpired: emit(({ context }) => ({
        type: 'graceExpired' as const,
        node: context.detachedFrom,
      })),
      startMigration: assign(({ context, event }) => {
        if (event.type !== 'PUBLISH') return {};
        const source = context.nodes[0] ?? '';
        return {
          nodes: [source, event.node],
          migration: {
            source,
            target: event.node,
            startedAt: event.at,
            deadline: event.at + event.migrationTimeoutMs,
          },
        };
      }),
      reportMigrationStarted: emit(({ context }) => ({
        type: 'migrationStarted' as const,
        source: context.migration?.source ?? '',
        target: context.migration?.target ?? '',
        deadline: context.migration?.deadline ?? 0,
      })),
      completeMigration: assign(({ context, event }) => ({
        nodes: [context.migration?.target ?? ''],
        attachedAt: 'at' in event ? event.at : context.attachedAt,
        migration: undefined,
      })),
      reportMigrationCompleted: emit(({ context, event }) => ({
        type: 'migrationCompleted' as const,
        source: context.migration?.source ?? '',
        target: context.migration?.target ?? '',
        durationMs: ('at' in event ? event.at : 0) - (context.migration?.startedAt ?? 0),
      })),
      /** The source keeps the volume: the target's attachment is over (timeout or its own unpublish). */
      abandonMigration: assign(({ context }) => ({
        nodes: [context.migration?.source ?? ''],
        migration: undefined,
      })),
      reportMigrationFailed: emit(({ context }, params: { reason: 'timeout' | 'aborted' }) => ({
        type: 'migrationFailed' as const,
        source: context.migration?.source ?? '',
        target: context.migration?.target ?? '',
        reason: params.reason,
      })),
      markStale: assign(({ context, event }) => {
        const at = 'at' in event ? event.at : 0;
        return {
          stale: { node: context.nodes[0] ?? '', since: at, deadline: at + context.graceMs },
        };
      }),
      reportStaleDetected: emit(({ context }) => ({
        type: 'staleDetected' as const,
        node: context.stale?.node ?? '',
        deadline: context.stale?.deadline ?? 0,
      })),
      reportStaleCleared: emit(({ context }) => ({
        type: 'staleCleared' as const,
        node: context.stale?.node ?? '',
        since: context.stale?.since ?? 0,
      })),
      clearStaleHolder: assign(({ context }) => ({
        nodes: [],
        stale: undefined,
        attachedAt: undefined,
        // The node is gone: nothing to hand off from, so no grace window follows.
        detachedAt: context.stale?.deadline,
        detachedFrom: undefined,
        graceDeadline: undefined,
      })),
      keepStaleNode: assign({ stale: undefined }),
    },
  }).createMachine({
    id: 'volume',
    context: ({ input }) => ({
      volumeId: input.volumeId,
      graceMs: input.graceMs,
      access: 'single',
      nodes: [],
      attachedAt: undefined,
      detachedAt: undefined,
      detachedFrom: undefined,
      graceDeadline: undefined,
      migration: undefined,
      stale: undefined,
    }),
    initial: 'detached',
    states: {
      detached: {
        on: {
          PUBLISH: {
            target: 'attached',
            actions: ['attach', { type: 'reportAttached', params: { handoffFrom: undefined } }],
          },
        },
      },
      attached: {
        on: {
          PUBLISH: [
            { guard: 'isHolder' },
            {
              guard: 'mayStartMigration',
              target: 'migrating',
              actions: ['startMigration', 'reportMigrationStarted'],
            },
            { target: 'conflict', actions: 'reportConflict' },
          ],
          UNPUBLISH: { guard: 'isHolder', target: 'detaching', actions: 'reportDetaching' },
          NODE_DELETED: {
            guard: 'isHolder',
            target: 'stale',
            actions: ['markStale', 'reportStaleDetected'],
          },
        },
      },
      migrating: {
        after: {
          migrationTimeout: {
            target: 'attached',
            actions: [
              { type: 'reportMigrationFailed', params: { reason: 'timeout' } },
              'abandonMigration',
            ],
          },
        },
        on: {
          PUBLISH: [{ guard: 'isAttachedNode' }, { target: 'conflict', actions: 'reportConflict' }],
          UNPUBLISH: [
            {
              guard: 'isMigrationSource',
              target: 'attached',
              actions: ['reportMigrationCompleted', 'completeMigration'],
            },
            {
              guard: 'isMigrationTarget',
              target: 'attached',
              actions: [
                { type: 'reportMigrationFailed', params: { reason: 'aborted' } },
                'abandonMigration',
              ],
            },
          ],
          RESUME: { target: 'migrating', reenter: true },
        },
      },
      detaching: {
        on: {
          // The supervisor serializes calls per volume, so this is a race it lost: refuse, retry.
          PUBLISH: { actions: 'reportDetachInProgress' },
          DETACHED: { target: 'grace', actions: ['finishDetach', 'reportDetached'] },
          DETACH_FAILED: [{ guard: 'isStale', target: 'stale' }, { target: 'attached' }],
        },
      },
      grace: {
        after: {
          grace: { target: 'detached', actions: ['reportGraceExpired', 'expireGrace'] },
        },
        on: {
          PUBLISH: [
            {
              guard: 'isLastDetachedNode',
              target: 'attached',
              actions: ['attach', { type: 'reportAttached', params: { handoffFrom: undefined } }],
            },
            {
              target: 'attached',
              actions: [
                {
                  type: 'reportAttached',
                  params: ({ context }) => ({ handoffFrom: context.detachedFrom }),
                },
                'attach',
              ],
            },
          ],
          RESUME: { target: 'grace', reenter: true },
        },
      },
      stale: {
        after: {
          staleGrace: { target: 'detached', actions: ['reportStaleCleared', 'clearStaleHolder'] },
        },
        on: {
          PUBLISH: [
            { guard: 'isStaleNode', target: 'attached', actions: 'keepStaleNode' },
            { target: 'conflict', actions: 'reportConflict' },
          ],
          NODE_PRESENT: { guard: 'isStaleNode', target: 'attached', actions: 'keepStaleNode' },
          UNPUBLISH: { guard: 'isStaleNode', target: 'detaching', actions: 'reportDetaching' },
          RESUME: { target: 'stale', reenter: true },
        },
      },
      conflict: {
        always: [
          { guard: 'isMigrating', target: 'migrating' },
          { guard: 'isStale', target: 'stale' },
          { target: 'attached' },
        ],
      },
    },
  });
}

export type VolumeAttachmentMachine = ReturnType<typeof createVolumeAttachmentMachine>;
