// controller-publish.ts: ControllerPublishVolume and ControllerUnpublishVolume (issue 13). The
// request is checked whole, the volume looked up on the RDS and the node in the node directory;
// the attachment decision is the volume's actor's (through the supervisor), persisted before the
// answer. publish_context tells the node how to connect.
import { InvalidInputError, NotFoundError, RdsUnavailableError } from '../errors.js';
import { storedMigrationTimeoutMs } from '../domain/migration-timeout.js';
import { isVolumeId } from '../domain/naming.js';
import type { RdsBackend } from '../ports.js';
import type { ControllerPublishVolumeRequest__Output } from './generated/csi/v1/ControllerPublishVolumeRequest.js';
import type { ControllerPublishVolumeResponse } from './generated/csi/v1/ControllerPublishVolumeResponse.js';
import type { ControllerUnpublishVolumeRequest__Output } from './generated/csi/v1/ControllerUnpublishVolumeRequest.js';
import { requireId } from './request-fields.js';
import { checkCapabilities } from './volume-capabilities.js';

/** Which node IDs exist: the Node informer, or in standalone mode the declared nodes. */
export interface NodeDirectory {
  /** true / false, or undefined when not known yet (caches not synced). */
  has(nodeId: string): boolean | undefined;
}

/** What the controller needs of the attachment supervisor. */
export interface Attachments {
  publish(request: {
    volumeId: string;
    nodeId: string;
    multiNode: boolean;
    readOnly: boolean;
    migrationTimeoutMs: number;
  }): Promise<void>;
  unpublish(volumeId: string, nodeId: string): Promise<void>;
  nodesOf(volumeId: string): readonly string[];
}

export interface PublishDeps {
  readonly rds: RdsBackend;
  readonly attachments: Attachments;
  readonly nodes: NodeDirectory;
  readonly defaults: { readonly nvmeAddress: string | undefined; readonly nvmePort: number };
}

export async function publishVolume(
  request: ControllerPublishVolumeRequest__Output,
  deps: PublishDeps,
  signal: AbortSignal,
): Promise<ControllerPublishVolumeResponse> {
  const volumeId = requireId(request.volumeId, 'volume_id');
  const nodeId = requireId(request.nodeId, 'node_id');
  if (request.volumeCapability === null) {
    throw new InvalidInputError('volume_capability is required', { field: 'volume_capability' });
  }
  const capability = checkCapabilities([request.volumeCapability], 'volume_capability');
  const disk = isVolumeId(volumeId) ? await deps.rds.getDisk(volumeId, { signal }) : undefined;
  if (disk === undefined) throw new NotFoundError(`volume ${volumeId} does not exist on the RDS`);
  const known = deps.nodes.has(nodeId);
  if (known === undefined) {
    throw new RdsUnavailableError(
      `the node list is not loaded yet; cannot check node ${nodeId}, retry`,
    );
  }
  if (!known) throw new NotFoundError(`node ${nodeId} does not exist`);
  await deps.attachments.publish({
    volumeId,
    nodeId,
    multiNode: capability.multiNode && capability.block,
    readOnly: request.readonly,
    migrationTimeoutMs: storedMigrationTimeoutMs(request.volumeContext['migrationTimeoutSeconds']),
  });
  const context = request.volumeContext;
  return {
    publishContext: {
      nqn: disk.nvmeExport?.nqn ?? context['nqn'] ?? '',
      nvmeAddress: context['nvmeAddress'] ?? deps.defaults.nvmeAddress ?? '',
      nvmePort: String(disk.nvmeExport?.port ?? context['nvmePort'] ?? deps.defaults.nvmePort),
    },
  };
}

export async function unpublishVolume(
  request: ControllerUnpublishVolumeRequest__Output,
  deps: PublishDeps,
): Promise<void> {
  const volumeId = requireId(request.volumeId, 'volume_id');
  // No node: unpublish from every node (CSI). A volume or node never published: nothing to undo.
  const nodes = request.nodeId === '' ? [...deps.attachments.nodesOf(volumeId)] : [request.nodeId];
  for (const node of nodes) await deps.attachments.unpublish(volumeId, node);
}
