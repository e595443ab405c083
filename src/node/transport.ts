// transport.ts: how a node reaches a volume's block device. Production connects over NVMe/TCP with
// nvme-cli (nvme-transport.ts); tests and the quickstart attach the emulator's backing file as a
// loop device (loop-transport.ts). Both resolve NQN -> device through sysfs on every use, never
// from a remembered /dev path (field-lessons #17), and nothing above this interface knows which
// one runs.
import { isManagedNqn } from '../domain/naming.js';
import { UnsafeOperationError } from '../errors.js';
import type { CallOptions, TransportTarget } from '../ports.js';

export type { TransportTarget };

export interface Connection {
  readonly device: string;
  /** True when this call connected; false when the connection existed already. */
  readonly made: boolean;
}

export interface NvmeTransport {
  readonly kind: 'nvme' | 'loop';
  /**
   * Connects (idempotent: an existing connection is reused) and returns the block device path,
   * and whether this call made the connection (so a failed stage knows what to undo).
   */
  connect(target: TransportTarget, options?: CallOptions): Promise<Connection>;
  /** The block device of a connected NQN, resolved now through sysfs; undefined if not connected. */
  devicePath(nqn: string, options?: CallOptions): Promise<string | undefined>;
  /**
   * Disconnects and waits until sysfs shows the NQN gone (field-lessons #18); errors propagate.
   * Refuses (UnsafeOperationError) any NQN outside the managed prefix, checked here, in the
   * primitive itself (field-lessons #4). Not connected: nothing to do.
   */
  disconnect(nqn: string, options?: CallOptions): Promise<void>;
  /** Connected NQNs under the managed prefix (the orphan sweep's input). */
  connected(options?: CallOptions): Promise<string[]>;
  /** Makes the kernel re-read the device size after an expansion. */
  rescan(nqn: string, options?: CallOptions): Promise<void>;
}

/** The guard every destructive transport step calls first (the rule: isManagedNqn). */
export function assertManaged(nqn: string, managedPrefix: string, step: string): void {
  if (!isManagedNqn(nqn, managedPrefix)) {
    throw new UnsafeOperationError(
      `refusing to ${step} ${JSON.stringify(nqn).slice(1, -1).slice(0, 240)}: it is outside the managed NQN prefix ${managedPrefix} (only this driver's volumes are touched; the host may boot from other NVMe subsystems)`,
    );
  }
}
