// stately-inspector.test.ts: with --inspect, a publish/unpublish streams the volume actor's
// events and snapshots through the relay, where a browser page (here a WebSocket client standing
// in for it) receives them.

import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';

import { createRequest } from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { freePort } from '../helpers/free-port.js';
import { waitFor } from '../helpers/wait-for.js';

const fixtures: DriverFixture[] = [];
afterEach(async () => {
  for (const f of fixtures.splice(0)) await f.stop();
});

interface Message {
  type: string;
  sessionId?: string;
  event?: { type?: string };
  snapshot?: { value?: unknown };
}

describe('--inspect (Stately inspector)', () => {
  it('streams a publish and an unpublish of a volume actor to the inspector page', async () => {
    const port = await freePort();
    const fixture = await driverFixture(['--mode', 'all', '--inspect', String(port)]);
    fixtures.push(fixture);
    const messages: Message[] = [];
    const page = new WebSocket(`ws://127.0.0.1:${port}`);
    await new Promise((resolve, reject) => {
      page.once('open', resolve);
      page.once('error', reject);
    });
    page.on('message', (data: Buffer) => messages.push(JSON.parse(data.toString()) as Message));
    try {
      const { controller } = fixture.clients;
      const created = await controller.CreateVolume(createRequest('inspected'));
      const volumeId = created.volume?.volumeId ?? '';
      const capability = { accessMode: { mode: 'SINGLE_NODE_WRITER' as const }, block: {} };
      await controller.ControllerPublishVolume({
        volumeId,
        nodeId: 'test-node',
        volumeCapability: capability,
        readonly: false,
        volumeContext: {},
      });
      await controller.ControllerUnpublishVolume({ volumeId, nodeId: 'test-node' });
      await waitFor(
        () => messages.some((m) => m.type === '@xstate.snapshot' && m.snapshot?.value === 'grace'),
        { what: 'the grace snapshot at the inspector' },
      );
      const events = messages.filter((m) => m.type === '@xstate.event').map((m) => m.event?.type);
      expect(events).toEqual(expect.arrayContaining(['PUBLISH', 'UNPUBLISH', 'DETACHED']));
      const values = messages
        .filter((m) => m.type === '@xstate.snapshot')
        .map((m) => m.snapshot?.value);
      expect(values).toEqual(expect.arrayContaining(['attached', 'detaching', 'grace']));
      expect(messages.some((m) => m.type === '@xstate.actor')).toBe(true);
    } finally {
      page.close();
    }
  });
});
