// filesystem.ts: what the node does to block devices and mounts: probe, format, mount, bind,
// unmount, grow, size. The format decision rests on positive evidence only (field-lessons #1): a
// device is blank when it is readable AND blkid finds no signature (exit 2); anything else
// ("unknown": blkid exit 1, a read error) is retried and then refused, never formatted. Each mkfs
// is preceded by an audit line in the log.
import { open } from 'node:fs/promises';

import { InternalError, UnsafeOperationError } from '../errors.js';
import type { CallOptions, Clock, Filesystem, Logger } from '../ports.js';
import { commandFailure, toolMessage } from './command-failure.js';
import type { CommandRunner } from './exec.js';
import { pause } from './poll-until.js';

export type DeviceContents =
  | { readonly kind: 'formatted'; readonly fsType: string }
  | { readonly kind: 'blank' }
  | { readonly kind: 'unknown'; readonly reason: string };

export interface HostFilesystemOptions {
  readonly runner: CommandRunner;
  /** Times the pause between "unknown" probes. */
  readonly clock: Clock;
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
    const said = toolMessage(result) || 'it printed nothing';
    return { kind: 'unknown', reason: `blkid ${device} exited ${String(result.code)}: ${said}` };
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
        await pause(this.options.clock, this.options.probeIntervalMs ?? 2_000);
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
    if (result.code !== 0) {
      throw commandFailure(`mkfs.${fsType}`, result, {
        step: `formatting ${device} as ${fsType}`,
        advice: `check the volume's mkfsOptions (a StorageClass parameter) against mkfs.${fsType}'s manual, and that the volume is large enough for ${fsType}`,
      });
    }
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
    if (result.code !== 0) {
      throw commandFailure('mount', result, {
        step: `mounting ${source} at ${target}`,
        advice: `check the volume's mount options (the StorageClass mountOptions) and its filesystem; the node's kernel log (dmesg) says which the kernel refused`,
      });
    }
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
    if (bound.code !== 0) {
      throw commandFailure('mount', bound, {
        step: `bind-mounting ${source} at ${target}`,
        advice: `check that the volume is still staged at ${source} (the node's mount table)`,
      });
    }
    const remount = [...(readOnly ? ['ro'] : []), ...flags];
    if (remount.length === 0) return;
    const result = await this.run(
      'mount',
      ['-o', ['remount', 'bind', ...remount].join(','), target],
      options,
    );
    if (result.code !== 0) {
      await this.unmount(target, options).catch(() => undefined);
      throw commandFailure('mount', result, {
        step: `remounting ${target} with ${remount.join(',')}`,
        advice: `the bind mount was undone; check the volume's mount options (the StorageClass mountOptions)`,
      });
    }
  }

  async unmount(target: string, options: CallOptions = {}): Promise<void> {
    const result = await this.run('umount', [target], options);
    if (result.code !== 0) {
      throw commandFailure('umount', result, {
        step: `unmounting ${target}`,
        advice: `check the node's mount table for ${target}`,
      });
    }
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
    // resize2fs answers EPERM when the process lacks CAP_SYS_RESOURCE (an unprivileged node
    // container): commandFailure says to run the node plugin privileged.
    throw commandFailure(command, result, {
      step: `growing the ${fsType} filesystem on ${device} (mounted at ${mountPoint})`,
      advice: `the volume is already larger on the RDS; kubelet retries NodeExpandVolume, which grows the filesystem once the cause is fixed`,
    });
  }

  /** The device's size in bytes. */
  async sizeBytes(device: string, options: CallOptions = {}): Promise<number> {
    const result = await this.run('blockdev', ['--getsize64', device], options);
    if (result.code !== 0) {
      throw commandFailure('blockdev', result, {
        step: `reading the size of ${device}`,
        advice: `check that the volume is still connected on this node`,
      });
    }
    const bytes = Number(result.stdout.trim());
    if (!Number.isSafeInteger(bytes))
      throw new InternalError(
        `blockdev --getsize64 ${device} printed "${result.stdout.trim().slice(0, 40)}", not a byte count`,
      );
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
