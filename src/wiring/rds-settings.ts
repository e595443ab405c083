// rds-settings.ts: how the driver reaches its RDS, resolved from the config and credential files
// (or from the quickstart's embedded emulator). Secrets read here are registered for redaction.
import type { Config } from '../config/load-config.js';
import type { SshShellOptions } from '../rds/ssh-shell.js';

/** The SSH half is the shell's own options; the rest is the controller's default. */
export interface RdsSettings extends Pick<
  SshShellOptions,
  'host' | 'port' | 'username' | 'password' | 'privateKey' | 'passphrase' | 'hostKey'
> {
  /** Default NVMe/TCP address for volumes whose StorageClass names none. */
  readonly nvmeAddress: string | undefined;
}

/** Reads the credential files the config names; every secret read is handed to `registerSecret`. */
export function rdsSettingsFromConfig(
  config: Config,
  readFile: (path: string) => string,
  registerSecret: (value: string) => void,
): RdsSettings | undefined {
  if (config.rdsAddress === undefined) return undefined;
  const secret = (path: string | undefined, trim: boolean): string | undefined => {
    if (path === undefined) return undefined;
    const text = readFile(path);
    const value = trim ? text.trim() : text;
    registerSecret(value);
    return value;
  };
  const password = secret(config.rdsPasswordFile, true);
  const privateKey = secret(config.rdsPrivateKeyFile, false);
  const passphrase = secret(config.rdsPrivateKeyPassphraseFile, true);
  return {
    host: config.rdsAddress.host,
    port: config.rdsAddress.port,
    username: config.rdsUser,
    ...(password !== undefined ? { password } : {}),
    ...(privateKey !== undefined ? { privateKey } : {}),
    ...(passphrase !== undefined ? { passphrase } : {}),
    hostKey: { fingerprints: config.rdsHostKey, insecure: config.rdsInsecureSkipHostKey },
    nvmeAddress: config.nvmeAddress,
  };
}
