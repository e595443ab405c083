// print-command.ts: the `print` verb shared by every menu: where, proplist and output style.
import { CliError, type ParsedCommand } from './parser.js';
import { filterItems } from './item-query.js';
import {
  renderAsValue,
  renderCount,
  renderDetail,
  renderTable,
  renderTerse,
  type DetailLayout,
  type PrintItem,
} from './print-format.js';

function applyProplist(items: readonly PrintItem[], command: ParsedCommand): readonly PrintItem[] {
  const value = command.args.get('proplist');
  if (value === undefined) return items;
  if (value.kind !== 'text') throw new CliError('syntax error', value.column);
  const keys = value.text.split(',');
  return items.map((item) => ({
    ...item,
    groups: [keys.flatMap((k) => item.groups.flat().filter((p) => p.key === k))],
  }));
}

export function runPrint(
  command: ParsedCommand,
  items: readonly PrintItem[],
  layout: DetailLayout,
  columns: readonly string[],
): string {
  const selected = applyProplist(filterItems(items, command.where), command);
  if (command.flags.has('count-only')) return renderCount(selected.length);
  if (command.flags.has('as-value')) return renderAsValue(selected);
  if (command.flags.has('terse')) return renderTerse(selected, layout);
  if (command.flags.has('detail')) return renderDetail(selected, layout);
  return renderTable(selected, layout, columns);
}
