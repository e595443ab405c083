// system-menu.ts: the read-only menus an operator pokes at: /system resource and identity,
// /interface nvme-tcp (exports) and its connections, /log. Layouts are [inferred]: the sources
// document these commands but hold no device capture (routeros-cli.md 3.4).
import type { ExecContext } from './exec-context.js';
import { renderLog } from './device-log.js';
import { filterItems } from './item-query.js';
import { CliError, type ParsedCommand } from './parser.js';
import type { DetailLayout, PrintItem } from './print-format.js';
import { runPrint } from './print-command.js';
import { renderKeyValueBlock } from './traffic.js';
import { humanSize } from './units.js';

const EXPORT_LAYOUT: DetailLayout = {
  legend: 'Flags: X - disabled, I - inactive',
  indexWidth: 2,
  flagsWidth: 1,
};

export interface SystemInfo {
  readonly version: string;
  readonly boardName: string;
  readonly startedAt: number;
}

function uptime(ms: number): string {
  let s = Math.floor(ms / 1000);
  const parts: string[] = [];
  for (const [unit, size] of [
    ['w', 604800],
    ['d', 86400],
    ['h', 3600],
    ['m', 60],
  ] as const) {
    if (s >= size) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join('');
}

function resource(ctx: ExecContext, info: SystemInfo): string {
  const pool = ctx.store.state.poolSizeBytes;
  return renderKeyValueBlock(
    [
      ['uptime', uptime(ctx.now() - info.startedAt)],
      ['version', info.version],
      ['free-memory', humanSize(12 * 1024 ** 3)],
      ['total-memory', humanSize(32 * 1024 ** 3)],
      ['cpu', 'ARM64'],
      ['cpu-count', '4'],
      ['cpu-load', '1%'],
      ['free-hdd-space', humanSize(ctx.freeBytes())],
      ['total-hdd-space', humanSize(pool)],
      ['architecture-name', 'arm64'],
      ['board-name', info.boardName],
      ['platform', 'MikroTik'],
    ],
    false,
  );
}

function exportItems(ctx: ExecContext): PrintItem[] {
  return ctx.store.state.disks
    .filter((d) => d.nvmeTcpExport)
    .map((d) => ({
      id: d.id,
      flags: '',
      comment: '',
      groups: [
        [
          { key: 'disk', value: `"${d.slot}"`, raw: d.slot },
          { key: 'port', value: String(d.nvmeTcpServerPort), raw: String(d.nvmeTcpServerPort) },
          { key: 'nqn', value: `"${d.nvmeTcpServerNqn}"`, raw: d.nvmeTcpServerNqn },
          {
            key: 'allow-host-name',
            value: `"${d.nvmeTcpServerAllowHostName}"`,
            raw: d.nvmeTcpServerAllowHostName,
          },
        ],
      ],
    }));
}

function logItems(ctx: ExecContext): PrintItem[] {
  return ctx.deviceLog.list().map((e, i) => ({
    id: i + 1,
    flags: '',
    comment: '',
    groups: [
      [
        { key: 'topics', value: e.topics, raw: e.topics },
        { key: 'message', value: e.message, raw: e.message },
      ],
    ],
  }));
}

export function runSystemCommand(
  command: ParsedCommand,
  ctx: ExecContext,
  info: SystemInfo,
): string {
  const menu = command.path.join('/');
  if (menu === 'system/resource') return resource(ctx, info);
  if (menu === 'system/identity')
    return renderKeyValueBlock([['name', ctx.store.state.identity]], false);
  if (menu === 'interface/nvme-tcp')
    return runPrint(command, exportItems(ctx), EXPORT_LAYOUT, ['disk', 'port', 'nqn']);
  // The emulator serves exports to loop devices, not network hosts: no connections to show.
  if (menu === 'interface/nvme-tcp/connection')
    return runPrint(command, [], EXPORT_LAYOUT, ['host', 'nqn']);
  if (menu === 'log') {
    const wanted = new Set(filterItems(logItems(ctx), command.where).map((item) => item.id));
    return renderLog(ctx.deviceLog.list().filter((_, i) => wanted.has(i + 1)));
  }
  throw new CliError(`bad command name ${command.verb}`, undefined);
}
