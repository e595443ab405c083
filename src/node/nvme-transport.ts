// nvme-transport.ts: NVMe/TCP with nvme-cli, for production nodes. Every nvme child runs with a
// time limit that kills it (exec.ts). NQN -> block device resolution reads sysfs each time:
// /sys/class/nvme-subsystem/*/subsysnqn, then the subsystem's namespace heads (native multipath:
// nvmeXnY under the subsystem), else the namespaces of its controllers (/sys/class/nvme/nvmeX).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { isManagedNqn } from '../domain/naming.js';
import { NotFoundError, OperationTimeoutError } from '../errors.js';
import type { CallOptions, Clock } from '../ports.js';
import { listDir } from './block-devices.js';
import { commandFailure } from './command-failure.js';
import type { CommandRunner } from './exec.js';
import { pollUntil } from './poll-until.js';
import {
  assertManaged,
  type Connection,
  type NvmeTransport,
  type TransportTarget,
} from './transport.js';

export interface NvmeTransportOptions {
  readonly managedPrefix: string;
  readonly runner: CommandRunner;
  /** Times the settle waits after connect and disconnect. */
  readonly clock: Clock;
  readonly commandTimeoutMs: number;
  /** This host's NQN (from /etc/nvme/hostnqn), passed as --hostnqn (field-lessons #24). */
  readonly hostNqn?: string | undefined;
  /** How long the device may take to appear after connect / vanish after disconnect. */
  readonly settleTimeoutMs?: number;
  readonly sysfs?: string;
}

const NAMESPACE = /^nvme\d+(?:c\d+)?n\d+$/;
const HEAD = /^nvme\d+n\d+$/;

export class NvmeCliTransport implements NvmeTransport {
  readonly kind = 'nvme';
  private readonly sysfs: string;

  constructor(private readonly options: NvmeTransportOptions) {
    this.sysfs = options.sysfs ?? '/sys';
  }

  async connect(target: TransportTarget, options: CallOptions = {}): Promise<Connection> {
    assertManaged(target.nqn, this.options.managedPrefix, 'connect');
    const existing = await this.devicePath(target.nqn);
    if (existing !== undefined) return { device: existing, made: false };
    const args = [
      'connect',
      '--transport=tcp',
      `--traddr=${target.address}`,
      `--trsvcid=${String(target.port)}`,
      `--nqn=${target.nqn}`,
    ];
    if (this.options.hostNqn !== undefined) args.push(`--hostnqn=${this.options.hostNqn}`);
    if (target.ctrlLossTmoSeconds !== undefined)
      args.push(`--ctrl-loss-tmo=${String(target.ctrlLossTmoSeconds)}`);
    if (target.reconnectDelaySeconds !== undefined)
      args.push(`--reconnect-delay=${String(target.reconnectDelaySeconds)}`);
    if (target.keepAliveTmoSeconds !== undefined)
      args.push(`--keep-alive-tmo=${String(target.keepAliveTmoSeconds)}`);
    const result = await this.nvme(args, options);
    // "already connected" races (another call, or the kernel reconnecting) are fine if it resolves.
    if (result.code !== 0 && !/already connected/i.test(result.stderr)) {
      throw commandFailure('nvme', result, {
        step: `connecting to ${target.nqn} at ${target.address}:${String(target.port)} over NVMe/TCP`,
        advice: `check that the RDS exports ${target.nqn} and admits this host's NQN, and that the node has the nvme-tcp kernel module loaded`,
      });
    }
    let device: string | undefined;
    const appeared = await pollUntil(
      async () => {
        device = await this.devicePath(target.nqn);
        return device !== undefined;
      },
      this.options.settleTimeoutMs ?? 15_000,
      this.options.clock,
    );
    if (!appeared || device === undefined) {
      throw new OperationTimeoutError(
        `connected to ${target.nqn}, but no namespace block device appeared in sysfs`,
      );
    }
    return { device, made: true };
  }

  async devicePath(nqn: string): Promise<string | undefined> {
    const subsystem = await this.subsystemOf(nqn);
    if (subsystem === undefined) return undefined;
    const entries = await listDir(subsystem);
    const head = entries.filter((e) => HEAD.test(e)).sort()[0];
    if (head !== undefined) return `/dev/${head}`;
    for (const controller of entries.filter((e) => /^nvme\d+$/.test(e)).sort()) {
      const namespace = (await listDir(join(this.sysfs, 'class', 'nvme', controller)))
        .filter((e) => NAMESPACE.test(e))
        .sort()[0];
      if (namespace !== undefined) return `/dev/${namespace}`;
    }
    return undefined;
  }

  async disconnect(nqn: string, options: CallOptions = {}): Promise<void> {
    assertManaged(nqn, this.options.managedPrefix, 'disconnect');
    if ((await this.subsystemOf(nqn)) === undefined) return;
    const result = await this.nvme(['disconnect', `--nqn=${nqn}`], options);
    if (result.code !== 0) {
      throw commandFailure('nvme', result, {
        step: `disconnecting ${nqn}`,
        advice: `check the node's NVMe subsystems (nvme list-subsys)`,
      });
    }
    const gone = await pollUntil(
      async () => (await this.subsystemOf(nqn)) === undefined,
      this.options.settleTimeoutMs ?? 15_000,
      this.options.clock,
    );
    if (!gone) {
      throw new OperationTimeoutError(
        `nvme disconnect of ${nqn} reported success, but the subsystem is still in sysfs`,
      );
    }
  }

  async connected(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await listDir(join(this.sysfs, 'class', 'nvme-subsystem'))) {
      const nqn = await readTrimmed(join(this.sysfs, 'class', 'nvme-subsystem', name, 'subsysnqn'));
      if (nqn !== undefined && isManagedNqn(nqn, this.options.managedPrefix)) out.push(nqn);
    }
    return out;
  }

  async rescan(nqn: string, options: CallOptions = {}): Promise<void> {
    assertManaged(nqn, this.options.managedPrefix, 'rescan');
    const subsystem = await this.subsystemOf(nqn);
    if (subsystem === undefined) throw new NotFoundError(`${nqn} is not connected on this node`);
    for (const controller of (await listDir(subsystem)).filter((e) => /^nvme\d+$/.test(e))) {
      const result = await this.nvme(['ns-rescan', `/dev/${controller}`], options);
      if (result.code !== 0) {
        throw commandFailure('nvme', result, {
          step: `rescanning the namespaces of ${nqn} (/dev/${controller})`,
          advice: `check that ${nqn} is still connected (nvme list-subsys)`,
        });
      }
    }
  }

  private async subsystemOf(nqn: string): Promise<string | undefined> {
    const root = join(this.sysfs, 'class', 'nvme-subsystem');
    for (const name of await listDir(root)) {
      if ((await readTrimmed(join(root, name, 'subsysnqn'))) === nqn) return join(root, name);
    }
    return undefined;
  }

  private nvme(args: string[], options: CallOptions) {
    return this.options.runner.run('nvme', args, {
      timeoutMs: this.options.commandTimeoutMs,
      ...options,
    });
  }
}

async function readTrimmed(path: string): Promise<string | undefined> {
  try {
    return (await readFile(path, 'utf8')).trim();
  } catch {
    return undefined;
  }
}
