import { PassThrough } from 'node:stream';

import { describe, expect, it } from 'vitest';

import { createLogger } from './logger.js';
import { REDACTED, createRedactor } from './redaction.js';

const PEM =
  '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----';

async function capture(
  format: 'json' | 'text',
  write: (log: ReturnType<typeof createLogger>) => void,
): Promise<string> {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (chunk: Buffer) => chunks.push(chunk));
  const handle = createLogger({ format, level: 'debug', stream, base: { component: 'test' } });
  write(handle);
  await handle.close();
  return Buffer.concat(chunks).toString('utf8');
}

function lines(output: string): Record<string, unknown>[] {
  return output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('logger', () => {
  it('writes one JSON object per line with fixed fields', async () => {
    const output = await capture('json', ({ logger }) => {
      logger
        .child({ requestId: 'r-1' })
        .info('rpc', { method: 'Probe', durationMs: 3, grpcCode: 'OK' });
    });
    const [line, ...rest] = lines(output);
    expect(rest).toEqual([]);
    expect(line).toMatchObject({
      level: 'info',
      message: 'rpc',
      component: 'test',
      requestId: 'r-1',
      method: 'Probe',
      durationMs: 3,
      grpcCode: 'OK',
    });
    expect(typeof line?.['timestamp']).toBe('string');
  });

  it('redacts CSI secrets, passwords and keys at any depth', async () => {
    const output = await capture('json', ({ logger }) => {
      logger.info('request', {
        request: {
          volumeId: 'pvc-1',
          secrets: { 'ssh-password': 'hunter22', username: 'admin' },
          volumeContext: {
            nested: { password: 'p@ssw0rd!', 'private-key': PEM, Token: 'abc123xyz' },
          },
        },
        passphrase: 'open sesame',
      });
    });
    expect(output).not.toMatch(/hunter22|p@ssw0rd!|b3BlbnNzaC1rZXkt|abc123xyz|open sesame/);
    const [line] = lines(output);
    expect(line).toMatchObject({
      request: {
        volumeId: 'pvc-1',
        secrets: REDACTED,
        volumeContext: { nested: { password: REDACTED, 'private-key': REDACTED, Token: REDACTED } },
      },
      passphrase: REDACTED,
    });
  });

  it('cuts registered secret values and PEM blocks out of messages and errors', async () => {
    const output = await capture('text', ({ logger, redactor }) => {
      redactor.addSecretValue('s3cr3t-from-file\n');
      logger.error('ssh login as admin:s3cr3t-from-file failed', {
        err: new Error(`bad key ${PEM} and password s3cr3t-from-file`),
      });
    });
    expect(output).not.toMatch(/s3cr3t-from-file|b3BlbnNzaC1rZXkt/);
    expect(output).toContain(`ssh login as admin:${REDACTED} failed`);
    expect(output).toContain(`bad key ${REDACTED} and password ${REDACTED}`);
  });

  it('never modifies the caller’s objects', async () => {
    const request = { secrets: { password: 'x1y2z3w4' } };
    await capture('json', ({ logger }) => logger.info('r', { request }));
    expect(request.secrets.password).toBe('x1y2z3w4');
  });

  it('writes text lines for people', async () => {
    const output = await capture('text', ({ logger }) =>
      logger.warn('slow call', { method: 'CreateVolume', durationMs: 1200 }),
    );
    expect(output).toMatch(
      /^\S+Z warn {2}\[test\] slow call method=CreateVolume durationMs=1200\n$/,
    );
  });

  it('drops lines below the level', async () => {
    const stream = new PassThrough();
    let text = '';
    stream.on('data', (c: Buffer) => (text += c.toString()));
    const handle = createLogger({ format: 'json', level: 'warn', stream });
    handle.logger.info('hidden');
    handle.logger.debug('hidden too');
    handle.logger.warn('shown');
    await handle.close();
    expect(lines(text).map((l) => l['message'])).toEqual(['shown']);
  });
});

describe('redactor', () => {
  it('ignores secret values too short to be safe to cut', () => {
    const redactor = createRedactor();
    redactor.addSecretValue('abc');
    expect(redactor.redact('abc abc')).toBe('abc abc');
  });

  it('survives cycles and deep objects', () => {
    const redactor = createRedactor();
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;
    expect(redactor.redact(cyclic)).toEqual({ a: 1, self: '[Circular]' });
    let deep: Record<string, unknown> = { password: 'deep-secret' };
    for (let i = 0; i < 20; i++) deep = { next: deep };
    expect(JSON.stringify(redactor.redact(deep))).not.toContain('deep-secret');
  });
});
