// render.ts: RouterOS commands as typed values, and renderCommand(), the only place in the RDS
// client that produces command text (STYLE.md rule 8). Every user-derived value arrives branded
// (values.ts) and is written through quote(); no template elsewhere ever holds input.
import type {
  ByteCount,
  CommentText,
  DiskFilePath,
  FileName,
  MountPoint,
  Nqn,
  SlotName,
  TcpPort,
} from './values.js';
import { renderSize } from './values.js';

/** Values that print inside quotes: allow-listed, so quoting needs no escapes. */
export type Quotable = SlotName | DiskFilePath | FileName | MountPoint | Nqn | CommentText;

declare const regexBrand: unique symbol;
/** A regex built only by the functions below, from allow-listed values. */
export type RegexPattern = string & { readonly [regexBrand]: 'RegexPattern' };

export type ArgValue =
  | { readonly kind: 'quoted'; readonly value: Quotable }
  | { readonly kind: 'size'; readonly value: ByteCount }
  | { readonly kind: 'port'; readonly value: TcpPort }
  | { readonly kind: 'flag'; readonly value: boolean }
  | { readonly kind: 'type'; readonly value: 'file' }
  | { readonly kind: 'find'; readonly filter: readonly Filter[] };

export type Filter =
  | { readonly key: FilterKey; readonly op: '='; readonly value: Quotable }
  | { readonly key: FilterKey; readonly op: '~'; readonly value: RegexPattern };

export type FilterKey = 'slot' | 'name' | 'mount-point';

export type ArgKey =
  | 'type'
  | 'slot'
  | 'file-path'
  | 'file-size'
  | 'copy-from'
  | 'comment'
  | 'nvme-tcp-export'
  | 'nvme-tcp-server-port'
  | 'nvme-tcp-server-nqn';

export type Arg = readonly [ArgKey, ArgValue];

export interface RouterOsCommand {
  readonly menu: 'disk' | 'file';
  readonly verb: 'print' | 'add' | 'set' | 'remove' | 'monitor-traffic';
  /** `[find ...]` item selection for set/remove. */
  readonly target?: readonly Filter[];
  /** A positional item name (monitor-traffic's slot). */
  readonly item?: Quotable;
  readonly args?: readonly Arg[];
  readonly detail?: boolean;
  readonly once?: boolean;
  readonly where?: readonly Filter[];
}

const SAFE = /^[A-Za-z0-9=;:._,/-]*$/;

/** Wraps an allow-listed value in quotes; refuses anything that would need escaping. */
function quote(value: string): string {
  if (!SAFE.test(value))
    throw new Error(`refusing to render unvalidated value ${JSON.stringify(value.slice(0, 40))}`);
  return `"${value}"`;
}

/** `^` + the value with `.` as `[.]`: a literal prefix match without backslashes (commit 101334a). */
export function prefixPattern(value: Quotable): RegexPattern {
  return `^${quote(value).slice(1, -1).replace(/\./g, '[.]')}` as RegexPattern;
}

/** `/` + the value + `$`, dots as `[.]`: a file named exactly `value` in any directory. */
export function basenamePattern(value: Quotable): RegexPattern {
  return `/${quote(value).slice(1, -1).replace(/\./g, '[.]')}$` as RegexPattern;
}

function renderFilter(filters: readonly Filter[]): string {
  return filters
    .map((f) =>
      f.op === '=' ? `${f.key}=${quote(f.value)}` : `${f.key}~"${f.value.replace(/"/g, '')}"`,
    )
    .join(' and ');
}

function renderValue(value: ArgValue): string {
  switch (value.kind) {
    case 'quoted':
      return quote(value.value);
    case 'size':
      return renderSize(value.value);
    case 'port':
      return String(value.value);
    case 'flag':
      return value.value ? 'yes' : 'no';
    case 'type':
      return value.value;
    case 'find':
      return `[find ${renderFilter(value.filter)}]`;
  }
}

export function renderCommand(command: RouterOsCommand): string {
  const parts = [`/${command.menu}`, command.verb];
  if (command.target !== undefined) parts.push(`[find ${renderFilter(command.target)}]`);
  if (command.item !== undefined) parts.push(quote(command.item));
  for (const [key, value] of command.args ?? []) parts.push(`${key}=${renderValue(value)}`);
  if (command.detail === true) parts.push('detail');
  if (command.once === true) parts.push('once');
  if (command.where !== undefined && command.where.length > 0)
    parts.push('where', renderFilter(command.where));
  return parts.join(' ');
}
