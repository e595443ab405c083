import { readFileSync } from 'node:fs';

import { describe, expect, it } from 'vitest';

import { RdsParseError } from '../../errors.js';
import { parseDiskPrintDetail, parsePoolPrintDetail } from './disk-parser.js';
import { parseFilePrintDetail } from './file-parser.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../../test/fixtures/routeros/${name}`, import.meta.url), 'utf8');

describe('parseDiskPrintDetail', () => {
  it('reads the device capture 4.1, exact bytes from size=', () => {
    expect(
      parseDiskPrintDetail(`Flags: X - disabled\r\n${fixture('disk-print-detail-one.txt')}\r\n`),
    ).toEqual([
      {
        slot: 'pvc-test-123',
        type: 'file',
        filePath: '/storage-pool/test.img',
        sizeBytes: 53_687_091_200,
        nvmeExport: { port: 4420, nqn: 'nqn.2000-02.com.mikrotik:pvc-test-123' },
        comment: '',
      },
    ]);
  });

  it('reads several indexed disks (4.2) without swallowing the next index', () => {
    const disks = parseDiskPrintDetail(
      `Flags: X - disabled\r\n${fixture('disk-print-detail-many.txt')}\r\n`,
    );
    expect(disks.map((d) => [d.slot, d.sizeBytes, d.filePath])).toEqual([
      ['pvc-test-1', 53_687_091_200, '/storage-pool/test1.img'],
      ['pvc-test-2', 107_374_182_400, '/storage-pool/test2.img'],
    ]);
  });

  it('returns nothing for a legend alone (no match), but an empty answer is not "no match"', () => {
    expect(parseDiskPrintDetail('Flags: X - disabled\r\n')).toEqual([]);
    // The device prints the legend even when nothing matched (4.6 quirk 2): without it, the
    // answer was lost, and reading it as "no such disk" would let DeleteVolume leak the disk.
    expect(() => parseDiskPrintDetail('')).toThrow(/expected the Flags: legend first/);
  });

  it('rejoins a file-path split at the 80th column and keeps a comment', () => {
    const path = '/storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img';
    const token = `file-path=${path}`;
    const first = ` 0   ;;; csi=v1;kind=volume`;
    const pad = '     ';
    const lines = [
      'Flags: X',
      first,
      `${pad}type=file slot="pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f" size=1 073 741 824`,
      `${pad}${token.slice(0, 74)}`,
      `${pad}${token.slice(74)} file-size=1024.0MiB nvme-tcp-export=no`,
      '',
    ];
    expect(parseDiskPrintDetail(lines.join('\r\n'))).toEqual([
      expect.objectContaining({
        filePath: path,
        sizeBytes: 1_073_741_824,
        comment: 'csi=v1;kind=volume',
      }),
    ]);
  });

  it('refuses garbled, truncated or inconsistent output instead of guessing', () => {
    const good = `Flags: X - disabled\r\n${fixture('disk-print-detail-one.txt')}\r\n`;
    expect(parseDiskPrintDetail(good)).toHaveLength(1);
    const cases = [
      good.replace('size=53 687 091 200', 'size=53 687 O91 200'), // letter O in the digits
      good.replace('size=53 687 091 200', 'size=53 687 091 201 0'), // regrouped digits
      good.replace('size=53 687 091 200', 'size=13 687 091 200'), // disagrees with file-size=50.0GiB
      good.replace(' slot="pvc-test-123"', ' slot="pvc-test-123'), // unterminated quote
      good.slice(0, good.indexOf('file-path')), // truncated before file-path
      good.replace('type=file', '#@%=file'),
      'garbage that is not routeros\r\n',
    ];
    for (const text of cases)
      expect(() => parseDiskPrintDetail(text), text.slice(0, 60)).toThrow(RdsParseError);
  });

  it('refuses answers that were cut or corrupted (issue 11 fuzz findings)', () => {
    const good = `Flags: X - disabled\r\n${fixture('disk-print-detail-many.txt')}\r\n`;
    const cases: [string, RegExp][] = [
      // Cut inside the last line: the path looked whole, the export flags were dropped.
      [good.slice(0, good.indexOf('test2.img') + 5), /stops inside a line: it was cut off/],
      // Cut after a whole line: a file disk without its export flag is not an unexported disk.
      [
        good.slice(0, good.lastIndexOf('               nvme-tcp-export')),
        /missing nvme-tcp-export=/,
      ],
      // A lost or repeated item.
      [good.replace(' 1  type=file', ' 2  type=file'), /item 2 where item 1 was due/],
      // A garbled key swallowed by the value before it.
      [good.replace(' file-size=100.0GiB', ' file-s#ze=100.0GiB'), /value of file-path runs into/],
      // Terminal noise and a bare CR.
      [good.replace('size=53', '\u001b[2Ksize=53'), /control character "\\u001b"/],
      [good.replace('\r\n 1', '\r 1'), /control character "\\u000d"/],
      [good.replace('nvme-tcp-server-port=4420', 'nvme-tcp-server-port=70 000'), /not a TCP port/],
    ];
    for (const [text, message] of cases) expect(() => parseDiskPrintDetail(text)).toThrow(message);
    const pool =
      'Flags: X\r\n 0 BM  type=partition slot="storage-pool" size=7 681 574 174 720\r\n      free=1 301 927 047 168 use=5% mount-point="storage-pool"\r\n\r\n';
    expect(() => parsePoolPrintDetail(pool)).toThrow(/use="5%" does not agree/);
    const files = `${fixture('file-print-detail.txt')}\r\n`;
    expect(() => parseFilePrintDetail(files.replace('size=10.0GiB', 'size=10.0G#B'))).toThrow(
      /size="10.0G#B" is not a size/,
    );
    expect(() => parseFilePrintDetail(files.replace(' size=1024.0MiB', ''))).toThrow(
      /missing size=/,
    );
    expect(() =>
      parseFilePrintDetail(files.replace('metal-csi/pvc-0f', 'metal-csi/pvc 0f')),
    ).toThrow(/contains whitespace/);
  });

  it('names the line of the problem', () => {
    expect(() => parseDiskPrintDetail('Flags: X\r\n 0   type=file slot="a" size=12x\r\n')).toThrow(
      /line 2: size "12x" is not an integer/,
    );
  });
});

describe('parsePoolPrintDetail', () => {
  it('reads size and free of the pool entry', () => {
    const out =
      'Flags: X\r\n 0 BM  type=partition slot="storage-pool" size=7 681 574 174 720\r\n      free=7 301 927 047 168 use=5% mount-point="storage-pool"\r\n\r\n';
    expect(parsePoolPrintDetail(out)).toEqual({
      mountPoint: 'storage-pool',
      totalBytes: 7_681_574_174_720,
      freeBytes: 7_301_927_047_168,
    });
    expect(parsePoolPrintDetail('Flags: X\r\n')).toBeUndefined();
    expect(() => parsePoolPrintDetail(out.replace('free=7 301', 'free=9 301'))).toThrow(
      /impossible/,
    );
  });
});

describe('parseFilePrintDetail', () => {
  it('reads the capture 4.3 with normalised paths', () => {
    expect(parseFilePrintDetail(fixture('file-print-detail.txt'))).toEqual([
      { path: '/storage-pool/metal-csi', isDirectory: true, approxSizeBytes: undefined },
      {
        path: '/storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img',
        isDirectory: false,
        approxSizeBytes: 10 * 1024 ** 3,
      },
      {
        path: '/storage-pool/metal-csi/pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8.img',
        isDirectory: false,
        approxSizeBytes: 1024 ** 3,
      },
    ]);
  });
});
