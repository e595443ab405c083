// node-safety.test.ts: the node's destructive steps refuse what they must, on real loop devices,
// mounts and child processes (field-lessons #1, #4, #5, #16, #21).
import { execFileSync, spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  linkSync,
  mkdirSync,
  openSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import {
  FailedPreconditionError,
  OperationTimeoutError,
  UnsafeOperationError,
} from '../../src/errors.js';
import { DEFAULT_MANAGED_NQN_PREFIX, MIKROTIK_NQN_PREFIX } from '../../src/domain/naming.js';
import { BlockDevices } from '../../src/node/block-devices.js';
import {
  HostCommandRunner,
  type CommandResult,
  type CommandRunner,
  type RunOptions,
} from '../../src/node/exec.js';
import { HostFilesystems } from '../../src/node/filesystem.js';
import { LoopTransport } from '../../src/node/loop-transport.js';
import { ProcMountTable } from '../../src/node/mountinfo.js';
import { NodeVolumes } from '../../src/node/node-volumes.js';
import { NvmeCliTransport } from '../../src/node/nvme-transport.js';
import { sweepOrphans } from '../../src/node/orphan-sweep.js';
import type { StageRequest } from '../../src/ports.js';
import { systemClock } from '../../src/main.js';
import { MIB } from '../helpers/controller-requests.js';
import { grpcError } from '../helpers/csi-client.js';
import { driverFixture } from '../helpers/driver-fixture.js';
import { captureLog } from '../helpers/log-capture.js';
import { loopsUnder } from '../helpers/loop-devices.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** Runs real commands and remembers them; `fake` replaces a command by a script's result. */
class RecordingRunner implements CommandRunner {
  readonly commands: string[] = [];
  private readonly real: HostCommandRunner;

  constructor(env: NodeJS.ProcessEnv = process.env) {
    this.real = new HostCommandRunner(systemClock, env);
  }

  run(command: string, args: readonly string[], options: RunOptions): Promise<CommandResult> {
    this.commands.push([command, ...args].join(' '));
    return this.real.run(command, args, options);
  }
}

/** A directory of fake commands put first on PATH. */
function fakeBin(dir: TempDir, scripts: Record<string, string>): NodeJS.ProcessEnv {
  const bin = join(dir.path, 'bin');
  mkdirSync(bin, { recursive: true });
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(bin, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(bin, name), 0o755);
  }
  return { ...process.env, PATH: `${bin}:${process.env['PATH'] ?? ''}` };
}

/** An emulator-like export dir with one backing file per slot, and the export table. */
function exportsWith(dir: TempDir, slots: string[], bytes = 64 * MIB): string {
  const rows = slots.map((slot) => {
    const file = join(dir.path, 'fs', `${slot}.img`);
    mkdirSync(join(dir.path, 'fs'), { recursive: true });
    writeFileSync(file, '');
    truncateSync(file, bytes);
    return {
      nqn: `${MIKROTIK_NQN_PREFIX}${slot}`,
      port: 4420,
      slot,
      backingFile: file,
      sizeBytes: bytes,
    };
  });
  const table = join(dir.path, 'exports.json');
  writeFileSync(table, JSON.stringify(rows));
  return table;
}

function node(table: string, runner: CommandRunner, mountStormLimit = 100) {
  const log = captureLog();
  const transport = new LoopTransport({
    exportTable: table,
    managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
    runner,
    clock: systemClock,
    commandTimeoutMs: 10_000,
    settleTimeoutMs: 2_000,
  });
  const volumes = new NodeVolumes({
    transport,
    filesystems: new HostFilesystems({
      runner,
      clock: systemClock,
      log: log.logger,
      commandTimeoutMs: 10_000,
      formatTimeoutMs: 60_000,
      probeAttempts: 3,
      probeIntervalMs: 10,
    }),
    mounts: new ProcMountTable(),
    devices: new BlockDevices(),
    runner,
    clock: systemClock,
    log: log.logger,
    commandTimeoutMs: 10_000,
    mountStormLimit,
    nodeId: 'test-node',
  });
  return { transport, volumes, log };
}

function stageRequest(slot: string, stagingPath: string): StageRequest {
  return {
    volumeId: slot,
    target: { nqn: `${MIKROTIK_NQN_PREFIX}${slot}`, address: '127.0.0.1', port: 4420 },
    stagingPath,
    block: false,
    fsType: 'ext4',
    defaultFsType: 'ext4',
    mountFlags: [],
    mkfsOptions: [],
  };
}

function blkidOf(device: string): number {
  try {
    execFileSync('blkid', ['-p', device], { stdio: 'ignore' });
    return 0;
  } catch (error) {
    return (error as { status: number }).status;
  }
}

describe('node safety', () => {
  it('never formats a device whose contents cannot be read (blkid exit 1), and undoes the connect', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const table = exportsWith(dir, ['pvc-unreadable']);
    const runner = new RecordingRunner(
      fakeBin(dir, { blkid: 'echo "blkid: I/O error" >&2; exit 1' }),
    );
    const { volumes, log } = node(table, runner);
    const staging = join(dir.path, 'staging');
    const error = await volumes
      .stage(stageRequest('pvc-unreadable', staging))
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeOperationError);
    expect((error as Error).message).toMatch(/was not formatted: .*blkid .*I\/O error/);
    expect(runner.commands.filter((c) => c.startsWith('blkid'))).toHaveLength(3); // retried
    expect(runner.commands.some((c) => c.startsWith('mkfs'))).toBe(false);
    expect(log.lines().filter((l) => l['message'] === 'formatting a blank device (audit)')).toEqual(
      [],
    );
    expect(loopsUnder(dir.path)).toEqual([]); // the connection this call made was undone
  });

  it('formats a readable blank device once, and never a formatted one', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const table = exportsWith(dir, ['pvc-blank']);
    const runner = new RecordingRunner();
    const { volumes, transport } = node(table, runner);
    const staging = join(dir.path, 'staging');
    await volumes.stage(stageRequest('pvc-blank', staging));
    cleanups.push(() => volumes.unstage('pvc-blank', `${MIKROTIK_NQN_PREFIX}pvc-blank`, staging));
    await volumes.stage(stageRequest('pvc-blank', staging)); // idempotent: nothing run again
    await volumes.unstage('pvc-blank', `${MIKROTIK_NQN_PREFIX}pvc-blank`, staging);
    await volumes.stage(stageRequest('pvc-blank', staging));
    expect(runner.commands.filter((c) => c.startsWith('mkfs'))).toHaveLength(1);
    const device = await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-blank`);
    expect(device).toBeDefined();
    expect(blkidOf(device ?? '')).toBe(0);
  });

  it('refuses to stage a second device where another volume is staged, leaving both as they were', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const table = exportsWith(dir, ['pvc-first', 'pvc-second']);
    const { volumes, transport } = node(table, new RecordingRunner());
    const staging = join(dir.path, 'staging');
    await volumes.stage(stageRequest('pvc-first', staging));
    cleanups.push(() => volumes.unstage('pvc-first', `${MIKROTIK_NQN_PREFIX}pvc-first`, staging));
    const error = await volumes.stage(stageRequest('pvc-second', staging)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FailedPreconditionError);
    expect((error as Error).message).toMatch(/already holds another device .* left untouched/);
    const mounted = await new ProcMountTable().mountsAt(staging);
    expect(mounted).toHaveLength(1);
    expect(mounted[0]?.source).toBe(await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-first`));
    expect(await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-second`)).toBeUndefined();
  });

  it('never disconnects an NQN outside the managed prefix, through the transport or the CSI call', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    // A host disk from the same RDS (a diskless node's /var), attached outside the driver.
    const table = exportsWith(dir, ['nixos-var']);
    // Attached on this node: the loop transport gives each node plugin its own link of the file
    // (the fixture's node is test-node), so the outside attachment uses that node's link.
    const links = join(dir.path, 'node-links', 'test-node');
    mkdirSync(links, { recursive: true });
    linkSync(join(dir.path, 'fs', 'nixos-var.img'), join(links, 'nixos-var.img'));
    const device = execFileSync('losetup', ['--find', '--show', join(links, 'nixos-var.img')], {
      encoding: 'utf8',
    }).trim();
    cleanups.push(() => {
      execFileSync('losetup', ['--detach', device]);
    });
    const runner = new RecordingRunner();
    const { transport } = node(table, runner);
    await expect(transport.disconnect(`${MIKROTIK_NQN_PREFIX}nixos-var`)).rejects.toThrow(
      /refusing to disconnect nqn\.2000-02\.com\.mikrotik:nixos-var: it is outside the managed NQN prefix/,
    );
    expect(runner.commands).toEqual([]);

    const fixture = await driverFixture([
      '--mode',
      'node',
      '--node-transport',
      'loop',
      '--loop-export-table',
      table,
    ]);
    cleanups.push(() => fixture.stop());
    const refused = await grpcError(
      fixture.clients.node.NodeUnstageVolume({
        volumeId: 'nixos-var',
        stagingTargetPath: join(dir.path, 'nowhere'),
      }),
    );
    expect(refused.code).toBe(status.FAILED_PRECONDITION);
    expect(loopsUnder(dir.path)).toEqual([device]);

    // The nvme transport checks in the primitive too, before any nvme command runs.
    const nvmeRunner = new RecordingRunner();
    const nvme = new NvmeCliTransport({
      managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
      runner: nvmeRunner,
      clock: systemClock,
      commandTimeoutMs: 1_000,
      sysfs: join(dir.path, 'no-sysfs'),
    });
    await expect(nvme.disconnect(`${MIKROTIK_NQN_PREFIX}nixos-var`)).rejects.toBeInstanceOf(
      UnsafeOperationError,
    );
    expect(nvmeRunner.commands).toEqual([]);
  });

  it('refuses an NQN that only starts like a managed one: the prefix alone, a path, a line break', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const nearMisses = [
      DEFAULT_MANAGED_NQN_PREFIX,
      `${DEFAULT_MANAGED_NQN_PREFIX}../nixos-var`,
      `${DEFAULT_MANAGED_NQN_PREFIX}1\nnqn.2000-02.com.mikrotik:nixos-var`,
      `${DEFAULT_MANAGED_NQN_PREFIX}UPPER`,
    ];
    // Each is a connected subsystem in the kernel's view, so only the rule stands in the way.
    const sysfs = join(dir.path, 'sysfs');
    nearMisses.forEach((nqn, i) => {
      const subsystem = join(sysfs, 'class', 'nvme-subsystem', `nvme-subsys${i}`);
      mkdirSync(join(subsystem, `nvme${i}`), { recursive: true });
      writeFileSync(join(subsystem, 'subsysnqn'), `${nqn}\n`);
    });
    const ran: string[] = [];
    const nvme = new NvmeCliTransport({
      managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
      runner: {
        run: (command, args) => {
          ran.push([command, ...args].join(' '));
          return Promise.resolve({ code: 0, stdout: '', stderr: '' });
        },
      },
      clock: systemClock,
      commandTimeoutMs: 1_000,
      settleTimeoutMs: 0,
      sysfs,
    });
    for (const nqn of nearMisses) {
      await expect(nvme.disconnect(nqn), JSON.stringify(nqn)).rejects.toBeInstanceOf(
        UnsafeOperationError,
      );
      await expect(nvme.rescan(nqn), JSON.stringify(nqn)).rejects.toThrow(
        /is outside the managed NQN prefix/,
      );
    }
    expect(await nvme.connected()).toEqual([]);
    expect(ran).toEqual([]);
  });

  it('refuses another mount of a device past the mount-storm limit', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const table = exportsWith(dir, ['pvc-storm']);
    const { volumes } = node(table, new RecordingRunner(), 2);
    const staging = join(dir.path, 'staging');
    const nqn = `${MIKROTIK_NQN_PREFIX}pvc-storm`;
    await volumes.stage(stageRequest('pvc-storm', staging));
    cleanups.push(() => volumes.unstage('pvc-storm', nqn, staging));
    const publish = (target: string) =>
      volumes.publish({
        volumeId: 'pvc-storm',
        nqn,
        stagingPath: staging,
        targetPath: join(dir.path, target),
        block: false,
        readOnly: false,
        mountFlags: [],
      });
    await publish('one'); // 2 mounts now: the staging mount and this one
    cleanups.push(() => volumes.unpublish('pvc-storm', nqn, join(dir.path, 'one')));
    await expect(publish('two')).rejects.toThrow(/already mounted 2 times \(limit 2\)/);
  });

  it('kills a hung nvme or mount child at its time limit', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const env = fakeBin(dir, {
      nvme: `echo $$ > ${dir.path}/nvme.pid; exec sleep 60`,
      mount: `echo $$ > ${dir.path}/mount.pid; exec sleep 60`,
    });
    const runner = new HostCommandRunner(systemClock, env);
    const nvme = new NvmeCliTransport({
      managedPrefix: DEFAULT_MANAGED_NQN_PREFIX,
      runner,
      clock: systemClock,
      commandTimeoutMs: 300,
      sysfs: join(dir.path, 'no-sysfs'),
    });
    const started = Date.now();
    const error = await nvme
      .connect({ nqn: `${DEFAULT_MANAGED_NQN_PREFIX}hung`, address: '127.0.0.1', port: 4420 })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OperationTimeoutError);
    expect((error as Error).message).toMatch(
      /^nvme connect .* no answer within 300 ms; the process was killed$/,
    );
    expect(Date.now() - started).toBeLessThan(5_000);

    const filesystems = new HostFilesystems({
      runner,
      clock: systemClock,
      log: captureLog().logger,
      commandTimeoutMs: 300,
      formatTimeoutMs: 300,
    });
    await expect(filesystems.mount('/dev/null', dir.path, 'ext4', [])).rejects.toBeInstanceOf(
      OperationTimeoutError,
    );
    for (const name of ['nvme', 'mount']) {
      const pid = Number(
        execFileSync('cat', [join(dir.path, `${name}.pid`)], { encoding: 'utf8' }),
      );
      expect(() => process.kill(pid, 0), `${name} child ${pid} still alive`).toThrow();
    }
  });

  it('the orphan sweep disconnects only managed connections that nothing uses, and only when enabled', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const slots = ['pvc-orphan', 'pvc-mounted', 'pvc-open', 'pvc-block', 'host-disk'];
    const table = exportsWith(dir, slots);
    const { transport, volumes } = node(table, new RecordingRunner());
    for (const slot of slots)
      execFileSync('losetup', ['--find', '--show', join(dir.path, 'fs', `${slot}.img`)]);
    cleanups.push(() => {
      for (const device of loopsUnder(dir.path)) execFileSync('losetup', ['--detach', device]);
    });
    const staging = join(dir.path, 'staging');
    await volumes.stage(stageRequest('pvc-mounted', staging));
    cleanups.push(() =>
      volumes.unstage('pvc-mounted', `${MIKROTIK_NQN_PREFIX}pvc-mounted`, staging),
    );
    const held = openSync(
      (await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-open`)) ?? '',
      'r',
    );
    cleanups.push(() => closeSync(held));
    // A raw block volume published as NodePublish does it: a device node at kubelet's target, with
    // no loop device of kubelet's and nobody holding it open (a pod that has not opened it yet).
    const blockRoot = join(dir.path, 'kubelet/plugins/kubernetes.io/csi/volumeDevices');
    const target = join(blockRoot, 'publish/pv-block/0f4c7d1e-pod');
    mkdirSync(dirname(target), { recursive: true });
    const blockDevice = (await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-block`)) ?? '';
    const [major = '', minor = ''] = ((await new BlockDevices().number(blockDevice)) ?? '').split(
      ':',
    );
    execFileSync('mknod', ['-m', '0660', target, 'b', major, minor]);
    const sweep = (mode: 'dry-run' | 'enabled') =>
      sweepOrphans({
        transport,
        mounts: new ProcMountTable(),
        devices: new BlockDevices(),
        log: captureLog().logger,
        mode,
        blockPublishRoot: blockRoot,
      });

    const dry = await sweep('dry-run');
    expect(dry.orphans).toEqual([`${MIKROTIK_NQN_PREFIX}pvc-orphan`]);
    expect(dry.disconnected).toEqual([]);
    expect(dry.inUse).toEqual({
      [`${MIKROTIK_NQN_PREFIX}pvc-mounted`]: `mounted at ${staging}`,
      [`${MIKROTIK_NQN_PREFIX}pvc-open`]: expect.stringMatching(
        new RegExp(`^open in process ${String(process.pid)} \\(.+\\)$`),
      ) as unknown,
      [`${MIKROTIK_NQN_PREFIX}pvc-block`]: `published as a block device at ${target}`,
    });
    expect(loopsUnder(dir.path)).toHaveLength(5);

    const enabled = await sweep('enabled');
    expect(enabled.disconnected).toEqual([`${MIKROTIK_NQN_PREFIX}pvc-orphan`]);
    expect(await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-orphan`)).toBeUndefined();
    // The host's own disk (outside the managed prefix) was never a candidate.
    expect(await transport.devicePath(`${MIKROTIK_NQN_PREFIX}host-disk`)).toBeDefined();
    expect(await transport.devicePath(`${MIKROTIK_NQN_PREFIX}pvc-block`)).toBe(blockDevice);
    expect(loopsUnder(dir.path)).toHaveLength(4);
  });

  it('does not disconnect a device another process holds open, and says which one', async () => {
    const dir = tempDir('safety-');
    cleanups.push(() => dir.remove());
    const table = exportsWith(dir, ['pvc-held']);
    const { volumes, transport } = node(table, new RecordingRunner());
    const nqn = `${MIKROTIK_NQN_PREFIX}pvc-held`;
    const staging = join(dir.path, 'staging');
    await volumes.stage(stageRequest('pvc-held', staging));
    cleanups.push(() => volumes.unstage('pvc-held', nqn, staging));
    const device = (await transport.devicePath(nqn)) ?? '';
    const holder = spawn('sh', ['-c', `exec sleep 30 < ${device}`], { stdio: 'ignore' });
    cleanups.push(() => {
      holder.kill('SIGKILL');
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await expect(volumes.unstage('pvc-held', nqn, staging)).rejects.toThrow(
      new RegExp(`is open in process ${String(holder.pid)} \\(sleep\\); not disconnecting it`),
    );
    expect(await transport.devicePath(nqn)).toBe(device); // still connected
    holder.kill('SIGKILL');
    await new Promise((resolve) => holder.once('exit', resolve));
    await volumes.unstage('pvc-held', nqn, staging);
    expect(await transport.devicePath(nqn)).toBeUndefined();
  });

  it('touches no path outside the kubelet directory, however the request names it', async () => {
    const fixture = await driverFixture(['--mode', 'node', '--kubelet-dir', '/var/lib/kubelet']);
    cleanups.push(() => fixture.stop());
    const volumeId = 'pvc-0a1b2c3d-0000-4000-8000-000000000bad';
    const outside = [
      '/dev/loop-control', // a device node unpublish would otherwise unlink
      '/etc',
      '/var/lib/kubelet/../../../dev/loop-control',
      '/var/lib/kubelet/./pods',
      '/var/lib/kubelet',
      '/var/lib/kubeletother/pods/x',
    ];
    for (const path of outside) {
      const unpublish = await grpcError(
        fixture.clients.node.NodeUnpublishVolume({ volumeId, targetPath: path }),
      );
      expect(unpublish.code, path).toBe(status.INVALID_ARGUMENT);
      const unstage = await grpcError(
        fixture.clients.node.NodeUnstageVolume({ volumeId, stagingTargetPath: path }),
      );
      expect(unstage.code, path).toBe(status.INVALID_ARGUMENT);
    }
    expect(execFileSync('stat', ['-c', '%F', '/dev/loop-control'], { encoding: 'utf8' })).toMatch(
      /character special file/,
    );
    const unpublish = await grpcError(
      fixture.clients.node.NodeUnpublishVolume({ volumeId, targetPath: '/dev/loop-control' }),
    );
    expect(unpublish.details).toBe(
      'target_path /dev/loop-control is outside the kubelet directory /var/lib/kubelet (--kubelet-dir); the node touches only paths under it',
    );
  });
});
