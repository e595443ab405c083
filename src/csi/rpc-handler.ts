// rpc-handler.ts: the one wrapper every CSI handler runs in: request id, cancellation, the
// per-RPC log line, in-flight accounting for shutdown, and error mapping.
import { randomUUID } from 'node:crypto';

import {
  status as Status,
  type handleUnaryCall,
  type sendUnaryData,
  type ServerUnaryCall,
} from '@grpc/grpc-js';

import { DriverError, OperationCancelledError, describeError } from '../errors.js';
import type { Clock, LogFields, Logger } from '../ports.js';
import { statusName, toGrpcStatus } from './errors.js';

export interface RequestContext {
  readonly requestId: string;
  readonly method: string;
  /** Child logger bound to requestId and method. */
  readonly log: Logger;
  /** Aborted when the caller cancels, its deadline passes, or shutdown forces an exit. */
  readonly signal: AbortSignal;
}

export type UnaryImpl<Req, Res> = (request: Req, context: RequestContext) => Promise<Res>;

export interface RpcDeps {
  readonly log: Logger;
  readonly clock: Pick<Clock, 'now'>;
  readonly inflight: InflightCalls;
  /** Told of every answered call (metrics): method, gRPC code name, seconds. */
  readonly observe?: (method: string, code: string, seconds: number) => void;
}

/** Frequent, read-only calls: their success lines go to debug (STYLE.md rule 13). */
const QUIET_METHODS = new Set([
  'Probe',
  'GetPluginInfo',
  'GetPluginCapabilities',
  'ControllerGetCapabilities',
  'NodeGetCapabilities',
  'NodeGetInfo',
  'NodeGetVolumeStats',
]);

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/** Counts calls in progress, so shutdown can drain them and say how many it had to cut off. */
export class InflightCalls {
  private readonly calls = new Map<string, { method: string; abort: AbortController }>();

  get size(): number {
    return this.calls.size;
  }

  /** Method names of the calls still running, for the shutdown log. */
  methods(): string[] {
    return [...this.calls.values()].map((c) => c.method);
  }

  add(requestId: string, method: string, abort: AbortController): void {
    this.calls.set(requestId, { method, abort });
  }

  delete(requestId: string): void {
    this.calls.delete(requestId);
  }

  /** Aborts every running handler's signal (forced shutdown). */
  abortAll(reason: Error): void {
    for (const call of this.calls.values()) call.abort.abort(reason);
  }
}

/** Fields worth a column in the RPC log line, read from any CSI request. */
function requestFields(request: unknown): LogFields {
  if (request === null || typeof request !== 'object') return {};
  const r = request as Record<string, unknown>;
  const pick = (value: unknown): string | undefined =>
    typeof value === 'string' && value !== '' ? value : undefined;
  const fields: Record<string, string> = {};
  const volumeId = pick(r['volumeId']) ?? pick(r['sourceVolumeId']);
  if (volumeId !== undefined) fields['volumeId'] = volumeId;
  const nodeId = pick(r['nodeId']);
  if (nodeId !== undefined) fields['nodeId'] = nodeId;
  const snapshotId = pick(r['snapshotId']);
  if (snapshotId !== undefined) fields['snapshotId'] = snapshotId;
  const name = pick(r['name']);
  if (name !== undefined) fields['name'] = name;
  return fields;
}

function requestIdOf(call: ServerUnaryCall<unknown, unknown>): string {
  const given = call.metadata.get('x-request-id')[0];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

/** Adapts a typed async implementation to grpc-js's callback handler. */
export function wrapUnary<Req, Res>(
  method: string,
  impl: UnaryImpl<Req, Res>,
  deps: RpcDeps,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>) => {
    const started = deps.clock.now();
    const requestId = requestIdOf(call);
    const fields = { requestId, method, ...requestFields(call.request) };
    const log = deps.log.child(fields);
    const abort = new AbortController();
    call.on('cancelled', () => {
      abort.abort(
        new OperationCancelledError(`${method} was cancelled by the caller or its deadline`),
      );
    });
    deps.inflight.add(requestId, method, abort);
    const finish = (code: Status, error?: unknown, unexpected = false): void => {
      deps.inflight.delete(requestId);
      deps.observe?.(method, statusName(code), (deps.clock.now() - started) / 1000);
      const line: Record<string, unknown> = {
        durationMs: deps.clock.now() - started,
        grpcCode: statusName(code),
        // Logged because some Go clients' :authority over unix sockets was once rejected
        // (csi-conformance.md pitfall 2); it shows which form each caller sends.
        authority: call.getHost(),
      };
      if (error !== undefined) line['error'] = unexpected ? error : describeError(error);
      // The stable code (errors.ts) beside the gRPC one: several failures share a gRPC code.
      if (error instanceof DriverError) line['errorCode'] = error.code;
      if (unexpected) log.error('rpc failed with an unexpected error', line);
      else if (code !== Status.OK) log.warn('rpc failed', line);
      else if (QUIET_METHODS.has(method)) log.debug('rpc', line);
      else log.info('rpc', line);
    };
    const run = async (): Promise<void> => {
      try {
        const response = await impl(call.request, { requestId, method, log, signal: abort.signal });
        finish(Status.OK);
        callback(null, response);
      } catch (error) {
        const mapped = toGrpcStatus(error, requestId);
        finish(mapped.status.code, error, mapped.unexpected);
        callback(mapped.status);
      }
    };
    void run();
  };
}
