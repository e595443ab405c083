// parser.ts: turns lexed units into commands checked against the menu tree (menus.ts).
//
// Grammar (the subset of the RouterOS console the driver and its operators use):
//   command   := path verb arg*
//   path      := "/"-separated menu names, in one unit (`/disk/print`) or several (`/interface nvme-tcp`)
//   arg       := flag | key=value | positional | "where" expr
//   value     := text | "string" | [find expr?] | [find where expr]
//   expr      := term (("and" | "or") term)*      term := "!" term | key (op value)?
//   op        := "=" | "!=" | "~" | "<" | ">"
// Errors carry the device's wording and the 1-based column of the offending unit.
import { type Part, type Unit, unitText } from './lexer.js';
import { findMenu, type CommandSpec, type MenuSpec } from './menus.js';

export type Value =
  | { readonly kind: 'text'; readonly text: string; readonly column: number }
  | { readonly kind: 'find'; readonly where: Expr | undefined; readonly column: number };

export type Expr =
  | { readonly op: 'and' | 'or'; readonly left: Expr; readonly right: Expr }
  | { readonly op: 'not'; readonly expr: Expr }
  | {
      readonly op: 'cmp';
      readonly key: string;
      readonly cmp: '=' | '!=' | '~' | '<' | '>';
      readonly value: string;
    }
  | { readonly op: 'truthy'; readonly key: string };

export interface ParsedCommand {
  readonly menu: MenuSpec;
  readonly path: readonly string[];
  readonly verb: string;
  readonly spec: CommandSpec;
  readonly flags: ReadonlySet<string>;
  readonly args: ReadonlyMap<string, Value>;
  readonly positional: readonly Value[];
  readonly where: Expr | undefined;
}

/** A console error: `message (line 1 column N)` as the device prints it. */
export class CliError extends Error {
  constructor(
    readonly text: string,
    readonly column: number | undefined,
  ) {
    super(column === undefined ? text : `${text} (line 1 column ${column})`);
  }
}

const OPERATORS = ['!=', '=', '~', '<', '>'] as const;
const KEY = /^[a-z][a-z0-9.-]*$/;

function partsValue(parts: readonly Part[], column: number): Value {
  const [first, ...rest] = parts;
  if (first?.kind === 'bracket' && rest.length === 0) return parseFind(first.units, first.column);
  let text = '';
  for (const part of parts) {
    if (part.kind === 'bracket') throw new CliError('syntax error', part.column);
    text += part.text;
  }
  return { kind: 'text', text, column };
}

/** `[find ...]`: the only command substitution the emulator evaluates. */
function parseFind(units: readonly Unit[], column: number): Value {
  const [head, ...rest] = units;
  const verb = head === undefined ? undefined : unitText(head);
  if (verb !== 'find')
    throw new CliError(`bad command name ${verb ?? ''}`.trim(), head?.column ?? column);
  const body = rest[0] !== undefined && unitText(rest[0]) === 'where' ? rest.slice(1) : rest;
  return { kind: 'find', where: body.length === 0 ? undefined : parseExpr(body), column };
}

/** Splits `key<op>value` inside one unit; undefined when the unit has no operator. */
function splitComparison(
  unit: Unit,
): { key: string; cmp: (typeof OPERATORS)[number]; value: Value } | undefined {
  const first = unit.parts[0];
  if (first?.kind !== 'text') return undefined;
  for (let i = 1; i < first.text.length; i++) {
    const op = OPERATORS.find((o) => first.text.startsWith(o, i));
    if (op === undefined) continue;
    const key = first.text.slice(0, i);
    const restText = first.text.slice(i + op.length);
    const parts: Part[] =
      restText === ''
        ? [...unit.parts.slice(1)]
        : [{ kind: 'text', text: restText }, ...unit.parts.slice(1)];
    return {
      key,
      cmp: op,
      value:
        parts.length === 0
          ? { kind: 'text', text: '', column: unit.column }
          : partsValue(parts, unit.column),
    };
  }
  return undefined;
}

export function parseExpr(units: readonly Unit[]): Expr {
  let pos = 0;
  const term = (): Expr => {
    const unit = units[pos];
    if (unit === undefined) throw new CliError('syntax error', units.at(-1)?.column);
    const text = unitText(unit);
    if (text === '!') {
      pos++;
      return { op: 'not', expr: term() };
    }
    if (text?.startsWith('!') && unit.parts[0]?.kind === 'text') {
      pos++;
      const stripped: Unit = {
        column: unit.column + 1,
        parts: [{ kind: 'text', text: text.slice(1) }, ...unit.parts.slice(1)],
      };
      return { op: 'not', expr: single(stripped) };
    }
    pos++;
    return single(unit);
  };
  const single = (unit: Unit): Expr => {
    const split = splitComparison(unit);
    if (split !== undefined) {
      if (!KEY.test(split.key) || split.value.kind !== 'text')
        throw new CliError('syntax error', unit.column);
      return { op: 'cmp', key: split.key, cmp: split.cmp, value: split.value.text };
    }
    const key = unitText(unit);
    if (key === undefined || !KEY.test(key)) throw new CliError('syntax error', unit.column);
    return { op: 'truthy', key };
  };
  let expr = term();
  while (pos < units.length) {
    const unit = units[pos]!;
    const joiner = unitText(unit);
    if (joiner !== 'and' && joiner !== 'or') throw new CliError('syntax error', unit.column);
    pos++;
    expr = { op: joiner, left: expr, right: term() };
  }
  return expr;
}

/** Resolves the menu path and verb; returns them and the index of the first argument unit. */
function resolvePath(units: readonly Unit[]): {
  menu: MenuSpec;
  path: string[];
  verb: string;
  spec: CommandSpec;
  next: number;
} {
  const path: string[] = [];
  let menu = findMenu([]);
  let index = 0;
  const pending: { name: string; column: number }[] = [];
  // Exec'd commands start at the root menu, so `/disk print` and `disk print` are the same.
  for (; index < units.length; index++) {
    const text = unitText(units[index]!);
    if (text === undefined) break;
    const column = units[index]!.column;
    if (index > 0 && text.startsWith('/')) throw new CliError('syntax error', column);
    const names = text.split('/').filter((n) => n !== '');
    if (index === 0 && names.length === 0) continue;
    pending.push(...names.map((name) => ({ name, column })));
    while (pending.length > 0) {
      const { name, column: at } = pending.shift()!;
      const child = menu.menus?.[name];
      if (child !== undefined) {
        menu = child;
        path.push(name);
        continue;
      }
      const spec = menu.commands[name];
      if (spec === undefined) throw new CliError(`bad command name ${name}`, at);
      if (pending.length > 0) throw new CliError('expected end of command', pending[0]!.column);
      return { menu, path, verb: name, spec, next: index + 1 };
    }
  }
  // A menu path with no verb: the console would just change menu; over exec that is a no-op error.
  throw new CliError('expected command name', units[index]?.column ?? units.at(-1)?.column);
}

export function parseCommand(units: readonly Unit[]): ParsedCommand {
  const { menu, path, verb, spec, next } = resolvePath(units);
  const flags = new Set<string>();
  const args = new Map<string, Value>();
  const positional: Value[] = [];
  let where: Expr | undefined;
  for (let i = next; i < units.length; i++) {
    const unit = units[i]!;
    const text = unitText(unit);
    if (text !== undefined && spec.flags?.includes(text) === true && !flags.has(text)) {
      flags.add(text);
      continue;
    }
    if (text === 'where' && spec.where === true) {
      if (i + 1 >= units.length) throw new CliError('syntax error', unit.column);
      where = parseExpr(units.slice(i + 1));
      break;
    }
    const split = splitComparison(unit);
    if (split !== undefined && split.cmp === '=') {
      if (!spec.params?.includes(split.key) || args.has(split.key)) {
        throw new CliError('expected end of command', unit.column);
      }
      args.set(split.key, split.value);
      continue;
    }
    if (positional.length < (spec.positional ?? 0)) {
      positional.push(partsValue(unit.parts, unit.column));
      continue;
    }
    throw new CliError('expected end of command', unit.column);
  }
  return { menu, path, verb, spec, flags, args, positional, where };
}
