// nvme-transport.test.ts: the production transport's nvme-cli arguments and its sysfs resolution,
// against a sysfs tree laid out as the kernel lays it out (native multipath heads under the
// subsystem; without multipath, namespaces under the controller). The runner stands in for
// nvme-cli and changes the tree as the kernel would.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { OperationTimeoutError } from '../../src/errors.js';
import { DEFAULT_MANAGED_NQN_PREFIX } from '../../src/domain/naming.js';
import type { CommandResult, CommandRunner, RunOptions } from '../../src/node/exec.js';
import { NvmeCliTransport } from '../../src/node/nvme-transport.js';
import { systemClock } from '../../src/main.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const NQN = `${DEFAULT_MANAGED_NQN_PREFIX}0a1b2c3d-0000-4000-8000-000000000001`;
const dirs: TempDir[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

function subsystem(sysfs: string, index: number, nqn: string, entries: string[]): void {
  const dir = join(sysfs, 'class', 'nvme-subsystem', `nvme-subsys${index}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'subsysnqn'), `${nqn}\n`);
  for (const entry of entries) mkdirSync(join(dir, entry), { recursive: true });
}

class FakeNvme implements CommandRunner {
  readonly calls: string[][] = [];
  onConnect: () => void = () => undefined;
  onDisconnect: () => void = () => undefined;

  run(command: string, args: readonly string[], _options: RunOptions): Promise<CommandResult> {
    this.calls.push([command, ...args]);
    if (args[0] === 'connect') this.onConnect();
    if (args[0] === 'disconnect') this.onDisconnect();
    return Promise.resolve({ code: 0, stdout: '', stderr: '' });
  }
}

function setup() {
  const dir = tempDir('sysfs-');
  dirs.push(dir);
  const runner = new FakeNvme();
  const transport = new NvmeCliTransport({
    managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
    runner,
    clock: systemClock,
    commandTimeoutMs: 1_000,
    hostNqn: 'nqn.2014-08.org.nvmexpress:uuid:host-a',
    settleTimeoutMs: 500,
    sysfs: dir.path,
  });
  return { sysfs: dir.path, runner, transport };
}

describe('NvmeCliTransport', () => {
  it('connects with the host NQN and session tuning, and resolves the multipath head', async () => {
    const { sysfs, runner, transport } = setup();
    subsystem(sysfs, 0, 'nqn.2000-02.com.mikrotik:nixos-var', ['nvme0', 'nvme0n1']); // the host's own
    runner.onConnect = () => subsystem(sysfs, 1, NQN, ['nvme3', 'nvme1n1']);
    const { device, made } = await transport.connect({
      nqn: NQN,
      address: '10.42.241.3',
      port: 4420,
      ctrlLossTmoSeconds: -1,
      reconnectDelaySeconds: 5,
      keepAliveTmoSeconds: 0,
    });
    expect(device).toBe('/dev/nvme1n1');
    expect(made).toBe(true);
    expect(runner.calls).toEqual([
      [
        'nvme',
        'connect',
        '--transport=tcp',
        '--traddr=10.42.241.3',
        '--trsvcid=4420',
        `--nqn=${NQN}`,
        '--hostnqn=nqn.2014-08.org.nvmexpress:uuid:host-a',
        '--ctrl-loss-tmo=-1',
        '--reconnect-delay=5',
        '--keep-alive-tmo=0',
      ],
    ]);
    // Connected already: no second connect.
    expect(await transport.connect({ nqn: NQN, address: '10.42.241.3', port: 4420 })).toEqual({
      device: '/dev/nvme1n1',
      made: false,
    });
    expect(runner.calls).toHaveLength(1);
    expect(await transport.connected()).toEqual([NQN]); // the host's own subsystem is not listed
  });

  it('without multipath, resolves the namespace under the controller; follows a renumbering', async () => {
    const { sysfs, transport } = setup();
    subsystem(sysfs, 2, NQN, ['nvme4']);
    mkdirSync(join(sysfs, 'class', 'nvme', 'nvme4', 'nvme4c4n1'), { recursive: true });
    expect(await transport.devicePath(NQN)).toBe('/dev/nvme4c4n1');
    rmSync(join(sysfs, 'class'), { recursive: true });
    subsystem(sysfs, 2, NQN, ['nvme7']);
    mkdirSync(join(sysfs, 'class', 'nvme', 'nvme7', 'nvme7n1'), { recursive: true });
    expect(await transport.devicePath(NQN)).toBe('/dev/nvme7n1');
  });

  it('waits for a disconnect to show in sysfs, and says so when it does not', async () => {
    const { sysfs, runner, transport } = setup();
    subsystem(sysfs, 1, NQN, ['nvme3', 'nvme1n1']);
    await expect(transport.disconnect(NQN)).rejects.toBeInstanceOf(OperationTimeoutError);
    runner.onDisconnect = () =>
      rmSync(join(sysfs, 'class', 'nvme-subsystem', 'nvme-subsys1'), { recursive: true });
    await transport.disconnect(NQN);
    expect(await transport.devicePath(NQN)).toBeUndefined();
    expect(runner.calls.filter((c) => c[1] === 'disconnect')).toEqual([
      ['nvme', 'disconnect', `--nqn=${NQN}`],
      ['nvme', 'disconnect', `--nqn=${NQN}`],
    ]);
    await transport.disconnect(NQN); // not connected: nothing to run
    expect(runner.calls.filter((c) => c[1] === 'disconnect')).toHaveLength(2);
  });
});
