// The orphan auditor's passes with a simulated clock and in-memory ports: reporting, the two-pass
// and age rule, the fresh check under the lock, and doing nothing when a source cannot answer.
import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';

import { VolumeBusyError } from '../errors.js';
import type {
  ClusterReferences,
  LogFields,
  Logger,
  OrphanKind,
  OrphanStorage,
  RdsDisk,
  RdsFile,
} from '../ports.js';
import { OrphanAuditor, type OrphanAuditorOptions } from './orphan-auditor.js';

const DIR = '/storage-pool/metal-csi';
const LIVE = 'pvc-11111111-1111-4111-8111-111111111111';
const ORPHAN = 'pvc-22222222-2222-4222-8222-222222222222';
const CREATING = 'pvc-33333333-3333-4333-8333-333333333333';
const LOOSE = 'pvc-66666666-6666-4666-8666-666666666666';
const MIN = 60_000;
const HOUR = 60 * MIN;

/** The RDS as disks and files kept apart (a file can outlive its disk: field-lessons #2). */
class MemoryStorage implements OrphanStorage {
  readonly disks = new Map<string, RdsDisk>();
  readonly files = new Set<string>();
  readonly removed: string[] = [];
  failReads = false;

  addDisk(slot: string, path = `${DIR}/${slot}.img`): void {
    this.disks.set(slot, {
      slot,
      type: 'file',
      filePath: path,
      sizeBytes: 1024 ** 3,
      nvmeExport: undefined,
      comment: '',
    });
    this.files.add(path);
  }
  listAllDisks(): Promise<RdsDisk[]> {
    if (this.failReads) return Promise.reject(new Error('RDS not connected'));
    return Promise.resolve([...this.disks.values()]);
  }
  getDisk(slot: string): Promise<RdsDisk | undefined> {
    return Promise.resolve(this.disks.get(slot));
  }
  listFiles(directory: string): Promise<RdsFile[]> {
    if (this.failReads) return Promise.reject(new Error('RDS not connected'));
    return Promise.resolve(
      [...this.files]
        .filter((p) => p.startsWith(`${directory}/`))
        .map((path) => ({ path, isDirectory: false, approxSizeBytes: 1024 ** 3 })),
    );
  }
  removeDisk(slot: string): Promise<void> {
    const disk = this.disks.get(slot);
    this.disks.delete(slot);
    if (disk?.filePath !== undefined) this.files.delete(disk.filePath);
    this.removed.push(`disk:${slot}`);
    return Promise.resolve();
  }
  removeFile(path: string): Promise<void> {
    this.files.delete(path);
    this.removed.push(`file:${path}`);
    return Promise.resolve();
  }
}

interface Line {
  readonly level: string;
  readonly message: string;
  readonly fields: LogFields;
}

function memoryLog(lines: Line[]): Logger {
  const write =
    (level: string) =>
    (message: string, fields: LogFields = {}) =>
      void lines.push({ level, message, fields });
  const log: Logger = {
    error: write('error'),
    warn: write('warn'),
    info: write('info'),
    debug: write('debug'),
    child: () => log,
  };
  return log;
}

function setup(overrides: Partial<OrphanAuditorOptions> = {}) {
  const clock = new SimulatedClock();
  clock.set(Date.UTC(2026, 0, 1));
  const storage = new MemoryStorage();
  const pvs = new Set<string>();
  const busy = new Map<string, string>();
  const lines: Line[] = [];
  const decisions: string[] = [];
  const passes: string[] = [];
  const current: Record<OrphanKind, number>[] = [];
  const cluster = {
    fail: false,
    /** Handles that only a later (fresh) list shows, e.g. a PV created meanwhile. */
    nextLoads: [] as string[][],
    loads: 0,
  };
  const options: OrphanAuditorOptions = {
    storage,
    cluster: {
      load: (): Promise<ClusterReferences> => {
        cluster.loads++;
        if (cluster.fail) return Promise.reject(new Error('connect ECONNREFUSED'));
        for (const handle of cluster.nextLoads.shift() ?? []) pvs.add(handle);
        return Promise.resolve({
          volumeHandles: new Set(pvs),
          volumePaths: new Set(),
          snapshotHandles: new Set(),
        });
      },
    },
    activity: {
      busyWith: (slot) => busy.get(slot),
      exclusive: async (slot, operation, fn) => {
        const holder = busy.get(slot);
        if (holder !== undefined) throw new VolumeBusyError(`${slot} busy with ${holder}`);
        busy.set(slot, operation);
        try {
          return await fn();
        } finally {
          busy.delete(slot);
        }
      },
    },
    leadership: { isLeader: () => true, leader: () => 'me' },
    clock,
    log: memoryLog(lines),
    metrics: {
      current: (counts) => void current.push({ ...counts }),
      decision: (kind, decision, reason) => void decisions.push(`${kind}/${decision}/${reason}`),
      pass: (result) => void passes.push(result),
    },
    intervalMs: 10 * MIN,
    minAgeMs: HOUR,
    deleteEnabled: false,
    directories: [DIR],
    createdAt: () => undefined,
    ...overrides,
  };
  storage.addDisk(LIVE);
  pvs.add(LIVE);
  storage.addDisk(ORPHAN);
  storage.addDisk('nixos-root', '/storage-pool/metal-csi/nixos-root.img');
  storage.files.add(`${DIR}/${LOOSE}.img`);
  return {
    auditor: new OrphanAuditor(options),
    options,
    clock,
    storage,
    pvs,
    busy,
    cluster,
    lines,
    decisions,
    passes,
    current,
  };
}

describe('OrphanAuditor', () => {
  it('dry-run (the default): reports, says once that it would delete, removes nothing', async () => {
    const t = setup();
    await t.auditor.runPass();
    expect(t.decisions).toEqual(['disk/detected/unreferenced', 'file/detected/unreferenced']);
    expect(t.current.at(-1)).toEqual({ disk: 1, file: 1 });
    t.clock.increment(HOUR);
    await t.auditor.runPass();
    t.clock.increment(10 * MIN);
    await t.auditor.runPass();
    expect(t.decisions.slice(2)).toEqual(['disk/skipped/dry_run', 'file/skipped/dry_run']);
    expect(t.storage.removed).toEqual([]);
    expect(t.storage.disks.has(ORPHAN)).toBe(true);
    const report = t.auditor.describe();
    expect(report.orphans.map((o) => [o.kind, o.slot, o.passes, o.wouldDelete])).toEqual([
      ['disk', ORPHAN, 3, false],
      ['file', LOOSE, 3, false],
    ]);
    expect(report.orphans[0]?.deletion).toMatch(/dry-run/);
    const detected = t.lines.find((l) => l.message === 'orphan detected');
    expect(detected?.fields).toMatchObject({ kind: 'disk', slot: ORPHAN, decision: 'detected' });
  });

  it('deletes only true orphans, after two passes spanning --orphan-min-age', async () => {
    const t = setup({ deleteEnabled: true });
    await t.auditor.runPass();
    t.clock.increment(30 * MIN);
    await t.auditor.runPass(); // second pass, but only 30 min old
    expect(t.storage.removed).toEqual([]);
    expect(t.auditor.describe().orphans[0]?.eligibleAt).toBe(
      new Date(Date.UTC(2026, 0, 1) + HOUR).toISOString(),
    );
    t.clock.increment(30 * MIN);
    const outcome = await t.auditor.runPass();
    expect(outcome).toEqual({ result: 'completed', orphans: 0, deleted: 2 });
    expect(t.storage.removed.sort()).toEqual([`disk:${ORPHAN}`, `file:${DIR}/${LOOSE}.img`]);
    expect([...t.storage.disks.keys()].sort()).toEqual(['nixos-root', LIVE]);
    expect(t.storage.files.has(`${DIR}/${LIVE}.img`)).toBe(true);
    expect(t.decisions.filter((d) => d.includes('deleted'))).toEqual([
      'disk/deleted/unreferenced',
      'file/deleted/unreferenced',
    ]);
    expect(t.current.at(-1)).toEqual({ disk: 0, file: 0 });
  });

  it('never deletes what a fresh list shows referenced just before deleting', async () => {
    const t = setup({ deleteEnabled: true });
    await t.auditor.runPass();
    t.clock.increment(HOUR);
    // The pass's own list does not show it yet; the check under the lock does.
    t.cluster.nextLoads = [[], [ORPHAN]];
    await t.auditor.runPass();
    expect(t.storage.removed).toEqual([`file:${DIR}/${LOOSE}.img`]);
    expect(t.storage.disks.has(ORPHAN)).toBe(true);
    expect(t.decisions).toContain('disk/cleared/pv');
  });

  it('never counts a disk whose CreateVolume runs, however long, nor deletes one whose lock is taken', async () => {
    const t = setup({ deleteEnabled: true });
    t.storage.addDisk(CREATING);
    t.busy.set(CREATING, 'CreateVolume');
    for (let i = 0; i < 4; i++) {
      await t.auditor.runPass();
      t.clock.increment(HOUR);
    }
    expect(t.storage.disks.has(CREATING)).toBe(true);
    expect(t.decisions.some((d) => d.includes(CREATING))).toBe(false);
    expect(t.auditor.describe().orphans.map((o) => o.slot)).not.toContain(CREATING);
    // A DeleteVolume that takes the orphan's lock between the pass's read and the deletion wins.
    const u = setup({ deleteEnabled: true });
    const activity = {
      busyWith: () => undefined,
      exclusive: () => Promise.reject(new VolumeBusyError('DeleteVolume holds it')),
    };
    const raced = new OrphanAuditor({ ...u.options, activity });
    await raced.runPass();
    await raced.runPass();
    u.clock.increment(2 * HOUR);
    await raced.runPass();
    expect(u.storage.removed).toEqual([]);
    expect(u.decisions.filter((d) => d.endsWith('in_flight'))).toEqual([
      'disk/skipped/in_flight',
      'file/skipped/in_flight',
    ]);
  });

  it('skips the pass and changes nothing when Kubernetes or the RDS cannot be read', async () => {
    const t = setup({ deleteEnabled: true });
    await t.auditor.runPass();
    t.clock.increment(2 * HOUR);
    t.cluster.fail = true;
    expect((await t.auditor.runPass()).result).toBe('kubernetes_unavailable');
    expect(t.auditor.describe().orphans.map((o) => o.passes)).toEqual([1, 1]);
    t.cluster.fail = false;
    t.storage.failReads = true;
    expect((await t.auditor.runPass()).result).toBe('rds_unavailable');
    expect(t.storage.removed).toEqual([]);
    expect(t.passes).toEqual(['completed', 'kubernetes_unavailable', 'rds_unavailable']);
    expect(t.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      'orphan audit pass skipped: Kubernetes could not be read; nothing changes',
      'orphan audit pass skipped: the RDS could not be read; nothing changes',
    ]);
    // With both back, the count goes on from the same first sighting.
    t.storage.failReads = false;
    await t.auditor.runPass();
    expect(t.storage.removed.length).toBe(2);
  });

  it('does nothing on a replica that is not the leader', async () => {
    const t = setup({
      deleteEnabled: true,
      leadership: { isLeader: () => false, leader: () => 'b' },
    });
    expect((await t.auditor.runPass()).result).toBe('not_leader');
    expect(t.cluster.loads).toBe(0);
    expect(t.decisions).toEqual([]);
  });

  it('runs the first pass at start, then once per interval, and stops cleanly', async () => {
    const t = setup();
    t.auditor.start();
    expect(() => t.auditor.start()).toThrow('already running');
    t.clock.increment(0);
    await flush();
    expect(t.passes).toEqual(['completed']);
    t.clock.increment(10 * MIN);
    await flush();
    expect(t.passes).toEqual(['completed', 'completed']);
    await t.auditor.stop();
    t.clock.increment(60 * MIN);
    await flush();
    expect(t.passes.length).toBe(2);
    expect(t.auditor.describe()).toMatchObject({ running: false, orphans: [] });
  });
});

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}
