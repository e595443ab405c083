// file-menu.ts: /file print and remove over the real files under the emulator's fs/ directory.
//
// Names print without a leading slash, unlike /disk file-path (routeros-cli.md 4.6 quirk 8);
// a file's `type` is `.img file` (so `type=.img file size=10.0GiB` reads like "file size" with a
// space), directories are `directory`; sizes are human units (`1024.0MiB` for 1 GiB).
import { readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join, relative } from 'node:path';

import { DeviceFailure, FAILURES } from './device-errors.js';
import type { ExecContext } from './exec-context.js';
import { resolveItems } from './item-query.js';
import { CliError, type ParsedCommand } from './parser.js';
import type { DetailLayout, PrintItem, Prop } from './print-format.js';
import { runPrint } from './print-command.js';
import { FS_DIR } from './state-store.js';
import { humanSize } from './units.js';

/** [inferred] /file has no flags; its index column is followed by three spaces (4.3). */
export const FILE_LAYOUT: DetailLayout = { legend: '', indexWidth: 2, flagsWidth: 1 };

export interface FileEntry {
  readonly name: string;
  readonly isDirectory: boolean;
  readonly size: number;
  readonly modified: number;
  readonly born: number;
}

/** Every file and directory, in creation order as the device lists them (4.3 is not sorted by name). */
function listFiles(root: string): FileEntry[] {
  const out: FileEntry[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      // A file removed while the listing runs (a concurrent /disk remove) is simply gone; the
      // device never fails a print over it (found by the chaos runner: this threw and the
      // emulator process died).
      const stats = statSync(path, { throwIfNoEntry: false });
      if (stats === undefined) continue;
      out.push({
        name: relative(root, path),
        isDirectory: stats.isDirectory(),
        size: stats.size,
        modified: stats.mtimeMs,
        born: stats.birthtimeMs || stats.ctimeMs,
      });
      if (stats.isDirectory()) walk(path);
    }
  };
  walk(root);
  return out.sort((a, b) => a.born - b.born || (a.name < b.name ? -1 : 1));
}

function deviceTime(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

function fileType(entry: FileEntry): string {
  if (entry.isDirectory) return 'directory';
  const extension = /\.([A-Za-z0-9]+)$/.exec(entry.name)?.[1];
  return extension === undefined ? 'file' : `.${extension} file`;
}

/** One /file entry as the device prints it (the parser fuzz test renders with this too). */
export function fileItem(entry: FileEntry, id: number): PrintItem {
  const props: Prop[] = [
    { key: 'name', value: entry.name, raw: entry.name },
    { key: 'type', value: fileType(entry), raw: fileType(entry) },
  ];
  if (!entry.isDirectory)
    props.push({ key: 'size', value: humanSize(entry.size), raw: String(entry.size) });
  props.push({
    key: 'last-modified',
    value: deviceTime(entry.modified),
    raw: deviceTime(entry.modified),
  });
  return { id, flags: '', comment: '', groups: [props] };
}

export function fileItems(ctx: ExecContext): PrintItem[] {
  // Ids are positions in a sorted listing: stable while the tree does not change.
  return listFiles(join(ctx.store.dataDir, FS_DIR)).map((entry, i) => fileItem(entry, i + 1));
}

async function remove(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  const reference = command.positional[0];
  if (reference === undefined) throw new CliError('expected item numbers', undefined);
  const items = fileItems(ctx);
  const ids = resolveItems(reference, items, 'name');
  if (ids.length === 0 && (reference.kind === 'text' || ctx.settings.emptyFindIsError)) {
    throw new DeviceFailure(FAILURES.noSuchItem);
  }
  for (const target of items.filter((i) => ids.includes(i.id))) {
    const name = target.groups[0]?.[0]?.raw ?? '';
    await rm(join(ctx.store.dataDir, FS_DIR, name), { recursive: true, force: true });
    ctx.deviceLog.info('system', `file ${name} removed`);
  }
  ctx.usageChanged();
  return '';
}

export async function runFileCommand(command: ParsedCommand, ctx: ExecContext): Promise<string> {
  if (command.verb === 'print')
    return runPrint(command, fileItems(ctx), FILE_LAYOUT, [
      'name',
      'type',
      'size',
      'last-modified',
    ]);
  if (command.verb === 'remove') return remove(command, ctx);
  throw new CliError(`bad command name ${command.verb}`, undefined);
}
