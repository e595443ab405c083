// filesystem-grow.test.ts: what a failed filesystem grow tells the operator. The outputs are
// resize2fs 1.47.0's and xfs_growfs's own, captured on a loop device (resize2fs refused online
// growth in an unprivileged sandbox: no CAP_SYS_RESOURCE).
import { describe, expect, it } from 'vitest';

import { HostCommandError } from '../../src/errors.js';
import type { CommandResult, CommandRunner } from '../../src/node/exec.js';
import { HostFilesystems } from '../../src/node/filesystem.js';
import { systemClock } from '../../src/main.js';
import { captureLog } from '../helpers/log-capture.js';

function filesystems(result: CommandResult): { fs: HostFilesystems; ran: string[] } {
  const ran: string[] = [];
  const runner: CommandRunner = {
    run: (command, args) => {
      ran.push([command, ...args].join(' '));
      return Promise.resolve(result);
    },
  };
  const fs = new HostFilesystems({
    runner,
    clock: systemClock,
    log: captureLog().logger,
    commandTimeoutMs: 1_000,
    formatTimeoutMs: 1_000,
  });
  return { fs, ran };
}

const AGAIN =
  'the volume is already larger on the RDS; kubelet retries NodeExpandVolume, which grows the filesystem once the cause is fixed';

describe('growing a filesystem', () => {
  it('resize2fs refused for lack of privilege: names the cause and the fix, not the banner', async () => {
    const { fs, ran } = filesystems({
      code: 1,
      stdout:
        'Filesystem at /dev/loop0 is mounted on /tmp/rmnt; on-line resizing required\nold_desc_blocks = 1, new_desc_blocks = 1\n',
      stderr: 'resize2fs 1.47.0 (5-Feb-2023)\nresize2fs: Permission denied to resize filesystem\n',
    });
    const error = await fs.grow('/dev/loop0', '/tmp/rmnt', 'ext4').catch((e: unknown) => e);
    expect(ran).toEqual(['resize2fs /dev/loop0']);
    expect(error).toBeInstanceOf(HostCommandError);
    expect((error as HostCommandError).code).toBe('HOST_COMMAND_FAILED');
    expect((error as Error).message).toBe(
      'growing the ext4 filesystem on /dev/loop0 (mounted at /tmp/rmnt) failed: resize2fs exited with status 1: "resize2fs: Permission denied to resize filesystem"; the node plugin lacks a privilege this needs (mounting needs CAP_SYS_ADMIN, growing ext4 also CAP_SYS_RESOURCE): run the node plugin privileged',
    );
  });

  it('any other failure keeps what the tool said, from stdout when stderr has only the banner', async () => {
    const { fs } = filesystems({
      code: 1,
      stdout: 'Please run e2fsck -f /dev/loop0 first.\n',
      stderr: 'resize2fs 1.47.0 (5-Feb-2023)\n',
    });
    const error = await fs.grow('/dev/loop0', '/m', 'ext4').catch((e: unknown) => e);
    expect((error as HostCommandError).toolMessage).toBe('Please run e2fsck -f /dev/loop0 first.');
    expect((error as Error).message).toBe(
      `growing the ext4 filesystem on /dev/loop0 (mounted at /m) failed: resize2fs exited with status 1: "Please run e2fsck -f /dev/loop0 first."; ${AGAIN}`,
    );
    const xfs = filesystems({
      code: 1,
      stdout: '',
      stderr: 'xfs_growfs: /m is not a mounted XFS filesystem\n',
    });
    await expect(xfs.fs.grow('/dev/loop0', '/m', 'xfs')).rejects.toThrow(
      `growing the xfs filesystem on /dev/loop0 (mounted at /m) failed: xfs_growfs exited with status 1: "xfs_growfs: /m is not a mounted XFS filesystem"; ${AGAIN}`,
    );
    const silent = filesystems({
      code: 137,
      stdout: '',
      stderr: 'resize2fs 1.47.0 (5-Feb-2023)\n',
    });
    await expect(silent.fs.grow('/dev/loop0', '/m', 'ext4')).rejects.toThrow(
      `growing the ext4 filesystem on /dev/loop0 (mounted at /m) failed: resize2fs exited with status 137 and printed nothing; ${AGAIN}`,
    );
  });
});
