// diagrams.ts: which machines are drawn where (npm run visualize; checked by a test).
import type { AnyStateMachine } from 'xstate';

import { supervisorLifecycle } from '../src/machines/supervisor-lifecycle.js';
import { createVolumeAttachmentMachine } from '../src/machines/volume-attachment.js';

export interface Diagram {
  readonly path: string;
  render(mermaid: (machine: AnyStateMachine) => string): string;
}

export const DIAGRAMS: readonly Diagram[] = [
  {
    path: 'visualizations/volume-attachment.md',
    render: (mermaid) =>
      [
        '# Volume attachment machine',
        '',
        'Generated from `src/machines/volume-attachment.ts` by `npm run visualize`; do not edit.',
        'One actor per volume. `[guard]` names the condition; `after x` fires at the deadline kept in',
        'context, so a restored actor waits only for the time left.',
        '',
        '```mermaid',
        mermaid(createVolumeAttachmentMachine({ now: () => 0 })).trimEnd(),
        '```',
        '',
      ].join('\n'),
  },
  {
    path: 'visualizations/supervisor-lifecycle.md',
    render: (mermaid) =>
      [
        '# Attachment supervisor lifecycle',
        '',
        'Generated from `src/machines/supervisor-lifecycle.ts` by `npm run visualize`; do not edit.',
        'Calls are decided in `ready` and `reconciling`; elsewhere they are answered UNAVAILABLE.',
        'From every state, STOP leads to `stopped` (not drawn).',
        '',
        '```mermaid',
        mermaid(supervisorLifecycle).trimEnd(),
        '```',
        '',
      ].join('\n'),
  },
];
