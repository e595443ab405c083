// values.ts: the value schemas the option table is built from. Each turns what a flag, an env var
// or a YAML scalar holds into the typed value the driver runs with (durations in ms, host keys as
// fingerprints, addresses as host and port), or fails with a short reason.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

import { z } from 'zod';

export const DRIVER_MODES = ['controller', 'node', 'all'] as const;
export type DriverMode = (typeof DRIVER_MODES)[number];

/** The quickstart emulator's per-command latency. */
export type EmulatorLatency =
  'off' | 'realistic' | { readonly baseMs: number; readonly jitterMs: number };

/** What a config value may arrive as: text from argv/env, or a YAML scalar. */
export type Raw = string | number | boolean;

/** Go-style durations (`30s`, `5m`, `1h30m`, `250ms`), as the Go driver's Helm values use. */
const DURATION_UNITS_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PATTERN = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h))+$/;

export function parseDurationMs(text: string): number {
  if (!DURATION_PATTERN.test(text)) throw new Error(`not a duration`);
  let total = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(amount) * (DURATION_UNITS_MS[unit as string] ?? Number.NaN);
  }
  return Math.round(total);
}

/** Text, with a YAML number read as its digits. */
export const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string());

/** A duration in ms, within [min, max]. */
export function duration(min: number, max: number): z.ZodType<number, unknown> {
  return text.transform((value, ctx) => {
    let ms: number;
    try {
      ms = parseDurationMs(value.trim());
    } catch {
      ctx.addIssue({ code: 'custom', message: 'not a duration' });
      return z.NEVER;
    }
    if (ms < min || ms > max) ctx.addIssue({ code: 'custom', message: 'out of range' });
    return ms;
  });
}

/** A duration that is 0 (off, or "the default") or at least `least` ms. */
export function durationOrZero(least: number, max: number): z.ZodType<number, unknown> {
  return duration(0, max).refine((ms) => ms === 0 || ms >= least, 'below the least');
}

export const bool = z.preprocess((v) => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|1|yes)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|no)$/i.test(v)) return false;
  return v;
}, z.boolean());

export const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

/** Text matching `pattern`. */
export const matching = (pattern: RegExp) => text.pipe(z.string().regex(pattern));

export const path = text.pipe(z.string().min(1));

// csi-sanity's rule (stricter than the spec's): starts and ends with a letter, at most 63 chars.
export const DRIVER_NAME = /^[a-zA-Z][A-Za-z0-9\-._]{0,61}[a-zA-Z]$/;
export const ENDPOINT =
  /^(unix:\/\/\/.+|tcp:\/\/(127\.0\.0\.1|localhost|\[::1\]|[0-9.]+|[a-zA-Z0-9.-]+):\d{1,5})$/;

const HOST = /^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** `host`, `host:port`, `[v6]:port` -> host and port (SSH 22 by default). */
export const hostPort = text.transform((value, ctx) => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(value.trim());
  const host = match?.[1];
  const port = Number(match?.[2] ?? 22);
  if (host === undefined || !HOST.test(host) || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'not host[:port]' });
    return z.NEVER;
  }
  return { host: host.replace(/^\[|\]$/g, ''), port };
});

export const ipAddress = text.pipe(z.string().refine((v) => isIP(v) !== 0));

/** A known_hosts line (`[host]:port type base64`, host optional) or `SHA256:...`; comma-separated. */
export const hostKeys = text.transform((value, ctx): readonly string[] => {
  const fingerprints: string[] = [];
  for (const entry of value
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '')) {
    if (/^SHA256:[A-Za-z0-9+/]{43}$/.test(entry)) {
      fingerprints.push(entry);
      continue;
    }
    const blob =
      /(?:^|\s)(?:ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|rsa-sha2-(?:256|512))\s+([A-Za-z0-9+/]+={0,2})(?:\s|$)/.exec(
        entry,
      )?.[1];
    if (blob === undefined) {
      ctx.addIssue({ code: 'custom', message: 'not a host key' });
      return z.NEVER;
    }
    const digest = createHash('sha256').update(Buffer.from(blob, 'base64')).digest('base64');
    fingerprints.push(`SHA256:${digest.replace(/=+$/, '')}`);
  }
  return fingerprints;
});

/** `off`, `realistic`, or `<base>[/<jitter>]` applied to every command. */
export const emulatorLatency = text.transform((value, ctx): EmulatorLatency => {
  const v = value.trim();
  if (v === 'off' || v === 'realistic') return v;
  const [base, jitter = '0ms', extra] = v.split('/');
  try {
    if (extra !== undefined || base === undefined) throw new Error('form');
    const baseMs = parseDurationMs(base);
    const jitterMs = parseDurationMs(jitter);
    if (baseMs > 60_000 || jitterMs > baseMs) throw new Error('range');
    return { baseMs, jitterMs };
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not a latency' });
    return z.NEVER;
  }
});

/** A TCP port, or `off` (undefined). */
export const portOrOff = text.transform((value, ctx): number | undefined => {
  if (value === 'off') return undefined;
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'not a port' });
    return z.NEVER;
  }
  return port;
});

/** `host:port`, `:port`, `[v6]:port`, or `off`. */
export const listenAddress = text.pipe(
  z
    .string()
    .regex(/^(?:off|(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5})$/)
    .refine((v) => v === 'off' || Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535),
);

/** Comma-separated node IDs. */
export const nodeIds = text.transform((value, ctx): readonly string[] => {
  const ids = value
    .split(',')
    .map((v) => v.trim())
    .filter((v) => v !== '');
  if (ids.some((id) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(id))) {
    ctx.addIssue({ code: 'custom', message: 'not node IDs' });
    return z.NEVER;
  }
  return ids;
});

/** An octal file mode such as 0660 (three digits, an optional leading 0). */
export const fileMode = text.transform((value, ctx): number => {
  if (!/^0?[0-7]{3}$/.test(value.trim())) {
    ctx.addIssue({ code: 'custom', message: 'not an octal mode' });
    return z.NEVER;
  }
  return Number.parseInt(value.trim(), 8);
});
