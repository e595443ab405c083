// The rds-emulator executable: prints its host key, serves SSH, and takes faults through its
// loopback admin endpoint.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { connectSsh } from '../helpers/ssh-exec.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';

const CLI = new URL('../../dist/rds/emulator/emulator-cli.js', import.meta.url).pathname;
let dir: TempDir;
let kill: (() => void) | undefined;

afterEach(() => {
  kill?.();
  dir.remove();
});

async function post(url: string, body: unknown): Promise<unknown> {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return response.json();
}

describe('rds-emulator', () => {
  it('serves SSH, prints its host key, and arms faults from the admin endpoint', async () => {
    dir = tempDir('emu-cli-');
    writeFileSync(`${dir.path}/pw`, 'from-a-file\n');
    const child = spawn(
      process.execPath,
      [
        CLI,
        '--data-dir',
        `${dir.path}/data`,
        '--listen',
        '127.0.0.1:0',
        '--password-file',
        `${dir.path}/pw`,
        '--admin-listen',
        '127.0.0.1:0',
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    kill = () => child.kill('SIGKILL');
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    await waitFor(() => out.includes('admin endpoint'), { timeoutMs: 15_000 });
    expect(out).toMatch(/host key SHA256:[A-Za-z0-9+/]{43}\n/);
    expect(out).toMatch(/known_hosts: \[127\.0\.0\.1\]:\d+ ssh-ed25519 AAAA/);
    const port = Number(/listening on 127\.0\.0\.1:(\d+)/.exec(out)?.[1]);
    const admin = /admin endpoint (http:\/\/127\.0\.0\.1:\d+)\/state/.exec(out)?.[1] ?? '';
    const ssh = await connectSsh({ host: '127.0.0.1', port, password: 'from-a-file' });
    await post(`${admin}/faults`, {
      kind: 'fail',
      message: 'execution error',
      match: { pattern: 'slot=x' },
    });
    const failed = await ssh.exec(
      '/disk add type=file file-path=/storage-pool/x.img file-size=1M slot=x',
    );
    expect(failed.stdout).toBe('failure: execution error\r\n');
    const commands = (await (await fetch(`${admin}/commands`)).json()) as {
      line: string;
      outcome: string;
    }[];
    expect(commands.at(-1)).toMatchObject({
      line: '/disk add type=file file-path=/storage-pool/x.img file-size=1M slot=x',
      outcome: 'failed by fault: execution error',
    });
    await post(`${admin}/settings`, { freeBytesCap: 0 });
    const state = (await (await fetch(`${admin}/state`)).json()) as {
      freeBytes: number;
      disks: unknown[];
    };
    expect(state).toMatchObject({ freeBytes: 0, disks: [] });
    const bad = await fetch(`${admin}/faults`, { method: 'POST', body: '{"kind":"explode"}' });
    expect(bad.status).toBe(400);
    ssh.close();
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('refuses to start when nobody could log in, or with an admin endpoint off loopback', () => {
    dir = tempDir('emu-cli-');
    const none = spawnSync(process.execPath, [CLI, '--data-dir', dir.path], { encoding: 'utf8' });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('give --password, --password-file or --authorized-keys');
    const open = spawnSync(
      process.execPath,
      [
        CLI,
        '--data-dir',
        dir.path,
        '--password',
        'x',
        '--listen',
        '127.0.0.1:0',
        '--admin-listen',
        '0.0.0.0:0',
      ],
      {
        encoding: 'utf8',
      },
    );
    expect(open.status).toBe(2);
    expect(open.stderr).toContain('--admin-listen must be a loopback address');
  });
});
