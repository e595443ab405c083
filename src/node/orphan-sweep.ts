// orphan-sweep.ts: at node start, connections this driver left behind (a crash between stage and
// unstage, a node plugin replaced mid-way) are found from the kernel's state and, only when
// enabled, disconnected. Dry-run is the default: it logs what it would do.
//
// A connection is an orphan only when every independent signal agrees (field-lessons #2): its
// NQN is under the managed prefix (the transport refuses others anyway, #4); its device is not
// mounted anywhere; no device is stacked on it; no loop device is backed by it (kubelet holds
// published block volumes open that way); no raw block device node of it lies under kubelet's
// volumeDevices directory (a published block volume whose kubelet made no loop device); and no
// process has it open.
import { describeError } from '../errors.js';
import type { Logger, MountTable } from '../ports.js';
import type { BlockDevices } from './block-devices.js';
import type { NvmeTransport } from './transport.js';

export type OrphanSweepMode = 'off' | 'dry-run' | 'enabled';

export interface OrphanSweepOptions {
  readonly transport: NvmeTransport;
  readonly mounts: MountTable;
  readonly devices: BlockDevices;
  readonly log: Logger;
  readonly mode: OrphanSweepMode;
  /** Where NodePublish makes raw block device nodes: <kubelet-dir>/plugins/kubernetes.io/csi/volumeDevices. */
  readonly blockPublishRoot?: string;
}

export interface SweepResult {
  readonly orphans: string[];
  readonly disconnected: string[];
  /** NQN -> why it is in use (kept). */
  readonly inUse: Record<string, string>;
}

export async function sweepOrphans(options: OrphanSweepOptions): Promise<SweepResult> {
  const result: SweepResult = { orphans: [], disconnected: [], inUse: {} };
  if (options.mode === 'off') return result;
  const table = await options.mounts.all();
  const connected = await options.transport.connected();
  // One walk for every connection (not one per connection).
  const published =
    options.blockPublishRoot === undefined || connected.length === 0
      ? undefined
      : await options.devices.nodesUnder(options.blockPublishRoot);
  for (const nqn of connected) {
    const device = await options.transport.devicePath(nqn);
    if (device === undefined) continue;
    const why = await inUse(options, device, table, published);
    if (why !== undefined) {
      result.inUse[nqn] = why;
      continue;
    }
    result.orphans.push(nqn);
    if (options.mode === 'dry-run') {
      options.log.warn('orphaned connection found; would disconnect it (dry-run)', {
        nqn,
        device,
        enableWith: '--orphan-sweep enabled',
      });
      continue;
    }
    try {
      await options.transport.disconnect(nqn);
      result.disconnected.push(nqn);
      options.log.warn('orphaned connection disconnected', { nqn, device });
    } catch (error) {
      options.log.error('could not disconnect an orphaned connection', {
        nqn,
        device,
        error: describeError(error),
      });
    }
  }
  options.log.info('orphan sweep done', {
    mode: options.mode,
    orphans: result.orphans.length,
    disconnected: result.disconnected.length,
    inUse: Object.keys(result.inUse).length,
  });
  return result;
}

async function inUse(
  options: OrphanSweepOptions,
  device: string,
  table: Awaited<ReturnType<MountTable['all']>>,
  published: Awaited<ReturnType<BlockDevices['nodesUnder']>> | undefined,
): Promise<string | undefined> {
  const number = await options.devices.number(device);
  const mounted = table.find((e) => e.device === number);
  if (mounted !== undefined) return `mounted at ${mounted.mountPoint}`;
  const holders = await options.devices.holders(device);
  if (holders.length > 0) return `held by ${holders.join(', ')}`;
  const loops = await options.devices.loopsBackedBy(device);
  if (loops.length > 0) return `backs ${loops.join(', ')}`;
  if (published !== undefined && number !== undefined) {
    const nodes = published.nodes.get(number) ?? [];
    if (nodes.length > 0) return `published as a block device at ${nodes.join(', ')}`;
    // Not every node could be looked at: it may be published; keep it (fail safe).
    if (!published.complete)
      return `${options.blockPublishRoot} is too large to check for block device nodes of it`;
  }
  const openers = await options.devices.openers(device, -1);
  if (openers.length > 0) return `open in process ${openers.join(', ')}`;
  return undefined;
}
