// supervisor-lifecycle.ts: the attachment supervisor's own states (issue 13). Decisions are made
// only in `ready` and `reconciling` (a pass runs beside calls: it shares no lock with them);
// while `rebuilding`, or `degraded` after a failed rebuild, calls are answered UNAVAILABLE.
import { assign, setup } from 'xstate';

export interface LifecycleContext {
  /** Why the last rebuild failed (shown to callers while degraded). */
  readonly lastError: string | undefined;
  readonly volumes: number;
}

export type LifecycleEvent =
  | { readonly type: 'REBUILD' }
  | { readonly type: 'REBUILT'; readonly volumes: number }
  | { readonly type: 'REBUILD_FAILED'; readonly error: string }
  | { readonly type: 'RECONCILE_STARTED' }
  | { readonly type: 'RECONCILE_DONE' }
  | { readonly type: 'STOP' };

export const supervisorLifecycle = setup({
  types: { context: {} as LifecycleContext, events: {} as LifecycleEvent },
  actions: {
    recordVolumes: assign(({ event }) =>
      event.type === 'REBUILT' ? { volumes: event.volumes, lastError: undefined } : {},
    ),
    recordError: assign(({ event }) =>
      event.type === 'REBUILD_FAILED' ? { lastError: event.error } : {},
    ),
  },
}).createMachine({
  id: 'supervisor',
  context: { lastError: undefined, volumes: 0 },
  initial: 'starting',
  on: { STOP: '.stopped' },
  states: {
    starting: { on: { REBUILD: 'rebuilding' } },
    rebuilding: {
      on: {
        REBUILT: { target: 'ready', actions: 'recordVolumes' },
        REBUILD_FAILED: { target: 'degraded', actions: 'recordError' },
      },
    },
    ready: { on: { RECONCILE_STARTED: 'reconciling', REBUILD: 'rebuilding' } },
    reconciling: { on: { RECONCILE_DONE: 'ready', REBUILD: 'rebuilding' } },
    degraded: { on: { REBUILD: 'rebuilding' } },
    stopped: { on: { REBUILD: 'rebuilding' } },
  },
});

export type SupervisorState =
  'starting' | 'rebuilding' | 'ready' | 'reconciling' | 'degraded' | 'stopped';
