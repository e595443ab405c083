// config.ts: the driver's one typed configuration: option table, --help, and validation.
//
// Each option has a flag (`--shutdown-timeout`), an env mirror (`RDS_CSI_SHUTDOWN_TIMEOUT`), an
// optional YAML key (`shutdownTimeout`) and a default. Precedence: flag, env, config file, the
// `--quickstart` profile, default. Commander parses argv and env and renders --help; zod checks
// every value; a bad one stops the driver with one line naming the flag, the env var and the
// accepted form (STYLE.md rule 14). This module reads no globals: argv, env and the file reader
// are arguments.
import { resolve } from 'node:path';

import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { InvalidConfigError } from './errors.js';

export const DRIVER_MODES = ['controller', 'node', 'all'] as const;
export type DriverMode = (typeof DRIVER_MODES)[number];

export interface Config {
  readonly mode: DriverMode;
  readonly endpoint: string;
  readonly driverName: string;
  readonly nodeId: string;
  readonly maxVolumesPerNode: number;
  readonly logFormat: 'json' | 'text';
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  readonly shutdownTimeoutMs: number;
  readonly dataDir: string;
  readonly quickstart: boolean;
  readonly configFile: string | undefined;
}

/** What a config value may arrive as: text from argv/env, or a YAML scalar. */
type Raw = string | number | boolean;

interface OptionSpec {
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

const ENV_PREFIX = 'RDS_CSI_';

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

const bool = z.preprocess((v) => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && /^(true|1|yes)$/i.test(v)) return true;
  if (typeof v === 'string' && /^(false|0|no)$/i.test(v)) return false;
  return v;
}, z.boolean());

// csi-sanity's rule (stricter than the spec's): starts and ends with a letter, at most 63 chars.
const DRIVER_NAME = /^[a-zA-Z][A-Za-z0-9\-._]{0,61}[a-zA-Z]$/;
const ENDPOINT =
  /^(unix:\/\/\/.+|tcp:\/\/(127\.0\.0\.1|localhost|\[::1\]|[0-9.]+|[a-zA-Z0-9.-]+):\d{1,5})$/;

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
    key: 'configFile',
    flags: '--config <file>',
    description: 'YAML file of options, keyed by the camelCase names below (flags and env win)',
    accepts: 'a readable YAML file',
    schema: z.string().min(1).optional(),
    cliOnly: true,
  },
];

/** `shutdownTimeoutMs` -> `shutdownTimeout`: the YAML key is the flag in camelCase. */
function yamlKey(spec: OptionSpec): string {
  return flagName(spec).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}

function flagName(spec: OptionSpec): string {
  return (/^--([a-z0-9-]+)/.exec(spec.flags) ?? [])[1] ?? spec.key;
}

export function envName(spec: OptionSpec): string {
  return ENV_PREFIX + flagName(spec).toUpperCase().replace(/-/g, '_');
}

/** Builds the commander program: flags, env mirrors and the complete --help. */
export function createCli(version: string): Command {
  const program = new Command('rds-csi-ts')
    .description(
      'Kubernetes CSI driver for MikroTik RDS: file-backed disks exported over NVMe/TCP, managed over SSH.',
    )
    .version(version, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .showHelpAfterError('(run rds-csi-ts --help for all options)')
    .allowExcessArguments(false)
    .exitOverride();
  for (const spec of OPTIONS) {
    const option = new Option(
      spec.flags,
      `${spec.description}\n[${spec.accepts}] (env: ${envName(spec)})`,
    );
    if (spec.defaultValue !== undefined) option.default(spec.defaultValue);
    program.addOption(option);
  }
  program.addHelpText(
    'after',
    '\nEvery option can also be set in the environment (shown above) or, by its camelCase name,\n' +
      'in the YAML file given to --config. Precedence: flag, environment, file, default.',
  );
  return program;
}

export interface ConfigInputs {
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly readFile: (path: string) => string;
  readonly hostname: string;
  /** Relative paths (--data-dir) are resolved against it. */
  readonly cwd: string;
  readonly version: string;
}

export type ConfigOutcome =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'exit'; readonly code: number; readonly output: string };

/**
 * Parses argv (without the node and script entries) and env into a frozen Config.
 * `--help` and `--version` come back as `{ kind: 'exit' }` with the text to print.
 * Throws InvalidConfigError listing every bad value.
 */
export function loadConfig(inputs: ConfigInputs): ConfigOutcome {
  const program = createCli(inputs.version);
  let output = '';
  program.configureOutput({ writeOut: (s) => (output += s), writeErr: (s) => (output += s) });
  try {
    program.parse([...inputs.argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return { kind: 'exit', code: 0, output };
      throw new InvalidConfigError([error.message.replace(/^error: /, '')]);
    }
    throw error;
  }
  const raw: RawValues = new Map();
  for (const spec of OPTIONS) {
    const attribute = new Option(spec.flags).attributeName();
    const value: unknown = program.getOptionValue(attribute);
    const source = program.getOptionValueSource(attribute) ?? 'default';
    if (value !== undefined) raw.set(spec.key, { value, source });
  }
  const problems: string[] = [];
  applyEnv(raw, inputs.env);
  applyFile(raw, inputs, problems);
  applyQuickstart(raw);
  const config: Record<string, unknown> = {};
  for (const spec of OPTIONS) {
    const entry = raw.get(spec.key);
    if (entry === undefined) continue;
    const result = spec.schema.safeParse(entry.value);
    if (result.success) config[spec.key] = result.data;
    else problems.push(describeProblem(spec, entry.value, entry.source));
  }
  if (problems.length > 0) throw new InvalidConfigError(problems);
  config['nodeId'] ??= inputs.hostname;
  config['dataDir'] = resolve(inputs.cwd, String(config['dataDir']));
  if (config['quickstart'] === true && raw.get('endpoint')?.source === 'quickstart') {
    config['endpoint'] = `unix://${String(config['dataDir'])}/csi.sock`;
  }
  return { kind: 'run', config: Object.freeze(config) as unknown as Config };
}

type RawValues = Map<keyof Config, { value: unknown; source: string }>;

/** Values still at their default take the environment's, if set and not empty. */
function applyEnv(raw: RawValues, env: ConfigInputs['env']): void {
  for (const spec of OPTIONS) {
    const value = env[envName(spec)];
    const current = raw.get(spec.key);
    if (
      value !== undefined &&
      value !== '' &&
      (current === undefined || current.source === 'default')
    ) {
      raw.set(spec.key, { value, source: `env ${envName(spec)}` });
    }
  }
}

function describeProblem(spec: OptionSpec, value: unknown, source: string): string {
  const where = source === 'cli' ? 'flag' : source;
  return `--${flagName(spec)} (env ${envName(spec)}, YAML ${yamlKey(spec)}; from ${where}): ${JSON.stringify(
    value,
  )} is not accepted; expected ${spec.accepts}`;
}

function applyFile(raw: RawValues, inputs: ConfigInputs, problems: string[]): void {
  const path = raw.get('configFile')?.value;
  if (typeof path !== 'string') return;
  let doc: unknown;
  try {
    doc = parseYaml(inputs.readFile(path));
  } catch (error) {
    problems.push(
      `--config ${path}: cannot read it as YAML (${(error as Error).message.split('\n')[0]})`,
    );
    return;
  }
  if (doc === null || doc === undefined) return;
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    problems.push(`--config ${path}: expected a mapping of option names to values`);
    return;
  }
  const byYamlKey = new Map(OPTIONS.filter((s) => !s.cliOnly).map((s) => [yamlKey(s), s]));
  for (const [key, value] of Object.entries(doc as Record<string, unknown>)) {
    const spec = byYamlKey.get(key);
    if (spec === undefined) {
      problems.push(
        `--config ${path}: unknown key "${key}"; known keys: ${[...byYamlKey.keys()].join(', ')}`,
      );
      continue;
    }
    const current = raw.get(spec.key);
    if (current === undefined || current.source === 'default') {
      raw.set(spec.key, { value, source: `file ${path}` });
    }
  }
}

/** The quickstart profile: local paths and readable logs, below everything the user set. */
function applyQuickstart(raw: RawValues): void {
  const quick = bool.safeParse(raw.get('quickstart')?.value);
  if (!quick.success || !quick.data) return;
  const setIfDefault = (key: keyof Config, value: unknown): void => {
    const current = raw.get(key);
    if (current === undefined || current.source === 'default')
      raw.set(key, { value, source: 'quickstart' });
  };
  setIfDefault('dataDir', '.rds-csi');
  setIfDefault('mode', 'all');
  // Placeholder that passes validation; loadConfig puts the socket inside the final data dir.
  setIfDefault('endpoint', 'unix:///quickstart/csi.sock');
  setIfDefault('logFormat', 'text');
}
