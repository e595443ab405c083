// logger.ts: the process's one winston logger behind the Logger port, redacting before writing.
//
// JSON lines by default (one object per line, fixed camelCase fields: STYLE.md rule 13); `text`
// for people at a terminal. Redaction is the first format in the chain, so no transport and no
// later format ever sees a secret.
import type { Writable } from 'node:stream';

import winston from 'winston';

import type { LogFields, Logger } from '../ports.js';
import { createRedactor, type Redactor } from './redaction.js';

export interface LoggerOptions {
  readonly format: 'json' | 'text';
  readonly level: 'error' | 'warn' | 'info' | 'debug';
  /** Where lines go; stdout by default (containers collect it). */
  readonly stream?: Writable;
  /** Shared with whatever registers secret values (credential loaders). */
  readonly redactor?: Redactor;
  /** Fields on every line, e.g. `{ component: 'driver' }`. */
  readonly base?: LogFields;
}

export interface LoggerHandle {
  readonly logger: Logger;
  readonly redactor: Redactor;
  /** Flushes and closes the transport; call once at shutdown. */
  close(): Promise<void>;
}

const TEXT_SKIP = new Set(['level', 'message', 'timestamp', 'component']);

function textLine(info: winston.Logform.TransformableInfo): string {
  const fields = Object.entries(info)
    .filter(([key]) => !TEXT_SKIP.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(' ');
  const component = typeof info['component'] === 'string' ? ` [${info['component']}]` : '';
  return `${String(info['timestamp'])} ${info.level.padEnd(5)}${component} ${String(info.message)}${fields ? ` ${fields}` : ''}`;
}

export function createLogger(options: LoggerOptions): LoggerHandle {
  const redactor = options.redactor ?? createRedactor();
  const redact = winston.format((info) => redactor.redact(info));
  const transport = new winston.transports.Stream({ stream: options.stream ?? process.stdout });
  const root = winston.createLogger({
    level: options.level,
    defaultMeta: options.base,
    format: winston.format.combine(
      redact(),
      winston.format.timestamp(),
      options.format === 'json' ? winston.format.json() : winston.format.printf(textLine),
    ),
    transports: [transport],
  });
  return {
    logger: new WinstonLogger(root),
    redactor,
    close: () =>
      new Promise<void>((resolve) => {
        transport.once('finish', () => resolve());
        root.end();
      }),
  };
}

class WinstonLogger implements Logger {
  constructor(private readonly inner: winston.Logger) {}

  error(message: string, fields?: LogFields): void {
    this.inner.error(message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.inner.warn(message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.inner.info(message, fields);
  }
  debug(message: string, fields?: LogFields): void {
    this.inner.debug(message, fields);
  }
  child(fields: LogFields): Logger {
    return new WinstonLogger(this.inner.child({ ...fields }));
  }
}
