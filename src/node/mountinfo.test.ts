// mountinfo.test.ts: parseMountInfo on lines captured from /proc/self/mountinfo (kernel 6.18):
// octal escapes in paths and sources, optional fields before the separator, a bind mount of a
// subdirectory, kernel mounts with long super options.
import { describe, expect, it } from 'vitest';

import { InternalError } from '../errors.js';
import { parseMountInfo } from './mountinfo.js';

const CAPTURED = [
  '22 27 0:21 / /proc rw,relatime - proc proc rw',
  '24 27 0:6 / /dev rw,relatime - devtmpfs devtmpfs rw,size=12335016k,nr_inodes=3083754,mode=755',
  '46 27 7:1 / /tmp/exp/dir\\040with\\040space rw,relatime - ext4 /dev/loop1 rw',
  '47 27 7:1 /sub /tmp/exp/bdst rw,relatime shared:1 - ext4 /dev/loop1 rw',
  '48 27 0:40 / /tmp/exp/tab\\011dir rw,relatime - tmpfs src\\134back rw,size=1024k',
  '',
].join('\n');

describe('parseMountInfo', () => {
  it('reads captured lines: escapes undone, optional fields skipped, bind mounts by device', () => {
    expect(parseMountInfo(CAPTURED)).toEqual([
      {
        mountPoint: '/proc',
        device: '0:21',
        source: 'proc',
        fsType: 'proc',
        options: ['rw', 'relatime'],
      },
      {
        mountPoint: '/dev',
        device: '0:6',
        source: 'devtmpfs',
        fsType: 'devtmpfs',
        options: ['rw', 'relatime'],
      },
      {
        mountPoint: '/tmp/exp/dir with space',
        device: '7:1',
        source: '/dev/loop1',
        fsType: 'ext4',
        options: ['rw', 'relatime'],
      },
      // The bind mount of /sub shows its source's device and source, not a device of its own.
      {
        mountPoint: '/tmp/exp/bdst',
        device: '7:1',
        source: '/dev/loop1',
        fsType: 'ext4',
        options: ['rw', 'relatime'],
      },
      {
        mountPoint: '/tmp/exp/tab\tdir',
        device: '0:40',
        source: 'src\\back',
        fsType: 'tmpfs',
        options: ['rw', 'relatime'],
      },
    ]);
  });

  it('skips any number of optional fields (shared, master, propagate_from)', () => {
    const [entry] = parseMountInfo(
      '312 29 259:3 / /var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount ro,noatime shared:141 master:7 propagate_from:2 - xfs /dev/nvme1n1 ro,attr2,inode64',
    );
    expect(entry).toEqual({
      mountPoint: '/var/lib/kubelet/pods/x/volumes/kubernetes.io~csi/pvc-1/mount',
      device: '259:3',
      source: '/dev/nvme1n1',
      fsType: 'xfs',
      options: ['ro', 'noatime'],
    });
  });

  it('a newline or backslash in a path is escaped by the kernel, so it never splits a line', () => {
    const [entry] = parseMountInfo('50 27 7:2 / /tmp/a\\012b\\134c rw - ext4 /dev/loop2 rw\n');
    expect(entry?.mountPoint).toBe('/tmp/a\nb\\c');
  });

  it('refuses a line without the separator, naming it, as a bug rather than a guess', () => {
    expect(() => parseMountInfo('22 27 0:21 / /proc rw,relatime proc proc rw')).toThrow(
      InternalError,
    );
    expect(() => parseMountInfo('22 27 0:21 / /proc rw,relatime proc proc rw')).toThrow(
      /cannot read: 22 27 0:21 \/ \/proc/,
    );
  });
});
