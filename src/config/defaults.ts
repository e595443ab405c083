// defaults.ts: every default that is not a constant of the option table, in one function, and
// the Config type, which is what that function returns.
import { isIP } from 'node:net';
import { resolve } from 'node:path';

import type { z } from 'zod';

import type { OPTION_TABLE, OptionKey } from './options.js';

/** The table's values as parsed: constants of the table applied, undefined where none is. */
export type ParsedOptions = z.output<z.ZodObject<typeof OPTION_TABLE>>;

export interface DefaultsContext {
  readonly hostname: string;
  /** Relative paths (--data-dir, --loop-export-table) are resolved against it. */
  readonly cwd: string;
  /** Whether the user gave a value (flag, environment or file) rather than the table's default. */
  readonly userSet: (key: OptionKey) => boolean;
}

/** A grace period of 0 means this default (docs/design/decisions.md 1). */
const GRACE_DEFAULT_MS = 30_000;
/** A reconcile interval of 0 means this default (docs/design/decisions.md 1). */
const RECONCILE_DEFAULT_MS = 300_000;

/**
 * The defaults that depend on other values or on the host, applied after the table's checks:
 *
 * - the `--quickstart` profile, for each value the user left at the table's default: mode all,
 *   data dir `./.rds-csi`, the socket `<data dir>/csi.sock`, text logs, the loop transport over
 *   the embedded emulator's export table, the HTTP endpoint on 127.0.0.1:9809 (a busy port falls
 *   back to a free one), and /tmp as the kubelet dir (local trials and csi-sanity mount there);
 * - the node ID: the host name;
 * - no pinned host keys and no standalone nodes: empty lists;
 * - a grace period or reconcile interval of 0: the 30 s and 5 min defaults;
 * - the NVMe/TCP address: the RDS address, when that is an IP (nodes need a literal one);
 * - the data dir and the loop export table: absolute, against the working directory.
 */
export function withDerivedDefaults(parsed: ParsedOptions, context: DefaultsContext) {
  const quick = (key: OptionKey): boolean => parsed.quickstart && !context.userSet(key);
  const dataDir = resolve(context.cwd, quick('dataDir') ? '.rds-csi' : parsed.dataDir);
  const loopExportTable =
    parsed.loopExportTable ??
    (parsed.quickstart ? `${dataDir}/rds-emulator/exports.json` : undefined);
  const rdsHost = parsed.rdsAddress?.host;
  return Object.freeze({
    ...parsed,
    mode: quick('mode') ? 'all' : parsed.mode,
    dataDir,
    endpoint: quick('endpoint') ? `unix://${dataDir}/csi.sock` : parsed.endpoint,
    logFormat: quick('logFormat') ? 'text' : parsed.logFormat,
    nodeTransport: quick('nodeTransport') ? 'loop' : parsed.nodeTransport,
    metricsAddress: quick('metricsAddress') ? '127.0.0.1:9809' : parsed.metricsAddress,
    kubeletDir: quick('kubeletDir') ? '/tmp' : parsed.kubeletDir,
    loopExportTable:
      loopExportTable === undefined ? undefined : resolve(context.cwd, loopExportTable),
    nodeId: parsed.nodeId ?? context.hostname,
    rdsHostKey: parsed.rdsHostKey ?? [],
    standaloneNodes: parsed.standaloneNodes ?? [],
    attachmentGracePeriodMs: parsed.attachmentGracePeriodMs || GRACE_DEFAULT_MS,
    attachmentReconcileIntervalMs: parsed.attachmentReconcileIntervalMs || RECONCILE_DEFAULT_MS,
    nvmeAddress:
      parsed.nvmeAddress ?? (rdsHost !== undefined && isIP(rdsHost) !== 0 ? rdsHost : undefined),
  });
}

/** The driver's configuration: every option parsed, units applied, defaults derived. */
export type Config = ReturnType<typeof withDerivedDefaults>;
