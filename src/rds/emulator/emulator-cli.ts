#!/usr/bin/env node
// emulator-cli.ts: the `rds-emulator` executable: a RouterOS RDS emulator over real SSH, with a
// loopback admin endpoint for fault injection. The emulator's own composition root.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { Command, Option } from 'commander';

import { startAdminServer } from './admin-http.js';
import { startEmulator } from './emulator.js';
import { LATENCY_OFF, LATENCY_REALISTIC } from './faults.js';
import { parseSizeArgument } from './units.js';

function hostPort(value: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(value);
  if (match === null || Number(match[2]) > 65535)
    throw new Error(`expected HOST:PORT, got "${value}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port: Number(match[2]) };
}

const program = new Command('rds-emulator')
  .description(
    'A MikroTik RDS (RouterOS) emulator: a real SSH server answering the /disk and /file CLI with device-exact output.',
  )
  .addOption(
    new Option('--data-dir <dir>', 'state, host key and disk files')
      .default('.rds-emulator')
      .env('RDS_EMULATOR_DATA_DIR'),
  )
  .addOption(
    new Option('--listen <host:port>', 'SSH address')
      .default('127.0.0.1:2222')
      .env('RDS_EMULATOR_LISTEN'),
  )
  .addOption(
    new Option('--user <name>', 'the one login user').default('admin').env('RDS_EMULATOR_USER'),
  )
  .addOption(
    new Option('--password <password>', 'password login (prefer --password-file)').env(
      'RDS_EMULATOR_PASSWORD',
    ),
  )
  .addOption(
    new Option('--password-file <file>', 'read the password from a file').env(
      'RDS_EMULATOR_PASSWORD_FILE',
    ),
  )
  .addOption(
    new Option('--authorized-keys <file>', 'OpenSSH authorized_keys for public-key login').env(
      'RDS_EMULATOR_AUTHORIZED_KEYS',
    ),
  )
  .addOption(
    new Option('--pool-size <size>', 'storage pool size, e.g. 100GiB')
      .default('100GiB')
      .env('RDS_EMULATOR_POOL_SIZE'),
  )
  .addOption(
    new Option(
      '--admin-listen <host:port>',
      'loopback HTTP endpoint for faults and state (off when unset)',
    ).env('RDS_EMULATOR_ADMIN_LISTEN'),
  )
  .addOption(
    new Option('--latency <profile>', 'command timing')
      .choices(['off', 'realistic'])
      .default('off')
      .env('RDS_EMULATOR_LATENCY'),
  )
  .addOption(
    new Option('--error-exit-status <n>', 'exit status of a failed command (device unverified)')
      .choices(['0', '1'])
      .default('0')
      .env('RDS_EMULATOR_ERROR_EXIT_STATUS'),
  )
  .addOption(
    new Option('--max-sessions <n>', 'concurrent exec channels per connection')
      .default('10')
      .env('RDS_EMULATOR_MAX_SESSIONS'),
  )
  .addOption(
    new Option(
      '--disk-remove-keeps-file',
      '/disk remove leaves the backing file (device behaviour unverified)',
    ).env('RDS_EMULATOR_DISK_REMOVE_KEEPS_FILE'),
  )
  .addOption(
    new Option(
      '--empty-find-silent',
      'remove/set with an empty [find] prints nothing instead of "no such item"',
    ).env('RDS_EMULATOR_EMPTY_FIND_SILENT'),
  )
  .showHelpAfterError();

program.parse();
const opts = program.opts<Record<string, string | boolean | undefined>>();

async function main(): Promise<void> {
  const listen = hostPort(String(opts['listen']));
  const poolSize = parseSizeArgument(String(opts['poolSize']));
  if (poolSize === undefined)
    throw new Error(
      `--pool-size: expected a size such as 100GiB, got "${String(opts['poolSize'])}"`,
    );
  const passwordFile = opts['passwordFile'];
  const password =
    typeof passwordFile === 'string'
      ? readFileSync(passwordFile, 'utf8').trim()
      : (opts['password'] as string | undefined);
  const keysFile = opts['authorizedKeys'];
  const authorizedKeys = typeof keysFile === 'string' ? readFileSync(keysFile, 'utf8') : '';
  if (password === undefined && authorizedKeys.trim() === '')
    throw new Error('give --password, --password-file or --authorized-keys: nobody could log in');
  const dataDir = resolve(String(opts['dataDir']));
  const emulator = await startEmulator({
    dataDir,
    host: listen.host,
    port: listen.port,
    user: String(opts['user']),
    ...(password !== undefined ? { password } : {}),
    authorizedKeys,
    poolSizeBytes: poolSize,
    latency: opts['latency'] === 'realistic' ? LATENCY_REALISTIC : LATENCY_OFF,
    errorExitStatus: opts['errorExitStatus'] === '1' ? 1 : 0,
    maxSessions: Number(opts['maxSessions']),
    settings: {
      removeDeletesFile: opts['diskRemoveKeepsFile'] !== true,
      emptyFindIsError: opts['emptyFindSilent'] !== true,
    },
  });
  process.stdout.write(
    [
      `rds-emulator listening on ${emulator.host}:${emulator.port} (user ${emulator.user}), data in ${dataDir}`,
      `host key ${emulator.hostKeyFingerprint}`,
      `known_hosts: ${emulator.knownHostsLine}`,
      '',
    ].join('\n'),
  );
  let admin: { close(): void } | undefined;
  if (typeof opts['adminListen'] === 'string') {
    const at = hostPort(opts['adminListen']);
    const started = await startAdminServer(emulator, at.host, at.port);
    admin = started.server;
    process.stdout.write(`admin endpoint http://${at.host}:${started.port}/state\n`);
  }
  const stop = (): void => {
    admin?.close();
    void emulator.stop().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`rds-emulator: ${(error as Error).message}\n`);
  process.exit(2);
});
