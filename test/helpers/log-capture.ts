// log-capture.ts: a real JSON logger whose lines tests can read back, parsed.
import { PassThrough } from 'node:stream';

import { createLogger, type LoggerHandle } from '../../src/observability/logger.js';

export interface CapturedLog extends LoggerHandle {
  /** Every line written so far, parsed. */
  lines(): Record<string, unknown>[];
  /** The raw text written so far. */
  text(): string;
}

export function captureLog(level: 'info' | 'debug' = 'debug'): CapturedLog {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  const handle = createLogger({ format: 'json', level, stream });
  return {
    ...handle,
    text: () => text,
    lines: () =>
      text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
