import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { TrafficMonitor, renderMonitor } from './traffic.js';

const dirs: string[] = [];
afterEach(() => dirs.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true })));

/** A fake /sys/block with one loop device backed by `backing`, with the given stat fields. */
function sysBlock(backing: string): { root: string; write(stat: number[]): void } {
  const root = mkdtempSync('/tmp/sysblock-');
  dirs.push(root);
  mkdirSync(join(root, 'loop3', 'loop'), { recursive: true });
  mkdirSync(join(root, 'loop4'), { recursive: true }); // detached: no loop/ directory
  writeFileSync(join(root, 'loop3', 'loop', 'backing_file'), `${backing}\n`);
  return { root, write: (stat) => writeFileSync(join(root, 'loop3', 'stat'), stat.join(' ')) };
}

describe('monitor-traffic', () => {
  it('reproduces the device capture 4.5 from kernel counters and their rate over a second', () => {
    const sys = sysBlock('/data/fs/storage-pool/metal-csi/pvc-1.img');
    let now = 0;
    const monitor = new TrafficMonitor('/data/fs', () => now, sys.root);
    // read: ops, merges, sectors, ms; write: same; in-flight, active, wait; discard x4; flush x2
    const later = [
      243401,
      0,
      33131503616 / 512,
      0,
      17667231,
      0,
      515659673600 / 512,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
    ];
    const earlier = [...later];
    earlier[4] = 17667231 - 76; // 76 write ops in the second between samples
    earlier[6] = 515659673600 / 512 - 3125; // 3125 sectors = 1.6 MB = 12.8 Mbit
    sys.write(earlier);
    monitor.sample('storage-pool', undefined);
    now = 1000;
    sys.write(later);
    const output = renderMonitor('storage-pool', monitor.sample('storage-pool', undefined));
    expect(output).toBe(
      readFileSync(
        new URL('../../../test/fixtures/routeros/disk-monitor-traffic-once.txt', import.meta.url),
        'utf8',
      ),
    );
  });

  it('counts only loop devices backed by the requested files', () => {
    const sys = sysBlock('/data/fs/storage-pool/a.img (deleted)');
    sys.write([5, 0, 8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const monitor = new TrafficMonitor('/data/fs', () => 0, sys.root);
    expect(monitor.sample('a', ['/data/fs/storage-pool/a.img']).counters.readOps).toBe(5);
    expect(monitor.sample('b', ['/data/fs/storage-pool/b.img']).counters.readOps).toBe(0);
    expect(
      new TrafficMonitor('/other', () => 0, sys.root).sample('pool', undefined).counters.readOps,
    ).toBe(0);
  });
});
