// demo.test.ts: `npm run demo` tells its whole story: every step's answer, state change, event
// and metric delta is printed (the README shows this output).
import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

describe('npm run demo', () => {
  it('prints the migration, the conflict and the stale clear with their events and metrics', () => {
    const out = execFileSync(
      process.execPath,
      ['node_modules/tsx/dist/cli.mjs', 'scripts/demo.ts'],
      {
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    const expected = [
      /== publish it to node-b too: a live migration starts\n {3}answer: OK\n {3}state: {2}attached -> migrating \(PUBLISH\)\n {3}event: {2}Normal MigrationStarted: \[pvc-[0-9a-f-]+\]: /,
      /state: {2}migrating -> attached \(UNPUBLISH\)\n {3}event: {2}Normal MigrationCompleted: /,
      /metric: rds_csi_attachment_migrations_total\{result="completed"\} \+1/,
      /answer: gRPC code 9: volume pvc-[0-9a-f-]+ cannot be published to node node-a: it is attached to node-b with single-node access\n {3}event: {2}Warning AttachmentConflict: /,
      /metric: rds_csi_attachment_conflicts_total \+1/,
      /state: {2}attached -> stale \(NODE_DELETED\)/,
      /state: {2}stale -> detached \(timer\)\n {3}metric: rds_csi_attachment_stale_cleared_total \+1\n {3}event: {2}Normal StaleAttachmentCleared: /,
    ];
    for (const pattern of expected) expect(out).toMatch(pattern);
  }, 90_000);
});
