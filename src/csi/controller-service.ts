// controller-service.ts: the CSI Controller service. Until the RDS client lands (issue 5) it
// advertises no capability and answers UNIMPLEMENTED for every volume RPC.
import type { ControllerHandlers } from './generated/csi/v1/Controller.js';
import type { ControllerServiceCapability } from './generated/csi/v1/ControllerServiceCapability.js';
import { notImplemented } from './not-implemented.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';

export interface ControllerDeps extends RpcDeps {
  readonly version: string;
}

export function createControllerService(deps: ControllerDeps): ControllerHandlers {
  // Advertise only what really works (issue 3): nothing yet.
  const capabilities: ControllerServiceCapability[] = [];
  const todo = <Req, Res>(method: string) => notImplemented<Req, Res>(method, deps.version, deps);
  return {
    ControllerGetCapabilities: wrapUnary(
      'ControllerGetCapabilities',
      () => Promise.resolve({ capabilities }),
      deps,
    ),
    CreateVolume: todo('CreateVolume'),
    DeleteVolume: todo('DeleteVolume'),
    ControllerPublishVolume: todo('ControllerPublishVolume'),
    ControllerUnpublishVolume: todo('ControllerUnpublishVolume'),
    ValidateVolumeCapabilities: todo('ValidateVolumeCapabilities'),
    ListVolumes: todo('ListVolumes'),
    GetCapacity: todo('GetCapacity'),
    CreateSnapshot: todo('CreateSnapshot'),
    DeleteSnapshot: todo('DeleteSnapshot'),
    ListSnapshots: todo('ListSnapshots'),
    GetSnapshot: todo('GetSnapshot'),
    ControllerExpandVolume: todo('ControllerExpandVolume'),
    ControllerGetVolume: todo('ControllerGetVolume'),
    ControllerModifyVolume: todo('ControllerModifyVolume'),
  };
}
