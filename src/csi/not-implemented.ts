// not-implemented.ts: the answer for RPCs this driver version does not serve yet.
//
// CSI: an RPC the plugin does not implement answers UNIMPLEMENTED, and the matching capability
// is not advertised, so a well-behaved CO never calls it (csi-conformance.md 1.2).
import type { handleUnaryCall } from '@grpc/grpc-js';

import { NotImplementedError } from '../errors.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';

export function notImplemented<Req, Res>(
  method: string,
  version: string,
  deps: RpcDeps,
): handleUnaryCall<Req, Res> {
  return wrapUnary<Req, Res>(
    method,
    () =>
      Promise.reject(
        new NotImplementedError(
          `${method} is not implemented by rds-csi-ts ${version}, and no capability that needs it is advertised; ` +
            'check that the sidecar and driver versions match the deployment guide',
        ),
      ),
    deps,
  );
}
