// proto.ts: loads proto/csi.proto once and exposes the typed CSI service definitions.
import { fileURLToPath } from 'node:url';

import { loadPackageDefinition } from '@grpc/grpc-js';
import { loadSync, type Options } from '@grpc/proto-loader';

import type { ProtoGrpcType } from './generated/csi.js';

/** Keep identical to the flags in scripts/gen-proto-types.mjs, or the types lie. */
export const LOADER_OPTIONS: Options = {
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** proto/ sits two levels above this file both in src/csi and in dist/csi. */
export const CSI_PROTO_PATH = fileURLToPath(new URL('../../proto/csi.proto', import.meta.url));

/** The csi.v1 package: service definitions for the server, client constructors for tests. */
export function loadCsiProto(): ProtoGrpcType {
  return loadPackageDefinition(
    loadSync(CSI_PROTO_PATH, LOADER_OPTIONS),
  ) as unknown as ProtoGrpcType;
}
