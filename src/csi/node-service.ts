// node-service.ts: the CSI Node service. NodeGetInfo and NodeGetCapabilities are real; staging
// and publishing arrive with the node issue (issue 8) and answer UNIMPLEMENTED until then. Unstage
// and unpublish are already idempotent: nothing mounted at the path means nothing to undo (OK),
// which is what COs and csi-sanity's cleanup ask of them; a mounted path is refused, untouched.
import type { NodeHandlers } from './generated/csi/v1/Node.js';
import type { NodeServiceCapability } from './generated/csi/v1/NodeServiceCapability.js';
import { FailedPreconditionError, InvalidInputError } from '../errors.js';
import type { MountTable } from '../ports.js';
import { notImplemented } from './not-implemented.js';
import { requireId } from './request-fields.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';

export interface NodeDeps extends RpcDeps {
  readonly version: string;
  readonly nodeId: string;
  /** 0: no limit (the CO decides). */
  readonly maxVolumesPerNode: number;
  readonly mounts: MountTable;
}

/** CSI paths may be longer than other strings (csi-conformance.md 1.1); they must be absolute. */
function requirePath(value: string, field: string): string {
  if (value === '') throw new InvalidInputError(`${field} is required`, { field });
  if (!value.startsWith('/') || value.includes('\0') || Buffer.byteLength(value) > 4096) {
    throw new InvalidInputError(`${field} must be an absolute path`, { field });
  }
  return value;
}

export function createNodeService(deps: NodeDeps): NodeHandlers {
  const capabilities: NodeServiceCapability[] = [];
  const todo = <Req, Res>(method: string) => notImplemented<Req, Res>(method, deps.version, deps);
  return {
    NodeGetCapabilities: wrapUnary(
      'NodeGetCapabilities',
      () => Promise.resolve({ capabilities }),
      deps,
    ),
    NodeGetInfo: wrapUnary(
      'NodeGetInfo',
      () =>
        Promise.resolve({
          nodeId: deps.nodeId,
          maxVolumesPerNode: String(deps.maxVolumesPerNode),
          accessibleTopology: null,
        }),
      deps,
    ),
    NodeStageVolume: todo('NodeStageVolume'),
    NodeUnstageVolume: wrapUnary(
      'NodeUnstageVolume',
      async (request, { signal }) => {
        requireId(request.volumeId, 'volume_id');
        const path = requirePath(request.stagingTargetPath, 'staging_target_path');
        await refuseIfMounted(deps.mounts, path, 'NodeUnstageVolume', signal);
        return {};
      },
      deps,
    ),
    NodePublishVolume: todo('NodePublishVolume'),
    NodeUnpublishVolume: wrapUnary(
      'NodeUnpublishVolume',
      async (request, { signal }) => {
        requireId(request.volumeId, 'volume_id');
        const path = requirePath(request.targetPath, 'target_path');
        await refuseIfMounted(deps.mounts, path, 'NodeUnpublishVolume', signal);
        return {};
      },
      deps,
    ),
    NodeGetVolumeStats: todo('NodeGetVolumeStats'),
    NodeExpandVolume: todo('NodeExpandVolume'),
  };
}

/** Nothing mounted: nothing to undo. Something mounted: this version did not mount it; leave it. */
async function refuseIfMounted(
  mounts: MountTable,
  path: string,
  method: string,
  signal: AbortSignal,
): Promise<void> {
  const entries = await mounts.mountsAt(path, { signal });
  if (entries.length > 0) {
    throw new FailedPreconditionError(
      `${method}: ${path} is mounted (${entries[0]?.source ?? '?'}), but this driver version does not stage or publish volumes; unmount it by hand`,
    );
  }
}
