// server.ts: the gRPC server that carries the CSI services: bind, serve, drain, clean up.
import { lstat, unlink } from 'node:fs/promises';

import { Server, ServerCredentials } from '@grpc/grpc-js';

import { OperationCancelledError } from '../errors.js';
import type { Clock, Logger } from '../ports.js';
import type { ControllerHandlers } from './generated/csi/v1/Controller.js';
import type { IdentityHandlers } from './generated/csi/v1/Identity.js';
import type { NodeHandlers } from './generated/csi/v1/Node.js';
import { parseEndpoint, prepareUnixSocket, type Endpoint } from './endpoint.js';
import { loadCsiProto } from './proto.js';
import type { InflightCalls } from './rpc-handler.js';

export interface CsiServices {
  readonly identity: IdentityHandlers;
  /** Registered in controller and all modes only; otherwise gRPC itself answers UNIMPLEMENTED. */
  readonly controller?: ControllerHandlers;
  readonly node?: NodeHandlers;
}

export interface CsiServerDeps {
  readonly endpoint: string;
  readonly services: CsiServices;
  readonly inflight: InflightCalls;
  readonly log: Logger;
  readonly clock: Pick<Clock, 'setTimeout' | 'clearTimeout'>;
}

export interface ShutdownResult {
  /** True when every in-flight call finished before the deadline. */
  readonly drained: boolean;
  /** Calls cancelled because the deadline passed. */
  readonly abandoned: number;
}

export class CsiServer {
  private readonly grpc: Server;
  private readonly endpoint: Endpoint;
  /** Inode of the socket we created, so cleanup never removes a successor's socket. */
  private socketInode: number | undefined;
  private shuttingDown: Promise<ShutdownResult> | undefined;

  constructor(private readonly deps: CsiServerDeps) {
    this.endpoint = parseEndpoint(deps.endpoint);
    this.grpc = new Server({
      // Calls are small; refuse anything big before it is parsed (CSI maps are capped at 4 KiB).
      'grpc.max_receive_message_length': 4 * 1024 * 1024,
    });
    const csi = loadCsiProto().csi.v1;
    this.grpc.addService(csi.Identity.service, deps.services.identity);
    if (deps.services.controller)
      this.grpc.addService(csi.Controller.service, deps.services.controller);
    if (deps.services.node) this.grpc.addService(csi.Node.service, deps.services.node);
  }

  /** Binds and starts serving; returns the address actually bound (the port, for tcp://...:0). */
  async start(): Promise<string> {
    if (this.endpoint.kind === 'unix') {
      const { removedStale } = await prepareUnixSocket(this.endpoint.path);
      if (removedStale)
        this.deps.log.info('removed a stale socket left by a previous run', {
          path: this.endpoint.path,
        });
    }
    const port = await new Promise<number>((resolve, reject) => {
      this.grpc.bindAsync(
        this.endpoint.bindAddress,
        ServerCredentials.createInsecure(),
        (error, bound) => (error ? reject(error) : resolve(bound)),
      );
    });
    if (this.endpoint.kind === 'unix') {
      this.socketInode = (await lstat(this.endpoint.path)).ino;
      return `unix://${this.endpoint.path}`;
    }
    return `tcp://${this.endpoint.host}:${port}`;
  }

  /**
   * Stops accepting calls, lets in-flight ones finish for up to `timeoutMs`, then cancels the
   * rest and removes the socket. Safe to call more than once: later calls share the first result.
   */
  shutdown(timeoutMs: number): Promise<ShutdownResult> {
    this.shuttingDown ??= this.drain(timeoutMs);
    return this.shuttingDown;
  }

  private async drain(timeoutMs: number): Promise<ShutdownResult> {
    const { inflight, log, clock } = this.deps;
    if (inflight.size > 0) {
      log.info('draining in-flight calls', {
        count: inflight.size,
        methods: inflight.methods(),
        timeoutMs,
      });
    }
    const drained = await new Promise<boolean>((resolve) => {
      const timer = clock.setTimeout(() => resolve(false), timeoutMs);
      this.grpc.tryShutdown(() => {
        clock.clearTimeout(timer);
        resolve(true);
      });
    });
    let abandoned = 0;
    if (!drained) {
      abandoned = inflight.size;
      log.warn('shutdown deadline passed; cancelling calls still running', {
        count: abandoned,
        methods: inflight.methods(),
      });
      inflight.abortAll(new OperationCancelledError('the driver is shutting down'));
      this.grpc.forceShutdown();
    }
    await this.removeSocket();
    return { drained, abandoned };
  }

  private async removeSocket(): Promise<void> {
    if (this.endpoint.kind !== 'unix' || this.socketInode === undefined) return;
    try {
      const stats = await lstat(this.endpoint.path);
      if (stats.isSocket() && stats.ino === this.socketInode) await unlink(this.endpoint.path);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
