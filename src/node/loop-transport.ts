// loop-transport.ts: the NVMe transport for tests and the quickstart. "Connecting" an NQN attaches
// the emulator's backing file for it as a loop device; the emulator publishes which file backs
// which NQN in its export table (exports.json in its data dir). Resolution goes through sysfs
// (/sys/block/loopN/loop/backing_file) on every call, like the nvme transport's, and only loop
// devices whose backing file lies in the emulator's data dir are ever considered: other loop
// devices on the host are not ours and are never detached.
//
// With a node ID, each node plugin gets loop devices of its own: it attaches a hard link of the
// backing file kept under <emulator dir>/node-links/<node>/, and only devices backed by its own
// links are its connections. Several node plugins on one host (the e2e's node-a and node-b) then
// behave like separate hosts with separate NVMe connections: one node's NodeUnstage detaches its
// device only, never the one another node still uses (field-lessons #25, a live migration's target).
import { createHash } from 'node:crypto';
import { link, mkdir, readFile, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';

import {
  FailedPreconditionError,
  InternalError,
  NotFoundError,
  OperationTimeoutError,
} from '../errors.js';
import { MIKROTIK_NQN_PREFIX, isManagedNqn } from '../domain/naming.js';
import type { CallOptions, Clock } from '../ports.js';
import { loopBackings } from './block-devices.js';
import { commandFailure } from './command-failure.js';
import type { CommandRunner } from './exec.js';
import { pollUntil } from './poll-until.js';
import {
  assertManaged,
  type Connection,
  type NvmeTransport,
  type TransportTarget,
} from './transport.js';

export interface LoopTransportOptions {
  /** The emulator's exports.json; its directory bounds which backing files are ours. */
  readonly exportTable: string;
  readonly managedPrefix: string;
  readonly runner: CommandRunner;
  /** Times the settle waits after connect and disconnect. */
  readonly clock: Clock;
  readonly commandTimeoutMs: number;
  /** How long a detach may take to show in sysfs (a busy device detaches lazily). */
  readonly settleTimeoutMs?: number;
  readonly sysfs?: string;
  /** This node's ID: attach per-node hard links, so each node has its own devices (see above). */
  readonly nodeId?: string;
}

/** Per-node links, beside the emulator's own directories (its pool usage never counts them). */
const LINKS = 'node-links';

interface ExportRow {
  readonly nqn: string;
  readonly backingFile: string;
}

export class LoopTransport implements NvmeTransport {
  readonly kind = 'loop';
  private readonly root: string;
  private readonly sysfs: string;
  /** Where this node's links live; undefined: the backing files are attached directly. */
  private readonly linkDir: string | undefined;
  /** Loop devices backed by a file under this directory are this node's. */
  private readonly scope: string;

  constructor(private readonly options: LoopTransportOptions) {
    this.root = resolve(dirname(options.exportTable));
    this.sysfs = options.sysfs ?? '/sys';
    this.linkDir =
      options.nodeId === undefined ? undefined : join(this.root, LINKS, pathSafe(options.nodeId));
    this.scope = this.linkDir ?? this.root;
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
    const file = await this.nodeFile(row.backingFile);
    const result = await this.options.runner.run('losetup', ['--find', '--show', file], {
      timeoutMs: this.options.commandTimeoutMs,
      ...options,
    });
    if (result.code !== 0) {
      if (file !== row.backingFile) await unlink(file).catch(() => undefined);
      throw commandFailure('losetup', result, {
        step: `connecting ${target.nqn} (attaching ${file} as a loop device)`,
        advice: 'check that the host has a free loop device (losetup --find)',
      });
    }
    const device = await this.devicePath(target.nqn);
    if (device === undefined) {
      throw new InternalError(
        `losetup attached ${file} for ${target.nqn}, but no loop device backed by it shows in sysfs`,
      );
    }
    return { device, made: true };
  }

  /** The file to attach: the backing file, or this node's hard link of it (made if missing). */
  private async nodeFile(backingFile: string): Promise<string> {
    if (this.linkDir === undefined) return backingFile;
    const file = join(this.linkDir, basename(backingFile));
    await mkdir(this.linkDir, { recursive: true });
    const [source, existing] = await Promise.all([
      stat(backingFile),
      stat(file).catch(() => undefined),
    ]);
    if (existing !== undefined && existing.ino === source.ino && existing.dev === source.dev)
      return file;
    // A link left by a crash, to a file since removed and created again: replace it.
    if (existing !== undefined) await unlink(file);
    await link(backingFile, file);
    return file;
  }

  async devicePath(nqn: string): Promise<string | undefined> {
    for (const [device, { nqn: deviceNqn }] of await this.attached())
      if (deviceNqn === nqn) return device;
    return undefined;
  }

  async disconnect(nqn: string, options: CallOptions = {}): Promise<void> {
    assertManaged(nqn, this.options.managedPrefix, 'disconnect');
    const ours = [...(await this.attached())].filter(([, a]) => a.nqn === nqn);
    const devices = ours.map(([d]) => d);
    for (const device of devices) {
      const result = await this.options.runner.run('losetup', ['--detach', device], {
        timeoutMs: this.options.commandTimeoutMs,
        ...options,
      });
      if (result.code !== 0) {
        throw commandFailure('losetup', result, {
          step: `disconnecting ${nqn} (detaching ${device})`,
          advice: `check what still uses ${device} on this node (losetup --list)`,
        });
      }
    }
    // losetup -d on a busy device only marks it for autoclear: wait until it is really gone.
    const gone = await pollUntil(
      async () => (await this.devicePath(nqn)) === undefined,
      this.options.settleTimeoutMs ?? 10_000,
      this.options.clock,
    );
    if (!gone) {
      throw new OperationTimeoutError(
        `${nqn} is still connected after the disconnect: its device is in use (mounted or held open)`,
      );
    }
    // The device is gone: this node's link goes too (the emulator's file is never touched).
    if (this.linkDir !== undefined)
      for (const [, { backing }] of ours) await unlink(backing).catch(() => undefined);
  }

  async connected(): Promise<string[]> {
    return [...new Set([...(await this.attached()).values()].map((a) => a.nqn))].filter((n) =>
      isManagedNqn(n, this.options.managedPrefix),
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
    if (result.code !== 0) {
      throw commandFailure('losetup', result, {
        step: `rescanning ${nqn} (re-reading the size of ${device})`,
        advice: `check that ${device} is still attached (losetup --list)`,
      });
    }
  }

  /** device path -> NQN and backing file, for loop devices backed by a file in this node's scope. */
  private async attached(): Promise<Map<string, { nqn: string; backing: string }>> {
    const out = new Map<string, { nqn: string; backing: string }>();
    for (const [device, backing] of await loopBackings(this.sysfs)) {
      if (!backing.startsWith(`${this.scope}/`) || !backing.endsWith('.img')) continue;
      // Without a node ID, other nodes' links are theirs, not ours.
      if (this.linkDir === undefined && backing.startsWith(`${this.root}/${LINKS}/`)) continue;
      out.set(device, {
        nqn: `${MIKROTIK_NQN_PREFIX}${basename(backing, '.img').toLowerCase()}`,
        backing,
      });
    }
    return out;
  }

  private async exportRows(): Promise<ExportRow[]> {
    let parsed: unknown;
    try {
      parsed = JSON.parse(await readFile(this.options.exportTable, 'utf8'));
    } catch (error) {
      throw new FailedPreconditionError(
        `cannot read the emulator's export table ${this.options.exportTable} (--loop-export-table): ${(error as Error).message}; start the emulator, or name its exports.json`,
        { cause: error },
      );
    }
    if (!Array.isArray(parsed)) {
      throw new FailedPreconditionError(
        `the emulator's export table ${this.options.exportTable} (--loop-export-table) is not a JSON list of exports`,
      );
    }
    return parsed.flatMap((row: unknown) => {
      const r = row as Partial<ExportRow> | null;
      if (typeof r?.nqn !== 'string' || typeof r.backingFile !== 'string') return [];
      const file = resolve(r.backingFile);
      return file.startsWith(`${this.root}/`) ? [{ nqn: r.nqn, backingFile: file }] : [];
    });
  }
}

/** A node ID as one path segment: itself when plain, else a digest (IDs may hold any non-space). */
function pathSafe(nodeId: string): string {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/.test(nodeId)
    ? nodeId
    : createHash('sha256').update(nodeId).digest('hex').slice(0, 32);
}
