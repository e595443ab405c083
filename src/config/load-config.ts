// load-config.ts: the driver's one typed configuration: --help, precedence, and validation.
//
// Each option has a flag (`--shutdown-timeout`), an env mirror (`RDS_CSI_SHUTDOWN_TIMEOUT`), an
// optional YAML key (`shutdownTimeout`) and a default. Precedence: flag, env, config file, the
// `--quickstart` profile, default. Commander parses argv and env and renders --help; the option
// table (options.ts), a zod object shape, checks every value; a bad one stops the driver with one
// line naming the flag, the env var and the accepted form. This module reads no globals: argv,
// env, the terminal width and the file reader are arguments.
import { Command, CommanderError, Help, Option } from 'commander';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

import { InvalidConfigError } from '../errors.js';

import { withDerivedDefaults, type Config } from './defaults.js';
import { ENV_PREFIX, OPTIONS, OPTION_TABLE, type OptionKey, type OptionSpec } from './options.js';

export type { Config } from './defaults.js';
export { DRIVER_MODES, parseDurationMs, type DriverMode, type EmulatorLatency } from './values.js';
export { OPTIONS } from './options.js';

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

/** Below this many columns beside the flags, each description goes under its flag instead. */
const MIN_DESCRIPTION_COLUMNS = 40;

/** The help width: the terminal's, else $COLUMNS, else 80; never under 40. */
export function helpWidth(
  columns: number | undefined,
  env: Readonly<Record<string, string | undefined>>,
): number {
  const fromEnv = Number(env['COLUMNS']);
  const width = columns ?? (Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : 80);
  return Math.max(40, width);
}

/** Builds the commander program: flags, env mirrors and the complete --help, `width` wide. */
export function createCli(version: string, width = 80): Command {
  const program = new Command('rds-csi-ts')
    .description(
      'Kubernetes CSI driver for MikroTik RDS: file-backed disks exported over NVMe/TCP, managed over SSH.\n\n`rds-csi-ts status [--address host:port] [--json]` prints the attachment state of a running controller (from its /debug/attachments).',
    )
    .version(version, '-v, --version', 'print the version and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .showHelpAfterError('(run rds-csi-ts --help for all options)')
    .allowExcessArguments(false)
    .exitOverride()
    .configureHelp({
      helpWidth: width,
      // Two columns while the descriptions get enough room; on a narrow terminal each
      // description is wrapped under its flag.
      formatItem(term, termWidth, description, helper) {
        if (width - termWidth - 4 >= MIN_DESCRIPTION_COLUMNS || description === '')
          return Help.prototype.formatItem.call(helper, term, termWidth, description, helper);
        const indent = ' '.repeat(6);
        const wrapped = helper.boxWrap(description, width - indent.length);
        return `  ${term}\n${wrapped.replace(/^/gm, indent)}`;
      },
    });
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
    `\n${new Help().boxWrap(
      'Every option can also be set in the environment (shown above) or, by its camelCase name, in the YAML file given to --config. Precedence: flag, environment, file, default.',
      width,
    )}`,
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
  /** The terminal's width when stdout is one; --help wraps to it (else to $COLUMNS, else 80). */
  readonly columns?: number | undefined;
}

export type ConfigOutcome =
  | { readonly kind: 'run'; readonly config: Config }
  | { readonly kind: 'exit'; readonly code: number; readonly output: string };

type RawValues = Map<OptionKey, { value: unknown; source: string }>;

/**
 * Parses argv (without the node and script entries) and env into a frozen Config.
 * `--help` and `--version` come back as `{ kind: 'exit' }` with the text to print.
 * Throws InvalidConfigError listing every bad value.
 */
export function loadConfig(inputs: ConfigInputs): ConfigOutcome {
  const program = createCli(inputs.version, helpWidth(inputs.columns, inputs.env));
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
  const parsed = z
    .object(OPTION_TABLE)
    .safeParse(Object.fromEntries([...raw].map(([key, entry]) => [key, entry.value])));
  if (!parsed.success) {
    const bad = new Set(parsed.error.issues.map((issue) => issue.path[0]));
    for (const spec of OPTIONS) {
      if (bad.has(spec.key)) problems.push(describeProblem(spec, raw.get(spec.key)));
    }
  }
  if (problems.length > 0 || !parsed.success) throw new InvalidConfigError(problems);
  const config = withDerivedDefaults(parsed.data, {
    hostname: inputs.hostname,
    cwd: inputs.cwd,
    userSet: (key) => (raw.get(key)?.source ?? 'default') !== 'default',
  });
  const mismatched = crossCheck(config);
  if (mismatched.length > 0) throw new InvalidConfigError(mismatched);
  return { kind: 'run', config };
}

/** Rules between options: what serving the controller needs (quickstart supplies its own RDS). */
function crossCheck(config: Config): string[] {
  if (!config.quickstart && config.emulatorLatency !== 'off') {
    return [
      '--emulator-latency (env RDS_CSI_EMULATOR_LATENCY) only applies with --quickstart, which embeds the emulator',
    ];
  }
  if (
    config.nodeTransport === 'loop' &&
    config.loopExportTable === undefined &&
    config.mode !== 'controller'
  ) {
    return [
      "--node-transport loop needs --loop-export-table (env RDS_CSI_LOOP_EXPORT_TABLE): the emulator's exports.json",
    ];
  }
  if (config.mode === 'node' || config.quickstart) return [];
  const problems: string[] = [];
  if (config.rdsAddress === undefined) {
    problems.push(
      '--rds-address (env RDS_CSI_RDS_ADDRESS) is required in controller and all modes: the RDS management address, e.g. 10.42.241.3',
    );
  }
  if (config.rdsPasswordFile === undefined && config.rdsPrivateKeyFile === undefined) {
    problems.push(
      'give --rds-password-file or --rds-private-key-file (env RDS_CSI_RDS_PASSWORD_FILE / RDS_CSI_RDS_PRIVATE_KEY_FILE): the driver must log in to the RDS',
    );
  }
  if (config.rdsHostKey.length === 0 && !config.rdsInsecureSkipHostKey) {
    problems.push(
      'pin the RDS host key with --rds-host-key (a known_hosts line, e.g. from ssh-keyscan, or its SHA256 fingerprint), or accept any key with --rds-insecure-skip-host-key',
    );
  }
  return problems;
}

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

function describeProblem(
  spec: OptionSpec,
  entry: { value: unknown; source: string } | undefined,
): string {
  const source = entry?.source ?? 'default';
  const where = source === 'cli' ? 'flag' : source;
  return `--${flagName(spec)} (env ${envName(spec)}, YAML ${yamlKey(spec)}; from ${where}): ${JSON.stringify(
    entry?.value,
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
