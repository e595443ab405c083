// load-config.ts: the driver's one typed configuration: option table, --help, and validation.
//
// Each option has a flag (`--shutdown-timeout`), an env mirror (`RDS_CSI_SHUTDOWN_TIMEOUT`), an
// optional YAML key (`shutdownTimeout`) and a default. Precedence: flag, env, config file, the
// `--quickstart` profile, default. Commander parses argv and env and renders --help; zod checks
// every value; a bad one stops the driver with one line naming the flag, the env var and the
// accepted form (STYLE.md rule 14). This module reads no globals: argv, env and the file reader
// are arguments.
import { isIP } from 'node:net';
import { resolve } from 'node:path';

import { Command, CommanderError, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { InvalidConfigError } from '../errors.js';
import { ENV_PREFIX, OPTIONS, bool, type OptionSpec } from './options.js';
import type { Config } from './types.js';

export { DRIVER_MODES, type Config, type DriverMode } from './types.js';
export { OPTIONS, parseDurationMs } from './options.js';

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
      'Kubernetes CSI driver for MikroTik RDS: file-backed disks exported over NVMe/TCP, managed over SSH.\n\n`rds-csi-ts status [--address host:port] [--json]` prints the attachment state of a running controller (from its /debug/attachments).',
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
  if (problems.length === 0) problems.push(...crossCheck(config));
  if (problems.length > 0) throw new InvalidConfigError(problems);
  config['nodeId'] ??= inputs.hostname;
  config['rdsHostKey'] ??= [];
  config['standaloneNodes'] ??= [];
  // seed-decisions 1: a grace period <= 0 is replaced by the 30 s default.
  if (config['attachmentGracePeriodMs'] === 0) config['attachmentGracePeriodMs'] = 30_000;
  // seed-decisions 1: an interval <= 0 is replaced by the 5 min default.
  if (config['attachmentReconcileIntervalMs'] === 0)
    config['attachmentReconcileIntervalMs'] = 300_000;
  const rds = config['rdsAddress'] as Config['rdsAddress'];
  if (config['nvmeAddress'] === undefined && rds !== undefined && isIP(rds.host) !== 0)
    config['nvmeAddress'] = rds.host;
  config['dataDir'] = resolve(inputs.cwd, String(config['dataDir']));
  if (config['quickstart'] === true && raw.get('endpoint')?.source === 'quickstart') {
    config['endpoint'] = `unix://${String(config['dataDir'])}/csi.sock`;
  }
  if (config['quickstart'] === true && config['loopExportTable'] === undefined) {
    config['loopExportTable'] = `${String(config['dataDir'])}/rds-emulator/exports.json`;
  }
  if (typeof config['loopExportTable'] === 'string')
    config['loopExportTable'] = resolve(inputs.cwd, config['loopExportTable']);
  return { kind: 'run', config: Object.freeze(config) as unknown as Config };
}

/** Rules between options: what serving the controller needs (quickstart supplies its own RDS). */
function crossCheck(config: Record<string, unknown>): string[] {
  if (config['quickstart'] !== true && config['emulatorLatency'] !== 'off') {
    return [
      '--emulator-latency (env RDS_CSI_EMULATOR_LATENCY) only applies with --quickstart, which embeds the emulator',
    ];
  }
  if (
    config['nodeTransport'] === 'loop' &&
    config['quickstart'] !== true &&
    config['loopExportTable'] === undefined &&
    config['mode'] !== 'controller'
  ) {
    return [
      "--node-transport loop needs --loop-export-table (env RDS_CSI_LOOP_EXPORT_TABLE): the emulator's exports.json",
    ];
  }
  if (config['mode'] === 'node' || config['quickstart'] === true) return [];
  const problems: string[] = [];
  if (config['rdsAddress'] === undefined) {
    problems.push(
      '--rds-address (env RDS_CSI_RDS_ADDRESS) is required in controller and all modes: the RDS management address, e.g. 10.42.241.3',
    );
  }
  if (config['rdsPasswordFile'] === undefined && config['rdsPrivateKeyFile'] === undefined) {
    problems.push(
      'give --rds-password-file or --rds-private-key-file (env RDS_CSI_RDS_PASSWORD_FILE / RDS_CSI_RDS_PRIVATE_KEY_FILE): the driver must log in to the RDS',
    );
  }
  const pinned = config['rdsHostKey'] as readonly string[] | undefined;
  if ((pinned === undefined || pinned.length === 0) && config['rdsInsecureSkipHostKey'] !== true) {
    problems.push(
      'pin the RDS host key with --rds-host-key (a known_hosts line, e.g. from ssh-keyscan, or its SHA256 fingerprint), or accept any key with --rds-insecure-skip-host-key',
    );
  }
  return problems;
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
  // The embedded emulator's disks reach the node as loop devices (there is no NVMe/TCP target).
  setIfDefault('nodeTransport', 'loop');
  // Local only; a busy port falls back to a free one (the banner prints it).
  setIfDefault('metricsAddress', '127.0.0.1:9809');
  // Local trials and csi-sanity put their mount and staging directories under /tmp.
  setIfDefault('kubeletDir', '/tmp');
}
