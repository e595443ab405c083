// Real data and durability: disks are sparse files whose content copy-from copies; the export
// table follows the disks; everything acknowledged survives a restart and a kill -9.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { EXPORTS_FILE, STATE_FILE } from '../../src/rds/emulator/state-store.js';
import {
  TEST_PASSWORD,
  emulatorFixture,
  type EmulatorFixture,
} from '../helpers/emulator-fixture.js';
import { connectSsh, type SshSession } from '../helpers/ssh-exec.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const ADD = (slot: string, extra = '') =>
  `/disk add type=file file-path=/storage-pool/metal-csi/${slot}.img file-size=64M slot=${slot} ${extra}`.trim();

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

let f: EmulatorFixture | undefined;
afterEach(async () => {
  await f?.stop();
  f = undefined;
});

describe('disk files', () => {
  it('creates sparse backing files and copies their content with copy-from', async () => {
    f = await emulatorFixture();
    await f.ssh.exec(ADD('pvc-src'));
    const source = join(f.dir.path, 'fs/storage-pool/metal-csi/pvc-src.img');
    expect(statSync(source).size).toBe(64 * 1024 * 1024);
    expect(statSync(source).blocks * 512).toBeLessThan(1024 * 1024); // sparse: nothing allocated yet
    // Data written through the node's loop device lands in the file; write it directly here.
    const fd = openSync(source, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xab), 0, 4096, 10 * 1024 * 1024);
    closeSync(fd);
    expect(
      (
        await f.ssh.exec(
          '/disk add type=file copy-from=[find slot=pvc-src] file-path=/storage-pool/metal-csi/snap.img slot=snap',
        )
      ).code,
    ).toBe(0);
    const copy = join(f.dir.path, 'fs/storage-pool/metal-csi/snap.img');
    expect(sha(copy)).toBe(sha(source));
    expect(statSync(copy).blocks * 512).toBeLessThan(1024 * 1024); // holes kept
    // A restore may be larger than its source: content first, zeros after.
    await f.ssh.exec(
      '/disk add type=file copy-from=[find slot=snap] file-path=/storage-pool/metal-csi/pvc-r.img file-size=128M slot=pvc-r',
    );
    const restored = readFileSync(join(f.dir.path, 'fs/storage-pool/metal-csi/pvc-r.img'));
    expect(restored.length).toBe(128 * 1024 * 1024);
    expect(
      restored.subarray(10 * 1024 * 1024, 10 * 1024 * 1024 + 4096).every((b) => b === 0xab),
    ).toBe(true);
  });

  it('keeps the export table in step with exported disks', async () => {
    f = await emulatorFixture();
    const exportsFile = join(f.dir.path, EXPORTS_FILE);
    await f.ssh.exec(
      ADD(
        'pvc-1',
        'nvme-tcp-export=yes nvme-tcp-server-port=4420 nvme-tcp-server-nqn=nqn.2000-02.com.mikrotik:pvc-1',
      ),
    );
    await f.ssh.exec(ADD('snap-1'));
    expect(JSON.parse(readFileSync(exportsFile, 'utf8'))).toEqual([
      {
        nqn: 'nqn.2000-02.com.mikrotik:pvc-1',
        port: 4420,
        slot: 'pvc-1',
        backingFile: join(f.dir.path, 'fs/storage-pool/metal-csi/pvc-1.img'),
        sizeBytes: 64 * 1024 * 1024,
      },
    ]);
    await f.ssh.exec('/disk set [find slot=pvc-1] nvme-tcp-export=no');
    expect(JSON.parse(readFileSync(exportsFile, 'utf8'))).toEqual([]);
  });

  it('keeps disks, files and content across a restart', async () => {
    const dir = tempDir('emu-restart-');
    f = await emulatorFixture({ dataDir: dir.path });
    await f.ssh.exec(ADD('pvc-1', 'comment="keep me"'));
    const file = join(f.dir.path, 'fs/storage-pool/metal-csi/pvc-1.img');
    writeFileSync(file, Buffer.alloc(512, 7), { flag: 'r+' });
    const before = sha(file);
    const dataDir = f.dir.path;
    f.ssh.close();
    await f.emulator.stop();
    f = await emulatorFixture({ dataDir });
    const printed = (await f.ssh.exec('/disk print detail where slot=pvc-1')).stdout;
    expect(printed).toContain(';;; keep me');
    expect(sha(file)).toBe(before);
    // Ids continue where they stopped: a new disk does not reuse one.
    await f.ssh.exec(ADD('pvc-2'));
    const ids = f.emulator.state().disks.map((d) => d.id);
    expect(new Set(ids).size).toBe(2);
    await f.stop();
    f = undefined;
    dir.remove();
  });
});

describe('a command the emulator itself cannot run', () => {
  it('answers a failure on that channel, records it and keeps serving', async () => {
    f = await emulatorFixture();
    // The state file's temp name taken by a directory: persisting throws EISDIR, an error of the
    // emulator's own disk, not a device answer. It used to be an unhandled rejection (process exit).
    const blocker = join(f.dir.path, `${STATE_FILE}.tmp-${String(process.pid)}`);
    mkdirSync(blocker);
    const failed = await f.ssh.exec(ADD('pvc-eisdir'));
    expect(failed.code).toBe(f.emulator.faults.errorExitStatus); // as for any device failure
    expect(failed.stdout).toBe('failure: emulator internal error\r\n');
    const errors = f.emulator.commands.internalErrors();
    expect(errors.map((e) => e.line)).toEqual([ADD('pvc-eisdir')]);
    expect(errors[0]?.message).toMatch(/EISDIR/);
    expect(f.emulator.commands.list().at(-1)?.outcome).toMatch(
      /^emulator internal error: .*EISDIR/,
    );
    rmdirSync(blocker);
    // Same connection, next command: the emulator is still there.
    expect((await f.ssh.exec('/system identity print')).stdout).toBe('  name: RDS\r\n');
    expect((await f.ssh.exec(ADD('pvc-after'))).code).toBe(0);
  });
});

describe('kill -9', () => {
  it('loses nothing that was acknowledged', async () => {
    const dir = tempDir('emu-kill-');
    const cli = new URL('../../dist/rds/emulator/emulator-cli.js', import.meta.url).pathname;
    const start = () => {
      const child = spawn(
        process.execPath,
        [
          cli,
          '--data-dir',
          dir.path,
          '--listen',
          '127.0.0.1:0',
          '--password',
          TEST_PASSWORD,
          '--latency',
          'realistic',
        ],
        {
          stdio: ['ignore', 'pipe', 'inherit'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      const port = waitFor(() => /listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1], {
        timeoutMs: 15_000,
      }).then(Number);
      return { child, port };
    };
    try {
      const first = start();
      const ssh: SshSession = await connectSsh({
        host: '127.0.0.1',
        port: await first.port,
        password: TEST_PASSWORD,
      });
      const acknowledged: string[] = [];
      const issued: Promise<void>[] = [];
      // ~0.5 s per mutation, serialized: the kill lands in the middle of the stream.
      for (let i = 0; i < 12; i++) {
        const slot = `pvc-${i}`;
        issued.push(
          ssh.exec(ADD(slot)).then(
            (r) => {
              if (r.code === 0 && r.stdout === '') acknowledged.push(slot);
            },
            () => undefined,
          ),
        );
      }
      await waitFor(() => acknowledged.length >= 3, { timeoutMs: 15_000 });
      first.child.kill('SIGKILL');
      await Promise.all(issued);
      expect(acknowledged.length).toBeLessThan(12);
      ssh.close();
      const second = start();
      const again = await connectSsh({
        host: '127.0.0.1',
        port: await second.port,
        password: TEST_PASSWORD,
      });
      const listed = (await again.exec('/disk print terse where slot~"pvc-"')).stdout;
      again.close();
      second.child.kill('SIGTERM');
      for (const slot of acknowledged) expect(listed).toContain(`slot=${slot} `);
      // No torn state: every disk listed has its backing file.
      for (const slot of [...listed.matchAll(/slot=(pvc-\d+) /g)].map((m) => m[1])) {
        expect(statSync(join(dir.path, `fs/storage-pool/metal-csi/${slot}.img`)).isFile()).toBe(
          true,
        );
      }
    } finally {
      dir.remove();
    }
  });
});
