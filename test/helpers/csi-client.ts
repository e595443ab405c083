// csi-client.ts: promisified, typed CSI gRPC clients for tests (Go clients are tested via csi-sanity).
import { credentials, Metadata, status, type Client, type ServiceError } from '@grpc/grpc-js';
import type { MethodDefinition } from '@grpc/proto-loader';

import { loadCsiProto } from '../../src/csi/proto.js';
import type { ControllerDefinition } from '../../src/csi/generated/csi/v1/Controller.js';
import type { IdentityDefinition } from '../../src/csi/generated/csi/v1/Identity.js';
import type { NodeDefinition } from '../../src/csi/generated/csi/v1/Node.js';

import { waitFor } from './wait-for.js';

/** Each RPC of a service as `(request, metadata?) => Promise<response>`. */
export type PromiseClient<D> = {
  [K in keyof D]: D[K] extends MethodDefinition<infer Req, infer _Res, infer _Req, infer Res>
    ? (request: Req, metadata?: Metadata) => Promise<Res>
    : never;
};

export interface CsiClients {
  readonly identity: PromiseClient<IdentityDefinition>;
  readonly controller: PromiseClient<ControllerDefinition>;
  readonly node: PromiseClient<NodeDefinition>;
  close(): void;
}

type RawUnary = (
  request: unknown,
  metadata: Metadata,
  callback: (error: ServiceError | null, response?: unknown) => void,
) => unknown;

function promisify<D extends object>(client: Client, definition: D): PromiseClient<D> {
  const out: Record<string, unknown> = {};
  for (const name of Object.keys(definition)) {
    const method = (client as unknown as Record<string, RawUnary>)[name];
    if (typeof method !== 'function') continue;
    out[name] = (request: unknown, metadata = new Metadata()) =>
      new Promise((resolve, reject) => {
        method.call(client, request, metadata, (error, response) =>
          error ? reject(error) : resolve(response),
        );
      });
  }
  return out as PromiseClient<D>;
}

/** `address` as the server reports it: unix:///path or tcp://host:port. */
export function csiClients(address: string): CsiClients {
  const target = address.startsWith('tcp://') ? address.slice('tcp://'.length) : address;
  const csi = loadCsiProto().csi.v1;
  const creds = credentials.createInsecure();
  const identity = new csi.Identity(target, creds);
  const controller = new csi.Controller(target, creds);
  const node = new csi.Node(target, creds);
  return {
    identity: promisify(identity, csi.Identity.service),
    controller: promisify(controller, csi.Controller.service),
    node: promisify(node, csi.Node.service),
    close: () => {
      identity.close();
      controller.close();
      node.close();
    },
  };
}

/** Resolves with the ServiceError of a call expected to fail. */
export async function grpcError(pending: Promise<unknown>): Promise<ServiceError> {
  try {
    await pending;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

/**
 * Calls until it answers anything but UNAVAILABLE (which the sidecars retry: the attachment
 * state still loading, a fault just injected); any other error is thrown at once.
 */
export async function retryUnavailable<T>(call: () => Promise<T>, what: string): Promise<T> {
  return waitFor(
    async () => {
      try {
        return await call();
      } catch (error) {
        if ((error as { code?: number }).code === status.UNAVAILABLE) return undefined;
        throw error;
      }
    },
    { timeoutMs: 15_000, intervalMs: 100, what },
  );
}
