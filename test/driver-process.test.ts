// The real executable (dist/cli.js, built by the global setup): help, bad config, quickstart,
// JSON logs, and SIGTERM -> drained, socket removed, exit 0.
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';

import { afterEach, describe, expect, it } from 'vitest';

import { OPTIONS, envName } from '../src/config/load-config.js';
import { csiClients } from './helpers/csi-client.js';
import { connectSsh } from './helpers/ssh-exec.js';
import { tempDir, type TempDir } from './helpers/temp-dir.js';
import { waitFor } from './helpers/wait-for.js';

const CLI = new URL('../dist/cli.js', import.meta.url).pathname;
const children: ChildProcessWithoutNullStreams[] = [];
const dirs: TempDir[] = [];

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
  for (const dir of dirs.splice(0)) dir.remove();
});

function startCli(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { PATH: process.env['PATH'] ?? '', ...env },
  });
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => resolve(code)),
  );
  return { child, exited, stdout: () => stdout, stderr: () => stderr };
}

describe('rds-csi-ts executable', () => {
  it('prints complete help and exits 0', () => {
    const result = spawnSync(process.execPath, [CLI, '--help'], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    for (const spec of OPTIONS) {
      expect(result.stdout).toContain(spec.flags);
      expect(result.stdout).toContain(envName(spec));
    }
  });

  it('wraps --help to the terminal width ($COLUMNS when piped), losing nothing', () => {
    const help = (columns: number) =>
      spawnSync(process.execPath, [CLI, '--help'], {
        encoding: 'utf8',
        env: { PATH: process.env['PATH'] ?? '', COLUMNS: String(columns) },
      }).stdout;
    const narrow = help(80);
    const tooWide = narrow.split('\n').filter((line) => line.length > 80);
    expect(tooWide).toEqual([]);
    const flat = narrow.replace(/\s+/g, ' ');
    for (const spec of OPTIONS) {
      expect(flat).toContain(spec.flags);
      expect(flat).toContain(`(env: ${envName(spec)})`);
      expect(flat).toContain(`[${spec.accepts}]`.replace(/\s+/g, ' '));
    }
    // Wide enough for two columns: each description starts beside its flag.
    const wide = help(160);
    expect(wide.split('\n').every((line) => line.length <= 160)).toBe(true);
    expect(wide).toMatch(/^ {2}--mode <mode> +which CSI services to serve/m);
    expect(narrow).toMatch(/^ {2}--mode <mode>\n {6}which CSI services to serve/m);
  });

  it('exits 2 with one actionable line per bad value', () => {
    const result = spawnSync(process.execPath, [CLI, '--mode', 'both', '--log-level', 'loud'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('invalid configuration (2 problems)');
    expect(result.stderr).toContain(
      '--mode (env RDS_CSI_MODE, YAML mode; from flag): "both" is not accepted',
    );
    expect(result.stderr).toContain('--log-level (env RDS_CSI_LOG_LEVEL');
    expect(result.stdout).toBe('');
  });

  it('refuses controller mode without the Kubernetes API (no fencing otherwise)', () => {
    const args = [
      '--mode',
      'controller',
      '--rds-address',
      '10.0.0.1',
      '--rds-password-file',
      '/dev/null',
    ];
    const result = spawnSync(process.execPath, [CLI, ...args, '--rds-insecure-skip-host-key'], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] ?? '' },
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(
      '--mode controller needs the Kubernetes API for attachment fencing',
    );
    const bad = spawnSync(
      process.execPath,
      [CLI, ...args, '--rds-insecure-skip-host-key', '--kubeconfig', '/no/such/file'],
      { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } },
    );
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--kubeconfig /no/such/file cannot be read');
  });

  it('quickstart serves, says what to try next, and stops cleanly on SIGTERM', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const run = startCli(['--quickstart', '--data-dir', `${dir.path}/state`]);
    const socket = `${dir.path}/state/csi.sock`;
    await waitFor(() => run.stdout().includes('Try next:'), {
      what: 'the quickstart banner',
      timeoutMs: 15_000,
    });
    expect(run.stdout()).toContain(`serving Identity, Controller and Node on unix://${socket}`);
    const clients = csiClients(`unix://${socket}`);
    expect(await clients.identity.Probe({})).toEqual({ ready: { value: true } });
    clients.close();
    // The embedded RouterOS emulator answers the ssh line the banner prints.
    const sshLine =
      /ssh -p (\d+) admin@127\.0\.0\.1 '\/disk print detail'\n.*\(password: ([0-9a-f]+)\)/.exec(
        run.stdout(),
      );
    expect(sshLine).not.toBeNull();
    const ssh = await connectSsh({
      host: '127.0.0.1',
      port: Number(sshLine![1]),
      password: sshLine![2]!,
    });
    expect((await ssh.exec('/disk print detail')).stdout).toMatch(
      /^Flags: .*\r\n 0 BM {10}type=partition slot="storage-pool"/,
    );
    ssh.close();
    expect(existsSync(`${dir.path}/state/rds-emulator/ssh_host_ed25519_key`)).toBe(true);
    run.child.kill('SIGTERM');
    expect(await run.exited).toBe(0);
    expect(run.stdout()).toMatch(/info {2}\[driver\] stopped drained=true abandoned=0/);
    expect(existsSync(socket)).toBe(false);
  });

  it('logs JSON by default, with settings from the environment', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const run = startCli([], {
      RDS_CSI_ENDPOINT: `unix://${dir.path}/csi.sock`,
      RDS_CSI_NODE_ID: 'env-node',
      RDS_CSI_MODE: 'node',
    });
    await waitFor(() => run.stdout().includes('"message":"serving"'), { timeoutMs: 15_000 });
    const first = JSON.parse(run.stdout().split('\n')[0] ?? '') as Record<string, unknown>;
    expect(first).toMatchObject({
      level: 'info',
      message: 'starting',
      component: 'driver',
      mode: 'node',
      nodeId: 'env-node',
    });
    run.child.kill('SIGINT');
    expect(await run.exited).toBe(0);
  });

  it('exits 1 with a clear reason when another driver serves the socket', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const endpoint = `unix://${dir.path}/csi.sock`;
    const first = startCli(['--mode', 'node', '--endpoint', endpoint]);
    await waitFor(() => first.stdout().includes('"message":"serving"'), { timeoutMs: 15_000 });
    const second = startCli(['--mode', 'node', '--endpoint', endpoint]);
    expect(await second.exited).toBe(1);
    expect(second.stdout()).toContain('another process is already serving');
    expect(first.child.exitCode).toBe(null);
  });
});
