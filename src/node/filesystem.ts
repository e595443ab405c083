// filesystem.ts: what the node does to block devices and mounts: probe, format, mount, bind,
// unmount, grow, size. The format decision rests on positive evidence only (field-lessons #1): a
// device is blank when it is readable AND blkid finds no signature (exit 2); anything else
// ("unknown": blkid exit 1, a read error) is retried and then refused, never formatted. Each mkfs
// is preceded by an audit line in the log.
import { open } from 'node:fs/promises';

import { FailedPreconditionError, UnsafeOperationError } from '../errors.js';
import type { CallOptions, Filesystem, Logger } from '../ports.js';
import { firstLine, type CommandResult, type CommandRunner } from './exec.js';

export type DeviceContents =
  | { readonly kind: 'formatted'; readonly fsType: string }
  | { readonly kind: 'blank' }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface HostFilesystemOptions {
  readonly runner: CommandRunner;
  readonly log: Logger;
  /** Limit for quick commands (blkid, mount, umount, blockdev). */
  readonly commandTimeoutMs: number;
  /** Limit for mkfs and filesystem growth, which scale with the device. */
  readonly formatTimeoutMs: number;
  /** "Unknown" probes are retried this many times, `probeIntervalMs` apart (Go: 5 x 2 s). */
  readonly probeAttempts?: number;
  readonly probeIntervalMs?: number;
}

export class HostFilesystems {
  constructor(private readonly options: HostFilesystemOptions) {}

  /** One look at the device. */
  async probe(device: string, options: CallOptions = {}): Promise<DeviceContents> {
    const readable = await readsFirstBlock(device);
    if (readable !== true) return { kind: 'unknown', reason: `cannot read ${device}: ${readable}` };
    const result = await this.run('blkid', ['-p', '-o', 'export', device], options);
    if (result.code === 0) {
      const fields = new Map(
        result.stdout
          .split('\n')
          .map((line) => line.split('=') as [string, string | undefined])
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, v ?? '']),
      );
      const type =
        fields.get('TYPE') ??
        (fields.has('PTTYPE') ? `${fields.get('PTTYPE') ?? ''} partition table` : undefined);
      if (type === undefined || type === '')
        return { kind: 'unknown', reason: `blkid found a signature on ${device} but no type` };
      return { kind: 'formatted', fsType: type };
    }
    if (result.code === 2) return { kind: 'blank' };
    return { kind: 'unknown', reason: `blkid ${device}: ${firstLine(result)}` };
  }

  /** Probes until the answer is not "unknown", or the attempts run out (then "unknown"). */
  async probeSettled(device: string, options: CallOptions = {}): Promise<DeviceContents> {
    const attempts = this.options.probeAttempts ?? 5;
    let contents: DeviceContents = { kind: 'unknown', reason: 'not probed' };
    for (let attempt = 1; attempt <= attempts; attempt++) {
      contents = await this.probe(device, options);
      if (contents.kind !== 'unknown') return contents;
      this.options.log.warn('device contents unknown; not formatting, probing again', {
        device,
        attempt,
        reason: contents.reason,
      });
      if (attempt < attempts)
        await new Promise((resolve) => setTimeout(resolve, this.options.probeIntervalMs ?? 2_000));
    }
    return contents;
  }

  /**
   * Formats a device, given the probe that found it blank (made under the volume's lock, just
   * before). mkfs runs without force: mkfs.xfs then refuses an existing signature by itself;
   * mke2fs does not ask when it is not on a terminal, so for ext4 that probe is the evidence.
   */
  async format(
    device: string,
    fsType: Filesystem,
    extra: readonly string[],
    evidence: DeviceContents,
    audit: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<void> {
    if (evidence.kind !== 'blank') {
      throw new UnsafeOperationError(
        `refusing to format ${device}: it is not positively blank (${evidence.kind === 'formatted' ? `holds ${evidence.fsType}` : evidence.reason})`,
      );
    }
    const args = ['-q', ...extra, device];
    this.options.log.warn('formatting a blank device (audit)', {
      ...audit,
      device,
      fsType,
      command: [`mkfs.${fsType}`, ...args].join(' '),
    });
    const result = await this.options.runner.run(`mkfs.${fsType}`, args, {
      timeoutMs: this.options.formatTimeoutMs,
      ...options,
    });
    if (result.code !== 0) throw new Error(`mkfs.${fsType} ${device} failed: ${firstLine(result)}`);
  }

  async mount(
    source: string,
    target: string,
    fsType: string,
    flags: readonly string[],
    options: CallOptions = {},
  ): Promise<void> {
    const args = ['-t', fsType];
    if (flags.length > 0) args.push('-o', flags.join(','));
    args.push(source, target);
    const result = await this.run('mount', args, options);
    if (result.code !== 0)
      throw new Error(`mounting ${source} at ${target} failed: ${firstLine(result)}`);
  }

  /** A bind mount, made read-only by a remount when asked (a bind ignores ro on the first call). */
  async bind(
    source: string,
    target: string,
    readOnly: boolean,
    flags: readonly string[],
    options: CallOptions = {},
  ): Promise<void> {
    const bound = await this.run('mount', ['--bind', source, target], options);
    if (bound.code !== 0)
      throw new Error(`bind-mounting ${source} at ${target} failed: ${firstLine(bound)}`);
    const remount = [...(readOnly ? ['ro'] : []), ...flags];
    if (remount.length === 0) return;
    const result = await this.run(
      'mount',
      ['-o', ['remount', 'bind', ...remount].join(','), target],
      options,
    );
    if (result.code !== 0) {
      await this.unmount(target, options).catch(() => undefined);
      throw new Error(
        `remounting ${target} with ${remount.join(',')} failed: ${firstLine(result)}`,
      );
    }
  }

  async unmount(target: string, options: CallOptions = {}): Promise<void> {
    const result = await this.run('umount', [target], options);
    if (result.code !== 0) throw new Error(`unmounting ${target} failed: ${firstLine(result)}`);
  }

  /** Grows the filesystem on `device` (mounted at `mountPoint`) to the device's size. */
  async grow(
    device: string,
    mountPoint: string,
    fsType: string,
    options: CallOptions = {},
  ): Promise<void> {
    const [command, args] =
      fsType === 'xfs' ? ['xfs_growfs', [mountPoint]] : ['resize2fs', [device]];
    const result = await this.options.runner.run(command, args, {
      timeoutMs: this.options.formatTimeoutMs,
      ...options,
    });
    if (result.code === 0) return;
    const why = growFailure(command, result);
    // resize2fs answers EPERM when the process lacks CAP_SYS_RESOURCE (an unprivileged node
    // container): a deployment problem the operator fixes, not a driver fault.
    if (/permission denied|operation not permitted/i.test(why))
      throw new FailedPreconditionError(
        `${command} ${args.join(' ')} failed: ${why}; growing a mounted filesystem needs CAP_SYS_ADMIN and CAP_SYS_RESOURCE: run the node plugin privileged`,
      );
    throw new Error(`${command} ${args.join(' ')} failed: ${why}`);
  }

  /** The device's size in bytes. */
  async sizeBytes(device: string, options: CallOptions = {}): Promise<number> {
    const result = await this.run('blockdev', ['--getsize64', device], options);
    const bytes = Number(result.stdout.trim());
    if (result.code !== 0 || !Number.isSafeInteger(bytes))
      throw new Error(`cannot read the size of ${device}: ${firstLine(result)}`);
    return bytes;
  }

  private run(command: string, args: readonly string[], options: CallOptions) {
    return this.options.runner.run(command, args, {
      timeoutMs: this.options.commandTimeoutMs,
      ...options,
    });
  }
}

/** true, or why the first 4 KiB of the device cannot be read. */
async function readsFirstBlock(device: string): Promise<true | string> {
  let handle;
  try {
    handle = await open(device, 'r');
    const { bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    return bytesRead > 0 ? true : 'it reads as empty (0 bytes)';
  } catch (error) {
    return (error as Error).message;
  } finally {
    await handle?.close();
  }
}

/**
 * What a failed resize2fs or xfs_growfs said, without resize2fs's version banner (its first
 * stderr line, which used to be the whole message): the remaining stderr lines, else stdout's.
 */
export function growFailure(command: string, result: CommandResult): string {
  const lines = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l !== '' && !new RegExp(`^${command} \\d+\\.\\d+`).test(l));
  const said = lines(result.stderr);
  const text = (said.length > 0 ? said : lines(result.stdout)).slice(0, 3).join('; ');
  return text === '' ? `exit status ${String(result.code)}` : text;
}
