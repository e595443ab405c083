// options.ts: the option table behind load-config.ts: every flag, its env mirror, its
// accepted form and its checker. One row per option; --help, the README table and error messages
// are all generated from these rows.
import { createHash } from 'node:crypto';
import { isIP } from 'node:net';

import { z } from 'zod';

import { DEFAULT_MANAGED_NQN_PREFIX, VOLUME_PATH } from '../domain/naming.js';

import { DRIVER_MODES, type Config, type EmulatorLatency } from './types.js';

/** What a config value may arrive as: text from argv/env, or a YAML scalar. */
export type Raw = string | number | boolean;

export interface OptionSpec {
  readonly key: keyof Config;
  /** Commander flag text, e.g. `--mode <mode>`. */
  readonly flags: string;
  readonly description: string;
  /** The accepted form, quoted in error messages. */
  readonly accepts: string;
  readonly schema: z.ZodType<unknown>;
  readonly defaultValue?: Raw;
  /** Not settable from the YAML file (e.g. the path of the file itself). */
  readonly cliOnly?: boolean;
}

export const ENV_PREFIX = 'RDS_CSI_';

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

const text = z.preprocess((v) => (typeof v === 'number' ? String(v) : v), z.string());

function duration(min: number, max: number): z.ZodType<number> {
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

export const bool = z.preprocess((v) => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|1|yes)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|no)$/i.test(v)) return false;
  return v;
}, z.boolean());

// csi-sanity's rule (stricter than the spec's): starts and ends with a letter, at most 63 chars.
const DRIVER_NAME = /^[a-zA-Z][A-Za-z0-9\-._]{0,61}[a-zA-Z]$/;
const ENDPOINT =
  /^(unix:\/\/\/.+|tcp:\/\/(127\.0\.0\.1|localhost|\[::1\]|[0-9.]+|[a-zA-Z0-9.-]+):\d{1,5})$/;

const HOST = /^([A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;

/** `host`, `host:port`, `[v6]:port` -> host and port (SSH 22 by default). */
const hostPort = text.transform((value, ctx) => {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(value.trim());
  const host = match?.[1];
  const port = Number(match?.[2] ?? 22);
  if (host === undefined || !HOST.test(host) || port < 1 || port > 65535) {
    ctx.addIssue({ code: 'custom', message: 'not host[:port]' });
    return z.NEVER;
  }
  return { host: host.replace(/^\[|\]$/g, ''), port };
});

/** A known_hosts line (`[host]:port type base64`, host optional) or `SHA256:...`; comma-separated. */
const hostKeys = text.transform((value, ctx) => {
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
const emulatorLatency = text.transform((value, ctx): EmulatorLatency => {
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

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const optionalPath = text.pipe(z.string().min(1));

export const OPTIONS: readonly OptionSpec[] = [
  {
    key: 'mode',
    flags: '--mode <mode>',
    description: 'which CSI services to serve: controller, node, or all (both, one process)',
    accepts: DRIVER_MODES.join(' | '),
    schema: z.enum(DRIVER_MODES),
    defaultValue: 'all',
  },
  {
    key: 'endpoint',
    flags: '--endpoint <url>',
    description:
      'where to serve gRPC: unix:///abs/path.sock (what kubelet and the sidecars use) or tcp://HOST:PORT for debugging',
    accepts: 'unix:///absolute/path.sock or tcp://127.0.0.1:PORT',
    schema: text.pipe(z.string().regex(ENDPOINT)),
    defaultValue: 'unix:///csi/csi.sock',
  },
  {
    key: 'driverName',
    flags: '--driver-name <name>',
    description:
      'CSI driver name; keep the default to adopt volumes of the Go rds-csi driver, which uses the same name',
    accepts:
      '2-63 characters of letters, digits, "-", "." and "_", starting and ending with a letter',
    schema: text.pipe(z.string().regex(DRIVER_NAME)),
    defaultValue: 'rds.csi.srvlab.io',
  },
  {
    key: 'nodeId',
    flags: '--node-id <id>',
    description:
      "this node's ID as reported by NodeGetInfo; in Kubernetes set it from spec.nodeName (default: the host name)",
    accepts: 'a non-empty string of at most 256 bytes without whitespace',
    schema: text.pipe(
      z
        .string()
        .regex(/^\S+$/)
        .refine((s) => Buffer.byteLength(s) <= 256),
    ),
  },
  {
    key: 'topology',
    flags: '--topology <value>',
    description:
      'the topology segment <driver-name>/rds=<value>: nodes report it (kubelet labels them), volumes and capacity objects carry it; give the controller and every node plugin the same value, and name the RDS when several are in use; none: report no topology (capacity tracking then does not work)',
    accepts:
      'none, or a Kubernetes label value: 1-63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
    schema: text.pipe(z.string().regex(/^(none|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/)),
    defaultValue: 'default',
  },
  {
    key: 'maxVolumesPerNode',
    flags: '--max-volumes-per-node <n>',
    description: 'most volumes the scheduler may place on this node (0: no limit)',
    accepts: 'an integer from 0 to 4096',
    schema: z.coerce.number().int().min(0).max(4096),
    defaultValue: 0,
  },
  {
    key: 'logFormat',
    flags: '--log-format <format>',
    description: 'log line format: json (one object per line) or text (for people)',
    accepts: 'json | text',
    schema: z.enum(['json', 'text']),
    defaultValue: 'json',
  },
  {
    key: 'logLevel',
    flags: '--log-level <level>',
    description: 'least severe level written; debug adds Probe and capability calls',
    accepts: 'error | warn | info | debug',
    schema: z.enum(['error', 'warn', 'info', 'debug']),
    defaultValue: 'info',
  },
  {
    key: 'shutdownTimeoutMs',
    flags: '--shutdown-timeout <duration>',
    description: 'on SIGTERM/SIGINT, how long in-flight RPCs may finish before they are cancelled',
    accepts: 'a duration from 0s to 10m, e.g. 30s',
    schema: duration(0, 600_000),
    defaultValue: '30s',
  },
  {
    key: 'dataDir',
    flags: '--data-dir <dir>',
    description: 'directory for local state (quickstart socket and state store)',
    accepts: 'a directory path',
    schema: text.pipe(z.string().min(1)),
    defaultValue: '/var/lib/rds-csi-ts',
  },
  {
    key: 'quickstart',
    flags: '--quickstart',
    description:
      'run locally for a first look: all services, socket and state under --data-dir (default ./.rds-csi), text logs',
    accepts: 'true | false',
    schema: bool,
    defaultValue: false,
  },
  {
    key: 'emulatorLatency',
    flags: '--emulator-latency <latency>',
    description:
      'quickstart only: how slowly the embedded RouterOS emulator answers each command (off, realistic = device timings, or <duration>[/<jitter>])',
    accepts: 'off | realistic | a duration with optional +/- jitter, e.g. 200ms/50ms',
    schema: emulatorLatency,
    defaultValue: 'off',
  },
  {
    key: 'configFile',
    flags: '--config <file>',
    description: 'YAML file of options, keyed by the camelCase names below (flags and env win)',
    accepts: 'a readable YAML file',
    schema: z.string().min(1).optional(),
    cliOnly: true,
  },
  {
    key: 'rdsAddress',
    flags: '--rds-address <host[:port]>',
    description:
      'SSH address of the RDS (RouterOS) management interface; required in controller and all modes',
    accepts: 'a host name or IP with an optional port, e.g. 10.42.241.3 or rds.lan:22',
    schema: hostPort,
  },
  {
    key: 'rdsUser',
    flags: '--rds-user <name>',
    description: 'RouterOS user the driver logs in as',
    accepts: 'a user name',
    schema: text.pipe(z.string().regex(/^[A-Za-z0-9._-]{1,64}$/)),
    defaultValue: 'admin',
  },
  {
    key: 'rdsPasswordFile',
    flags: '--rds-password-file <file>',
    description: 'file holding the RouterOS password (a Kubernetes Secret mount); never logged',
    accepts: 'a readable file',
    schema: optionalPath,
  },
  {
    key: 'rdsPrivateKeyFile',
    flags: '--rds-private-key-file <file>',
    description: 'file holding an OpenSSH private key for the RouterOS user; never logged',
    accepts: 'a readable file',
    schema: optionalPath,
  },
  {
    key: 'rdsPrivateKeyPassphraseFile',
    flags: '--rds-private-key-passphrase-file <file>',
    description: "file holding the private key's passphrase, if it has one",
    accepts: 'a readable file',
    schema: optionalPath,
  },
  {
    key: 'rdsHostKey',
    flags: '--rds-host-key <key>',
    description:
      "the RDS's SSH host key, pinned: a known_hosts line or SHA256 fingerprint (comma-separate several to rotate)",
    accepts: 'a known_hosts line or SHA256:<43 base64 characters>',
    schema: hostKeys,
  },
  {
    key: 'rdsInsecureSkipHostKey',
    flags: '--rds-insecure-skip-host-key',
    description: 'accept any RDS host key (man-in-the-middle possible); logs a warning at start',
    accepts: 'true | false',
    schema: bool,
    defaultValue: false,
  },
  {
    key: 'rdsMaxSessions',
    flags: '--rds-max-sessions <n>',
    description:
      'concurrent SSH exec channels on the RDS connection (keep below the device session limit)',
    accepts: 'an integer from 1 to 64',
    schema: int(1, 64),
    defaultValue: 8,
  },
  {
    key: 'rdsCommandTimeoutMs',
    flags: '--rds-command-timeout <duration>',
    description: 'longest wait for one RouterOS command before its channel is closed',
    accepts: 'a duration from 1s to 10m',
    schema: duration(1_000, 600_000),
    defaultValue: '30s',
  },
  {
    key: 'rdsConnectTimeoutMs',
    flags: '--rds-connect-timeout <duration>',
    description: 'longest wait for the SSH handshake with the RDS',
    accepts: 'a duration from 1s to 2m',
    schema: duration(1_000, 120_000),
    defaultValue: '10s',
  },
  {
    key: 'volumePath',
    flags: '--volume-path <path>',
    description:
      'pool directory for volume files when a StorageClass sets no volumePath (the Go driver default)',
    accepts: 'an absolute path like /storage-pool/metal-csi',
    schema: text.pipe(z.string().regex(VOLUME_PATH)),
    defaultValue: '/storage-pool/metal-csi',
  },
  {
    key: 'nvmeAddress',
    flags: '--nvme-address <ip>',
    description:
      'NVMe/TCP address nodes connect to when a StorageClass sets no nvmeAddress (default: the RDS address, if an IP)',
    accepts: 'an IPv4 or IPv6 address',
    schema: text.pipe(z.string().refine((v) => isIP(v) !== 0)),
  },
  {
    key: 'nvmePort',
    flags: '--nvme-port <port>',
    description: 'NVMe/TCP port when a StorageClass sets no nvmePort',
    accepts: 'an integer from 1 to 65535',
    schema: int(1, 65535),
    defaultValue: 4420,
  },
  {
    key: 'kubeconfig',
    flags: '--kubeconfig <file>',
    description:
      'kubeconfig for the Kubernetes API; default: the in-cluster service account. Controller and all modes need one or the other (fencing), except with --quickstart',
    accepts: 'a readable kubeconfig file',
    schema: text.pipe(z.string().min(1)).optional(),
  },
  {
    key: 'leaderElect',
    flags: '--leader-elect <bool>',
    description:
      'controller: only the replica holding the Lease changes volumes (needs Kubernetes); followers answer UNAVAILABLE',
    accepts: 'true | false',
    schema: bool,
    defaultValue: true,
  },
  {
    key: 'leaderElectionNamespace',
    flags: '--leader-election-namespace <ns>',
    description:
      "namespace of the leader Lease; default: the pod's own namespace, else kube-system",
    accepts: 'a Kubernetes namespace name',
    schema: text.pipe(z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/)).optional(),
  },
  {
    key: 'leaderElectionLeaseDurationMs',
    flags: '--leader-election-lease-duration <duration>',
    description:
      'how long a silent leader keeps the Lease; it renews every lease/7.5 and steps down after 2/3 of it without renewing',
    accepts: 'a duration from 3s to 5m',
    schema: duration(3_000, 300_000),
    defaultValue: '15s',
  },
  {
    key: 'kubernetesResyncMs',
    flags: '--kubernetes-resync <duration>',
    description:
      'how often the Node, PV and VolumeAttachment caches are re-delivered to their handlers',
    accepts: 'a duration from 30s to 24h',
    schema: duration(30_000, 86_400_000),
    defaultValue: '5m',
  },
  {
    key: 'attachmentGracePeriodMs',
    flags: '--attachment-grace-period <duration>',
    description:
      'after a detach, how long another node may take the volume over as a handoff (KubeVirt live migration); also how long a deleted node keeps its attachment before it is cleared; 0 means the default',
    accepts: 'a duration from 0s to 1h, e.g. 30s',
    schema: duration(0, 3_600_000),
    defaultValue: '30s',
  },
  {
    key: 'attachmentReconcileIntervalMs',
    flags: '--attachment-reconcile-interval <duration>',
    description:
      'how often the reconciler checks attachments against the cluster (deleted nodes, records out of step); also after node deletions; 0 means the default; at least 1m',
    accepts: 'a duration of 0s or from 1m to 24h, e.g. 5m',
    schema: duration(0, 86_400_000).refine((ms) => ms === 0 || ms >= 60_000, 'below 1m'),
    defaultValue: '5m',
  },
  {
    key: 'orphanAuditIntervalMs',
    flags: '--orphan-audit-interval <duration>',
    description:
      'controller (leader, with Kubernetes): how often RDS disks and files of this driver are compared with PVs and VolumeSnapshotContents to report orphans (metric, log, /debug/orphans); 0s turns the audit off',
    accepts: 'a duration of 0s or from 1m to 24h, e.g. 10m',
    schema: duration(0, 86_400_000).refine((ms) => ms === 0 || ms >= 60_000, 'below 1m'),
    defaultValue: '10m',
  },
  {
    key: 'orphanMinAgeMs',
    flags: '--orphan-min-age <duration>',
    description:
      'controller: an orphan may be deleted (with --orphan-delete) only after two audit passes at least this far apart from its first sighting, and this long after the driver created it',
    accepts: 'a duration from 10m to 720h, e.g. 1h',
    schema: duration(600_000, 2_592_000_000),
    defaultValue: '1h',
  },
  {
    key: 'orphanDelete',
    flags: '--orphan-delete <bool>',
    description:
      'controller: delete orphans the audit has confirmed (two passes, --orphan-min-age, a fresh check under the volume lock); false (the default) only reports them',
    accepts: 'true | false',
    schema: bool,
    defaultValue: false,
  },
  {
    key: 'nodeTransport',
    flags: '--node-transport <kind>',
    description:
      "node: how volumes are reached: nvme (NVMe/TCP with nvme-cli) or loop (the emulator's backing files as loop devices: tests and the quickstart)",
    accepts: 'nvme | loop',
    schema: z.enum(['nvme', 'loop']),
    defaultValue: 'nvme',
  },
  {
    key: 'loopExportTable',
    flags: '--loop-export-table <file>',
    description:
      "node, loop transport: the emulator's export table (exports.json in its data dir); default with --quickstart: the embedded emulator's",
    accepts: 'a file path',
    schema: text.pipe(z.string().min(1)).optional(),
  },
  {
    key: 'managedNqnPrefix',
    flags: '--managed-nqn-prefix <prefix>',
    description:
      'node: the only NVMe subsystems this driver connects, disconnects or rescans; others (a host booting from NVMe-oF) are never touched',
    accepts: 'an NQN prefix like nqn.2000-02.com.mikrotik:pvc-',
    schema: text.pipe(z.string().regex(/^nqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+:[a-z0-9._-]*$/)),
    defaultValue: DEFAULT_MANAGED_NQN_PREFIX,
  },
  {
    key: 'hostNqnFile',
    flags: '--host-nqn-file <file>',
    description:
      "node: this host's NQN, passed to nvme connect (mount the host's /etc/nvme read-only; a missing file means nvme-cli's own default)",
    accepts: 'a file path',
    schema: text.pipe(z.string().min(1)),
    defaultValue: '/etc/nvme/hostnqn',
  },
  {
    key: 'nodeCommandTimeoutMs',
    flags: '--node-command-timeout <duration>',
    description:
      'node: longest run of one host command (nvme, losetup, blkid, mount) before it is killed',
    accepts: 'a duration from 1s to 10m',
    schema: duration(1_000, 600_000),
    defaultValue: '30s',
  },
  {
    key: 'mkfsTimeoutMs',
    flags: '--mkfs-timeout <duration>',
    description: 'node: longest run of mkfs, resize2fs or xfs_growfs before it is killed',
    accepts: 'a duration from 10s to 2h',
    schema: duration(10_000, 7_200_000),
    defaultValue: '10m',
  },
  {
    key: 'mountStormLimit',
    flags: '--mount-storm-limit <n>',
    description:
      'node: mounts of one device beyond which another mount is refused (a propagation storm is under way)',
    accepts: 'an integer from 2 to 10000',
    schema: z.coerce.number().int().min(2).max(10_000),
    defaultValue: 100,
  },
  {
    key: 'orphanSweep',
    flags: '--orphan-sweep <mode>',
    description:
      'node, at start: connections under the managed prefix that nothing uses (not mounted, held, backing a loop device or open) are reported (dry-run) or disconnected (enabled)',
    accepts: 'off | dry-run | enabled',
    schema: z.enum(['off', 'dry-run', 'enabled']),
    defaultValue: 'dry-run',
  },
  {
    key: 'metricsAddress',
    flags: '--metrics-address <address>',
    description:
      'HTTP endpoint for /metrics, /healthz (liveness), /readyz (RDS connection, informers, leadership), /debug/attachments and /debug/orphans; off disables it',
    accepts: 'host:port, :port (every interface), [v6]:port, or off',
    schema: text.pipe(
      z
        .string()
        .regex(/^(?:off|(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5})$/)
        .refine((v) => v === 'off' || Number(v.slice(v.lastIndexOf(':') + 1)) <= 65535),
    ),
    defaultValue: ':9809',
  },
  {
    key: 'debugEndpoints',
    flags: '--debug-endpoints <who>',
    description:
      'who may read /debug/attachments and /debug/orphans on the metrics endpoint: loopback callers only, anyone (public), or nobody (off)',
    accepts: 'off | loopback | public',
    schema: z.enum(['off', 'loopback', 'public']),
    defaultValue: 'loopback',
  },
  {
    key: 'inspectPort',
    flags: '--inspect <port>',
    description:
      'controller: stream every attachment actor to the Stately inspector through a relay on this port (open http://localhost:<port>, e.g. through kubectl port-forward); off by default: it costs at scale',
    accepts: 'a port from 1 to 65535, or off',
    schema: text.transform((value, ctx) => {
      if (value === 'off') return undefined;
      const port = Number(value);
      if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65535) {
        ctx.addIssue({ code: 'custom', message: 'not a port' });
        return z.NEVER;
      }
      return port;
    }),
    defaultValue: 'off',
  },
  {
    key: 'kubeletDir',
    flags: '--kubelet-dir <dir>',
    description:
      "node: the kubelet's directory; staging and target paths outside it are refused, so no request can make the node unmount, remove or create anything elsewhere (quickstart: /tmp)",
    accepts: 'an absolute directory',
    schema: text.pipe(z.string().regex(/^\/(?:[^/\0]+\/?)*$/)),
    defaultValue: '/var/lib/kubelet',
  },
  {
    key: 'standaloneNodes',
    flags: '--standalone-nodes <ids>',
    description:
      "without Kubernetes (quickstart): node IDs ControllerPublish accepts besides this process's own --node-id, comma-separated; with Kubernetes, Node objects decide",
    accepts: 'comma-separated node IDs, e.g. node-a,node-b',
    schema: text.transform((value, ctx) => {
      const ids = value
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      if (ids.some((id) => !/^[A-Za-z0-9][A-Za-z0-9._-]{0,252}$/.test(id))) {
        ctx.addIssue({ code: 'custom', message: 'not node IDs' });
        return z.NEVER;
      }
      return ids;
    }),
  },
];
