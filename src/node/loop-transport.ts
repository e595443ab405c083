// loop-transport.ts: the NVMe transport for tests and the quickstart. "Connecting" an NQN attaches
// the emulator's backing file for it as a loop device; the emulator publishes which file backs
// which NQN in its export table (exports.json in its data dir). Resolution goes through sysfs
// (/sys/block/loopN/loop/backing_file) on every call, like the nvme transport's, and only loop
// devices whose backing file lies in the emulator's data dir are ever considered: other loop
// devices on the host are not ours and are never detached.
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve } from 'node:path';

import { NotFoundError, OperationTimeoutError } from '../errors.js';
import { MIKROTIK_NQN_PREFIX } from '../naming.js';
import type { CallOptions } from '../ports.js';
import { loopBackings } from './block-devices.js';
import { firstLine, type CommandRunner } from './exec.js';
import {
  assertManaged,
  pollUntil,
  type Connection,
  type NvmeTransport,
  type TransportTarget,
} from './transport.js';

export interface LoopTransportOptions {
  /** The emulator's exports.json; its directory bounds which backing files are ours. */
  readonly exportTable: string;
  readonly managedPrefix: string;
  readonly runner: CommandRunner;
  readonly commandTimeoutMs: number;
  /** How long a detach may take to show in sysfs (a busy device detaches lazily). */
  readonly settleTimeoutMs?: number;
  readonly sysfs?: string;
}

interface ExportRow {
  readonly nqn: string;
  readonly backingFile: string;
}

export class LoopTransport implements NvmeTransport {
  readonly kind = 'loop';
  private readonly root: string;
  private readonly sysfs: string;

  constructor(private readonly options: LoopTransportOptions) {
    this.root = resolve(dirname(options.exportTable));
    this.sysfs = options.sysfs ?? '/sys';
  }

  async connect(target: TransportTarget, options: CallOptions = {}): Promise<Connection> {
    assertManaged(target.nqn, this.options.managedPrefix, 'connect');
    const existing = await this.devicePath(target.nqn);
    if (existing !== undefined) return { device: existing, made: false };
    const row = (await this.exportRows()).find((r) => r.nqn === target.nqn);
    if (row === undefined) {
      throw new NotFoundError(
        `${target.nqn} is not exported by the RDS at ${target.address}:${String(target.port)} (no such NVMe/TCP subsystem)`,
      );
    }
    const result = await this.options.runner.run('losetup', ['--find', '--show', row.backingFile], {
      timeoutMs: this.options.commandTimeoutMs,
      ...options,
    });
    if (result.code !== 0) throw new Error(`connecting ${target.nqn} failed: ${firstLine(result)}`);
    const device = await this.devicePath(target.nqn);
    if (device === undefined)
      throw new Error(`connected ${target.nqn}, but its device did not appear in sysfs`);
    return { device, made: true };
  }

  async devicePath(nqn: string): Promise<string | undefined> {
    for (const [device, deviceNqn] of await this.attached()) if (deviceNqn === nqn) return device;
    return undefined;
  }

  async disconnect(nqn: string, options: CallOptions = {}): Promise<void> {
    assertManaged(nqn, this.options.managedPrefix, 'disconnect');
    const devices = [...(await this.attached())].filter(([, n]) => n === nqn).map(([d]) => d);
    for (const device of devices) {
      const result = await this.options.runner.run('losetup', ['--detach', device], {
        timeoutMs: this.options.commandTimeoutMs,
        ...options,
      });
      if (result.code !== 0)
        throw new Error(`disconnecting ${nqn} (${device}) failed: ${firstLine(result)}`);
    }
    // losetup -d on a busy device only marks it for autoclear: wait until it is really gone.
    const gone = await pollUntil(
      async () => (await this.devicePath(nqn)) === undefined,
      this.options.settleTimeoutMs ?? 10_000,
    );
    if (!gone) {
      throw new OperationTimeoutError(
        `${nqn} is still connected after the disconnect: its device is in use (mounted or held open)`,
      );
    }
  }

  async connected(): Promise<string[]> {
    return [...new Set((await this.attached()).values())].filter((n) =>
      n.startsWith(this.options.managedPrefix),
    );
  }

  async rescan(nqn: string, options: CallOptions = {}): Promise<void> {
    assertManaged(nqn, this.options.managedPrefix, 'rescan');
    const device = await this.devicePath(nqn);
    if (device === undefined) throw new NotFoundError(`${nqn} is not connected on this node`);
    const result = await this.options.runner.run('losetup', ['--set-capacity', device], {
      timeoutMs: this.options.commandTimeoutMs,
      ...options,
    });
    if (result.code !== 0) throw new Error(`rescanning ${nqn} failed: ${firstLine(result)}`);
  }

  /** device path -> NQN, for loop devices backed by a file in the emulator's directory. */
  private async attached(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [device, backing] of await loopBackings(this.sysfs)) {
      if (!backing.startsWith(`${this.root}/`) || !backing.endsWith('.img')) continue;
      out.set(device, `${MIKROTIK_NQN_PREFIX}${basename(backing, '.img').toLowerCase()}`);
    }
    return out;
  }

  private async exportRows(): Promise<ExportRow[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.options.exportTable, 'utf8'));
    } catch (error) {
      throw new Error(
        `cannot read the emulator's export table ${this.options.exportTable}: ${(error as Error).message}`,
      );
    }
    if (!Array.isArray(parsed)) throw new Error(`${this.options.exportTable} is not a list`);
    return parsed.flatMap((row: unknown) => {
      const r = row as Partial<ExportRow> | null;
      if (typeof r?.nqn !== 'string' || typeof r.backingFile !== 'string') return [];
      const file = resolve(r.backingFile);
      return file.startsWith(`${this.root}/`) ? [{ nqn: r.nqn, backingFile: file }] : [];
    });
  }
}
