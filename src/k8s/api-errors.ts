// api-errors.ts: reading the status code out of whatever @kubernetes/client-node threw.
//
// The generated client throws ApiException (with `code`) for HTTP answers and plain errors for
// transport failures (connection refused, TLS, timeouts), which have no HTTP status at all.

/** The HTTP status of a failed API call, or undefined when the server never answered. */
export function apiStatus(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'number' && code >= 100 && code < 600) return code;
  const statusCode = (error as { statusCode?: unknown }).statusCode;
  return typeof statusCode === 'number' ? statusCode : undefined;
}

export function isNotFound(error: unknown): boolean {
  return apiStatus(error) === 404;
}

/** 409: a resourceVersion precondition failed (someone else wrote first) or the name is taken. */
export function isConflict(error: unknown): boolean {
  return apiStatus(error) === 409;
}

/** The API server's own message (`body.message`), else the error's message; one line. */
export function apiMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const body = (error as { body?: unknown }).body;
    const parsed = typeof body === 'string' ? safeJson(body) : body;
    const message = (parsed as { message?: unknown } | undefined)?.message;
    if (typeof message === 'string') return message;
    if (error instanceof Error) return error.message.split('\n')[0] ?? '';
  }
  return String(error);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Full jitter: a random delay in [0, min(max, base * 2^attempt)). */
export function jitteredBackoffMs(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  return Math.floor(random() * Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 20)));
}
