// csi-handlers.test.ts: every CSI handler, by property, with random and malformed requests (issue
// 11): the answer is always one of the codes the CSI spec defines for a caller's mistake or a
// transient state, never INTERNAL or UNKNOWN (a crash the driver did not understand), and no
// promise is left rejected. Paths are drawn around a dedicated kubelet directory, so a request
// that slipped through could only touch that directory.
import { status } from '@grpc/grpc-js';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { TEST_PASSWORD } from '../helpers/emulator-fixture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

/** What a handler may answer to anything a caller sends. */
const DEFINED = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.OUT_OF_RANGE,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.UNAVAILABLE,
]);

let fixture: DriverFixture;
let kubelet: TempDir;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  kubelet = tempDir('fuzz-kubelet-');
  process.on('unhandledRejection', onUnhandled);
  fixture = await driverFixture([
    '--mode',
    'all',
    '--node-transport',
    'loop',
    '--kubelet-dir',
    kubelet.path,
  ]);
}, 30_000);

afterAll(async () => {
  await fixture?.stop();
  kubelet?.remove();
  process.off('unhandledRejection', onUnhandled);
});

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.constantFrom(
    '',
    'pvc-0a1b2c3d-0000-4000-8000-000000000001',
    'snap-0a1b2c3d-0000-4000-8000-000000000001-at-0a1b2c3d00',
    '../../etc/passwd',
    'a;/system reboot',
    '$(reboot)',
    '[find]',
    'x'.repeat(129),
    'test-node',
  ),
);
const int64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map(String),
  fc.constantFrom('0', '1', '-1', '1073741824', '9223372036854775807'),
);
const map = fc.dictionary(text, text, { maxKeys: 4 });
/** Secrets carry a marker that must never reach the driver's log. */
const SECRET_MARKER = 'fuzz-secret-7f3a9c';
const secrets = fc.dictionary(
  text,
  text.map((t) => `${SECRET_MARKER}${t}`),
  { maxKeys: 3 },
);
const capability = fc.record(
  {
    accessMode: fc.record({
      mode: fc.constantFrom(
        'UNKNOWN',
        'SINGLE_NODE_WRITER',
        'SINGLE_NODE_READER_ONLY',
        'MULTI_NODE_READER_ONLY',
        'MULTI_NODE_SINGLE_WRITER',
        'MULTI_NODE_MULTI_WRITER',
        'SINGLE_NODE_SINGLE_WRITER',
        'SINGLE_NODE_MULTI_WRITER',
      ),
    }),
    block: fc.constant({}),
    mount: fc.record(
      {
        fsType: fc.oneof(fc.constantFrom('', 'ext4', 'xfs', 'btrfs'), text),
        mountFlags: fc.array(text, { maxLength: 3 }),
      },
      { requiredKeys: [] },
    ),
  },
  { requiredKeys: [] },
);
const path = () =>
  fc.oneof(
    text,
    text.map((t) => `${kubelet.path}/${t}`),
    fc.constantFrom('/dev/null', '/etc', '/', `${kubelet.path}/../x`),
  );
const capacity = fc.record({ requiredBytes: int64, limitBytes: int64 }, { requiredKeys: [] });

type Call = (request: never) => Promise<unknown>;

async function check(name: string, call: Call, request: fc.Arbitrary<object>): Promise<void> {
  await fc.assert(
    fc.asyncProperty(request, async (req) => {
      let code: number = status.OK;
      try {
        await call(req as never);
      } catch (error) {
        code = (error as { code?: number }).code ?? -1;
      }
      if (!DEFINED.has(code)) {
        throw new Error(
          `${name} answered ${status[code] ?? String(code)} to ${JSON.stringify(req)}`,
        );
      }
    }),
    { numRuns: 100 },
  );
}

describe('every CSI handler answers malformed requests with a defined code', () => {
  it('Controller', async () => {
    const c = fixture.clients.controller;
    const id = text;
    await check(
      'CreateVolume',
      c.CreateVolume.bind(c),
      fc.record(
        {
          name: id,
          capacityRange: capacity,
          volumeCapabilities: fc.array(capability, { maxLength: 2 }),
          parameters: map,
          secrets,
          volumeContentSource: fc.oneof(
            fc.record({ volume: fc.record({ volumeId: id }) }),
            fc.record({ snapshot: fc.record({ snapshotId: id }) }),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    await check(
      'DeleteVolume',
      c.DeleteVolume.bind(c),
      fc.record({ volumeId: id, secrets }, { requiredKeys: [] }),
    );
    const publish = fc.record(
      {
        volumeId: id,
        nodeId: id,
        volumeCapability: capability,
        readonly: fc.boolean(),
        volumeContext: map,
      },
      { requiredKeys: [] },
    );
    await check('ControllerPublishVolume', c.ControllerPublishVolume.bind(c), publish);
    await check(
      'ControllerUnpublishVolume',
      c.ControllerUnpublishVolume.bind(c),
      fc.record({ volumeId: id, nodeId: id }, { requiredKeys: [] }),
    );
    await check(
      'ValidateVolumeCapabilities',
      c.ValidateVolumeCapabilities.bind(c),
      fc.record(
        {
          volumeId: id,
          volumeCapabilities: fc.array(capability, { maxLength: 2 }),
          parameters: map,
          volumeContext: map,
        },
        { requiredKeys: [] },
      ),
    );
    await check(
      'ListVolumes',
      c.ListVolumes.bind(c),
      fc.record(
        { maxEntries: fc.integer({ min: -5, max: 5000 }), startingToken: text },
        { requiredKeys: [] },
      ),
    );
    await check(
      'GetCapacity',
      c.GetCapacity.bind(c),
      fc.record(
        { volumeCapabilities: fc.array(capability, { maxLength: 2 }), parameters: map },
        { requiredKeys: [] },
      ),
    );
    await check(
      'CreateSnapshot',
      c.CreateSnapshot.bind(c),
      fc.record({ sourceVolumeId: id, name: id, parameters: map, secrets }, { requiredKeys: [] }),
    );
    await check(
      'DeleteSnapshot',
      c.DeleteSnapshot.bind(c),
      fc.record({ snapshotId: id }, { requiredKeys: [] }),
    );
    await check(
      'ListSnapshots',
      c.ListSnapshots.bind(c),
      fc.record(
        {
          maxEntries: fc.integer({ min: -5, max: 5000 }),
          startingToken: text,
          sourceVolumeId: id,
          snapshotId: id,
        },
        { requiredKeys: [] },
      ),
    );
    await check(
      'ControllerExpandVolume',
      c.ControllerExpandVolume.bind(c),
      fc.record(
        { volumeId: id, capacityRange: capacity, volumeCapability: capability },
        { requiredKeys: [] },
      ),
    );
    await check(
      'ControllerGetVolume',
      c.ControllerGetVolume.bind(c),
      fc.record({ volumeId: id }, { requiredKeys: [] }),
    );
    expect(unhandled).toEqual([]);
  }, 120_000);

  it('Node', async () => {
    const n = fixture.clients.node;
    const id = text;
    const stage = fc.record(
      {
        volumeId: id,
        publishContext: map,
        stagingTargetPath: path(),
        volumeCapability: capability,
        volumeContext: map,
        secrets,
      },
      { requiredKeys: [] },
    );
    await check('NodeStageVolume', n.NodeStageVolume.bind(n), stage);
    await check(
      'NodeUnstageVolume',
      n.NodeUnstageVolume.bind(n),
      fc.record({ volumeId: id, stagingTargetPath: path() }, { requiredKeys: [] }),
    );
    await check(
      'NodePublishVolume',
      n.NodePublishVolume.bind(n),
      fc.record(
        {
          volumeId: id,
          publishContext: map,
          stagingTargetPath: path(),
          targetPath: path(),
          volumeCapability: capability,
          readonly: fc.boolean(),
          volumeContext: map,
        },
        { requiredKeys: [] },
      ),
    );
    await check(
      'NodeUnpublishVolume',
      n.NodeUnpublishVolume.bind(n),
      fc.record({ volumeId: id, targetPath: path() }, { requiredKeys: [] }),
    );
    await check(
      'NodeGetVolumeStats',
      n.NodeGetVolumeStats.bind(n),
      fc.record(
        { volumeId: id, volumePath: path(), stagingTargetPath: path() },
        { requiredKeys: [] },
      ),
    );
    await check(
      'NodeExpandVolume',
      n.NodeExpandVolume.bind(n),
      fc.record(
        {
          volumeId: id,
          volumePath: path(),
          capacityRange: capacity,
          stagingTargetPath: path(),
          volumeCapability: capability,
        },
        { requiredKeys: [] },
      ),
    );
    expect(unhandled).toEqual([]);
  }, 120_000);

  it('logged none of the secrets those requests carried, nor the RDS password', () => {
    const log = fixture.log.text();
    expect(log.length).toBeGreaterThan(10_000); // the calls above were logged
    expect(log).not.toContain(SECRET_MARKER);
    expect(log).not.toContain(TEST_PASSWORD);
  });
});
