// routeros-parsers.test.ts: the RouterOS output parsers under hostile output (issue 11): garbled,
// truncated and oversized answers give an RdsParseError, never a wrong value, a crash or a hang.
//
// The oracle is the emulator's own renderer (disk-items.ts, file-menu.ts, print-format.ts), which
// the golden tests hold to the device captures: random records are printed in the device format,
// parsed, and compared. A mutated answer must then be refused, or read back with every record the
// mutation did not touch exactly as generated, the same number of records, and a changed field
// only where the mutation hit that field's own text (field-lessons #2: a size read from the wrong
// token, paths with and without a leading "/").
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';

import { DriverError, RdsParseError } from '../../src/errors.js';
import type { RdsDisk, RdsFile, RdsPool } from '../../src/ports.js';
import { checkAnswer } from '../../src/rds/device-answer.js';
import { parseDiskPrintDetail, parsePoolPrintDetail } from '../../src/rds/parsers/disk-parser.js';
import { parseFilePrintDetail } from '../../src/rds/parsers/file-parser.js';
import { DISK_LAYOUT, diskItem, poolItem } from '../../src/rds/emulator/disk-items.js';
import { FILE_LAYOUT, fileItem, type FileEntry } from '../../src/rds/emulator/file-menu.js';
import { renderDetail, type PrintItem } from '../../src/rds/emulator/print-format.js';
import type { DiskState } from '../../src/rds/emulator/state-store.js';
import { humanSize } from '../../src/rds/emulator/units.js';

const MIB = 1024 ** 2;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const GIB = 1024 ** 3;
const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/routeros/${name}`, import.meta.url), 'utf8');

// ---- generated records, printed by the emulator ----

/**
 * Text of disks the driver did not create: printable ASCII without `=` (so a `key=` in the text is
 * always a property, see fieldSpans); spaces only in values too short to be split across lines (a
 * space at the very point where a long value is split cannot be told from the indentation).
 */
const printable = (withSpace: boolean) =>
  fc
    .integer({ min: withSpace ? 0x20 : 0x21, max: 0x7e })
    .filter((c) => c !== 0x3d)
    .map((c) => String.fromCharCode(c));
const foreignText = (maxLength: number) =>
  fc.oneof(
    fc.string({ unit: printable(true), maxLength: Math.min(maxLength, 30) }),
    fc.string({ unit: printable(false), maxLength }),
  );
const segment = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,24}$/);
const slot = fc.oneof(
  { weight: 3, arbitrary: fc.uuid().map((u) => `pvc-${u}`) },
  { weight: 2, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/) },
  // Disks the driver did not create: anything the console can print in quotes.
  { weight: 1, arbitrary: foreignText(90).filter((s) => s.trim() !== '') },
);
const size = fc.oneof(
  fc.integer({ min: 1, max: 1024 ** 3 }).map((m) => m * MIB),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
  fc.constantFrom(0, 1, 1023, 1024, 1025, GIB - 1, GIB, 11 * GIB + 1034, 2 ** 53 - 1),
);
const comment = fc.oneof(
  fc.constant(''),
  fc.stringMatching(/^[A-Za-z0-9=;:._,-]{1,120}$/),
  foreignText(120),
);

/** A disk; its id is set by the listing (ids are internal, never printed by detail). */
const diskState = fc
  .record({
    slot,
    dirs: fc.array(segment, { minLength: 1, maxLength: 4 }),
    fileSize: size,
    fileOffset: fc.oneof(fc.constant(0), fc.nat()),
    nvmeTcpExport: fc.boolean(),
    nvmeTcpServerPort: fc.integer({ min: 1, max: 65535 }),
    nqnName: fc.stringMatching(/^[a-z0-9][a-z0-9._-]{0,100}$/),
    allowHost: fc.oneof(fc.constant(''), foreignText(40)),
    flags: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    comment,
  })
  .map((r): DiskState => ({
    id: 0,
    slot: r.slot,
    type: 'file',
    filePath: `/${r.dirs.join('/')}/${r.slot.replace(/[^A-Za-z0-9-]/g, 'x')}.img`,
    fileSize: r.fileSize,
    fileOffset: r.fileOffset,
    nvmeTcpExport: r.nvmeTcpExport,
    nvmeTcpServerPort: r.nvmeTcpServerPort,
    nvmeTcpServerNqn: `nqn.2000-02.com.mikrotik:${r.nqnName}`,
    nvmeTcpServerAllowHostName: r.allowHost,
    iscsiExport: r.flags[0]!,
    nfsSharing: r.flags[1]!,
    smbSharing: r.flags[2]!,
    mediaSharing: r.flags[3]!,
    mountFilesystem: r.flags[4]!,
    mountReadOnly: r.flags[5]!,
    compress: r.flags[6]!,
    swap: r.flags[7]!,
    comment: r.comment,
  }));

const pool = fc
  .tuple(fc.integer({ min: 1, max: 2 ** 50 }), fc.double({ min: 0, max: 1, noNaN: true }))
  .map(([sizeBytes, share]) => ({ sizeBytes, freeBytes: Math.floor(sizeBytes * share) }));

interface DiskListing {
  readonly pool: { sizeBytes: number; freeBytes: number } | undefined;
  readonly disks: readonly DiskState[];
}

const listing = (maxDisks: number): fc.Arbitrary<DiskListing> =>
  fc
    .record({
      pool: fc.option(pool, { nil: undefined }),
      disks: fc.array(diskState, { maxLength: maxDisks }),
    })
    .map(({ pool: p, disks }) => ({ pool: p, disks: disks.map((d, i) => ({ ...d, id: i + 2 })) }));

function diskItems(l: DiskListing): PrintItem[] {
  return [...(l.pool ? [poolItem(l.pool)] : []), ...l.disks.map(diskItem)];
}

const renderDisks = (l: DiskListing): string => renderDetail(diskItems(l), DISK_LAYOUT);

function expectedDisks(l: DiskListing): RdsDisk[] {
  const poolDisk: RdsDisk[] = l.pool
    ? [
        {
          slot: 'storage-pool',
          type: 'partition',
          filePath: undefined,
          sizeBytes: l.pool.sizeBytes,
          nvmeExport: undefined,
          comment: '',
        },
      ]
    : [];
  return [
    ...poolDisk,
    ...l.disks.map((d) => ({
      slot: d.slot,
      type: d.type,
      filePath: d.filePath,
      sizeBytes: d.fileSize,
      nvmeExport: d.nvmeTcpExport
        ? { port: d.nvmeTcpServerPort, nqn: d.nvmeTcpServerNqn }
        : undefined,
      comment: d.comment,
    })),
  ];
}

const fileEntry = fc.record({
  dirs: fc.array(segment, { minLength: 1, maxLength: 5 }),
  base: fc.oneof(
    segment,
    fc.uuid().map((u) => `pvc-${u}.img`),
  ),
  isDirectory: fc.boolean(),
  size: size,
  modified: fc.integer({ min: 0, max: 4_000_000_000_000 }),
});
const fileEntries = fc.array(fileEntry, { maxLength: 5 }).map((list) =>
  list.map((f, i): FileEntry => ({
    name: [...f.dirs, f.base].join('/'),
    isDirectory: f.isDirectory,
    size: f.size,
    modified: f.modified,
    born: i,
  })),
);
const renderFiles = (files: readonly FileEntry[]): string =>
  renderDetail(
    files.map((f, i) => fileItem(f, i + 1)),
    FILE_LAYOUT,
  );
/** What /file shows of a size (`10.0GiB`), as a number of bytes. */
function approx(bytes: number): number {
  const [, number = '', unit = ''] = /^([\d.]+)([A-Za-z]+)$/.exec(humanSize(bytes)) ?? [];
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  return Number(number) * 1024 ** units.indexOf(unit);
}
const expectedFiles = (files: readonly FileEntry[]): RdsFile[] =>
  files.map((f) => ({
    path: `/${f.name}`,
    isDirectory: f.isDirectory,
    approxSizeBytes: f.isDirectory ? undefined : approx(f.size),
  }));

// ---- where each record and property sits in the printed text ----

interface Span {
  readonly from: number;
  readonly to: number;
}

/**
 * Each item's text: from its index line (or, in a capture that starts at the first property like
 * 4.1, from the first line after the legend) to the next item's, blank line included.
 */
function itemSpans(text: string): Span[] {
  const starts = [...text.matchAll(/^ {0,3}\d+ /gm)].map((m) => m.index);
  const first = /^Flags: [^\n]*\n/.exec(text)?.[0].length ?? 0;
  if (text.slice(first).trim() !== '' && (starts[0] ?? text.length) > first) starts.unshift(first);
  return starts.map((from, i) => ({ from, to: starts[i + 1] ?? text.length }));
}

/**
 * The text of each property of one item, `key=` to the next property: keys are never split
 * across lines and generated values contain no `=`, so every `key=` after a space is one.
 */
function fieldSpans(text: string, item: Span): Map<string, Span> {
  const body = text.slice(item.from, item.to);
  const spans = new Map<string, Span>();
  // A comment runs to its line end, so the line break is part of it: a space or a character put
  // in place of the CR lengthens the comment, and the parser rightly reads it so.
  const comment = /^ {0,3}\d+ +;;; .*\r?\n?/m.exec(body);
  if (comment) spans.set(';;;', { from: item.from, to: item.from + comment[0].length });
  const starts = [...body.matchAll(/(?<=^|[ \n])([a-z][a-z0-9-]*)=/g)].filter(
    (m) => comment === null || m.index >= comment[0].length,
  );
  starts.forEach((m, i) =>
    spans.set(m[1]!, {
      from: item.from + m.index,
      to: item.from + (starts[i + 1]?.index ?? body.length),
    }),
  );
  return spans;
}

interface Mutation {
  readonly at: number;
  readonly remove: number;
  readonly insert: string;
}

const apply = (text: string, m: Mutation): string =>
  text.slice(0, m.at) + m.insert + text.slice(m.at + m.remove);

/** An insertion touches the characters on both sides of it. */
function touches(span: Span, m: Mutation): boolean {
  const from = m.remove === 0 ? m.at - 1 : m.at;
  const to = m.remove === 0 ? m.at + 1 : m.at + m.remove;
  return from < span.to && to > span.from;
}

/** Noise a wire, a terminal or a bad peer can put into an answer. */
const NOISE = fc.oneof(
  fc.constantFrom(
    '\r',
    '\n',
    '\r\n',
    '\r\n\r\n',
    '\n\r',
    '\r\r\n',
    '\u001b[2K',
    '\u001b[31m',
    '\u001b]0;x\u0007',
    '\u0000',
    '\t',
    '\u007f',
    '\ufeff',
    '\u200b',
    '\u202e',
    '\u00a0',
    '\u2028',
    '😀',
    '５',
    'é',
    ' ',
    '  ',
    '"',
    '\\',
    '\\"',
    '=',
    ';',
    ';;; ',
    'size=1 ',
    ' x=y',
    ' 1 ',
  ),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 3 }),
  fc.string({ unit: fc.constantFrom(...'0123456789 .'), minLength: 1, maxLength: 3 }),
);

/**
 * One local change. A lost chunk stays inside one record (or the legend): SSH delivers a stream
 * whole and in order (its MAC fails otherwise), so the only loss a transport can cause is the end
 * of the answer, which the truncation properties cover. A chunk spanning records can splice one
 * disk's head onto another's tail, which no text check can tell from a real disk.
 */
const mutation = (text: string): fc.Arbitrary<Mutation> => {
  const length = text.length;
  const at = fc.integer({ min: 0, max: length });
  const spans = [{ from: 0, to: itemSpans(text)[0]?.from ?? length }, ...itemSpans(text)];
  const chunk = fc.tuple(fc.constantFrom(...spans), fc.nat(), fc.nat()).map(([span, a, b]) => {
    const width = span.to - span.from;
    const start = span.from + (width === 0 ? 0 : a % width);
    return { at: start, remove: Math.min(4 + (b % 400), span.to - start), insert: '' };
  });
  return fc.oneof(
    // A byte flipped.
    fc
      .tuple(fc.integer({ min: 0, max: Math.max(0, length - 1) }), NOISE)
      .map(([a, insert]) => ({ at: a, remove: 1, insert: [...insert][0] ?? 'x' })),
    // Characters inserted.
    fc.tuple(at, NOISE).map(([a, insert]) => ({ at: a, remove: 0, insert })),
    // A few characters deleted, or a chunk of one record lost.
    fc
      .tuple(at, fc.integer({ min: 1, max: 3 }))
      .map(([a, remove]) => ({ at: a, remove: Math.min(remove, length - a), insert: '' })),
    chunk,
  );
};

/** An error a caller can act on: one printable line of bounded length (STYLE.md rule 6). */
function expectUsableError(error: unknown): void {
  expect(error).toBeInstanceOf(RdsParseError);
  const message = (error as Error).message;
  expect(message.length, message.slice(0, 200)).toBeLessThan(400);
  expect(message, 'printable, one line').toMatch(/^[\x20-\x7e]+$/);
}

type Parsed<T> = { ok: true; value: T } | { ok: false };

function attempt<T>(parse: () => T): Parsed<T> {
  try {
    return { ok: true, value: parse() };
  } catch (error) {
    expectUsableError(error);
    return { ok: false };
  }
}

/** Which keys carry each record field: a field may change only where the mutation hit them. */
const DISK_FIELDS: Readonly<Record<keyof RdsDisk, readonly string[]>> = {
  slot: ['slot'],
  type: ['type'],
  filePath: ['file-path'],
  sizeBytes: ['size'],
  nvmeExport: ['nvme-tcp-export', 'nvme-tcp-server-port', 'nvme-tcp-server-nqn'],
  comment: [';;;'],
};
const FILE_FIELDS: Readonly<Record<keyof RdsFile, readonly string[]>> = {
  path: ['name'],
  isDirectory: ['type'],
  approxSizeBytes: ['size', 'type'],
};

/**
 * A lost chunk may take whole records with it: text cannot tell them from records never there. A
 * record is gone when the chunk took all of its text but blanks (its leading space may be left).
 */
function wholeItemDeleted(text: string, span: Span, m: Mutation): boolean {
  const body = text.slice(span.from, span.to);
  const first = span.from + body.length - body.trimStart().length;
  const last = span.from + body.trimEnd().length;
  return m.remove > 0 && m.insert === '' && m.at <= first && m.at + m.remove >= last;
}

/**
 * The mutated answer was refused, or every record is there (but those a lost chunk took whole);
 * untouched ones exactly as generated, a touched one changed only in fields whose own text the
 * mutation hit.
 */
function expectRefusedOrFaithful<T extends object>(
  text: string,
  m: Mutation,
  expected: readonly T[],
  result: Parsed<T[]>,
  fields: Readonly<Record<keyof T, readonly string[]>>,
): boolean {
  if (!result.ok) return false;
  const mutated = apply(text, m);
  const kept = itemSpans(text)
    .map((span, i) => ({ span, i }))
    .filter(({ span }) => !wholeItemDeleted(text, span, m));
  expect(result.value.length, `record count after ${JSON.stringify(m)}`).toBe(kept.length);
  kept.forEach(({ span, i }, position) => {
    const got = result.value[position]!;
    if (!touches(span, m)) {
      expect(got, `untouched record ${i} after ${JSON.stringify(m)}`).toEqual(expected[i]);
      return;
    }
    const spans = fieldSpans(text, span);
    for (const key of Object.keys(fields) as (keyof T)[]) {
      if (JSON.stringify(got[key]) === JSON.stringify(expected[i]![key])) continue;
      const hit = fields[key].some((k) => {
        const s = spans.get(k);
        return s !== undefined && touches(s, m);
      });
      expect(
        hit,
        `${String(key)} of record ${i} changed to ${JSON.stringify(got[key])} though the mutation ${JSON.stringify(m)} missed it:\n${JSON.stringify(mutated.slice(span.from, span.to + 40))}`,
      ).toBe(true);
    }
  });
  return true;
}

/**
 * A cut answer is refused unless what was cut is whole records at a line end: text alone cannot
 * tell "two disks" from "three disks, cut after the second" (the transport's exit status does).
 * What is returned is then exactly the first records, none of them partial.
 */
function expectCutRefusedOrPrefix<T>(
  text: string,
  cut: number,
  expected: readonly T[],
  result: Parsed<T[]>,
): 'refused' | 'whole' | 'prefix' {
  if (!result.ok) return 'refused';
  const got = result.value;
  expect(got, `cut at ${cut}`).toEqual(expected.slice(0, got.length));
  if (got.length === expected.length) return 'whole';
  const partial = text.slice(0, cut);
  // An empty /file answer is "no files" (that menu has no legend; nothing is deleted on it).
  expect(cut === 0 || partial.endsWith('\n'), `cut at ${cut} inside a line was accepted`).toBe(
    true,
  );
  const next = itemSpans(text)[got.length]!;
  expect(cut, `record ${got.length} cut at ${cut} was dropped silently`).toBeLessThanOrEqual(
    next.from,
  );
  return 'prefix';
}

// ---- the properties ----

describe('RouterOS parsers read exactly what the device printed', () => {
  it('/disk print detail: random disks and the pool, printed by the emulator, read back exactly', () => {
    fc.assert(
      fc.property(listing(6), (l) => {
        expect(parseDiskPrintDetail(renderDisks(l))).toEqual(expectedDisks(l));
      }),
      { numRuns: 300 },
    );
  });

  it('the pool entry reads back exactly (size, free, mount point)', () => {
    fc.assert(
      fc.property(pool, (p) => {
        const expected: RdsPool = {
          mountPoint: 'storage-pool',
          totalBytes: p.sizeBytes,
          freeBytes: p.freeBytes,
        };
        expect(parsePoolPrintDetail(renderDetail([poolItem(p)], DISK_LAYOUT))).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('/file print detail: names get one leading "/", sizes their printed rounding', () => {
    fc.assert(
      fc.property(fileEntries, (files) => {
        expect(parseFilePrintDetail(renderFiles(files))).toEqual(expectedFiles(files));
      }),
      { numRuns: 300 },
    );
  });
});

const FIXTURES = {
  one: `Flags: X - disabled\r\n${fixture('disk-print-detail-one.txt')}\r\n`,
  many: `Flags: X - disabled\r\n${fixture('disk-print-detail-many.txt')}\r\n`,
  files: `${fixture('file-print-detail.txt')}\r\n`,
};
const FIXTURE_DISKS: Record<'one' | 'many', RdsDisk[]> = {
  one: [
    {
      slot: 'pvc-test-123',
      type: 'file',
      filePath: '/storage-pool/test.img',
      sizeBytes: 53_687_091_200,
      nvmeExport: { port: 4420, nqn: 'nqn.2000-02.com.mikrotik:pvc-test-123' },
      comment: '',
    },
  ],
  many: [1, 2].map((n) => ({
    slot: `pvc-test-${n}`,
    type: 'file',
    filePath: `/storage-pool/test${n}.img`,
    sizeBytes: n * 53_687_091_200,
    nvmeExport: { port: 4420, nqn: `nqn.2000-02.com.mikrotik:pvc-test-${n}` },
    comment: '',
  })),
};
const FIXTURE_FILES: RdsFile[] = [
  { path: '/storage-pool/metal-csi', isDirectory: true, approxSizeBytes: undefined },
  {
    path: '/storage-pool/metal-csi/pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img',
    isDirectory: false,
    approxSizeBytes: 10 * GIB,
  },
  {
    path: '/storage-pool/metal-csi/pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8.img',
    isDirectory: false,
    approxSizeBytes: GIB,
  },
];

describe('truncated answers: refused, or whole records only', () => {
  it('the device captures, cut at every offset', () => {
    const outcomes = { refused: 0, whole: 0, prefix: 0 };
    for (const name of ['one', 'many'] as const) {
      const text = FIXTURES[name];
      expect(parseDiskPrintDetail(text)).toEqual(FIXTURE_DISKS[name]);
      for (let cut = 0; cut < text.length; cut++) {
        const result = attempt(() => parseDiskPrintDetail(text.slice(0, cut)));
        outcomes[expectCutRefusedOrPrefix(text, cut, FIXTURE_DISKS[name], result)]++;
      }
    }
    const files = FIXTURES.files;
    for (let cut = 0; cut < files.length; cut++) {
      const result = attempt(() => parseFilePrintDetail(files.slice(0, cut)));
      outcomes[expectCutRefusedOrPrefix(files, cut, FIXTURE_FILES, result)]++;
    }
    // Only cuts at a line end between records go unnoticed, and each returns the records before
    // it: /disk 4.1 after the legend (1); 4.2 after the legend, after record 0 and after its
    // blank line (3); /file when empty (1), after record 0's first line (a directory is whole
    // with name and type), its second and its blank line (3), after record 1 and its blank (2).
    expect(outcomes.prefix).toBe(10);
    expect(outcomes.refused).toBeGreaterThan(outcomes.whole);
  });

  it('a /disk answer cut inside its legend, or empty, is not "no disks"', () => {
    for (const text of ['', 'Flags: X - dis', 'Flags: X - disabled\r']) {
      expect(() => parseDiskPrintDetail(text), JSON.stringify(text)).toThrow(RdsParseError);
      expect(() => parsePoolPrintDetail(text), JSON.stringify(text)).toThrow(RdsParseError);
    }
  });

  it('a cut inside a value or a unit is refused: "10.5Gi", "size=53 687", an open quote', () => {
    const one = FIXTURES.one;
    for (const end of ['file-size=50.0Gi', 'file-size=50.0G', 'size=53 687', 'slot="pvc-te']) {
      const cut = one.slice(0, one.indexOf(end) + end.length);
      expect(() => parseDiskPrintDetail(cut), end).toThrow(RdsParseError);
    }
    const cutFile = FIXTURES.files.slice(0, FIXTURES.files.indexOf('size=10.0Gi') + 11);
    expect(() => parseFilePrintDetail(cutFile)).toThrow(RdsParseError);
  });

  it('generated listings, cut at every offset', () => {
    fc.assert(
      fc.property(listing(3), (l) => {
        const text = renderDisks(l);
        const expected = expectedDisks(l);
        for (let cut = 0; cut < text.length; cut++) {
          const result = attempt(() => parseDiskPrintDetail(text.slice(0, cut)));
          expectCutRefusedOrPrefix(text, cut, expected, result);
        }
      }),
      { numRuns: 25 },
    );
  });

  it('generated /file listings, cut at every offset', () => {
    fc.assert(
      fc.property(fileEntries, (files) => {
        const text = renderFiles(files);
        const expected = expectedFiles(files);
        for (let cut = 0; cut < text.length; cut++) {
          const result = attempt(() => parseFilePrintDetail(text.slice(0, cut)));
          expectCutRefusedOrPrefix(text, cut, expected, result);
        }
      }),
      { numRuns: 40 },
    );
  });
});

describe('garbled answers: refused, or the untouched records exactly', () => {
  it('/disk: flipped, inserted and deleted characters, lost chunks, escapes, unicode', () => {
    let accepted = 0;
    fc.assert(
      fc.property(
        listing(4).chain((l) => {
          const text = renderDisks(l);
          return fc.tuple(fc.constant(l), fc.constant(text), mutation(text));
        }),
        ([l, text, m]) => {
          const result = attempt(() => parseDiskPrintDetail(apply(text, m)));
          if (expectRefusedOrFaithful(text, m, expectedDisks(l), result, DISK_FIELDS)) accepted++;
        },
      ),
      { numRuns: 500 },
    );
    // Mutations of properties the driver does not read are rightly accepted.
    expect(accepted).toBeGreaterThan(20);
  });

  it('/disk: the device captures, mutated', () => {
    for (const name of ['one', 'many'] as const) {
      const text = FIXTURES[name];
      fc.assert(
        fc.property(mutation(text), (m) => {
          const result = attempt(() => parseDiskPrintDetail(apply(text, m)));
          expectRefusedOrFaithful(text, m, FIXTURE_DISKS[name], result, DISK_FIELDS);
        }),
        { numRuns: 300 },
      );
    }
  });

  it('/file: mutated listings and the capture 4.3', () => {
    fc.assert(
      fc.property(
        fileEntries.chain((files) => {
          const text = renderFiles(files);
          return fc.tuple(fc.constant(files), fc.constant(text), mutation(text));
        }),
        ([files, text, m]) => {
          const result = attempt(() => parseFilePrintDetail(apply(text, m)));
          expectRefusedOrFaithful(text, m, expectedFiles(files), result, FILE_FIELDS);
        },
      ),
      { numRuns: 400 },
    );
    const capture = FIXTURES.files;
    fc.assert(
      fc.property(mutation(capture), (m) => {
        const result = attempt(() => parseFilePrintDetail(apply(capture, m)));
        expectRefusedOrFaithful(capture, m, FIXTURE_FILES, result, FILE_FIELDS);
      }),
      { numRuns: 300 },
    );
  });

  it('the pool entry: a changed size or free space only where its digits were hit', () => {
    fc.assert(
      fc.property(
        pool.chain((p) => {
          const text = renderDetail([poolItem(p)], DISK_LAYOUT);
          return fc.tuple(fc.constant(p), fc.constant(text), mutation(text));
        }),
        ([p, text, m]) => {
          const result = attempt(() => {
            const read = parsePoolPrintDetail(apply(text, m));
            return read === undefined ? [] : [read];
          });
          expectRefusedOrFaithful(
            text,
            m,
            [{ mountPoint: 'storage-pool', totalBytes: p.sizeBytes, freeBytes: p.freeBytes }],
            result,
            {
              mountPoint: ['mount-point'],
              totalBytes: ['size', 'use'],
              freeBytes: ['free', 'use'],
            },
          );
        },
      ),
      { numRuns: 400 },
    );
  });

  it('line ends: LF for CRLF reads the same; a bare CR, a terminal escape or a NUL is refused', () => {
    fc.assert(
      fc.property(listing(3), fc.array(fc.boolean(), { minLength: 64, maxLength: 64 }), (l, lf) => {
        const text = renderDisks(l);
        let i = 0;
        const mixed = text.replace(/\r\n/g, () => (lf[i++ % 64] ? '\n' : '\r\n'));
        expect(parseDiskPrintDetail(mixed)).toEqual(expectedDisks(l));
        expect(() => parseDiskPrintDetail(text.replace(/\r\n/g, '\r'))).toThrow(RdsParseError);
      }),
      { numRuns: 200 },
    );
    const one = FIXTURES.one;
    for (const noise of ['\u001b[2K', '\u001b[0m', '\u0000', '\r', '\u0008']) {
      const at = one.indexOf('size=53');
      expect(() => parseDiskPrintDetail(one.slice(0, at) + noise + one.slice(at)), noise).toThrow(
        RdsParseError,
      );
    }
  });
});

describe('oversized answers: read or refused quickly, never a hang or a rounded number', () => {
  it('10 000 disks (about 7 MB) read back exactly', () => {
    const disks = fc.sample(diskState, { numRuns: 10_000, seed: 11 }).map((d, i) => ({
      ...d,
      id: i + 2,
    }));
    const l = { pool: undefined, disks };
    const text = renderDisks(l);
    expect(text.length).toBeGreaterThan(5_000_000);
    const started = performance.now();
    expect(parseDiskPrintDetail(text)).toEqual(expectedDisks(l));
    expect(performance.now() - started).toBeLessThan(5_000);
  });

  it('a 1 MB slot, comment or garbage line: read exactly or refused, in linear time', () => {
    const big: DiskState = {
      ...fc.sample(diskState, { numRuns: 1, seed: 5 })[0]!,
      slot: 'pvc-'.padEnd(1_000_000, 'ab-'),
      comment: 'c=1;'.repeat(250_000),
    };
    const l = { pool: undefined, disks: [big] };
    let started = performance.now();
    expect(parseDiskPrintDetail(renderDisks(l))).toEqual(expectedDisks(l));
    expect(performance.now() - started).toBeLessThan(3_000);
    const garbage = [
      `Flags: X\r\n 0   type=file slot=${'a'.repeat(1_000_000)}\r\n\r\n`,
      `Flags: X\r\n 0   type=file slot="${'a'.repeat(1_000_000)}\r\n\r\n`,
      `Flags: X\r\n 0   ${'x '.repeat(500_000)}\r\n\r\n`,
      `Flags: X\r\n 0   ${'a=1 '.repeat(250_000)}\r\n\r\n`,
      `Flags: X\r\n 0   type=file slot="a" size=${'123 '.repeat(250_000)}\r\n\r\n`,
      `Flags: X\r\n${' 0   type=file\r\n'.repeat(100_000)}`,
      'Flags: X\r\n' + `${' '.repeat(20)}type=file\r\n`.repeat(100_000),
    ];
    for (const text of garbage) {
      started = performance.now();
      attempt(() => parseDiskPrintDetail(text));
      expect(performance.now() - started, text.slice(0, 40)).toBeLessThan(3_000);
    }
  });

  it('sizes beyond 2^53 are refused, never rounded', () => {
    const one = FIXTURES.one;
    for (const digits of [
      '9 007 199 254 740 993',
      '9 007 199 254 740 992',
      '1' + ' 000'.repeat(30),
    ]) {
      const text = one.replace('size=53 687 091 200', `size=${digits}`);
      expect(() => parseDiskPrintDetail(text), digits).toThrow(/too large/);
    }
    const pool = (size: string, free: string) =>
      `Flags: X\r\n 0 BM  type=partition slot="storage-pool" size=${size}\r\n      free=${free} use=5% mount-point="storage-pool"\r\n\r\n`;
    expect(() => parsePoolPrintDetail(pool('99 999 999 999 999 999', '1'))).toThrow(/too large/);
    const files = FIXTURES.files.replace('size=10.0GiB', `size=${'9'.repeat(400)}.0PiB`);
    expect(() => parseFilePrintDetail(files)).toThrow(RdsParseError);
  });
});

describe('device answers: any bytes give the output or a typed error with a usable message', () => {
  const ERRORS = [
    'failure: not enough space',
    'failure: no such item',
    'failure: slot already exists',
    'invalid value for argument file-size',
    'failure: disk is busy',
    'syntax error (line 1 column 3)',
    'bad command name dsk (line 1 column 1)',
  ];
  it('checkAnswer', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.oneof(fc.constant(''), fc.string({ unit: 'binary', maxLength: 100 })),
        fc.option(fc.constantFrom(...ERRORS), { nil: undefined }),
        fc.constantFrom('\r\n', '\n'),
        fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
        fc.constantFrom(0, 1, 200_000),
        (stdout, stderr, error, eol, exitCode, padding) => {
          const out =
            error === undefined ? stdout : `${stdout}${eol}${error}${'x'.repeat(padding)}${eol}`;
          let thrown: unknown;
          let answer: string | undefined;
          try {
            answer = checkAnswer({ stdout: out, stderr, exitCode }, 'reading disk pvc-1');
          } catch (e) {
            thrown = e;
          }
          if (thrown === undefined) {
            expect(answer).toBe(out);
            expect(error, 'a device error line was ignored').toBeUndefined();
            return;
          }
          expect(thrown).toBeInstanceOf(DriverError);
          const message = (thrown as Error).message;
          expect(message.length, 'bounded message').toBeLessThan(600);
          expect(message, 'one printable line').not.toMatch(CONTROL);
        },
      ),
      { numRuns: 500 },
    );
  });
});
