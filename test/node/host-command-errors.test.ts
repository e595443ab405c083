// host-command-errors.test.ts: a host tool that fails under NodeStageVolume (mkfs, mount) reaches
// the caller through the real gRPC Node service, on real loop devices, with the tool's own words,
// a status that is not INTERNAL and a message that says what to do; the driver logs it once, as a
// warning without a stack.
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { MIB, createRequest } from '../helpers/controller-requests.js';
import { grpcError } from '../helpers/csi-client.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { loopsUnder } from '../helpers/loop-devices.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

let fixture: DriverFixture;
let work: TempDir;

beforeAll(async () => {
  work = tempDir('hosterr-');
  fixture = await driverFixture(['--mode', 'all', '--node-transport', 'loop']);
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
  work?.remove();
});

function mountCapability(mountFlags: string[]): VolumeCapability {
  return { accessMode: { mode: 'SINGLE_NODE_WRITER' }, mount: { fsType: 'ext4', mountFlags } };
}

/** CreateVolume + ControllerPublish, then the NodeStageVolume kubelet would send; its error. */
async function failedStage(
  name: string,
  capability: VolumeCapability,
  volumeContext: Record<string, string> = {},
) {
  const created = await fixture.clients.controller.CreateVolume(
    createRequest(name, 64 * MIB, { volumeCapabilities: [capability] }),
  );
  const volumeId = created.volume?.volumeId ?? '';
  const { publishContext } = await fixture.clients.controller.ControllerPublishVolume({
    volumeId,
    nodeId: 'test-node',
    volumeCapability: capability,
    readonly: false,
    volumeContext: {},
  });
  const stagingPath = join(work.path, name, 'staging');
  const error = await grpcError(
    fixture.clients.node.NodeStageVolume({
      volumeId,
      publishContext,
      stagingTargetPath: stagingPath,
      volumeCapability: capability,
      volumeContext,
    }),
  );
  return { error, stagingPath, volumeId };
}

/**
 * The one log line that carries `words`: the RPC's warning line for NodeStageVolume of `volumeId`
 * with both codes, and no stack anywhere in the log.
 */
async function loggedOnce(words: string, volumeId: string): Promise<Record<string, unknown>> {
  const line = await waitFor(
    () => fixture.log.lines().find((l) => JSON.stringify(l).includes(words)),
    { what: `a log line with "${words}"` },
  );
  expect(fixture.log.lines().filter((l) => JSON.stringify(l).includes(words))).toHaveLength(1);
  expect(fixture.log.text()).not.toMatch(/\n\s+at .*:\d+:\d+/); // no stack frame, anywhere
  expect(Object.keys(line)).not.toContain('stack');
  expect(line).toMatchObject({
    level: 'warn',
    message: 'rpc failed',
    method: 'NodeStageVolume',
    volumeId,
    grpcCode: 'FAILED_PRECONDITION',
    errorCode: 'HOST_COMMAND_FAILED',
  });
  return line;
}

describe('host command failures through the Node service', () => {
  it('a mount the kernel refuses answers FAILED_PRECONDITION with mount’s own words, and the connect is undone', async () => {
    const { error, stagingPath, volumeId } = await failedStage(
      'bad-mount-option',
      mountCapability(['nosuchoption']),
    );
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toMatch(
      new RegExp(
        `^mounting /dev/loop\\d+ at ${stagingPath} failed: mount exited with status 32: "mount: ${stagingPath}: wrong fs type, bad option, bad superblock on /dev/loop\\d+, missing codepage or helper program, or other error\\."; `,
      ),
    );
    expect(error.details).toContain('mount options');
    expect(error.details).not.toContain('internal error');
    expect(error.details).not.toContain('may have more information'); // mount's hint, not its error
    const line = await loggedOnce('wrong fs type, bad option', volumeId);
    expect(line['error']).toMatch(/^HostCommandError: mounting \/dev\/loop\d+ at /);
    expect(loopsUnder(fixture.rds.dir.path)).toEqual([]);
  });

  it('an mkfs that refuses its options answers FAILED_PRECONDITION with mkfs’s own words', async () => {
    const { error, volumeId } = await failedStage('bad-mkfs-option', mountCapability([]), {
      mkfsOptions: '-I 3',
    });
    expect(error.code).toBe(status.FAILED_PRECONDITION);
    expect(error.details).toMatch(
      /^formatting \/dev\/loop\d+ as ext4 failed: mkfs\.ext4 exited with status 1: "mkfs\.ext4: invalid inode size 3 \(min \d+\/max \d+\)"; /,
    );
    expect(error.details).toContain('mkfsOptions');
    expect(error.details).not.toContain('internal error');
    const line = await loggedOnce('invalid inode size 3', volumeId);
    expect(line['error']).toMatch(/^HostCommandError: formatting \/dev\/loop\d+ as ext4 failed/);
    expect(loopsUnder(fixture.rds.dir.path)).toEqual([]);
  });
});
