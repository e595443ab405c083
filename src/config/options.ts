// options.ts: the option table: every flag, its env mirror, its accepted form and its value schema.
// One row per option; --help, the README table (test/docs.test.ts), error messages and the Config
// type are all derived from these rows. The rows are grouped by area over three files; this one
// holds the process and RDS rows and puts the table together in --help order.
import { z } from 'zod';

import { VOLUME_PATH } from '../domain/naming.js';

import { CLUSTER_OPTIONS } from './cluster-options.js';
import { NODE_OPTIONS } from './node-options.js';
import { OPTION_META, option, type OptionMeta } from './option-row.js';
import {
  DRIVER_MODES,
  DRIVER_NAME,
  ENDPOINT,
  bool,
  duration,
  emulatorLatency,
  hostKeys,
  hostPort,
  int,
  ipAddress,
  matching,
  path,
} from './values.js';

export const ENV_PREFIX = 'RDS_CSI_';

const PROCESS_OPTIONS = {
  mode: option(z.enum(DRIVER_MODES), {
    flags: '--mode <mode>',
    description: 'which CSI services to serve: controller, node, or all (both, one process)',
    accepts: DRIVER_MODES.join(' | '),
    defaultValue: 'all',
  }),
  endpoint: option(matching(ENDPOINT), {
    flags: '--endpoint <url>',
    description:
      'where to serve gRPC: unix:///abs/path.sock (what kubelet and the sidecars use) or tcp://HOST:PORT for debugging',
    accepts: 'unix:///absolute/path.sock or tcp://127.0.0.1:PORT',
    defaultValue: 'unix:///csi/csi.sock',
  }),
  driverName: option(matching(DRIVER_NAME), {
    flags: '--driver-name <name>',
    description:
      'CSI driver name; keep the default to adopt volumes of the Go rds-csi driver, which uses the same name',
    accepts:
      '2-63 characters of letters, digits, "-", "." and "_", starting and ending with a letter',
    defaultValue: 'rds.csi.srvlab.io',
  }),
  nodeId: option(
    matching(/^\S+$/)
      .refine((s) => Buffer.byteLength(s) <= 256)
      .optional(),
    {
      flags: '--node-id <id>',
      description:
        "this node's ID as reported by NodeGetInfo; in Kubernetes set it from spec.nodeName (default: the host name)",
      accepts: 'a non-empty string of at most 256 bytes without whitespace',
    },
  ),
  topology: option(matching(/^(none|[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)$/), {
    flags: '--topology <value>',
    description:
      'the topology segment <driver-name>/rds=<value>: nodes report it (kubelet labels them), volumes and capacity objects carry it; give the controller and every node plugin the same value, and name the RDS when several are in use; none: report no topology (capacity tracking then does not work)',
    accepts:
      'none, or a Kubernetes label value: 1-63 letters, digits, "-", "_" and ".", starting and ending with a letter or digit',
    defaultValue: 'default',
  }),
  maxVolumesPerNode: option(int(0, 4096), {
    flags: '--max-volumes-per-node <n>',
    description: 'most volumes the scheduler may place on this node (0: no limit)',
    accepts: 'an integer from 0 to 4096',
    defaultValue: 0,
  }),
  logFormat: option(z.enum(['json', 'text']), {
    flags: '--log-format <format>',
    description: 'log line format: json (one object per line) or text (for people)',
    accepts: 'json | text',
    defaultValue: 'json',
  }),
  logLevel: option(z.enum(['error', 'warn', 'info', 'debug']), {
    flags: '--log-level <level>',
    description: 'least severe level written; debug adds Probe and capability calls',
    accepts: 'error | warn | info | debug',
    defaultValue: 'info',
  }),
  shutdownTimeoutMs: option(duration(0, 600_000), {
    flags: '--shutdown-timeout <duration>',
    description: 'on SIGTERM/SIGINT, how long in-flight RPCs may finish before they are cancelled',
    accepts: 'a duration from 0s to 10m, e.g. 30s',
    defaultValue: '30s',
  }),
  dataDir: option(path, {
    flags: '--data-dir <dir>',
    description: 'directory for local state (quickstart socket and state store)',
    accepts: 'a directory path',
    defaultValue: '/var/lib/rds-csi-ts',
  }),
  quickstart: option(bool, {
    flags: '--quickstart',
    description:
      'run locally for a first look: all services, socket and state under --data-dir (default ./.rds-csi), text logs',
    accepts: 'true | false',
    defaultValue: false,
  }),
  emulatorLatency: option(emulatorLatency, {
    flags: '--emulator-latency <latency>',
    description:
      'quickstart only: how slowly the embedded RouterOS emulator answers each command (off, realistic = device timings, or <duration>[/<jitter>])',
    accepts: 'off | realistic | a duration with optional +/- jitter, e.g. 200ms/50ms',
    defaultValue: 'off',
  }),
  configFile: option(z.string().min(1).optional(), {
    flags: '--config <file>',
    description: 'YAML file of options, keyed by the camelCase names below (flags and env win)',
    accepts: 'a readable YAML file',
    cliOnly: true,
  }),
};

const RDS_OPTIONS = {
  rdsAddress: option(hostPort.optional(), {
    flags: '--rds-address <host[:port]>',
    description:
      'SSH address of the RDS (RouterOS) management interface; required in controller and all modes',
    accepts: 'a host name or IP with an optional port, e.g. 10.42.241.3 or rds.lan:22',
  }),
  rdsUser: option(matching(/^[A-Za-z0-9._-]{1,64}$/), {
    flags: '--rds-user <name>',
    description: 'RouterOS user the driver logs in as',
    accepts: 'a user name',
    defaultValue: 'admin',
  }),
  rdsPasswordFile: option(path.optional(), {
    flags: '--rds-password-file <file>',
    description: 'file holding the RouterOS password (a Kubernetes Secret mount); never logged',
    accepts: 'a readable file',
  }),
  rdsPrivateKeyFile: option(path.optional(), {
    flags: '--rds-private-key-file <file>',
    description: 'file holding an OpenSSH private key for the RouterOS user; never logged',
    accepts: 'a readable file',
  }),
  rdsPrivateKeyPassphraseFile: option(path.optional(), {
    flags: '--rds-private-key-passphrase-file <file>',
    description: "file holding the private key's passphrase, if it has one",
    accepts: 'a readable file',
  }),
  rdsHostKey: option(hostKeys.optional(), {
    flags: '--rds-host-key <key>',
    description:
      "the RDS's SSH host key, pinned: a known_hosts line or SHA256 fingerprint (comma-separate several to rotate)",
    accepts: 'a known_hosts line or SHA256:<43 base64 characters>',
  }),
  rdsInsecureSkipHostKey: option(bool, {
    flags: '--rds-insecure-skip-host-key',
    description: 'accept any RDS host key (man-in-the-middle possible); logs a warning at start',
    accepts: 'true | false',
    defaultValue: false,
  }),
  rdsMaxSessions: option(int(1, 64), {
    flags: '--rds-max-sessions <n>',
    description:
      'concurrent SSH exec channels on the RDS connection (keep below the device session limit)',
    accepts: 'an integer from 1 to 64',
    defaultValue: 8,
  }),
  rdsCommandTimeoutMs: option(duration(1_000, 600_000), {
    flags: '--rds-command-timeout <duration>',
    description: 'longest wait for one RouterOS command before its channel is closed',
    accepts: 'a duration from 1s to 10m',
    defaultValue: '30s',
  }),
  rdsConnectTimeoutMs: option(duration(1_000, 120_000), {
    flags: '--rds-connect-timeout <duration>',
    description: 'longest wait for the SSH handshake with the RDS',
    accepts: 'a duration from 1s to 2m',
    defaultValue: '10s',
  }),
  volumePath: option(matching(VOLUME_PATH), {
    flags: '--volume-path <path>',
    description:
      'pool directory for volume files when a StorageClass sets no volumePath (the Go driver default)',
    accepts: 'an absolute path like /storage-pool/metal-csi',
    defaultValue: '/storage-pool/metal-csi',
  }),
  nvmeAddress: option(ipAddress.optional(), {
    flags: '--nvme-address <ip>',
    description:
      'NVMe/TCP address nodes connect to when a StorageClass sets no nvmeAddress (default: the RDS address, if an IP)',
    accepts: 'an IPv4 or IPv6 address',
  }),
  nvmePort: option(int(1, 65535), {
    flags: '--nvme-port <port>',
    description: 'NVMe/TCP port when a StorageClass sets no nvmePort',
    accepts: 'an integer from 1 to 65535',
    defaultValue: 4420,
  }),
};

/** Every option, in --help order: a zod object shape whose parsed form the Config is built from. */
export const OPTION_TABLE = {
  ...PROCESS_OPTIONS,
  ...RDS_OPTIONS,
  ...CLUSTER_OPTIONS,
  ...NODE_OPTIONS,
};

export type OptionKey = keyof typeof OPTION_TABLE;

export interface OptionSpec extends OptionMeta {
  readonly key: OptionKey;
  readonly schema: z.ZodType;
}

function isOptionKey(key: string): key is OptionKey {
  return Object.hasOwn(OPTION_TABLE, key);
}

/** The rows as a list, for --help, env names and documentation checks. */
export const OPTIONS: readonly OptionSpec[] = Object.entries(OPTION_TABLE).map(([key, schema]) => {
  const meta = OPTION_META.get(schema);
  if (!isOptionKey(key) || meta === undefined) throw new Error(`option row ${key} has no metadata`);
  return { key, schema, ...meta };
});
