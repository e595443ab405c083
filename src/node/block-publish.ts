// block-publish.ts: NodePublishVolume for a raw block volume: a device node of the volume's
// device at kubelet's target path, replacing only what is safe to replace there.
import { lstat, readdir, rmdir, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

import { FailedPreconditionError } from '../errors.js';
import type { CallOptions, Logger, PublishRequest } from '../ports.js';
import { deviceNumberOf } from './block-devices.js';
import { commandFailure } from './command-failure.js';
import type { CommandRunner } from './exec.js';

export interface BlockPublishDeps {
  readonly runner: CommandRunner;
  readonly log: Logger;
  readonly commandTimeoutMs: number;
}

/**
 * A raw block volume: a device node made with mknod at the target (a bind mount of devtmpfs
 * starts propagation storms: field-lessons #5). A node left from before a renumbering points at
 * the wrong device and is replaced.
 */
export async function publishBlockNode(
  deps: BlockPublishDeps,
  request: PublishRequest,
  device: string,
  number: string,
  call: CallOptions,
): Promise<void> {
  if (request.readOnly) {
    throw new FailedPreconditionError(
      `volume ${request.volumeId}: read-only raw block volumes are not supported (a device node cannot be made read-only for a privileged consumer)`,
    );
  }
  const existing = await lstat(request.targetPath).catch(() => undefined);
  if (existing?.isBlockDevice() === true) {
    if (deviceNumberOf(existing.rdev) === number) return;
    deps.log.warn('block device node points at another device; replacing it', {
      volumeId: request.volumeId,
      targetPath: request.targetPath,
      was: deviceNumberOf(existing.rdev),
      now: number,
    });
    await unlink(request.targetPath);
  } else if (existing?.isDirectory() === true) {
    if ((await readdir(request.targetPath)).length > 0) {
      throw new FailedPreconditionError(
        `${request.targetPath} is a directory with contents; a block volume's target must be free`,
      );
    }
    await rmdir(request.targetPath);
  } else if (existing?.isFile() === true && existing.size === 0) {
    await unlink(request.targetPath);
  } else if (existing !== undefined) {
    throw new FailedPreconditionError(
      `${request.targetPath} already exists and is not a block device node of this volume; it was left untouched`,
    );
  }
  const [major = '', minor = ''] = number.split(':');
  const result = await deps.runner.run(
    'mknod',
    ['-m', '0660', request.targetPath, 'b', major, minor],
    { timeoutMs: deps.commandTimeoutMs, ...call },
  );
  if (result.code !== 0) {
    throw commandFailure('mknod', result, {
      step: `creating the device node ${request.targetPath} for ${device}`,
      advice: `check that ${dirname(request.targetPath)} exists and that the node plugin runs privileged (it makes block device nodes)`,
    });
  }
}
