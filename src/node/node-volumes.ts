// node-volumes.ts: the node's volume operations behind the CSI Node service: stage (connect,
// format only when positively blank, mount), publish (bind mount, or a device node for block),
// unpublish, unstage (unmount, in-use check, verified disconnect), stats and expansion. The raw
// block publish and the stats live in block-publish.ts and volume-stats.ts.
//
// Node state comes from the kernel on every call (mountinfo, sysfs), never from files of our own
// (field-lessons #19): a restarted node plugin sees exactly what the previous one left. Calls on
// one volume run one at a time in arrival order (field-lessons #33); stats take no lock
// (field-lessons #22). Each stage undoes what it did when it fails.
import { lstat, mkdir, rmdir, stat, unlink } from 'node:fs/promises';

import {
  AlreadyExistsError,
  FailedPreconditionError,
  NotFoundError,
  UnsafeOperationError,
  describeError,
} from '../errors.js';
import { KeyedQueue } from '../domain/keyed-queue.js';
import type {
  CallOptions,
  Clock,
  Filesystem,
  Logger,
  MountEntry,
  MountTable,
  NodeVolumeOperations,
  PublishRequest,
  StageRequest,
  VolumeEventSink,
  VolumeStats,
} from '../ports.js';
import type { BlockDevices } from './block-devices.js';
import { publishBlockNode } from './block-publish.js';
import type { CommandRunner } from './exec.js';
import type { HostFilesystems } from './filesystem.js';
import { pause } from './poll-until.js';
import type { NvmeTransport } from './transport.js';
import { readVolumeStats } from './volume-stats.js';

export interface NodeVolumesOptions {
  readonly transport: NvmeTransport;
  readonly filesystems: HostFilesystems;
  readonly mounts: MountTable;
  readonly devices: BlockDevices;
  readonly runner: CommandRunner;
  /** Times event messages and the pause between looks for a closing opener. */
  readonly clock: Clock;
  readonly log: Logger;
  readonly commandTimeoutMs: number;
  readonly mountStormLimit: number;
  /** This node's name, for event messages. */
  readonly nodeId: string;
  /** Events on the volume's PVC (when a Kubernetes client is configured); best effort. */
  readonly events?: VolumeEventSink;
}

/** Options that mean the same on a bind remount as on the original mount (VFS flags). */
const BIND_FLAGS = new Set([
  'ro',
  'nosuid',
  'nodev',
  'noexec',
  'noatime',
  'nodiratime',
  'relatime',
  'strictatime',
]);

export class NodeVolumes implements NodeVolumeOperations {
  private readonly queue = new KeyedQueue();

  constructor(private readonly options: NodeVolumesOptions) {}

  stage(request: StageRequest, call: CallOptions = {}): Promise<void> {
    return this.queue.run(request.volumeId, () => this.stageNow(request, call));
  }

  private async stageNow(request: StageRequest, call: CallOptions): Promise<void> {
    const { transport, filesystems } = this.options;
    const log = this.options.log.child({ volumeId: request.volumeId });
    const { device, made } = await transport.connect(request.target, call);
    let mounted = false;
    try {
      if (request.block) return; // a raw device: publish makes its node from the connection
      // The probe only reads: it runs beside the checks below, which it does not depend on.
      const probing = filesystems.probeSettled(device, call);
      probing.catch(() => undefined); // awaited below, unless an early return leaves it unread
      const [number, table] = await Promise.all([
        this.options.devices.requireNumber(device),
        this.options.mounts.all(call),
      ]);
      const present = table.filter((e) => e.mountPoint === request.stagingPath);
      const top = present.at(-1);
      if (top !== undefined) {
        if (top.device === number) return; // staged already: the same device is mounted here
        if (await this.isLiveDevice(top)) {
          throw new FailedPreconditionError(
            `${request.stagingPath} already holds another device (${top.source}, ${top.device}), not this volume's ${device}; it was left untouched`,
          );
        }
        log.warn('stale mount at the staging path (its device is gone); replacing it', {
          stagingPath: request.stagingPath,
          staleSource: top.source,
        });
        this.event(
          request.volumeId,
          'StaleMountDetected',
          `stale mount at ${request.stagingPath} on node ${this.options.nodeId}: ${top.source} (${top.device}) is gone; remounting the volume's device ${device} at ${this.timestamp()}`,
        );
        for (let i = present.length; i > 0; i--)
          await filesystems.unmount(request.stagingPath, call);
      }
      await this.refuseMountStorm(number, device, call, table);
      const contents = await probing;
      let fsType: string;
      if (contents.kind === 'formatted') {
        if (request.fsType !== undefined && contents.fsType !== request.fsType) {
          throw new FailedPreconditionError(
            `volume ${request.volumeId} holds ${contents.fsType}, but ${request.fsType} was asked for; it was neither mounted nor formatted`,
          );
        }
        fsType = contents.fsType;
      } else if (contents.kind === 'blank') {
        fsType = request.fsType ?? request.defaultFsType;
        await filesystems.format(
          device,
          fsType as Filesystem,
          request.mkfsOptions,
          contents,
          { volumeId: request.volumeId, nqn: request.target.nqn },
          call,
        );
      } else {
        throw new UnsafeOperationError(
          `volume ${request.volumeId} was not formatted: its device's contents could not be read (${contents.reason}); retry once the device is readable`,
        );
      }
      await mkdir(request.stagingPath, { recursive: true });
      await filesystems.mount(device, request.stagingPath, fsType, request.mountFlags, call);
      mounted = true;
      log.info('volume staged', { device, stagingPath: request.stagingPath, fsType });
    } catch (error) {
      // Undo what this call did, newest first; the error that stopped it is what the caller sees.
      if (mounted)
        await filesystems
          .unmount(request.stagingPath)
          .catch((e: unknown) => log.error('undo: unmount failed', { error: describeError(e) }));
      if (made)
        await transport
          .disconnect(request.target.nqn)
          .catch((e: unknown) => log.error('undo: disconnect failed', { error: describeError(e) }));
      this.event(
        request.volumeId,
        'MountFailure',
        `staging on node ${this.options.nodeId} at ${request.stagingPath} failed at ${this.timestamp()}: ${error instanceof Error ? error.message : String(error)}${made ? ' (the connection this attempt made was undone)' : ''}`,
      );
      throw error;
    }
  }

  private timestamp(): string {
    return new Date(this.options.clock.now()).toISOString();
  }

  /** A Warning event on the volume's PVC; never throws, never waits. */
  private event(volumeId: string, reason: string, message: string): void {
    try {
      this.options.events?.post(volumeId, 'Warning', reason, `[${volumeId}]: ${message}`);
    } catch (error) {
      this.options.log.warn('event not posted', { volumeId, reason, error: describeError(error) });
    }
  }

  unstage(volumeId: string, nqn: string, stagingPath: string, call: CallOptions = {}) {
    return this.queue.run(volumeId, async () => {
      const { transport, filesystems } = this.options;
      const { device, number, here, table } = await this.ownMountsAt(
        volumeId,
        nqn,
        stagingPath,
        call,
      );
      if (number !== undefined) {
        const elsewhere = table.filter((e) => e.device === number && e.mountPoint !== stagingPath);
        if (elsewhere.length > 0) {
          throw new FailedPreconditionError(
            `volume ${volumeId} is still mounted at ${elsewhere.map((e) => e.mountPoint).join(', ')}; unpublish it there first`,
          );
        }
      }
      for (let i = here.length; i > 0; i--) await filesystems.unmount(stagingPath, call);
      if (device === undefined) return;
      const holders = await this.options.devices.holders(device);
      if (holders.length > 0) {
        throw new FailedPreconditionError(
          `volume ${volumeId} (${device}) is held by ${holders.join(', ')}; not disconnecting it`,
        );
      }
      // Open by a process other than this driver (a closing one gets three looks, 200 ms apart).
      let openers: string[] = [];
      for (let look = 0; look < 3; look++) {
        openers = await this.options.devices.openers(device);
        if (openers.length === 0) break;
        await pause(this.options.clock, 200);
      }
      if (openers.length > 0) {
        throw new FailedPreconditionError(
          `volume ${volumeId} (${device}) is open in process ${openers.join(', ')}; not disconnecting it (stop that process, then retry)`,
        );
      }
      await transport.disconnect(nqn, call);
      this.options.log.info('volume unstaged and disconnected', { volumeId, device, stagingPath });
    });
  }

  publish(request: PublishRequest, call: CallOptions = {}): Promise<void> {
    return this.queue.run(request.volumeId, async () => {
      const device = await this.options.transport.devicePath(request.nqn);
      if (device === undefined) {
        throw new FailedPreconditionError(
          `volume ${request.volumeId} is not staged on this node (${request.nqn} is not connected); NodeStageVolume comes first`,
        );
      }
      const number = await this.options.devices.requireNumber(device);
      if (request.block) await publishBlockNode(this.options, request, device, number, call);
      else await this.publishMount(request, number, call);
    });
  }

  private async publishMount(request: PublishRequest, number: string, call: CallOptions) {
    const { mounts, filesystems } = this.options;
    const table = await mounts.all(call); // one read of the mount table for every check below
    const staged = table.filter((e) => e.mountPoint === request.stagingPath).at(-1);
    if (staged?.device !== number) {
      throw new FailedPreconditionError(
        `volume ${request.volumeId} is not staged at ${request.stagingPath}; NodeStageVolume comes first`,
      );
    }
    const existing = table.filter((e) => e.mountPoint === request.targetPath).at(-1);
    if (existing !== undefined) {
      if (existing.device !== number) {
        throw new FailedPreconditionError(
          `${request.targetPath} already holds another device (${existing.source}); it was left untouched`,
        );
      }
      if (existing.options.includes('ro') !== request.readOnly) {
        throw new AlreadyExistsError(
          `volume ${request.volumeId} is already published at ${request.targetPath} ${existing.options.includes('ro') ? 'read-only' : 'read-write'}; unpublish it to change that`,
        );
      }
      return;
    }
    await this.refuseMountStorm(number, request.stagingPath, call, table);
    await mkdir(request.targetPath, { recursive: true });
    const flags = request.mountFlags.filter((f) => BIND_FLAGS.has(f) && f !== 'ro');
    await filesystems.bind(request.stagingPath, request.targetPath, request.readOnly, flags, call);
  }

  unpublish(volumeId: string, nqn: string, targetPath: string, call: CallOptions = {}) {
    return this.queue.run(volumeId, async () => {
      const { here } = await this.ownMountsAt(volumeId, nqn, targetPath, call);
      const { filesystems } = this.options;
      for (let i = here.length; i > 0; i--) await filesystems.unmount(targetPath, call);
      const left = await lstat(targetPath).catch(() => undefined);
      if (left === undefined) return;
      if (left.isBlockDevice()) {
        await unlink(targetPath);
      } else if (left.isDirectory()) {
        await rmdir(targetPath).catch((error: unknown) => {
          throw new FailedPreconditionError(
            `${targetPath} was unmounted but is not empty, so it was kept: ${describeError(error)}`,
          );
        });
      } else if (left.isFile() && left.size === 0) {
        await unlink(targetPath);
      }
    });
  }

  /** Usage and condition; takes no lock (a running stage must not make stats fail). */
  stats(volumeId: string, nqn: string, path: string, call: CallOptions = {}): Promise<VolumeStats> {
    return readVolumeStats(this.options, volumeId, nqn, path, call);
  }

  /** Rescans the device; grows a mounted filesystem at `path` to it. Returns the device's size. */
  expand(volumeId: string, nqn: string, path: string, block: boolean, call: CallOptions = {}) {
    return this.queue.run(volumeId, async () => {
      const info = await stat(path).catch(() => {
        throw new NotFoundError(`volume path ${path} does not exist`);
      });
      const device = await this.options.transport.devicePath(nqn);
      if (device === undefined)
        throw new FailedPreconditionError(`volume ${volumeId} is not connected on this node`);
      await this.options.transport.rescan(nqn, call);
      const size = await this.options.filesystems.sizeBytes(device, call);
      if (block || info.isBlockDevice()) return size;
      const mounted = (await this.options.mounts.mountsAt(path, call)).at(-1);
      if (
        mounted === undefined ||
        mounted.device !== (await this.options.devices.requireNumber(device))
      ) {
        throw new FailedPreconditionError(`volume ${volumeId} is not mounted at ${path}`);
      }
      await this.options.filesystems.grow(device, path, mounted.fsType, call);
      this.options.log.info('filesystem grown', { volumeId, device, path, sizeBytes: size });
      return size;
    });
  }

  /**
   * The volume's device (if connected), what is mounted at `path` and the whole mount table (one
   * read), refusing when `path` holds a live device other than the volume's: unstage and
   * unpublish only undo what is theirs.
   */
  private async ownMountsAt(volumeId: string, nqn: string, path: string, call: CallOptions) {
    const device = await this.options.transport.devicePath(nqn);
    const number =
      device === undefined ? undefined : await this.options.devices.requireNumber(device);
    const table = await this.options.mounts.all(call);
    const here = table.filter((e) => e.mountPoint === path);
    for (const entry of here) {
      if (number !== undefined && entry.device !== number && (await this.isLiveDevice(entry))) {
        throw new FailedPreconditionError(
          `${path} holds ${entry.source}, not volume ${volumeId}'s device; it was left untouched`,
        );
      }
    }
    return { device, number, here, table };
  }

  /** Whether a mount's device still exists: a mount of a vanished device is stale. */
  private async isLiveDevice(entry: MountEntry): Promise<boolean> {
    if (!entry.source.startsWith('/dev/')) return true; // not a device mount: not ours to judge
    const now = await this.options.devices.number(entry.source);
    return now === entry.device;
  }

  private async refuseMountStorm(
    number: string,
    what: string,
    call: CallOptions,
    table?: readonly MountEntry[],
  ) {
    const count = (table ?? (await this.options.mounts.all(call))).filter(
      (e) => e.device === number,
    ).length;
    if (count >= this.options.mountStormLimit) {
      throw new FailedPreconditionError(
        `${what} is already mounted ${count} times (limit ${this.options.mountStormLimit}): a mount propagation storm is likely; not adding another (see the node's mount table)`,
      );
    }
  }
}
