import { describe, expect, it } from 'vitest';

import { CliSyntaxError, lexCommandLine } from './lexer.js';
import { CliError, parseCommand, type ParsedCommand } from './parser.js';

function parse(line: string): ParsedCommand[] {
  return lexCommandLine(line).map((units) => parseCommand(units));
}

function errorOf(line: string): string {
  try {
    parse(line);
  } catch (error) {
    if (error instanceof CliError || error instanceof CliSyntaxError) return error.message;
    throw error;
  }
  throw new Error(`expected ${line} to fail`);
}

describe('RouterOS command parser', () => {
  it('parses the create command the driver sends', () => {
    const [command] = parse(
      '/disk add type=file file-path=/storage-pool/metal-csi/pvc-1.img file-size=10G slot=pvc-1 nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-1',
    );
    expect(command?.path).toEqual(['disk']);
    expect(command?.verb).toBe('add');
    expect(
      Object.fromEntries(
        [...command!.args].map(([k, v]) => [k, v.kind === 'text' ? v.text : 'find']),
      ),
    ).toEqual({
      type: 'file',
      'file-path': '/storage-pool/metal-csi/pvc-1.img',
      'file-size': '10G',
      slot: 'pvc-1',
      'nvme-tcp-export': 'yes',
      'nvme-tcp-server-port': '4420',
      'nvme-tcp-server-nqn': 'nqn.2000-02.com.mikrotik:pvc-1',
    });
  });

  it('parses where clauses with ~, =, !=, ! and and/or', () => {
    const [command] = parse('/disk print detail where slot~"pvc" and !disabled or file-size!=0');
    expect(command?.flags).toEqual(new Set(['detail']));
    expect(command?.where).toEqual({
      op: 'or',
      left: {
        op: 'and',
        left: { op: 'cmp', key: 'slot', cmp: '~', value: 'pvc' },
        right: { op: 'not', expr: { op: 'truthy', key: 'disabled' } },
      },
      right: { op: 'cmp', key: 'file-size', cmp: '!=', value: '0' },
    });
  });

  it('parses [find ...] as an item reference and as a value', () => {
    const [set] = parse('/disk set [find slot=pvc-1] file-size=20G');
    expect(set?.positional).toEqual([
      { kind: 'find', where: { op: 'cmp', key: 'slot', cmp: '=', value: 'pvc-1' }, column: 11 },
    ]);
    const [add] = parse(
      '/disk add type=file copy-from=[find where slot="pvc-1"] file-path=/p/s.img slot=s',
    );
    expect(add?.args.get('copy-from')).toMatchObject({
      kind: 'find',
      where: { key: 'slot', value: 'pvc-1' },
    });
  });

  it('accepts slash paths and multi-word menus', () => {
    expect(parse('/disk/print detail')[0]?.verb).toBe('print');
    expect(parse('/interface nvme-tcp connection print')[0]?.path).toEqual([
      'interface',
      'nvme-tcp',
      'connection',
    ]);
    expect(parse('/system/resource/print')[0]?.path).toEqual(['system', 'resource']);
  });

  it('unescapes quoted strings', () => {
    const [command] = parse(
      '/disk add comment="a \\"b\\" c\\\\d\\_e\\41" slot=x file-path=/p/x.img file-size=1M',
    );
    const comment = command?.args.get('comment');
    expect(comment).toMatchObject({ kind: 'text', text: 'a "b" c\\d eA' });
  });

  it('splits on ; into separate commands, as the device does', () => {
    expect(parse('/disk print; /file print').map((c) => c.path[0])).toEqual(['disk', 'file']);
  });

  it('reports unknown names and arguments with the device wording and column', () => {
    expect(errorOf('/disk frobnicate')).toBe('bad command name frobnicate (line 1 column 7)');
    expect(errorOf('/nope print')).toBe('bad command name nope (line 1 column 1)');
    expect(errorOf('/disk add bogus=1')).toBe('expected end of command (line 1 column 11)');
    expect(errorOf('/disk print detail extra')).toBe('expected end of command (line 1 column 20)');
    expect(errorOf('/disk add slot=a slot=b')).toBe('expected end of command (line 1 column 18)');
  });

  it('reports syntax errors for unbalanced quotes and brackets and scripting constructs', () => {
    expect(errorOf('/disk print where slot="x')).toBe('syntax error (line 1 column 24)');
    expect(errorOf('/disk remove [find slot=x')).toMatch(/^syntax error/);
    expect(errorOf('/disk remove ]')).toBe('syntax error (line 1 column 14)');
    expect(errorOf('/disk print where slot=$x')).toBe('unsupported (line 1 column 24)');
    expect(errorOf('/disk print where')).toMatch(/^syntax error/);
  });

  it('resolves a path without a leading slash from the root menu', () => {
    expect(parse('disk print')[0]?.path).toEqual(['disk']);
    expect(errorOf('print')).toBe('bad command name print (line 1 column 1)');
  });
});
