// print-detail.ts: splits RouterOS `print detail` output into items of key/value fields.
//
// Tolerates what the device does (routeros-cli.md 4.6): CRLF; a `Flags:`/`Columns:` legend, also
// alone when nothing matched; right-aligned indexes with flag letters; a `;;; comment` line;
// continuation lines indented by any amount; a token split across lines at the 80th column; values
// that contain spaces (`53 687 091 200`, `.img file`, dates) and quoted strings with escapes.
// Anything else is an RdsParseError naming the line: never a guess.
import { RdsParseError } from '../../errors.js';

export interface DetailItem {
  readonly index: number | undefined;
  readonly flags: string;
  readonly comment: string;
  readonly fields: ReadonlyMap<string, string>;
  /** 1-based line where the item starts, for error messages. */
  readonly line: number;
}

const INDEX_LINE = /^ {0,3}(\d{1,6})(?: +([A-Z]{1,16}))?(?: +(.*))?$/;
const KEY_AT = /^[a-z][a-z0-9-]*=/;
const NEXT_KEY = /\s+[a-z][a-z0-9-]*=/g;
/** The device wraps before the 80th column; a line that long was cut inside a token. */
const FULL_LINE = 79;

function fail(message: string, line: number): never {
  throw new RdsParseError(`unexpected RouterOS output at line ${line}: ${message}`, { line });
}

/** Reads a `"..."` value at `pos`; returns the unescaped text and the position after it. */
function readQuoted(text: string, pos: number, line: number): [string, number] {
  let out = '';
  for (let i = pos + 1; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '"') return [out, i + 1];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const hex = /^[0-9A-F]{2}/.exec(text.slice(i + 1, i + 3));
    if (hex) {
      out += String.fromCharCode(parseInt(hex[0], 16));
      i += 2;
    } else if (text[i + 1] === '"' || text[i + 1] === '\\') {
      out += text[i + 1];
      i += 1;
    } else {
      fail('bad escape in a quoted value', line);
    }
  }
  return fail('unterminated quoted value', line);
}

/** `key=value key2="v 2" size=1 000` -> fields, in order. */
export function parseFields(text: string, line: number): Map<string, string> {
  const fields = new Map<string, string>();
  let pos = 0;
  while (pos < text.length) {
    while (text[pos] === ' ') pos++;
    if (pos >= text.length) break;
    const key = KEY_AT.exec(text.slice(pos))?.[0].slice(0, -1);
    if (key === undefined) fail(`expected key=value, found "${text.slice(pos, pos + 30)}"`, line);
    if (fields.has(key)) fail(`key ${key} appears twice`, line);
    pos += key.length + 1;
    let value: string;
    if (text[pos] === '"') {
      [value, pos] = readQuoted(text, pos, line);
      if (pos < text.length && text[pos] !== ' ')
        fail(`text after the quoted value of ${key}`, line);
    } else {
      NEXT_KEY.lastIndex = pos;
      const next = NEXT_KEY.exec(text);
      const end = next === null ? text.length : next.index;
      value = text.slice(pos, end).trim();
      pos = end;
    }
    fields.set(key, value);
  }
  return fields;
}

interface Pending {
  index: number | undefined;
  flags: string;
  comment: string;
  body: string;
  line: number;
  lastLineLength: number;
}

export function parsePrintDetail(output: string): DetailItem[] {
  const lines = output.split(/\r?\n/);
  const items: DetailItem[] = [];
  let current: Pending | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    items.push({ ...current, fields: parseFields(current.body, current.line) });
    current = undefined;
  };
  lines.forEach((raw, i) => {
    const number = i + 1;
    const line = raw.replace(/\r$/, '');
    if (line.trim() === '') return finish();
    if (items.length === 0 && current === undefined && /^(Flags|Columns): /.test(line)) return;
    const indexed = INDEX_LINE.exec(line);
    if (indexed !== null) {
      finish();
      const rest = indexed[3] ?? '';
      const comment = rest.startsWith(';;; ') ? rest.slice(4) : rest === ';;;' ? '' : undefined;
      current = {
        index: Number(indexed[1]),
        flags: indexed[2] ?? '',
        comment: comment ?? '',
        body: comment === undefined ? rest : '',
        line: number,
        lastLineLength: line.length,
      };
      return;
    }
    if (/^\s/.test(line) && current !== undefined) {
      const piece = line.trim();
      const splitToken = current.lastLineLength >= FULL_LINE && !KEY_AT.test(piece);
      current.body =
        current.body === '' ? piece : `${current.body}${splitToken ? '' : ' '}${piece}`;
      current.lastLineLength = line.length;
      return;
    }
    if (current === undefined && KEY_AT.test(line)) {
      // A capture that starts at the first property, without index (fixture 4.1).
      current = {
        index: undefined,
        flags: '',
        comment: '',
        body: line.trim(),
        line: number,
        lastLineLength: line.length,
      };
      return;
    }
    fail(`"${line.slice(0, 40)}" is neither an item, a continuation nor a legend`, number);
  });
  finish();
  return items;
}

/** `53 687 091 200` or `53687091200` -> 53687091200; anything else is a parse error. */
export function parseGroupedInteger(value: string, what: string, line: number): number {
  if (!/^\d{1,3}( \d{3})*$/.test(value) && !/^\d+$/.test(value))
    fail(`${what} "${value}" is not an integer`, line);
  const number = Number(value.replace(/ /g, ''));
  if (!Number.isSafeInteger(number)) fail(`${what} "${value}" is too large`, line);
  return number;
}
