// lexer.ts: splits a RouterOS command line into commands and whitespace-separated units.
//
// A unit keeps its parts apart, so `slot="a b"` is [text `slot=`, string `a b`] and
// `copy-from=[find slot=x]` is [text `copy-from=`, bracket [...]]: the parser decides what `=`
// and `~` mean from where they sit. Structure follows the RouterOS console: `;` and newlines
// separate commands, `"..."` strings take backslash escapes, `[...]` nests a command. Columns are
// 1-based, as the device reports them in errors.

export type Part =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'string'; readonly text: string }
  | { readonly kind: 'bracket'; readonly units: readonly Unit[]; readonly column: number };

export interface Unit {
  readonly parts: readonly Part[];
  readonly column: number;
}

export class CliSyntaxError extends Error {
  constructor(
    readonly reason: 'syntax' | 'unsupported',
    readonly column: number,
  ) {
    super(`${reason === 'syntax' ? 'syntax error' : 'unsupported'} (line 1 column ${column})`);
  }
}

/** Characters that end an unquoted text part. */
const BREAKS = new Set([' ', '\t', '\r', '\n', ';', '"', '[', ']', '{', '}', '(', ')', '$']);

const ESCAPES: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  n: '\n',
  r: '\r',
  t: '\t',
  $: '$',
  '?': '?',
  _: ' ',
  a: '\x07',
  b: '\b',
  f: '\f',
  v: '\v',
};

class Scanner {
  pos = 0;
  constructor(readonly input: string) {}

  get column(): number {
    return this.pos + 1;
  }

  peek(): string | undefined {
    return this.input[this.pos];
  }

  /** Reads a `"..."` string starting at the opening quote. */
  readString(): string {
    const start = this.column;
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.input[this.pos];
      if (ch === undefined) throw new CliSyntaxError('syntax', start);
      this.pos++;
      if (ch === '"') return out;
      if (ch !== '\\') {
        out += ch;
        continue;
      }
      const next = this.input[this.pos];
      if (next === undefined) throw new CliSyntaxError('syntax', this.column);
      const hex = /^[0-9A-Fa-f]{2}/.exec(this.input.slice(this.pos, this.pos + 2));
      if (hex) {
        out += String.fromCharCode(parseInt(hex[0], 16));
        this.pos += 2;
      } else if (next in ESCAPES) {
        out += ESCAPES[next];
        this.pos++;
      } else {
        throw new CliSyntaxError('syntax', this.column);
      }
    }
  }

  readUnits(closing: ']' | undefined): Unit[][] {
    const commands: Unit[][] = [[]];
    let parts: Part[] = [];
    let unitColumn = 0;
    const flush = (): void => {
      if (parts.length > 0) commands[commands.length - 1]!.push({ parts, column: unitColumn });
      parts = [];
    };
    const startPart = (): void => {
      if (parts.length === 0) unitColumn = this.column;
    };
    for (;;) {
      const ch = this.peek();
      if (ch === undefined) {
        if (closing !== undefined) throw new CliSyntaxError('syntax', this.column);
        flush();
        return commands;
      }
      if (ch === ' ' || ch === '\t' || ch === '\r') {
        flush();
        this.pos++;
      } else if (ch === ';' || ch === '\n') {
        flush();
        this.pos++;
        if (closing !== undefined) throw new CliSyntaxError('unsupported', this.column - 1);
        commands.push([]);
      } else if (ch === '"') {
        startPart();
        parts.push({ kind: 'string', text: this.readString() });
      } else if (ch === '[') {
        startPart();
        const column = this.column;
        this.pos++;
        const inner = this.readUnits(']');
        parts.push({ kind: 'bracket', units: inner[0] ?? [], column });
      } else if (ch === ']') {
        if (closing !== ']') throw new CliSyntaxError('syntax', this.column);
        this.pos++;
        flush();
        return commands;
      } else if (BREAKS.has(ch)) {
        // Blocks, expressions in parentheses and $variables are scripting, not device CLI input
        // this driver sends; the emulator refuses them as the console would a malformed line.
        throw new CliSyntaxError(
          ch === '$' || ch === '{' || ch === '(' ? 'unsupported' : 'syntax',
          this.column,
        );
      } else {
        startPart();
        let text = '';
        while (this.pos < this.input.length && !BREAKS.has(this.input[this.pos]!)) {
          text += this.input[this.pos];
          this.pos++;
        }
        parts.push({ kind: 'text', text });
      }
    }
  }
}

/** Splits a command line into commands (`;`/newline separated), each a list of units. */
export function lexCommandLine(input: string): Unit[][] {
  return new Scanner(input).readUnits(undefined).filter((units) => units.length > 0);
}

/** The unit's text with strings unquoted; undefined if it holds a bracket. */
export function unitText(unit: Unit): string | undefined {
  let out = '';
  for (const part of unit.parts) {
    if (part.kind === 'bracket') return undefined;
    out += part.text;
  }
  return out;
}
