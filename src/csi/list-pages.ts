// list-pages.ts: pagination for ListVolumes and ListSnapshots with opaque cursor tokens.
//
// A token names the last ID returned, not a position, so volumes created or deleted between pages
// shift nothing: the next page starts after that ID in sorted order (csi-conformance.md 1.4).
// A token this driver did not issue is ABORTED, as the spec asks.
import { InvalidInputError, InvalidListTokenError } from '../errors.js';

const PREFIX = 'rds1:';

export function encodeToken(lastId: string): string {
  return Buffer.from(PREFIX + lastId, 'utf8').toString('base64url');
}

function decodeToken(token: string, isValidId: (id: string) => boolean): string {
  const text = /^[A-Za-z0-9_-]{1,400}$/.test(token)
    ? Buffer.from(token, 'base64url').toString('utf8')
    : '';
  const id = text.startsWith(PREFIX) ? text.slice(PREFIX.length) : '';
  if (!isValidId(id)) {
    throw new InvalidListTokenError(
      `starting_token "${token.slice(0, 40)}" was not issued by this driver; start the listing again without it`,
    );
  }
  return id;
}

/** One page of `ids` (any order) after `startingToken`, with the token for the next page. */
export function page<T>(
  items: readonly T[],
  idOf: (item: T) => string,
  request: { maxEntries: number; startingToken: string },
  isValidId: (id: string) => boolean,
): { entries: T[]; nextToken: string } {
  if (request.maxEntries < 0) {
    throw new InvalidInputError(`max_entries must not be negative, got ${request.maxEntries}`, {
      field: 'max_entries',
    });
  }
  const sorted = [...items].sort((a, b) => (idOf(a) < idOf(b) ? -1 : idOf(a) > idOf(b) ? 1 : 0));
  const after =
    request.startingToken === '' ? undefined : decodeToken(request.startingToken, isValidId);
  const rest = after === undefined ? sorted : sorted.filter((item) => idOf(item) > after);
  const limit = request.maxEntries === 0 ? rest.length : request.maxEntries;
  const entries = rest.slice(0, limit);
  const last = entries.at(-1);
  return {
    entries,
    nextToken: rest.length > limit && last !== undefined ? encodeToken(idOf(last)) : '',
  };
}
