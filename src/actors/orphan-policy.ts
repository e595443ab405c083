// orphan-policy.ts: which RDS disks and files are orphans, and when one may be deleted. Pure
// functions of one pass's observations and a time; no I/O, no clock (field-lessons #2, #3).
//
// Independent signals must agree before anything is an orphan: the name is in the driver's own
// name space (`pvc-<uuid>`, `snap-<uuid>-at-<hex>`; the host's `nixos-*` disks are never looked
// at), no PV has it as volumeHandle, no VolumeSnapshotContent as snapshotHandle, no CSI operation
// is running on it, and, for a file, no disk of any name uses it and no disk has its slot. A
// deletion further needs two passes and a minimum age (`isDeletable`).
import { isSnapshotId, isVolumeId } from '../domain/naming.js';
import type { ClusterReferences, OrphanKind, RdsDisk, RdsFile } from '../ports.js';

export type OrphanRole = 'volume' | 'snapshot';

/** Why a managed disk or file is not an orphan (metric label values: bounded). */
export type KeepReason =
  'pv' | 'snapshot_content' | 'in_flight' | 'disk' | 'slot_has_disk' | 'shared_file';

export interface Observation {
  /** Every disk on the RDS, whatever its slot. */
  readonly disks: readonly RdsDisk[];
  /** Files listed under `directories` (listed before the disks, so a disk seen later is counted). */
  readonly files: readonly RdsFile[];
  readonly directories: readonly string[];
  readonly cluster: ClusterReferences;
  /** The CSI operation running on a slot, if any. */
  readonly busyWith: (slot: string) => string | undefined;
  /** When this driver created a disk (ms, from its lineage comment); undefined when unknown. */
  readonly createdAt: (disk: RdsDisk) => number | undefined;
}

export interface Finding {
  /** `disk:<slot>` or `file:<path>`. */
  readonly key: string;
  readonly kind: OrphanKind;
  readonly role: OrphanRole;
  readonly slot: string;
  /** A disk's backing file, or the file itself; normalised. */
  readonly path: string;
  /** Exact for a disk; the rounded `/file print` size for a file. */
  readonly sizeBytes: number | undefined;
  readonly createdAt: number | undefined;
}

export interface Classification {
  readonly orphans: readonly Finding[];
  /** Managed disks and files that are not orphans, and why. */
  readonly kept: ReadonlyMap<string, KeepReason>;
  /** Cannot be judged this pass (snapshots while VolumeSnapshotContents are unreadable). */
  readonly undecided: ReadonlySet<string>;
}

/**
 * One leading slash, no empty or `.` segments, no trailing slash: `/disk print` shows
 * `/storage-pool/x.img`, `/file print` shows `storage-pool/x.img`; compared raw, the Go driver
 * deleted 114 live files (field-lessons #2).
 */
export function normalisePath(path: string): string {
  return `/${path
    .split('/')
    .filter((s) => s !== '' && s !== '.')
    .join('/')}`;
}

function dirname(path: string): string {
  return path.slice(0, path.lastIndexOf('/')) || '/';
}

/** The role of a slot in the driver's name space, or undefined for anything else. */
export function managedRole(slot: string): OrphanRole | undefined {
  if (isVolumeId(slot)) return 'volume';
  if (isSnapshotId(slot)) return 'snapshot';
  return undefined;
}

/** `/dir/<slot>.img` of a managed slot -> the slot; anything else -> undefined. */
export function managedSlotOfFile(path: string): string | undefined {
  const base = path.slice(path.lastIndexOf('/') + 1);
  if (!base.endsWith('.img')) return undefined;
  const slot = base.slice(0, -'.img'.length);
  return managedRole(slot) === undefined ? undefined : slot;
}

/**
 * The directories whose files are audited: the configured default, the directories of the
 * driver's disks, and the volumePath of every PV (a StorageClass may name another directory).
 */
export function auditedDirectories(
  defaults: readonly string[],
  disks: readonly RdsDisk[],
  cluster: ClusterReferences | undefined,
): string[] {
  const out = new Set(defaults.map(normalisePath));
  for (const disk of disks) {
    if (disk.filePath !== undefined && managedRole(disk.slot) !== undefined)
      out.add(dirname(normalisePath(disk.filePath)));
  }
  for (const path of cluster?.volumePaths ?? []) out.add(normalisePath(path));
  out.delete('/');
  return [...out].sort();
}

/** Why the cluster keeps `slot`, 'undecided' when it cannot tell, undefined when nothing does. */
function clusterKeeps(
  slot: string,
  role: OrphanRole,
  cluster: ClusterReferences,
): KeepReason | 'undecided' | undefined {
  if (cluster.volumeHandles.has(slot)) return 'pv';
  if (cluster.snapshotHandles?.has(slot) === true) return 'snapshot_content';
  if (role === 'snapshot' && cluster.snapshotHandles === undefined) return 'undecided';
  return undefined;
}

export function classify(observation: Observation): Classification {
  const { disks, cluster, busyWith } = observation;
  const orphans: Finding[] = [];
  const kept = new Map<string, KeepReason>();
  const undecided = new Set<string>();
  const diskFiles = new Map<string, number>();
  for (const disk of disks) {
    if (disk.filePath === undefined) continue;
    const path = normalisePath(disk.filePath);
    diskFiles.set(path, (diskFiles.get(path) ?? 0) + 1);
  }
  const slots = new Set(disks.map((d) => d.slot));
  const judge = (finding: Finding, local: KeepReason | undefined): void => {
    const verdict =
      clusterKeeps(finding.slot, finding.role, cluster) ??
      local ??
      (busyWith(finding.slot) !== undefined ? 'in_flight' : undefined);
    if (verdict === 'undecided') undecided.add(finding.key);
    else if (verdict !== undefined) kept.set(finding.key, verdict);
    else orphans.push(finding);
  };
  for (const disk of disks) {
    const role = managedRole(disk.slot);
    if (role === undefined || disk.type !== 'file') continue;
    const path = disk.filePath === undefined ? '' : normalisePath(disk.filePath);
    judge(
      {
        key: `disk:${disk.slot}`,
        kind: 'disk',
        role,
        slot: disk.slot,
        path,
        sizeBytes: disk.sizeBytes,
        createdAt: observation.createdAt(disk),
      },
      // Removing this disk removes its file: never while another disk uses the same file.
      (diskFiles.get(path) ?? 0) > 1 ? 'shared_file' : undefined,
    );
  }
  const directories = new Set(observation.directories.map(normalisePath));
  for (const file of observation.files) {
    const path = normalisePath(file.path);
    const slot = managedSlotOfFile(path);
    if (file.isDirectory || slot === undefined || !directories.has(dirname(path))) continue;
    judge(
      {
        key: `file:${path}`,
        kind: 'file',
        role: managedRole(slot) ?? 'volume',
        slot,
        path,
        sizeBytes: file.approxSizeBytes,
        createdAt: undefined,
      },
      diskFiles.has(path) ? 'disk' : slots.has(slot) ? 'slot_has_disk' : undefined,
    );
  }
  return { orphans, kept, undecided };
}

/** An orphan as followed across passes. First-seen times live in memory only (see the auditor). */
export interface Sighting extends Finding {
  readonly firstSeen: number;
  readonly lastSeen: number;
  /** Complete passes in a row that found it orphaned. */
  readonly passes: number;
  /** Its "would delete" (dry-run) decision was already reported. */
  readonly eligibleReported: boolean;
}

export interface Advance {
  readonly sightings: Map<string, Sighting>;
  /** First seen in this pass. */
  readonly appeared: readonly Sighting[];
  /** Orphaned before, not any more: with the reason that keeps it, or `gone` from the RDS. */
  readonly cleared: readonly {
    readonly sighting: Sighting;
    readonly reason: KeepReason | 'gone';
  }[];
}

/** The sightings after a complete pass at `now`. Undecided ones stay exactly as they were. */
export function advance(
  previous: ReadonlyMap<string, Sighting>,
  classification: Classification,
  now: number,
): Advance {
  const sightings = new Map<string, Sighting>();
  const appeared: Sighting[] = [];
  for (const finding of classification.orphans) {
    const before = previous.get(finding.key);
    const sighting: Sighting =
      before === undefined
        ? { ...finding, firstSeen: now, lastSeen: now, passes: 1, eligibleReported: false }
        : { ...before, ...finding, lastSeen: now, passes: before.passes + 1 };
    if (before === undefined) appeared.push(sighting);
    sightings.set(finding.key, sighting);
  }
  const cleared: Advance['cleared'][number][] = [];
  for (const [key, sighting] of previous) {
    if (sightings.has(key)) continue;
    if (classification.undecided.has(key)) sightings.set(key, sighting);
    else cleared.push({ sighting, reason: classification.kept.get(key) ?? 'gone' });
  }
  return { sightings, appeared, cleared };
}

/**
 * The earliest time the age condition holds: `minAgeMs` after it was first seen and, when the
 * driver's lineage comment says when the disk was created, after that too.
 */
export function oldEnoughAt(sighting: Sighting, minAgeMs: number): number {
  return Math.max(sighting.firstSeen, sighting.createdAt ?? 0) + minAgeMs;
}

/** Seen in at least two complete passes and old enough. */
export function isDeletable(sighting: Sighting, now: number, minAgeMs: number): boolean {
  return sighting.passes >= 2 && now >= oldEnoughAt(sighting, minAgeMs);
}
