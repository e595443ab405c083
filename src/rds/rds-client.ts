// rds-client.ts: the RdsBackend port over SSH: typed commands in, parsed records out, device
// errors mapped, and mutations that read the device back before deciding anything.
//
// Mutation safety (issue 5; field-lessons #20): mutations of one slot run one at a time; when a
// connection drops or a command times out during add/set/remove, the outcome is unknown, so the
// device is read and the answer follows what it shows: never a duplicated, lost or leaked disk.
import {
  AlreadyExistsError,
  NotFoundError,
  OperationTimeoutError,
  RdsCommandError,
  RdsUnavailableError,
} from '../errors.js';
import type {
  CallOptions,
  CreateDiskSpec,
  Logger,
  OrphanStorage,
  RdsBackend,
  RdsDisk,
  RdsFile,
  RdsPool,
} from '../ports.js';
import * as commands from './commands/disk-commands.js';
import { renderCommand, type RouterOsCommand } from './commands/render.js';
import * as values from './commands/values.js';
import { checkAnswer, type ShellResult } from './device-answer.js';
import { KeyedQueue } from '../domain/keyed-queue.js';
import {
  parseDiskPrintDetail,
  parsePoolMountPoints,
  parsePoolPrintDetail,
} from './parsers/disk-parser.js';
import { parseFilePrintDetail } from './parsers/file-parser.js';

/** What the client needs from a shell: one command line in, the device's answer out. */
export interface CommandShell {
  run(commandLine: string, options?: { signal?: AbortSignal }): Promise<ShellResult>;
}

function outcomeUnknown(error: unknown): boolean {
  return error instanceof RdsUnavailableError || error instanceof OperationTimeoutError;
}

export class RdsClient implements RdsBackend, OrphanStorage {
  private readonly mutations = new KeyedQueue();

  constructor(private readonly deps: { shell: CommandShell; log: Logger }) {}

  private async send(
    command: RouterOsCommand,
    what: string,
    options: CallOptions,
  ): Promise<string> {
    const line = renderCommand(command);
    const result = await this.deps.shell.run(
      line,
      options.signal ? { signal: options.signal } : {},
    );
    return checkAnswer(result, what);
  }

  async getDisk(slot: string, options: CallOptions = {}): Promise<RdsDisk | undefined> {
    const output = await this.send(
      commands.getDisk(values.slotName(slot)),
      `reading disk ${slot}`,
      options,
    );
    const disks = parseDiskPrintDetail(output).filter((d) => d.slot === slot);
    if (disks.length > 1)
      throw new RdsCommandError(`RDS lists slot ${slot} ${disks.length} times`, 'duplicate slot');
    return disks[0];
  }

  async listDisks(prefix: string, options: CallOptions = {}): Promise<RdsDisk[]> {
    const output = await this.send(
      commands.listDisks(values.slotName(prefix)),
      `listing ${prefix}* disks`,
      options,
    );
    return parseDiskPrintDetail(output).filter((d) => d.slot.startsWith(prefix));
  }

  async listAllDisks(options: CallOptions = {}): Promise<RdsDisk[]> {
    return parseDiskPrintDetail(await this.send(commands.listAllDisks(), 'listing disks', options));
  }

  async getPool(mountPoint: string, options: CallOptions = {}): Promise<RdsPool> {
    const output = await this.send(
      commands.getPool(values.mountPoint(mountPoint)),
      `reading pool ${mountPoint}`,
      options,
    );
    const pool = parsePoolPrintDetail(output);
    if (pool === undefined) {
      // Worth a second command: the answer says which pools a volumePath may start with.
      const pools = await this.send(commands.listAllDisks(), 'listing pools', options)
        .then(parsePoolMountPoints)
        .catch(() => undefined);
      const existing =
        pools === undefined
          ? ''
          : pools.length === 0
            ? '; it has no storage pool at all'
            : `; its pools: ${pools.map((p) => `/${p}`).join(', ')}`;
      throw new NotFoundError(
        `the RDS has no storage pool mounted at "${mountPoint}"${existing}; the first component of volumePath must name one`,
      );
    }
    return pool;
  }

  async listFiles(directory: string, options: CallOptions = {}): Promise<RdsFile[]> {
    const name = values.fileName(directory);
    const output = await this.send(
      commands.listFiles(name),
      `listing files in ${directory}`,
      options,
    );
    return parseFilePrintDetail(output).filter(
      (f) => f.path === directory || f.path.startsWith(`${directory}/`),
    );
  }

  createDisk(spec: CreateDiskSpec, options: CallOptions = {}): Promise<RdsDisk> {
    const command = commands.addDisk({
      slot: values.slotName(spec.slot),
      filePath: values.diskFilePath(spec.filePath),
      ...(spec.sizeBytes !== undefined ? { size: values.byteCount(spec.sizeBytes) } : {}),
      ...(spec.copyFromSlot !== undefined ? { copyFrom: values.slotName(spec.copyFromSlot) } : {}),
      ...(spec.nvmeExport !== undefined
        ? {
            export: {
              port: values.tcpPort(spec.nvmeExport.port),
              nqn: values.nqn(spec.nvmeExport.nqn),
            },
          }
        : {}),
      comment: values.commentText(spec.comment),
    });
    // No read before the add: callers have just looked (under the volume's lock), and the device
    // refuses a taken slot, which is answered by reading that disk back.
    return this.mutations.run(spec.slot, async () => {
      try {
        await this.sendAdd(command, spec, options);
      } catch (error) {
        if (error instanceof AlreadyExistsError && /slot already exists/.test(error.message)) {
          const existing = await this.getDisk(spec.slot, options);
          if (existing !== undefined) return this.sameAsSpec(existing, spec);
        }
        if (!outcomeUnknown(error)) throw error;
        return this.afterUnknownCreate(spec, error as Error, options);
      }
      const created = await this.getDisk(spec.slot, options);
      if (created === undefined)
        throw new RdsCommandError(
          `RDS accepted disk ${spec.slot} but does not list it`,
          'missing after add',
        );
      return this.sameAsSpec(created, spec);
    });
  }

  /** A disk already there is the answer only if it is the one asked for. */
  private sameAsSpec(disk: RdsDisk, spec: CreateDiskSpec): RdsDisk {
    const sizeOk = spec.sizeBytes === undefined || disk.sizeBytes === spec.sizeBytes;
    const exportOk =
      spec.nvmeExport === undefined ? true : disk.nvmeExport?.nqn === spec.nvmeExport.nqn;
    if (disk.filePath !== spec.filePath || !sizeOk || !exportOk) {
      throw new AlreadyExistsError(
        `RDS disk ${disk.slot} already exists with file ${disk.filePath ?? '-'} and ${disk.sizeBytes} bytes, ` +
          `not ${spec.filePath} and ${spec.sizeBytes ?? 'its source size'}`,
      );
    }
    return disk;
  }

  /**
   * `/disk add`, once more if the device says the file already exists: with no disk in this slot
   * (checked under the slot's lock), `<slot>.img` can only be what an interrupted earlier add of
   * this same volume left behind (the slot is the volume's unique ID), so it is removed first.
   */
  private async sendAdd(
    command: RouterOsCommand,
    spec: CreateDiskSpec,
    options: CallOptions,
  ): Promise<void> {
    try {
      await this.send(command, `creating disk ${spec.slot}`, options);
    } catch (error) {
      if (!(error instanceof AlreadyExistsError) || !/file already exists/.test(error.message))
        throw error;
      if (!spec.filePath.endsWith(`/${spec.slot}.img`)) throw error;
      this.deps.log.warn(
        'removing the file an interrupted create left behind, then creating again',
        {
          slot: spec.slot,
          path: spec.filePath,
        },
      );
      await this.removeFileIfPresent(spec.filePath, options);
      await this.send(command, `creating disk ${spec.slot}`, options);
    }
  }

  /**
   * The connection dropped or the RDS stopped answering while `/disk add` ran: look before
   * deciding (field-lessons #20). A disk that is there is the answer; none means retry. A file
   * the add may have left is not removed here: the device may still be writing it. The retry
   * (sendAdd) or DeleteVolume (removeDisk) removes it, so it cannot leak.
   */
  private async afterUnknownCreate(
    spec: CreateDiskSpec,
    error: Error,
    options: CallOptions,
  ): Promise<RdsDisk> {
    this.deps.log.warn('disk create outcome unknown; reading the RDS back', {
      slot: spec.slot,
      error: error.message,
    });
    const disk = await this.getDisk(spec.slot, options);
    if (disk !== undefined) return this.sameAsSpec(disk, spec);
    throw new RdsUnavailableError(
      `creating disk ${spec.slot} was interrupted (${error.message}); the RDS shows no such disk, retry`,
      { cause: error },
    );
  }

  resizeDisk(slot: string, sizeBytes: number, options: CallOptions = {}): Promise<RdsDisk> {
    const command = commands.resizeDisk(values.slotName(slot), values.byteCount(sizeBytes));
    return this.mutations.run(slot, async () => {
      const before = await this.getDisk(slot, options);
      if (before === undefined) throw new NotFoundError(`RDS disk ${slot} does not exist`);
      if (before.sizeBytes >= sizeBytes) return before;
      try {
        await this.send(command, `resizing disk ${slot}`, options);
      } catch (error) {
        if (!outcomeUnknown(error)) throw error;
        this.deps.log.warn('disk resize outcome unknown; reading the RDS back', {
          slot,
          error: (error as Error).message,
        });
      }
      const after = await this.getDisk(slot, options);
      if (after?.sizeBytes !== sizeBytes) {
        throw new RdsUnavailableError(
          `RDS disk ${slot} has ${after?.sizeBytes ?? 'no'} bytes after resizing to ${sizeBytes}; retry`,
        );
      }
      return after;
    });
  }

  removeDisk(slot: string, options: CallOptions = {}): Promise<void> {
    const checked = values.slotName(slot);
    return this.mutations.run(slot, async () => {
      const disk = await this.getDisk(slot, options);
      if (disk !== undefined) {
        try {
          await this.send(commands.removeDisk(checked), `removing disk ${slot}`, options);
        } catch (error) {
          if (error instanceof NotFoundError) {
            // Gone already: the goal state.
          } else if (!outcomeUnknown(error) || (await this.getDisk(slot, options)) !== undefined) {
            throw error;
          }
        }
      }
      // The backing file goes too. When an earlier attempt removed only the disk, its path is no
      // longer listed: find `<slot>.img` by exact name (the slot is this volume's unique ID).
      const paths =
        disk?.filePath !== undefined
          ? [disk.filePath]
          : await this.orphanImagesOf(checked, options);
      for (const path of paths) await this.removeFileIfPresent(path, options);
    });
  }

  private async orphanImagesOf(slot: values.SlotName, options: CallOptions): Promise<string[]> {
    const name = values.imageFileName(slot);
    const output = await this.send(commands.findFilesNamed(name), `looking for ${name}`, options);
    return parseFilePrintDetail(output)
      .filter((f) => !f.isDirectory && f.path.endsWith(`/${name}`))
      .map((f) => f.path);
  }

  /**
   * Removes one file by path (the orphan audit). Runs in the queue of the slot its name carries
   * (`<slot>.img`), so it never interleaves with a create of that slot; a missing file is success.
   */
  removeFile(path: string, options: CallOptions = {}): Promise<void> {
    values.fileName(path);
    const base = path.slice(path.lastIndexOf('/') + 1);
    const key = base.endsWith('.img') ? base.slice(0, -'.img'.length) : path;
    return this.mutations.run(key, () => this.removeFileIfPresent(path, options));
  }

  /**
   * Removes a file unless a read shows it gone. Whether `/disk remove` deletes the image is not
   * verified on every RouterOS version (routeros-cli.md 3.2); a read is cheap and runs alongside
   * other commands, while `/file remove` is a mutation the device serializes.
   */
  private async removeFileIfPresent(path: string, options: CallOptions): Promise<void> {
    const name = values.fileName(path);
    const listed = await this.send(commands.getFile(name), `looking for ${path}`, options);
    if (!parseFilePrintDetail(listed).some((f) => f.path === path)) return;
    try {
      await this.send(commands.removeFile(values.fileName(path)), `removing file ${path}`, options);
    } catch (error) {
      if (!(error instanceof NotFoundError)) throw error;
    }
  }
}
