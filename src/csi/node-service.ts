// node-service.ts: the CSI Node service. NodeGetInfo and NodeGetCapabilities are real; volume
// staging and publishing arrive with the node issue (issue 8) and answer UNIMPLEMENTED until then.
import type { NodeHandlers } from './generated/csi/v1/Node.js';
import type { NodeServiceCapability } from './generated/csi/v1/NodeServiceCapability.js';
import { notImplemented } from './not-implemented.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';

export interface NodeDeps extends RpcDeps {
  readonly version: string;
  readonly nodeId: string;
  /** 0: no limit (the CO decides). */
  readonly maxVolumesPerNode: number;
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
    NodeUnstageVolume: todo('NodeUnstageVolume'),
    NodePublishVolume: todo('NodePublishVolume'),
    NodeUnpublishVolume: todo('NodeUnpublishVolume'),
    NodeGetVolumeStats: todo('NodeGetVolumeStats'),
    NodeExpandVolume: todo('NodeExpandVolume'),
  };
}
