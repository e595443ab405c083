import { describe, expect, it } from 'vitest';

import { InvalidInputError } from '../errors.js';
import { parseMkfsOptions } from './mkfs-options.js';

describe('parseMkfsOptions', () => {
  it('passes flags and their values through', () => {
    expect(parseMkfsOptions(' -b 4096  -m 0 -E lazy_itable_init=0 ', 'p')).toEqual([
      '-b',
      '4096',
      '-m',
      '0',
      '-E',
      'lazy_itable_init=0',
    ]);
    expect(parseMkfsOptions('\n', 'p')).toEqual([]);
  });

  it('refuses anything that points mkfs at another device or file, or forces it', () => {
    for (const value of [
      '-l logdev=/dev/sda', // the xfs log written to the node's disk
      '-r rtdev=/dev/sdb',
      '-d /etc', // mke2fs copies the node's /etc into the volume
      '-p /root/protofile',
      '-- -b 4096', // "--" would make the next value the device
      '-q --',
      'a\n/system reboot',
      '-F',
      '$(reboot)',
      '..', // a value that follows no flag is the device to mkfs
      '-b 4096 8192',
    ]) {
      expect(() => parseMkfsOptions(value, 'parameters.mkfsOptions'), value).toThrow(
        InvalidInputError,
      );
    }
  });
});
