// command-failure.test.ts: which line of a failed tool's output is quoted, and which kind of
// failure it names. Outputs were captured on loop devices with util-linux 2.38.1 and e2fsprogs
// 1.47.0 unless a case says otherwise.
import { describe, expect, it } from 'vitest';

import {
  HostCommandError,
  HostDeviceBusyError,
  HostFilesystemDamagedError,
  HostTargetUnreachableError,
  HostToolMissingError,
} from '../errors.js';
import { TOOL_MESSAGE_MAX, commandFailure, spawnFailure, toolMessage } from './command-failure.js';

const STEP = { step: 'doing it', advice: 'check the thing' };

function failed(stderr: string, stdout = '', code: number | null = 1) {
  return { code, stderr, stdout };
}

describe('the quoted tool line', () => {
  it("is mount's error, not its dmesg hint", () => {
    expect(
      toolMessage(
        failed(
          'mount: /tmp/exp/m: wrong fs type, bad option, bad superblock on /dev/loop0, missing codepage or helper program, or other error.\n       dmesg(1) may have more information after failed mount system call.\n',
        ),
      ),
    ).toBe(
      'mount: /tmp/exp/m: wrong fs type, bad option, bad superblock on /dev/loop0, missing codepage or helper program, or other error.',
    );
  });

  it("is resize2fs's error, not its version banner; stdout's when stderr has only the banner", () => {
    expect(
      toolMessage(
        failed(
          'resize2fs 1.47.0 (5-Feb-2023)\nresize2fs: Permission denied to resize filesystem\n',
          'Filesystem at /dev/loop0 is mounted on /tmp/rmnt; on-line resizing required\nold_desc_blocks = 1, new_desc_blocks = 1\n',
        ),
      ),
    ).toBe('resize2fs: Permission denied to resize filesystem');
    expect(
      toolMessage(
        failed('resize2fs 1.47.0 (5-Feb-2023)\n', 'Please run e2fsck -f /dev/loop0 first.\n\n'),
      ),
    ).toBe('Please run e2fsck -f /dev/loop0 first.');
  });

  it("is mke2fs's complaint, not the option list it prints after it", () => {
    const stderr = [
      '',
      'Bad option(s) specified: bogus',
      '',
      'Extended options are separated by commas, and may take an argument which',
      "\tis set off by an equals ('=') sign.",
      '',
      'Valid extended options are:',
      '\tmmp_update_interval=<interval>',
      '\tnum_backup_sb=<0|1|2>',
      '\tlazy_itable_init=<0 to disable, 1 to enable>',
      '\tnodiscard',
      '\tassume_storage_prezeroed=<0 to disable, 1 to enable>',
      '',
    ].join('\n');
    expect(toolMessage(failed(stderr))).toBe('Bad option(s) specified: bogus');
  });

  it('is the last failing line, and nothing from a usage text on', () => {
    expect(
      toolMessage(
        failed(
          '\nFilesystem too small for a journal\next2fs_write_inode_full: Illegal inode number while writing reserved inodes\n',
        ),
      ),
    ).toBe('ext2fs_write_inode_full: Illegal inode number while writing reserved inodes');
    expect(
      toolMessage(
        failed(
          "mkfs.ext4: invalid option -- 'Z'\nUsage: mkfs.ext4 [-c|-l filename] [-b block-size] [-C cluster-size]\n\t[-i bytes-per-inode] [-I inode-size] [-J journal-options]\n\t[-G flex-group-size] [-N number-of-inodes] [-d root-directory]\n",
        ),
      ),
    ).toBe("mkfs.ext4: invalid option -- 'Z'");
    // mkfs.xfs (xfsprogs 6.x): the line after the error only suggests forcing it.
    expect(
      toolMessage(
        failed(
          'mkfs.xfs: /dev/loop0 appears to contain an existing filesystem (ext4).\nmkfs.xfs: Use the -f option to force overwrite.\n',
        ),
      ),
    ).toBe('mkfs.xfs: /dev/loop0 appears to contain an existing filesystem (ext4).');
  });

  it('is one printable line, bounded, whatever the tool wrote', () => {
    const said = toolMessage(failed(`mount: ${'x'.repeat(5_000)}\u001b[31m\u2028fake line\n`));
    expect(said).toHaveLength(TOOL_MESSAGE_MAX);
    expect(said).toMatch(/^mount: x+…$/);
    expect(toolMessage(failed('bad \u001b[31mthing\u0007 here\r'))).toBe('bad [31mthing here');
    expect(toolMessage(failed('', ''))).toBe('');
  });
});

describe('the error for a failed command', () => {
  it('names the step, the exit status and the tool, then the advice', () => {
    const error = commandFailure(
      'losetup',
      failed('losetup: /dev/loop77: failed to use device: No such device\n'),
      STEP,
    );
    expect(error).toBeInstanceOf(HostCommandError);
    expect(error.code).toBe('HOST_COMMAND_FAILED');
    expect(error.message).toBe(
      'doing it failed: losetup exited with status 1: "losetup: /dev/loop77: failed to use device: No such device"; check the thing',
    );
    expect({
      command: error.command,
      exitCode: error.exitCode,
      toolMessage: error.toolMessage,
    }).toEqual({
      command: 'losetup',
      exitCode: 1,
      toolMessage: 'losetup: /dev/loop77: failed to use device: No such device',
    });
    expect(commandFailure('mknod', failed('', '', null), STEP).message).toBe(
      'doing it failed: mknod was ended by a signal and printed nothing; check the thing',
    );
  });

  it('a device or mount point in use is busy, with how to find the user', () => {
    for (const stderr of [
      'umount: /tmp/exp/m: target is busy.\n',
      '/dev/loop0 is mounted; will not make a filesystem here!\n',
      'losetup: /dev/loop3: detach failed: Device or resource busy\n',
    ]) {
      const error = commandFailure('umount', failed(stderr, '', 32), STEP);
      expect(error, stderr).toBeInstanceOf(HostDeviceBusyError);
      expect(error.code).toBe('HOST_DEVICE_BUSY');
      expect(error.message).toMatch(/still uses it .*"fuser -vm" or "lsof", stop it, then retry$/);
    }
  });

  it('a filesystem the kernel finds damaged says to check it', () => {
    const error = commandFailure(
      'mount',
      failed(
        'mount: /tmp/exp/m: mount(2) system call failed: Structure needs cleaning.\n       dmesg(1) may have more information after failed mount system call.\n',
        '',
        32,
      ),
      STEP,
    );
    expect(error).toBeInstanceOf(HostFilesystemDamagedError);
    expect(error.message).toBe(
      `doing it failed: mount exited with status 32: "mount: /tmp/exp/m: mount(2) system call failed: Structure needs cleaning."; the volume's filesystem looks damaged: take a snapshot, check it (e2fsck -f, or xfs_repair) where it is not mounted, then retry`,
    );
  });

  it('an ambiguous mount refusal is not called damage', () => {
    const error = commandFailure(
      'mount',
      failed(
        'mount: /m: wrong fs type, bad option, bad superblock on /dev/loop0, missing codepage or helper program, or other error.\n',
        '',
        32,
      ),
      STEP,
    );
    expect(error.code).toBe('HOST_COMMAND_FAILED');
    expect(error.message).toMatch(/; check the thing$/);
  });

  it("a refused NVMe/TCP connection is unreachable, even when the errno is on nvme-cli's first line", () => {
    // nvme-cli 2.x (from its source, fabrics.c and libnvme): libnvme's line, then nvme-cli's.
    const error = commandFailure(
      'nvme',
      failed(
        'Failed to write to /dev/nvme-fabrics: Connection refused\ncould not add new controller: failed to write to nvme-fabrics device\n',
      ),
      STEP,
    );
    expect(error).toBeInstanceOf(HostTargetUnreachableError);
    expect(error.code).toBe('HOST_TARGET_UNREACHABLE');
    expect(error.message).toBe(
      `doing it failed: nvme exited with status 1: "could not add new controller: failed to write to nvme-fabrics device"; the RDS's NVMe/TCP target did not take the connection (connection refused): check that the RDS is up and that this node reaches its NVMe address and port`,
    );
  });

  it('a refusal for lack of privilege says to run the plugin privileged', () => {
    const error = commandFailure(
      'resize2fs',
      failed('resize2fs 1.47.0 (5-Feb-2023)\nresize2fs: Permission denied to resize filesystem\n'),
      STEP,
    );
    expect(error.code).toBe('HOST_COMMAND_FAILED');
    expect(error.message).toMatch(
      /"resize2fs: Permission denied to resize filesystem"; the node plugin lacks a privilege .*CAP_SYS_RESOURCE\): run the node plugin privileged$/,
    );
  });
});

describe('a program that cannot start', () => {
  it('not installed: names the package that provides it', () => {
    const enoent = Object.assign(new Error('spawn mkfs.xfs ENOENT'), { code: 'ENOENT' });
    const error = spawnFailure('mkfs.xfs', ['-q', '/dev/loop0'], enoent);
    expect(error).toBeInstanceOf(HostToolMissingError);
    expect(error.code).toBe('HOST_TOOL_MISSING');
    expect(error.cause).toBe(enoent);
    expect(error.message).toBe(
      'cannot run "mkfs.xfs -q /dev/loop0" on this node (spawn mkfs.xfs ENOENT): it is not installed; use a node plugin image that provides mkfs.xfs (package xfsprogs)',
    );
  });

  it('any other spawn failure is a plain host command failure', () => {
    const eagain = Object.assign(new Error('spawn EAGAIN'), { code: 'EAGAIN' });
    const error = spawnFailure('mount', [], eagain);
    expect(error).not.toBeInstanceOf(HostToolMissingError);
    expect(error.code).toBe('HOST_COMMAND_FAILED');
  });
});
