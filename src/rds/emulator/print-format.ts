// print-format.ts: renders items the way RouterOS `print` does: detail, terse, as-value, table.
//
// Detail layout (routeros-cli.md 4.1-4.3, 4.6): a `Flags:` legend line; per item, a right-aligned
// index and flag letters, then `key=value` properties filled greedily into lines shorter than 80
// columns, with continuation lines indented to the width of that prefix; each property group
// starts a new line; a token too long for a line is split and continues on the next one; a
// blank line between items; CRLF line ends. Comments print as `;;; text` before the properties.

export const CRLF = '\r\n';
const MAX_LINE = 79;

export interface Prop {
  readonly key: string;
  /** Rendered exactly as printed, quotes included (`"pvc-1"`, `53 687 091 200`, `50.0GiB`). */
  readonly value: string;
  /** Raw value for as-value and where matching (unquoted, ungrouped). */
  readonly raw: string;
}

export interface PrintItem {
  /** Internal id, printed as `*1A` by as-value. */
  readonly id: number;
  readonly flags: string;
  readonly comment: string;
  /** Properties in print order, split into groups that each start a new line. */
  readonly groups: readonly (readonly Prop[])[];
}

export interface DetailLayout {
  /** The legend line, without CRLF (printed even when no item matches). */
  readonly legend: string;
  /** Width of the right-aligned index column. */
  readonly indexWidth: number;
  /** Width of the flags column that follows the index and one space. */
  readonly flagsWidth: number;
}

/** ` 0 BM   ` for index 0, flags `BM`: index, a space, flags padded, a space. */
function prefixOf(layout: DetailLayout, index: number, flags: string): string {
  return `${String(index).padStart(layout.indexWidth)} ${flags.padEnd(layout.flagsWidth)} `;
}

function wrapTokens(tokens: readonly string[], indent: number, firstLineUsed: number): string[] {
  const lines: string[] = [];
  let line = '';
  let used = firstLineUsed;
  const room = MAX_LINE - indent;
  for (let token of tokens) {
    const needed = line === '' ? token.length : line.length + 1 + token.length;
    if (used + needed <= MAX_LINE) {
      line = line === '' ? token : `${line} ${token}`;
      continue;
    }
    if (line !== '') lines.push(line);
    used = indent;
    // A token longer than a whole line is split; the rest continues on the next line.
    while (token.length > room) {
      lines.push(token.slice(0, room));
      token = token.slice(room);
    }
    line = token;
  }
  if (line !== '') lines.push(line);
  return lines;
}

export function renderDetail(items: readonly PrintItem[], layout: DetailLayout): string {
  const out: string[] = layout.legend === '' ? [] : [layout.legend];
  items.forEach((item, index) => {
    const prefix = prefixOf(layout, index, item.flags);
    const pad = ' '.repeat(prefix.length);
    const bodyLines: string[] = [];
    item.groups.forEach((group, g) => {
      const tokens = group.map((p) => `${p.key}=${p.value}`);
      const firstLine = bodyLines.length === 0 && item.comment === '' && g === 0;
      bodyLines.push(
        ...wrapTokens(tokens, prefix.length, firstLine ? prefix.length : prefix.length),
      );
    });
    const lines: string[] = [];
    if (item.comment !== '')
      lines.push(`${prefix};;; ${item.comment}`, ...bodyLines.map((l) => pad + l));
    else lines.push(...bodyLines.map((l, i) => (i === 0 ? prefix : pad) + l));
    if (index > 0) out.push('');
    out.push(...lines);
  });
  return out.length === 0 ? '' : out.join(CRLF) + CRLF + (items.length > 0 ? CRLF : '');
}

/** `print terse`: one line per item, all properties, no wrapping. */
export function renderTerse(items: readonly PrintItem[], layout: DetailLayout): string {
  return items
    .map((item, index) => {
      const props = item.groups.flat().map((p) => `${p.key}=${p.raw}`);
      const comment = item.comment === '' ? [] : [`comment=${item.comment}`];
      return `${prefixOf(layout, index, item.flags)}${[...comment, ...props].join(' ')}`;
    })
    .map((line) => line + CRLF)
    .join('');
}

/** `print as-value`: `.id=*1;key=value;...` per item, items joined by `;`, one line. */
export function renderAsValue(items: readonly PrintItem[]): string {
  if (items.length === 0) return '';
  const parts = items.map((item) =>
    [
      `.id=*${item.id.toString(16).toUpperCase()}`,
      ...item.groups.flat().map((p) => `${p.key}=${p.raw}`),
    ].join(';'),
  );
  return parts.join(';') + CRLF;
}

/** `print count-only`: the number of matching items. */
export function renderCount(count: number): string {
  return `${count}${CRLF}`;
}

/**
 * Plain `print`: a `Columns:` line and one row per item with the given columns, each as wide
 * as its longest cell.
 */
export function renderTable(
  items: readonly PrintItem[],
  layout: DetailLayout,
  columns: readonly string[],
): string {
  const cells = items.map((item) =>
    columns.map(
      (column) =>
        item.groups
          .flat()
          .find((p) => p.key === column)
          ?.value.replace(/^"(.*)"$/, '$1') ?? '',
    ),
  );
  const widths = columns.map((column, i) =>
    Math.max(column.length, ...cells.map((row) => row[i]!.length)),
  );
  const header = ` ${'#'.padStart(layout.indexWidth - 1)} ${''.padEnd(layout.flagsWidth)} ${columns
    .map((c, i) => c.toUpperCase().padEnd(widths[i]!))
    .join('  ')}`.trimEnd();
  const rows = cells.map((row, index) =>
    `${prefixOf(layout, index, items[index]!.flags)}${row.map((c, i) => c.padEnd(widths[i]!)).join('  ')}`.trimEnd(),
  );
  const lines = [
    ...(layout.legend === '' ? [] : [layout.legend]),
    `Columns: ${columns.map((c) => c.toUpperCase()).join(', ')}`,
    header,
    ...rows,
  ];
  return lines.join(CRLF) + CRLF;
}
