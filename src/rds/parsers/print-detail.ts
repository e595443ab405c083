// print-detail.ts: splits RouterOS `print detail` output into items of key/value fields.
//
// Tolerates what the device does (routeros-cli.md 4.6): CRLF; a `Flags:`/`Columns:` legend, also
// alone when nothing matched; right-aligned indexes with flag letters; a `;;; comment` line;
// continuation lines indented by any amount; a token split across lines at the 80th column; values
// that contain spaces (`53 687 091 200`, `.img file`, dates) and quoted strings with escapes.
// Anything else is an RdsParseError naming the line: never a guess.
//
// A cut or corrupted answer is refused, not read short (issue 11, test/fuzz/routeros-parsers):
// every device line ends in a line break, so an answer that stops inside a line was cut; control
// characters (a terminal escape, a NUL, a bare CR that would overwrite the line) never appear in
// detail output, whose strings escape them as `\XX`; items are numbered 0, 1, 2... in each print,
// so a gap means a lost item; a menu with flags prints its legend first, so an answer without it
// (empty included) is not "nothing matched". A cut exactly between two items cannot be seen in the
// text: the channel's exit status is what says the device finished.
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
/**
 * The device wraps before the 80th column; a line that long was cut inside a token, and so was
 * one that ends inside a quoted value, whatever its length (a quoted value is never wrapped at a
 * space: it is one token, split only when longer than a line).
 */
const FULL_LINE = 79;

/** Device text for a message: at most 40 characters, anything unprintable as `\u....`. */
export function excerpt(text: string): string {
  const shown = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return `"${shown.replace(/[^\x20-\x7e]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

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
    if (key === undefined) fail(`expected key=value, found ${excerpt(text.slice(pos))}`, line);
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
      // Unquoted values hold no `=` or `"` (the device quotes such strings): one that does ate a
      // garbled key, as in `type=directory l?st-modified=...`.
      if (/[="]/.test(value)) fail(`the value of ${key} runs into ${excerpt(value)}`, line);
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
  /** Where the body ends: inside a quoted value, and just after a backslash in one. */
  quote: QuoteState;
}

interface QuoteState {
  open: boolean;
  escaped: boolean;
  last: string;
}

const NO_QUOTE: QuoteState = { open: false, escaped: false, last: '' };

/** Follows quoted values through `piece`: a quote opens only right after `=` (parseFields). */
function afterPiece(state: QuoteState, piece: string): QuoteState {
  let { open, escaped, last } = state;
  for (const ch of piece) {
    if (escaped) escaped = false;
    else if (open && ch === '\\') escaped = true;
    else if (open && ch === '"') open = false;
    else if (!open && ch === '"' && last === '=') open = true;
    last = ch;
  }
  return { open, escaped, last };
}

export interface PrintDetailOptions {
  /** The menu has flags, so the device prints a `Flags:` legend first, even for no match (/disk). */
  readonly legend: 'required' | 'optional';
}

const lineOf = (output: string, index: number): number => output.slice(0, index).split('\n').length;

/** A bare CR, an escape sequence, a NUL: the device escapes control bytes inside strings. */
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f]/;

/** Refuses what a cut or corrupted answer looks like before reading any item. */
function checkWhole(output: string, options: PrintDetailOptions): void {
  const unix = output.replace(/\r\n/g, '\n');
  const control = CONTROL.exec(unix);
  if (control !== null)
    fail(
      `control character ${excerpt(control[0])}: the answer is corrupted`,
      lineOf(unix, control.index),
    );
  if (output !== '' && !output.endsWith('\n'))
    fail('the answer stops inside a line: it was cut off', lineOf(unix, unix.length));
  if (options.legend === 'required' && !output.startsWith('Flags: '))
    fail(`expected the Flags: legend first, found ${excerpt(unix.split('\n')[0] ?? '')}`, 1);
}

export function parsePrintDetail(
  output: string,
  options: PrintDetailOptions = { legend: 'optional' },
): DetailItem[] {
  checkWhole(output, options);
  const lines = output.split(/\r?\n/);
  const items: DetailItem[] = [];
  let current: Pending | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    items.push({ ...current, fields: parseFields(current.body, current.line) });
    current = undefined;
  };
  lines.forEach((line, i) => {
    const number = i + 1;
    if (line.trim() === '') return finish();
    if (items.length === 0 && current === undefined && /^(Flags|Columns): [^=]*$/.test(line))
      return;
    const indexed = INDEX_LINE.exec(line);
    if (indexed !== null) {
      finish();
      const index = Number(indexed[1]);
      // Each print numbers its items from 0 (a capture may start unnumbered, 4.1): a gap is a
      // lost item, a repeat a duplicated one.
      if (index !== items.length) fail(`item ${index} where item ${items.length} was due`, number);
      const rest = indexed[3] ?? '';
      const comment = rest.startsWith(';;; ') ? rest.slice(4) : rest === ';;;' ? '' : undefined;
      current = {
        index,
        flags: indexed[2] ?? '',
        comment: comment ?? '',
        body: comment === undefined ? rest : '',
        line: number,
        lastLineLength: line.length,
        quote: afterPiece(NO_QUOTE, comment === undefined ? rest : ''),
      };
      return;
    }
    if (/^\s/.test(line) && current !== undefined) {
      const piece = line.trim();
      const splitToken =
        current.quote.open || (current.lastLineLength >= FULL_LINE && !KEY_AT.test(piece));
      current.body =
        current.body === '' ? piece : `${current.body}${splitToken ? '' : ' '}${piece}`;
      current.lastLineLength = line.length;
      current.quote = afterPiece(current.quote, piece);
      return;
    }
    if (current === undefined && items.length === 0 && KEY_AT.test(line)) {
      // A capture that starts at the first property, without index (fixture 4.1).
      current = {
        index: undefined,
        flags: '',
        comment: '',
        body: line.trim(),
        line: number,
        lastLineLength: line.length,
        quote: afterPiece(NO_QUOTE, line.trim()),
      };
      return;
    }
    fail(`${excerpt(line)} is neither an item, a continuation nor a legend`, number);
  });
  finish();
  return items;
}

/** `53 687 091 200` or `53687091200` -> 53687091200; anything else is a parse error. */
export function parseGroupedInteger(value: string, what: string, line: number): number {
  if (!/^\d{1,3}( \d{3})*$/.test(value) && !/^\d+$/.test(value))
    fail(`${what} ${excerpt(value)} is not an integer`, line);
  const number = Number(value.replace(/ /g, ''));
  if (!Number.isSafeInteger(number)) fail(`${what} ${excerpt(value)} is too large`, line);
  return number;
}
