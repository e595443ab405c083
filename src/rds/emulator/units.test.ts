import { describe, expect, it } from 'vitest';

import { groupDigits, humanRate, humanSize, parseSizeArgument } from './units.js';
import { renderDetail } from './print-format.js';

describe('RouterOS number notation', () => {
  it('groups digits in threes with spaces', () => {
    expect(groupDigits(53687091200)).toBe('53 687 091 200');
    expect(groupDigits(0)).toBe('0');
    expect(groupDigits(999)).toBe('999');
    expect(groupDigits(1000)).toBe('1 000');
  });

  it('prints sizes with one decimal, moving up a unit only above 1024 of it', () => {
    expect(humanSize(50 * 1024 ** 3)).toBe('50.0GiB');
    expect(humanSize(1024 ** 3)).toBe('1024.0MiB'); // as /file print shows a 1 GiB file (4.3)
    expect(humanSize(10 * 1024 ** 3)).toBe('10.0GiB');
    expect(humanSize(1536 * 1024 ** 2)).toBe('1.5GiB');
    expect(humanSize(512)).toBe('512B');
  });

  it('prints rates in decimal bits per second', () => {
    expect(humanRate(0)).toBe('0bps');
    expect(humanRate(12_800_000)).toBe('12.8Mbps');
    expect(humanRate(1_500)).toBe('1.5kbps');
  });

  it('parses size arguments exactly, refusing fractions of a byte', () => {
    expect(parseSizeArgument('10G')).toBe(10 * 1024 ** 3);
    expect(parseSizeArgument('1536M')).toBe(1536 * 1024 ** 2);
    expect(parseSizeArgument('1073741824')).toBe(1024 ** 3);
    expect(parseSizeArgument('1.5GiB')).toBe(1.5 * 1024 ** 3);
    expect(parseSizeArgument('0.3')).toBeUndefined();
    expect(parseSizeArgument('-1G')).toBeUndefined();
    expect(parseSizeArgument('10 G')).toBeUndefined();
  });
});

describe('detail wrapping', () => {
  it('splits a token longer than a line and continues it on the next (4.6 quirk 5)', () => {
    const path = `/storage-pool/metal-csi/${'x'.repeat(80)}.img`;
    const text = renderDetail(
      [{ id: 2, flags: '', comment: '', groups: [[{ key: 'file-path', value: path, raw: path }]] }],
      { legend: 'Flags: X', indexWidth: 2, flagsWidth: 1 },
    );
    const lines = text.split('\r\n');
    expect(lines[1]).toHaveLength(79);
    expect(lines[2]!.startsWith('     ')).toBe(true);
    expect(lines[1]!.slice(5) + lines[2]!.slice(5)).toBe(`file-path=${path}`);
  });

  it('prints a comment line before the properties', () => {
    const text = renderDetail(
      [
        {
          id: 2,
          flags: '',
          comment: 'made by csi',
          groups: [[{ key: 'slot', value: '"a"', raw: 'a' }]],
        },
      ],
      { legend: 'Flags: X', indexWidth: 2, flagsWidth: 1 },
    );
    expect(text).toBe('Flags: X\r\n 0   ;;; made by csi\r\n     slot="a"\r\n\r\n');
  });
});
