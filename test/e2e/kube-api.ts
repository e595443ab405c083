// kube-api.ts: a small REST client for the e2e harness and the kubelet stand-in (admin token,
// loopback API server, TLS verification off for its self-signed certificate). Independent of
// src/k8s on purpose, like test/helpers/cluster.ts: a bug in the driver's client cannot make the
// harness that judges it look right. One keep-alive agent, so polling does not redo TLS handshakes.
import { Agent, request } from 'node:https';

export interface ApiAnswer {
  readonly status: number;
  readonly body: string;
}

export class ApiError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 400)}`);
  }
}

/** The fields of an object every harness step reads; the rest stays `unknown`. */
export interface KubeObject {
  readonly metadata: {
    readonly name: string;
    readonly namespace?: string;
    readonly uid: string;
    readonly resourceVersion?: string;
    readonly deletionTimestamp?: string;
    readonly annotations?: Readonly<Record<string, string>>;
    readonly finalizers?: readonly string[];
    readonly managedFields?: readonly {
      readonly manager?: string;
      readonly operation?: string;
      readonly subresource?: string;
    }[];
  };
}

export interface KubeList<T> {
  readonly items: T[];
}

export type PatchType = 'merge' | 'strategic';

const CONTENT_TYPES: Readonly<Record<PatchType, string>> = {
  merge: 'application/merge-patch+json',
  strategic: 'application/strategic-merge-patch+json',
};

export class KubeApi {
  private readonly agent = new Agent({ keepAlive: true, maxSockets: 4, rejectUnauthorized: false });

  constructor(
    readonly server: string,
    private readonly token: string,
  ) {}

  raw(method: string, path: string, body?: unknown, contentType?: string): Promise<ApiAnswer> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.server),
        {
          method,
          agent: this.agent,
          timeout: 10_000,
          headers: {
            authorization: `Bearer ${this.token}`,
            accept: 'application/json',
            ...(payload !== undefined
              ? {
                  'content-type': contentType ?? 'application/json',
                  'content-length': Buffer.byteLength(payload),
                }
              : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
          );
        },
      );
      req.on('timeout', () => req.destroy(new Error(`timeout: ${method} ${path}`)));
      req.on('error', reject);
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  private async json<T>(
    method: string,
    path: string,
    body?: unknown,
    contentType?: string,
  ): Promise<T> {
    const answer = await this.raw(method, path, body, contentType);
    if (answer.status < 200 || answer.status >= 300)
      throw new ApiError(method, path, answer.status, answer.body);
    return (answer.body === '' ? undefined : JSON.parse(answer.body)) as T;
  }

  get<T = KubeObject>(path: string): Promise<T> {
    return this.json<T>('GET', path);
  }

  /** The object, or undefined when the API answers 404. */
  async find<T = KubeObject>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return undefined;
      throw error;
    }
  }

  list<T = KubeObject>(path: string): Promise<KubeList<T>> {
    return this.json<KubeList<T>>('GET', path);
  }

  create<T = KubeObject>(path: string, object: unknown): Promise<T> {
    return this.json<T>('POST', path, object);
  }

  patch<T = KubeObject>(path: string, patch: unknown, type: PatchType = 'merge'): Promise<T> {
    return this.json<T>('PATCH', path, patch, CONTENT_TYPES[type]);
  }

  /** Deletes; a 404 counts as done. `options` is a DeleteOptions body (grace period, preconditions). */
  async delete(path: string, options?: Record<string, unknown>): Promise<void> {
    const answer = await this.raw(
      'DELETE',
      path,
      options === undefined ? undefined : { apiVersion: 'v1', kind: 'DeleteOptions', ...options },
    );
    if (answer.status === 404) return;
    if (answer.status < 200 || answer.status >= 300)
      throw new ApiError('DELETE', path, answer.status, answer.body);
  }

  close(): void {
    this.agent.destroy();
  }
}
