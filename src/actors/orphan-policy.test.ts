// The orphan rules as pure functions: which disks and files are orphans, and when one may go.
import { describe, expect, it } from 'vitest';

import type { ClusterReferences, RdsDisk, RdsFile } from '../ports.js';
import {
  advance,
  auditedDirectories,
  classify,
  isDeletable,
  normalisePath,
  oldEnoughAt,
  type Observation,
  type Sighting,
} from './orphan-policy.js';

const DIR = '/storage-pool/metal-csi';
const LIVE = 'pvc-11111111-1111-4111-8111-111111111111';
const ORPHAN = 'pvc-22222222-2222-4222-8222-222222222222';
const CREATING = 'pvc-33333333-3333-4333-8333-333333333333';
const SNAP_LIVE = 'snap-44444444-4444-5444-8444-444444444444-at-4444444444';
const SNAP_ORPHAN = 'snap-55555555-5555-5555-8555-555555555555-at-5555555555';
const LOOSE = 'pvc-66666666-6666-4666-8666-666666666666';
const MIN = 60_000;
const HOUR = 60 * MIN;

function disk(slot: string, filePath: string | undefined, type = 'file'): RdsDisk {
  return {
    slot,
    type,
    filePath,
    sizeBytes: 1024 ** 3,
    nvmeExport: undefined,
    comment: '',
  };
}

/** As `/file print` names them: no leading slash (routeros-cli.md 4.6 quirk 8). */
function file(name: string, isDirectory = false): RdsFile {
  return { path: name, isDirectory, approxSizeBytes: isDirectory ? undefined : 1024 ** 3 };
}

/** `snapshotHandles` 'unreadable': the VolumeSnapshotContents could not be listed. */
function cluster(
  volumeHandles: string[],
  snapshotHandles: string[] | 'unreadable' = [],
): ClusterReferences {
  return {
    volumeHandles: new Set(volumeHandles),
    volumePaths: new Set(),
    snapshotHandles: snapshotHandles === 'unreadable' ? undefined : new Set(snapshotHandles),
  };
}

function observe(overrides: Partial<Observation> = {}): Observation {
  return {
    disks: [],
    files: [],
    directories: [DIR],
    cluster: cluster([]),
    busyWith: () => undefined,
    createdAt: () => undefined,
    ...overrides,
  };
}

describe('normalisePath', () => {
  it('gives /disk and /file forms of one path the same spelling', () => {
    expect(normalisePath('storage-pool/metal-csi/x.img')).toBe('/storage-pool/metal-csi/x.img');
    expect(normalisePath('//storage-pool//metal-csi/./x.img')).toBe(
      '/storage-pool/metal-csi/x.img',
    );
    expect(normalisePath('/storage-pool/metal-csi/')).toBe('/storage-pool/metal-csi');
  });
});

describe('classify: disks', () => {
  it('finds the unreferenced disk only; PVs, snapshot contents and foreign names keep the rest', () => {
    const result = classify(
      observe({
        disks: [
          disk(LIVE, `${DIR}/${LIVE}.img`),
          disk(ORPHAN, `${DIR}/${ORPHAN}.img`),
          disk(SNAP_LIVE, `${DIR}/${SNAP_LIVE}.img`),
          disk(SNAP_ORPHAN, `${DIR}/${SNAP_ORPHAN}.img`),
          disk('nixos-root', `${DIR}/nixos-root.img`), // the host's own disk
          disk('pvc-test-123', `${DIR}/pvc-test-123.img`), // not a name this driver issues
          disk('storage-pool', undefined, 'partition'),
        ],
        cluster: cluster([LIVE], [SNAP_LIVE]),
      }),
    );
    expect(result.orphans.map((o) => o.key)).toEqual([`disk:${ORPHAN}`, `disk:${SNAP_ORPHAN}`]);
    expect(result.orphans[1]).toMatchObject({ kind: 'disk', role: 'snapshot' });
    expect(Object.fromEntries(result.kept)).toEqual({
      [`disk:${LIVE}`]: 'pv',
      [`disk:${SNAP_LIVE}`]: 'snapshot_content',
    });
  });

  it('never counts a disk whose CreateVolume is still running (its PV cannot exist yet)', () => {
    const result = classify(
      observe({
        disks: [disk(CREATING, `${DIR}/${CREATING}.img`)],
        busyWith: (slot) => (slot === CREATING ? 'CreateVolume' : undefined),
      }),
    );
    expect(result.orphans).toEqual([]);
    expect(result.kept.get(`disk:${CREATING}`)).toBe('in_flight');
  });

  it('leaves snapshots undecided when VolumeSnapshotContents could not be read', () => {
    const result = classify(
      observe({
        disks: [
          disk(SNAP_ORPHAN, `${DIR}/${SNAP_ORPHAN}.img`),
          disk(ORPHAN, `${DIR}/${ORPHAN}.img`),
        ],
        cluster: cluster([], 'unreadable'),
      }),
    );
    expect([...result.undecided]).toEqual([`disk:${SNAP_ORPHAN}`]);
    expect(result.orphans.map((o) => o.slot)).toEqual([ORPHAN]);
  });

  it('keeps a disk whose file another disk uses too (removing it would remove that file)', () => {
    const shared = `${DIR}/${ORPHAN}.img`;
    const result = classify(
      observe({ disks: [disk(ORPHAN, shared), disk('nixos-copy', `/${shared.slice(1)}`)] }),
    );
    expect(result.kept.get(`disk:${ORPHAN}`)).toBe('shared_file');
    expect(result.orphans).toEqual([]);
  });
});

describe('classify: files', () => {
  it('matches /file names without the slash to /disk paths with one, and keeps snapshot files', () => {
    const result = classify(
      observe({
        // Disk paths as the device may print them, one with a doubled slash.
        disks: [
          disk(LIVE, `/storage-pool//metal-csi/${LIVE}.img`),
          disk(SNAP_ORPHAN, `${DIR}/${SNAP_ORPHAN}.img`),
        ],
        files: [
          file('storage-pool/metal-csi', true),
          file(`storage-pool/metal-csi/${LIVE}.img`),
          file(`storage-pool/metal-csi/${SNAP_ORPHAN}.img`),
          file(`storage-pool/metal-csi/${LOOSE}.img`),
        ],
        // No PV at all: only the disk entries can keep the files.
        cluster: cluster([]),
      }),
    );
    expect(result.kept.get(`file:${DIR}/${LIVE}.img`)).toBe('disk');
    // A snapshot's file while its /disk entry remains is never an orphan file (field-lessons #3).
    expect(result.kept.get(`file:${DIR}/${SNAP_ORPHAN}.img`)).toBe('disk');
    expect(result.orphans.map((o) => o.key).sort()).toEqual(
      [`disk:${LIVE}`, `disk:${SNAP_ORPHAN}`, `file:${DIR}/${LOOSE}.img`].sort(),
    );
    expect(result.orphans.find((o) => o.kind === 'file')).toMatchObject({
      slot: LOOSE,
      role: 'volume',
      path: `${DIR}/${LOOSE}.img`,
      sizeBytes: 1024 ** 3,
    });
  });

  it('keeps a file a PV, a snapshot content, a foreign disk or a same-slot disk points at', () => {
    const viaForeign = 'pvc-77777777-7777-4777-8777-777777777777';
    const result = classify(
      observe({
        disks: [
          disk('nixos-data', `${DIR}/${viaForeign}.img`),
          disk(ORPHAN, `/other-pool/${ORPHAN}.img`),
        ],
        files: [
          file(`storage-pool/metal-csi/${LIVE}.img`),
          file(`storage-pool/metal-csi/${SNAP_LIVE}.img`),
          file(`storage-pool/metal-csi/${viaForeign}.img`),
          file(`storage-pool/metal-csi/${ORPHAN}.img`),
        ],
        cluster: cluster([LIVE, ORPHAN], [SNAP_LIVE]),
      }),
    );
    expect(Object.fromEntries(result.kept)).toMatchObject({
      [`file:${DIR}/${LIVE}.img`]: 'pv',
      [`file:${DIR}/${SNAP_LIVE}.img`]: 'snapshot_content',
      [`file:${DIR}/${viaForeign}.img`]: 'disk',
      [`file:${DIR}/${ORPHAN}.img`]: 'pv',
    });
    expect(result.orphans).toEqual([]);
    const noPv = classify(
      observe({
        disks: [disk(ORPHAN, `/other-pool/${ORPHAN}.img`)],
        files: [file(`storage-pool/metal-csi/${ORPHAN}.img`)],
      }),
    );
    expect(noPv.kept.get(`file:${DIR}/${ORPHAN}.img`)).toBe('slot_has_disk');
  });

  it('looks only at <our name>.img directly in an audited directory', () => {
    const result = classify(
      observe({
        files: [
          file('storage-pool/metal-csi/nixos-root.img'),
          file(`storage-pool/metal-csi/${LOOSE}.qcow2`),
          file(`storage-pool/metal-csi/nested/${LOOSE}.img`),
          file(`storage-pool/elsewhere/${LOOSE}.img`),
          file(`storage-pool/metal-csi/${LOOSE}.img`, true),
        ],
      }),
    );
    expect(result.orphans).toEqual([]);
    expect(result.kept.size).toBe(0);
  });

  it('audits the default directory, those of our disks and the volumePath of PVs', () => {
    expect(
      auditedDirectories(
        ['/storage-pool/metal-csi/'],
        [disk(LIVE, '/storage-pool/b//x.img'), disk('nixos-root', '/boot-pool/nixos.img')],
        { ...cluster([]), volumePaths: new Set(['/storage-pool/c']) },
      ),
    ).toEqual(['/storage-pool/b', '/storage-pool/c', '/storage-pool/metal-csi']);
  });
});

describe('advance and isDeletable', () => {
  const t0 = Date.UTC(2026, 0, 1);
  const orphanOnly = (createdAt?: number) =>
    classify(
      observe({
        disks: [disk(ORPHAN, `${DIR}/${ORPHAN}.img`)],
        createdAt: () => createdAt,
      }),
    );

  it('needs two passes and the minimum age since the first sighting', () => {
    const first = advance(new Map(), orphanOnly(), t0);
    expect(first.appeared.map((s) => s.slot)).toEqual([ORPHAN]);
    const s1 = first.sightings.get(`disk:${ORPHAN}`) as Sighting;
    expect(s1).toMatchObject({ firstSeen: t0, lastSeen: t0, passes: 1 });
    // One pass is never enough, however old.
    expect(isDeletable(s1, t0 + 100 * HOUR, HOUR)).toBe(false);
    const second = advance(first.sightings, orphanOnly(), t0 + 30 * MIN);
    expect(second.appeared).toEqual([]);
    const s2 = second.sightings.get(`disk:${ORPHAN}`) as Sighting;
    expect(s2).toMatchObject({ firstSeen: t0, lastSeen: t0 + 30 * MIN, passes: 2 });
    expect(isDeletable(s2, t0 + 30 * MIN, HOUR)).toBe(false);
    expect(isDeletable(s2, t0 + HOUR - 1, HOUR)).toBe(false);
    expect(isDeletable(s2, t0 + HOUR, HOUR)).toBe(true);
  });

  it('also waits for the minimum age since the driver created the disk', () => {
    const created = t0 + 20 * MIN; // a clock ahead of ours, or a disk re-created meanwhile
    const first = advance(new Map(), orphanOnly(created), t0);
    const s = advance(first.sightings, orphanOnly(created), t0 + 10 * MIN).sightings.get(
      `disk:${ORPHAN}`,
    ) as Sighting;
    expect(oldEnoughAt(s, HOUR)).toBe(created + HOUR);
    expect(isDeletable(s, t0 + HOUR, HOUR)).toBe(false);
    expect(isDeletable(s, created + HOUR, HOUR)).toBe(true);
  });

  it('forgets an orphan once referenced or gone, and starts over if it comes back', () => {
    const first = advance(new Map(), orphanOnly(), t0);
    const second = advance(first.sightings, orphanOnly(), t0 + HOUR);
    const withPv = classify(
      observe({ disks: [disk(ORPHAN, `${DIR}/${ORPHAN}.img`)], cluster: cluster([ORPHAN]) }),
    );
    const referenced = advance(second.sightings, withPv, t0 + 2 * HOUR);
    expect(referenced.sightings.size).toBe(0);
    expect(referenced.cleared.map((c) => c.reason)).toEqual(['pv']);
    expect(advance(second.sightings, classify(observe()), t0).cleared[0]?.reason).toBe('gone');
    const back = advance(referenced.sightings, orphanOnly(), t0 + 3 * HOUR);
    expect(back.sightings.get(`disk:${ORPHAN}`)).toMatchObject({
      firstSeen: t0 + 3 * HOUR,
      passes: 1,
    });
  });

  it('keeps an undecided sighting exactly as it was (no pass counted, nothing cleared)', () => {
    const snapshotOnly = (handles: string[] | 'unreadable') =>
      classify(
        observe({
          disks: [disk(SNAP_ORPHAN, `${DIR}/${SNAP_ORPHAN}.img`)],
          cluster: cluster([], handles),
        }),
      );
    const first = advance(new Map(), snapshotOnly([]), t0);
    const unreadable = advance(first.sightings, snapshotOnly('unreadable'), t0 + HOUR);
    expect(unreadable.cleared).toEqual([]);
    expect(unreadable.sightings.get(`disk:${SNAP_ORPHAN}`)).toEqual(
      first.sightings.get(`disk:${SNAP_ORPHAN}`),
    );
  });
});
