// raw-list.ts: paginated list calls whose pages are parsed with JSON.parse only. The client's
// typed deserializer walks every field of every object with its type table: for 10,000 PVs that
// is most of a rebuild's and a reconcile pass's CPU (bench/attachments.bench.ts). The objects'
// JSON shape is the API's own, which the typed models mirror field for field, so callers read
// the same names. Authentication and TLS come from the KubeConfig, as for every other call.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest, type RequestOptions } from 'node:https';

import type { KubeConfig } from '@kubernetes/client-node';

export interface ListPage<T> {
  readonly items: T[];
  readonly metadata?: { readonly continue?: string; readonly resourceVersion?: string };
}

export class ApiListError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | undefined,
  ) {
    super(message);
  }
}

/** Every item of a collection (`/api/v1/persistentvolumes`), `limit` per page. */
export async function listAll<T>(
  kubeConfig: KubeConfig,
  path: string,
  limit: number,
  timeoutMs = 60_000,
): Promise<T[]> {
  const out: T[] = [];
  let token: string | undefined;
  do {
    const query = new URLSearchParams({ limit: String(limit) });
    if (token !== undefined) query.set('continue', token);
    const page = await getJson<ListPage<T>>(kubeConfig, `${path}?${query.toString()}`, timeoutMs);
    out.push(...page.items);
    token = page.metadata?.continue || undefined;
  } while (token !== undefined);
  return out;
}

async function getJson<T>(kubeConfig: KubeConfig, path: string, timeoutMs: number): Promise<T> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (server === undefined)
    throw new ApiListError('the kubeconfig names no current cluster', undefined);
  // The server's own path prefix (a proxy such as Rancher's) stays in front of the API path.
  const url = new URL(server);
  const [pathname = '', search = ''] = path.split('?');
  url.pathname = `${url.pathname.replace(/\/$/, '')}${pathname}`;
  url.search = search;
  const options: RequestOptions = { method: 'GET', headers: { accept: 'application/json' } };
  await kubeConfig.applyToHTTPSOptions(options);
  const send = url.protocol === 'http:' ? httpRequest : httpsRequest;
  return new Promise<T>((resolve, reject) => {
    const request = send(url, { ...options, timeout: timeoutMs }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('error', reject);
      response.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const code = response.statusCode ?? 0;
        if (code < 200 || code >= 300) {
          let message = body.slice(0, 300);
          try {
            message = (JSON.parse(body) as { message?: string }).message ?? message;
          } catch {
            // not a Status object: the raw text says it
          }
          reject(new ApiListError(`GET ${url.pathname}: HTTP ${code}: ${message}`, code));
          return;
        }
        try {
          resolve(JSON.parse(body) as T);
        } catch (error) {
          reject(
            new ApiListError(
              `GET ${url.pathname}: unreadable JSON: ${(error as Error).message}`,
              code,
            ),
          );
        }
      });
    });
    request.on('timeout', () =>
      request.destroy(
        new ApiListError(`GET ${url.pathname}: no answer within ${timeoutMs} ms`, undefined),
      ),
    );
    request.on('error', reject);
    request.end();
  });
}
