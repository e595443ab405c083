// Golden tests: over real SSH, every command of routeros-cli.md section 3 answers as the device
// does, and the outputs with device captures match those captures byte for byte.
import { readFileSync, utimesSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, beforeEach, describe, expect, it } from 'vitest';

import { emulatorFixture, type EmulatorFixture } from '../helpers/emulator-fixture.js';

const fixture = (name: string): string =>
  readFileSync(new URL(`../fixtures/routeros/${name}`, import.meta.url), 'utf8');

const CREATE_123 =
  '/disk add type=file file-path=/storage-pool/test.img file-size=50G slot=pvc-test-123 nvme-tcp-export=yes ' +
  'nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-test-123';

let f: EmulatorFixture;

beforeEach(async () => {
  f = await emulatorFixture();
});

afterEach(async () => {
  await f.stop();
});

describe('golden output', () => {
  it('prints one disk exactly as the device capture 4.1', async () => {
    expect(await f.ssh.exec(CREATE_123)).toEqual({ stdout: '', stderr: '', code: 0 });
    const { stdout, code } = await f.ssh.exec('/disk print detail where slot=pvc-test-123');
    expect(code).toBe(0);
    const lines = stdout.split('\r\n');
    expect(lines[0]).toMatch(/^Flags: /);
    // The capture begins at the first property: strip the index/flags prefix of the first line.
    expect(lines[1]).toMatch(/^ 0 {13}type=file/);
    const body = [lines[1]!.slice(15), ...lines.slice(2)].join('\r\n');
    // Items end with a blank line; the capture stops at the last property line.
    expect(body.replace(/(\r\n)+$/, '\r\n')).toBe(fixture('disk-print-detail-one.txt'));
  });

  it('prints files exactly as the device capture 4.3, in creation order', async () => {
    const add = (slot: string, size: string) =>
      f.ssh.exec(
        `/disk add type=file file-path=/storage-pool/metal-csi/${slot}.img file-size=${size} slot=${slot}`,
      );
    expect((await add('pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f', '10G')).code).toBe(0);
    expect((await add('pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8', '1G')).code).toBe(0);
    const fs = join(f.dir.path, 'fs/storage-pool/metal-csi');
    const at = (text: string) => new Date(`${text}Z`);
    utimesSync(
      join(fs, 'pvc-ccdecfad-a8bf-572e-9120-464c4d99f12f.img'),
      at('2025-11-11T14:32:41'),
      at('2025-11-11T14:32:41'),
    );
    utimesSync(
      join(fs, 'pvc-0f923194-922a-5dd8-b376-c2c6ccb56dd8.img'),
      at('2025-11-11T16:47:07'),
      at('2025-11-11T16:47:07'),
    );
    utimesSync(fs, at('2025-11-11T16:47:07'), at('2025-11-11T16:47:07'));
    const { stdout, code } = await f.ssh.exec(
      '/file print detail where name~"storage-pool/metal-csi"',
    );
    expect(code).toBe(0);
    expect(stdout.replace(/(\r\n)+$/, '\r\n')).toBe(fixture('file-print-detail.txt'));
  });

  it('answers every section 3 command: mutations silently, reads in the device format', async () => {
    const run = (command: string) => f.ssh.exec(command);
    // Create, get one, list volumes, list snapshots, capacity.
    const create =
      '/disk add type=file file-path=/storage-pool/metal-csi/pvc-a.img file-size=1G slot=pvc-a nvme-tcp-export=yes ' +
      'nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-a';
    expect(await run(create)).toEqual({ stdout: '', stderr: '', code: 0 });
    expect((await run('/disk print detail where slot=pvc-a')).stdout).toContain('slot="pvc-a"');
    expect((await run('/disk print detail where slot~"pvc"')).stdout.match(/^ \d/gm)).toHaveLength(
      1,
    );
    // Snapshot (copy-from, no NVMe flags), list snapshots, restore.
    const snapshot =
      '/disk add type=file copy-from=[find slot=pvc-a] file-path=/storage-pool/metal-csi/snap-a.img slot=snap-a';
    expect(await run(snapshot)).toEqual({ stdout: '', stderr: '', code: 0 });
    const snaps = (await run('/disk print detail where slot~"snap-"')).stdout;
    expect(snaps).toContain('slot="snap-a"');
    expect(snaps).toContain('nvme-tcp-export=no');
    expect(snaps).not.toContain('nvme-tcp-server-nqn');
    const restore =
      '/disk add type=file copy-from=[find slot=snap-a] file-path=/storage-pool/metal-csi/pvc-b.img file-size=2G ' +
      'slot=pvc-b nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-b';
    expect(await run(restore)).toEqual({ stdout: '', stderr: '', code: 0 });
    const capacity = (await run('/disk print detail where mount-point="storage-pool"')).stdout;
    expect(capacity).toMatch(/size=107 374 182 400 free=\d{1,3}( \d{3})* use=\d+%/);
    // Resize, then read back exact bytes.
    expect(await run('/disk set [find slot=pvc-a] file-size=3G')).toEqual({
      stdout: '',
      stderr: '',
      code: 0,
    });
    expect((await run('/disk print detail where slot=pvc-a')).stdout).toContain(
      'size=3 221 225 472 ',
    );
    // List files, delete disk, delete file (no regex escaping in [find name="..."]).
    expect((await run('/file print detail where name~"storage-pool/metal-csi"')).stdout).toContain(
      'name=storage-pool/metal-csi/pvc-a.img',
    );
    expect(await run('/disk remove [find slot=pvc-a]')).toEqual({
      stdout: '',
      stderr: '',
      code: 0,
    });
    expect(await run('/file remove [find name="storage-pool/metal-csi/snap-a.img"]')).toEqual({
      stdout: '',
      stderr: '',
      code: 0,
    });
    // Disk metrics.
    const metrics = await run('/disk monitor-traffic storage-pool once');
    expect(metrics.code).toBe(0);
    const lines = metrics.stdout.split('\r\n').filter((l) => l !== '');
    expect(lines[0]).toMatch(/^ {18}slot: +storage-pool$/);
    // Keys and values right-aligned: every line has the same width (4.5).
    expect(new Set(lines.map((l) => l.length)).size).toBe(1);
    expect(lines).toHaveLength(22);
  });

  it('prints only the legend when nothing matches', async () => {
    const { stdout } = await f.ssh.exec('/disk print detail where slot=pvc-missing');
    expect(stdout).toMatch(/^Flags: [^\r\n]*\r\n$/);
  });
});
