// status.ts: `rds-csi-ts status [--address host:port]`: a table of the attachment actors
// of a running driver, read from its /debug/attachments endpoint (loopback by default: run it in
// the controller pod, or through `kubectl port-forward`).
import type { Writable } from 'node:stream';

import type { AttachmentReport } from '../actors/attachment-supervisor.js';

export interface StatusIo {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly stdout: Writable;
  readonly stderr: Writable;
}

const USAGE = `usage: rds-csi-ts status [--address host:port] [--json]

Prints each volume's attachment state (machine state, nodes, grace and migration deadlines,
stale nodes) from a running controller's /debug/attachments.
  --address   its metrics endpoint (env RDS_CSI_METRICS_ADDRESS; default 127.0.0.1:9809)
  --json      the endpoint's JSON as is
`;

export async function statusCommand(argv: readonly string[], io: StatusIo): Promise<number> {
  let address = io.env['RDS_CSI_METRICS_ADDRESS'] || '127.0.0.1:9809';
  let json = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--address' && argv[i + 1] !== undefined) address = argv[++i] ?? address;
    else if (arg === '--json') json = true;
    else if (arg === '--help' || arg === '-h') {
      io.stdout.write(USAGE);
      return 0;
    } else {
      io.stderr.write(`rds-csi-ts status: unexpected argument ${String(arg)}\n${USAGE}`);
      return 2;
    }
  }
  if (address.startsWith(':')) address = `127.0.0.1${address}`;
  const url = `http://${address}/debug/attachments`;
  let body: string;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    body = await response.text();
    if (!response.ok) {
      io.stderr.write(`rds-csi-ts status: ${url} answered ${response.status}: ${body.trim()}\n`);
      return 1;
    }
  } catch (error) {
    io.stderr.write(
      `rds-csi-ts status: cannot reach ${url} (${error instanceof Error ? error.message : String(error)}); is the controller running, and is --address its --metrics-address?\n`,
    );
    return 1;
  }
  if (json) {
    io.stdout.write(body.endsWith('\n') ? body : `${body}\n`);
    return 0;
  }
  io.stdout.write(renderStatus(JSON.parse(body) as AttachmentReport));
  return 0;
}

/** The report as an aligned text table. */
export function renderStatus(report: AttachmentReport): string {
  const rows = report.volumes.map((v) => [
    v.volumeId,
    v.state,
    v.access === 'multi' ? 'RWX' : 'RWO',
    v.nodes.length > 0 ? v.nodes.join(',') : '-',
    detail(v),
  ]);
  const header = ['VOLUME', 'STATE', 'ACCESS', 'NODES', 'DETAIL'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [
    `supervisor: ${report.supervisor}; ${report.volumes.length} volume(s) with an actor; at ${report.now}`,
    line(header),
    ...rows.map(line),
    '',
  ].join('\n');
}

function detail(v: AttachmentReport['volumes'][number]): string {
  if (v.migration !== undefined)
    return `migrating ${v.migration.source} -> ${v.migration.target}, fails at ${v.migration.deadline ?? '?'}`;
  if (v.stale !== undefined)
    return `node ${v.stale.node} deleted; cleared at ${v.stale.clearedAt ?? '?'}`;
  if (v.graceEndsAt !== undefined)
    return `detached from ${v.detachedFrom ?? '?'}; handoff window ends ${v.graceEndsAt}`;
  if (v.attachedAt !== undefined) return `attached since ${v.attachedAt}`;
  return '';
}
