// Command injection, by property: no input reaching the RDS command builders can produce a second
// command or change what an argument means (issue 5; field-lessons #30).
//
// The oracle is the emulator's own RouterOS lexer and parser, the code that answers the driver
// over SSH: every rendered line must lex to exactly one command, and parsing it must give back
// each argument exactly as the caller passed it. Inputs that cannot be written safely must be
// refused with InvalidInputError (INVALID_ARGUMENT) before any text is produced.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { InvalidInputError } from '../../src/errors.js';
import * as commands from '../../src/rds/commands/disk-commands.js';
import { renderCommand, type RouterOsCommand } from '../../src/rds/commands/render.js';
import * as values from '../../src/rds/commands/values.js';
import { lexCommandLine } from '../../src/rds/emulator/lexer.js';
import {
  parseCommand,
  type Expr,
  type ParsedCommand,
  type Value,
} from '../../src/rds/emulator/parser.js';

/** The characters that have meaning to the RouterOS console, plus ones that look alike. */
const HOSTILE = [
  ';',
  '\n',
  '\r',
  '[',
  ']',
  '$',
  '"',
  "'",
  '\\',
  '{',
  '}',
  '(',
  ')',
  ' ',
  '\t',
  '=',
  '~',
  '/',
  '.',
  ':',
  ',',
  '-',
  '_',
  '#',
  '!',
  '\u0000',
  '\u2028',
  '；',
  '＂',
  'é',
  '😀',
];

/** Strings built mostly from the allowed alphabet with hostile characters mixed in, some 10 kB. */
const mixed = fc.string({
  unit: fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...'abcdefpvcz0129'.split('')) },
    { weight: 3, arbitrary: fc.constantFrom(...HOSTILE) },
    { weight: 1, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }) },
  ),
  maxLength: 300,
});
const huge = fc
  .tuple(fc.constantFrom('a', ';', '"', '[', 'é'), fc.integer({ min: 9_000, max: 11_000 }))
  .map(([ch, n]) => `pvc-${ch.repeat(n)}`);
const input = fc.oneof(
  { weight: 6, arbitrary: mixed },
  { weight: 2, arbitrary: fc.string({ unit: 'grapheme', maxLength: 200 }) },
  { weight: 1, arbitrary: huge },
);

const RUNS = { numRuns: 400 };

/** Lexes and parses a rendered line with the emulator; it must be exactly one command. */
function parseOne(line: string): ParsedCommand {
  const lexed = lexCommandLine(line);
  expect(lexed, line).toHaveLength(1);
  return parseCommand(lexed[0]!);
}

function textOf(value: Value | undefined): string | undefined {
  return value?.kind === 'text' ? value.text : undefined;
}

/** The single `key=value` comparison inside a `[find ...]` or `where`. */
function comparison(expr: Expr | undefined): { key: string; cmp: string; value: string } {
  if (expr?.op !== 'cmp') throw new Error(`expected one comparison, got ${JSON.stringify(expr)}`);
  return { key: expr.key, cmp: expr.cmp, value: expr.value };
}

/** Runs `build`; a refusal must be InvalidInputError and is reported as undefined. */
function builtOrRefused<T>(build: () => T): T | undefined {
  try {
    return build();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputError);
    return undefined;
  }
}

describe('RDS command builders under hostile input', () => {
  it('slot names: one command, the slot exactly as given, in add, set, remove and find', () => {
    let accepted = 0;
    fc.assert(
      fc.property(input, (raw) => {
        const slot = builtOrRefused(() => values.slotName(raw));
        if (slot === undefined) return;
        accepted++;
        const add = parseOne(
          renderCommand(
            commands.addDisk({
              slot,
              filePath: values.diskFilePath(`/storage-pool/x/${slot}.img`),
              size: values.byteCount(1024 ** 3),
              comment: values.commentText('k=v'),
            }),
          ),
        );
        expect(textOf(add.args.get('slot'))).toBe(raw);
        expect(add.verb).toBe('add');
        const remove = parseOne(renderCommand(commands.removeDisk(slot)));
        expect(remove.verb).toBe('remove');
        const target = remove.positional[0];
        expect(target?.kind).toBe('find');
        if (target?.kind === 'find')
          expect(comparison(target.where)).toEqual({ key: 'slot', cmp: '=', value: raw });
        const set = parseOne(
          renderCommand(commands.resizeDisk(slot, values.byteCount(2 * 1024 ** 3))),
        );
        expect([...set.args.keys()]).toEqual(['file-size']);
        expect(textOf(set.args.get('file-size'))).toBe('2G');
        const print = parseOne(renderCommand(commands.getDisk(slot)));
        expect(comparison(print.where)).toEqual({ key: 'slot', cmp: '=', value: raw });
      }),
      RUNS,
    );
    expect(accepted, 'the generator must also produce valid slots').toBeGreaterThan(10);
  });

  it('file paths, NQNs and comments: one command, every argument exactly as given', () => {
    const base = {
      filePath: '/storage-pool/x/pvc-1.img',
      nqn: 'nqn.2000-02.com.mikrotik:pvc-1',
      comment: 'rds-csi=1',
    };
    const fields = fc.constantFrom('filePath', 'nqn', 'comment');
    const accepted = { filePath: 0, nqn: 0, comment: 0 };
    fc.assert(
      fc.property(fields, input, (field, raw) => {
        const given = {
          ...base,
          [field]:
            field === 'filePath'
              ? `/storage-pool/${raw}.img`
              : field === 'nqn'
                ? `nqn.2000-02.com.mikrotik:${raw}`
                : raw,
        };
        const filePath = builtOrRefused(() => values.diskFilePath(given.filePath));
        const nqn = builtOrRefused(() => values.nqn(given.nqn));
        const comment = builtOrRefused(() => values.commentText(given.comment));
        if (filePath === undefined || nqn === undefined || comment === undefined) return;
        accepted[field]++;
        const add = parseOne(
          renderCommand(
            commands.addDisk({
              slot: values.slotName('pvc-1'),
              filePath,
              size: values.byteCount(1024 ** 2),
              export: { port: values.tcpPort(4420), nqn },
              comment,
            }),
          ),
        );
        expect(textOf(add.args.get('file-path'))).toBe(given.filePath);
        expect(textOf(add.args.get('nvme-tcp-server-nqn'))).toBe(given.nqn);
        expect(textOf(add.args.get('comment'))).toBe(given.comment);
        expect([...add.args.keys()].sort()).toEqual(
          [
            'comment',
            'file-path',
            'file-size',
            'nvme-tcp-export',
            'nvme-tcp-server-nqn',
            'nvme-tcp-server-port',
            'slot',
            'type',
          ].sort(),
        );
      }),
      { numRuns: 1200 },
    );
    for (const [field, count] of Object.entries(accepted)) {
      expect(count, `valid ${field} values generated`).toBeGreaterThan(5);
    }
  });

  it('file names and mount points in where clauses and finds: one command, the value intact', () => {
    fc.assert(
      fc.property(input, (raw) => {
        const name = builtOrRefused(() => values.fileName(`/storage-pool/${raw}`));
        if (name !== undefined) {
          const remove = parseOne(renderCommand(commands.removeFile(name)));
          const target = remove.positional[0];
          if (target?.kind !== 'find') throw new Error('remove must select with [find]');
          expect(comparison(target.where)).toEqual({
            key: 'name',
            cmp: '=',
            value: `storage-pool/${raw}`,
          });
          expect(comparison(parseOne(renderCommand(commands.getFile(name))).where)).toEqual({
            key: 'name',
            cmp: '=',
            value: `storage-pool/${raw}`,
          });
          const list = parseOne(renderCommand(commands.listFiles(name)));
          const where = comparison(list.where);
          expect(where.cmp).toBe('~');
          // The regex is the name, anchored, with dots made literal and nothing else added.
          expect(where.value).toBe(`^storage-pool/${raw}`.replace(/\./g, '[.]'));
        }
        const mount = builtOrRefused(() => values.mountPoint(raw));
        if (mount !== undefined) {
          expect(comparison(parseOne(renderCommand(commands.getPool(mount))).where)).toEqual({
            key: 'mount-point',
            cmp: '=',
            value: raw,
          });
        }
      }),
      RUNS,
    );
  });

  it('sizes and ports: only whole, in-range integers, never truncated', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.double(), fc.integer(), fc.constantFrom(Number.NaN, Infinity, -1, 0, 2 ** 53)),
        (n) => {
          const size = builtOrRefused(() => values.byteCount(n));
          if (size !== undefined) {
            const line = renderCommand(commands.resizeDisk(values.slotName('pvc-1'), size));
            const rendered = textOf(parseOne(line).args.get('file-size')) ?? '';
            const [, digits = '', unit = ''] = /^(\d+)([MGT]?)$/.exec(rendered) ?? [];
            expect(Number(digits) * { '': 1, M: 2 ** 20, G: 2 ** 30, T: 2 ** 40 }[unit]!).toBe(n);
          }
          const port = builtOrRefused(() => values.tcpPort(n));
          if (port !== undefined)
            expect(Number.isInteger(port) && port >= 1 && port <= 65535).toBe(true);
        },
      ),
      RUNS,
    );
  });

  it('the renderer itself refuses a value that skipped the builders (defence in depth)', () => {
    const forged = 'x"; /system reset-configuration; "' as values.SlotName;
    const command: RouterOsCommand = commands.removeDisk(forged);
    expect(() => renderCommand(command)).toThrow(/refusing to render/);
  });
});
