// redaction.ts: removes secrets from anything about to be logged, configured once from a key list.
//
// Three nets, because one always misses something (field-lessons #15-#23 era lessons; issue 3):
//  1. by key: any property named like a secret (CSI `secrets` maps, passwords, keys, tokens)
//     has its value replaced, at any depth;
//  2. by value: strings registered at start (the SSH password read from its Secret file) are
//     cut out of every string, messages included;
//  3. by shape: PEM private-key blocks are cut out of every string.

export const REDACTED = '[REDACTED]';

/** Keys whose values are never logged; matched case-insensitively, ignoring `-` and `_`. */
export const SECRET_KEYS: readonly string[] = [
  'secrets',
  'secret',
  'password',
  'passphrase',
  'privateKey',
  'token',
  'bearerToken',
  'authorization',
  'apiKey',
];

const PEM_PRIVATE_KEY =
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?(-----END [A-Z0-9 ]*PRIVATE KEY-----|$)/g;
const MAX_DEPTH = 8;

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

export interface Redactor {
  /** Returns a redacted deep copy; the input is never modified. Symbol keys are kept as they are. */
  redact<T>(value: T): T;
  /** Adds a literal secret value (at least 4 characters) to cut out of every logged string. */
  addSecretValue(value: string): void;
}

export function createRedactor(secretKeys: readonly string[] = SECRET_KEYS): Redactor {
  const keys = new Set(secretKeys.map(normalizeKey));
  const values = new Set<string>();

  const redactString = (text: string): string => {
    let out = text.replace(PEM_PRIVATE_KEY, REDACTED);
    for (const secret of values) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  };

  const walk = (value: unknown, depth: number, seen: WeakSet<object>): unknown => {
    if (typeof value === 'string') return redactString(value);
    if (value === null || typeof value !== 'object') return value;
    if (seen.has(value)) return '[Circular]';
    if (depth >= MAX_DEPTH) return '[Truncated]';
    seen.add(value);
    if (value instanceof Error) {
      const plain: Record<string, unknown> = { name: value.name, message: value.message };
      if ('code' in value) plain['code'] = value.code;
      if (value.stack !== undefined) plain['stack'] = value.stack;
      if (value.cause !== undefined) plain['cause'] = value.cause;
      return walk(plain, depth, seen);
    }
    if (Array.isArray(value)) return value.map((item) => walk(item, depth + 1, seen));
    if (Buffer.isBuffer(value)) return `[Buffer ${value.length} bytes]`;
    const out: Record<string | symbol, unknown> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      out[key] =
        keys.has(normalizeKey(key)) && item !== undefined ? REDACTED : walk(item, depth + 1, seen);
    }
    for (const symbol of Object.getOwnPropertySymbols(value)) {
      const item = (value as Record<symbol, unknown>)[symbol];
      out[symbol] = typeof item === 'string' ? redactString(item) : item;
    }
    return out;
  };

  return {
    redact: <T>(value: T): T => walk(value, 0, new WeakSet()) as T,
    addSecretValue(value: string): void {
      // Very short values would shred ordinary words out of every log line.
      if (value.length >= 4) values.add(value);
      const trimmed = value.trim();
      if (trimmed !== value && trimmed.length >= 4) values.add(trimmed);
    },
  };
}
