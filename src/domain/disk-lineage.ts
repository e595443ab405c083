// disk-lineage.ts: what the driver records about a disk in its RouterOS `comment`, a field the
// real device has (routeros-cli.md 4.6 quirk 13: no source-volume or creation-time fields exist).
//
//   rds-csi=1;kind=volume;t=1764030000;src=snap-...    a volume (src when restored or cloned)
//   rds-csi=1;kind=snapshot;t=1764030000;src=pvc-...    a snapshot of volume src
// Only [A-Za-z0-9=;:._,-] appear, so the comment passes the command allow-list unchanged.
// Disks of the Go driver carry no comment: they read as volumes of unknown age and source.

export type DiskKind = 'volume' | 'snapshot';

export interface Lineage {
  readonly kind: DiskKind | undefined;
  /** Seconds since the epoch, when this driver created it. */
  readonly createdAt: number | undefined;
  /** Source volume (of a snapshot) or source snapshot/volume (of a restored or cloned volume). */
  readonly source: string | undefined;
}

export function encodeLineage(kind: DiskKind, createdAtMs: number, source?: string): string {
  const parts = ['rds-csi=1', `kind=${kind}`, `t=${Math.floor(createdAtMs / 1000)}`];
  if (source !== undefined) parts.push(`src=${source}`);
  return parts.join(';');
}

export function decodeLineage(comment: string): Lineage {
  const fields = new Map(
    comment
      .split(';')
      .map((pair) => pair.split('=') as [string, string | undefined])
      .filter((pair): pair is [string, string] => pair[1] !== undefined),
  );
  if (fields.get('rds-csi') !== '1')
    return { kind: undefined, createdAt: undefined, source: undefined };
  const kind = fields.get('kind');
  const t = Number(fields.get('t'));
  return {
    kind: kind === 'volume' || kind === 'snapshot' ? kind : undefined,
    createdAt: Number.isSafeInteger(t) && t > 0 ? t : undefined,
    source: fields.get('src'),
  };
}
