// item-query.ts: evaluates `where` expressions and `[find ...]` against printable items, and
// resolves item references (`*1A` ids, print numbers, names, find results).
import { CliError, type Expr, type Value } from './parser.js';
import type { PrintItem } from './print-format.js';

/** Boolean properties that are flags rather than `key=value` fields. */
const FLAG_LETTERS: Readonly<Record<string, string>> = {
  disabled: 'X',
  'block-device': 'B',
  mounted: 'M',
};

function rawValue(item: PrintItem, key: string): string | undefined {
  if (key === 'comment') return item.comment;
  return item.groups.flat().find((p) => p.key === key)?.raw;
}

function regexOf(pattern: string): RegExp {
  try {
    return new RegExp(pattern);
  } catch {
    throw new CliError(`invalid regular expression ${pattern}`, undefined);
  }
}

export function matchesExpr(expr: Expr, item: PrintItem): boolean {
  switch (expr.op) {
    case 'and':
      return matchesExpr(expr.left, item) && matchesExpr(expr.right, item);
    case 'or':
      return matchesExpr(expr.left, item) || matchesExpr(expr.right, item);
    case 'not':
      return !matchesExpr(expr.expr, item);
    case 'truthy': {
      const letter = FLAG_LETTERS[expr.key];
      if (letter !== undefined) return item.flags.includes(letter);
      const value = rawValue(item, expr.key);
      return value === 'yes' || value === 'true';
    }
    case 'cmp': {
      const value = rawValue(item, expr.key);
      if (value === undefined) return expr.cmp === '!=';
      switch (expr.cmp) {
        case '=':
          return value === expr.value;
        case '!=':
          return value !== expr.value;
        case '~':
          return regexOf(expr.value).test(value);
        case '<':
          return Number(value) < Number(expr.value);
        case '>':
          return Number(value) > Number(expr.value);
      }
    }
  }
}

export function filterItems(items: readonly PrintItem[], where: Expr | undefined): PrintItem[] {
  return where === undefined ? [...items] : items.filter((item) => matchesExpr(where, item));
}

/**
 * Resolves an item reference to ids. `[find ...]` may resolve to none; an explicit id, number or
 * name that matches nothing is `no such item` (thrown by the caller's choice via `onMissing`).
 */
export function resolveItems(value: Value, items: readonly PrintItem[], nameKey: string): number[] {
  if (value.kind === 'find') return filterItems(items, value.where).map((item) => item.id);
  const ids: number[] = [];
  for (const ref of value.text.split(',')) {
    let item: PrintItem | undefined;
    if (/^\*[0-9A-Fa-f]+$/.test(ref)) item = items.find((i) => i.id === parseInt(ref.slice(1), 16));
    else if (/^\d+$/.test(ref)) item = items[Number(ref)];
    else item = items.find((i) => rawValue(i, nameKey) === ref);
    if (item === undefined) return [];
    ids.push(item.id);
  }
  return ids;
}
