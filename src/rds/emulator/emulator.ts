// emulator.ts: starts a RouterOS RDS emulator in-process and returns the handle tests and the
// quickstart use: address, host key, faults, command log, export table, stop.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';

import ssh2 from 'ssh2';
import type { ParsedKey } from 'ssh2';

import { CommandLog } from './command-log.js';
import { DeviceLog } from './device-log.js';
import type { DeviceSettings, ExecContext } from './exec-context.js';
import { FaultInjector, type LatencyProfile } from './faults.js';
import { RouterConsole } from './router-console.js';
import { SerialQueue } from './serial-queue.js';
import { RouterSshServer, fingerprint } from './ssh-server.js';
import { FS_DIR, StateStore, type EmulatorState, type ExportEntry } from './state-store.js';
import { TrafficMonitor } from './traffic.js';

export interface EmulatorOptions {
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port. */
  readonly port?: number;
  readonly user?: string;
  readonly password?: string;
  /** authorized_keys content (one OpenSSH public key per line). */
  readonly authorizedKeys?: string;
  readonly poolSizeBytes?: number;
  readonly identity?: string;
  readonly latency?: LatencyProfile;
  readonly errorExitStatus?: 0 | 1;
  readonly maxSessions?: number;
  readonly settings?: Partial<DeviceSettings>;
}

export interface Emulator {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  /** `SHA256:...` of the host key. */
  readonly hostKeyFingerprint: string;
  /** The host key as a known_hosts line for this host and port. */
  readonly knownHostsLine: string;
  readonly faults: FaultInjector;
  readonly commands: CommandLog;
  readonly dataDir: string;
  state(): EmulatorState;
  exports(): ExportEntry[];
  freeBytes(): number;
  /** Drops every open SSH connection (the listener stays). */
  dropConnections(): void;
  stop(): Promise<void>;
}

export const HOST_KEY_FILE = 'ssh_host_ed25519_key';
export const EMULATOR_VERSION = '7.20.2 (stable)';

/** Loads the persisted host key, or creates it once: clients pin it, so it must not change. */
export function loadHostKey(dataDir: string): { privateKey: string; publicKey: ParsedKey } {
  const path = join(dataDir, HOST_KEY_FILE);
  if (!existsSync(path)) writeFileSync(path, generateEd25519Key().private, { mode: 0o600 });
  const privateKey = readFileSync(path, 'utf8');
  return { privateKey, publicKey: parseOneKey(privateKey, `host key ${path}`) };
}

/**
 * An ed25519 key pair ssh2 can read back. ssh2's generator writes a 31-byte public key when the
 * key's first byte is zero (about 1 in 256 keys; measured 11 in 3,000), which its own parser then
 * rejects as "Malformed OpenSSH private key": such a pair is drawn again.
 */
export function generateEd25519Key(): { private: string; public: string } {
  for (;;) {
    const pair = ssh2.utils.generateKeyPairSync('ed25519');
    if (!(ssh2.utils.parseKey(pair.private) instanceof Error)) return pair;
  }
}

/** ssh2's parseKey returns a key, a list of keys, or an Error; we want exactly one key. */
function parseOneKey(text: string, what: string): ParsedKey {
  const parsed = ssh2.utils.parseKey(text) as ParsedKey | ParsedKey[] | Error;
  if (parsed instanceof Error) throw new Error(`cannot read ${what}: ${parsed.message}`);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (key === undefined) throw new Error(`cannot read ${what}: no key in it`);
  return key;
}

export function parseAuthorizedKeys(text: string): ParsedKey[] {
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => parseOneKey(line, `authorized key "${line.slice(0, 40)}..."`));
}

function usedBytes(root: string): number {
  let total = 0;
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const stats = statSync(join(dir, name));
      if (stats.isDirectory()) walk(join(dir, name));
      else total += stats.size;
    }
  };
  walk(root);
  return total;
}

const execFileAsync = promisify(execFile);

export async function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  const now = () => Date.now();
  const store = new StateStore(options.dataDir, {
    poolSizeBytes: options.poolSizeBytes ?? 100 * 1024 ** 3,
    identity: options.identity ?? 'RDS',
  });
  const faults = new FaultInjector({
    ...(options.latency ? { latency: options.latency } : {}),
    ...(options.errorExitStatus !== undefined ? { errorExitStatus: options.errorExitStatus } : {}),
  });
  const fsRoot = join(options.dataDir, FS_DIR);
  let used = usedBytes(fsRoot);
  const freeBytes = (): number => {
    const free = Math.max(0, store.state.poolSizeBytes - used);
    return faults.freeBytesCap === undefined ? free : Math.min(free, faults.freeBytesCap);
  };
  const ctx: ExecContext = {
    store,
    settings: {
      removeDeletesFile: true,
      allowShrink: false,
      emptyFindIsError: true,
      ...options.settings,
    },
    deviceLog: new DeviceLog(now),
    traffic: new TrafficMonitor(fsRoot, now),
    freeBytes,
    usageChanged: () => (used = usedBytes(fsRoot)),
    copyFile: async (source, target) => {
      await execFileAsync('cp', ['--reflink=auto', '--sparse=always', '--', source, target], {
        timeout: 600_000,
      });
    },
    now,
  };
  const hostKey = loadHostKey(options.dataDir);
  const commands = new CommandLog(now);
  const server = new RouterSshServer({
    hostKey: hostKey.privateKey,
    user: options.user ?? 'admin',
    password: options.password,
    authorizedKeys: parseAuthorizedKeys(options.authorizedKeys ?? ''),
    maxSessions: options.maxSessions ?? 10,
    faults,
    console: new RouterConsole(ctx, {
      version: EMULATOR_VERSION,
      boardName: 'RDS2216',
      startedAt: now(),
    }),
    commands,
    mutations: new SerialQueue(),
    sleep: (ms) =>
      ms <= 0 ? Promise.resolve() : new Promise((resolve) => setTimeout(resolve, ms)),
  });
  const host = options.host ?? '127.0.0.1';
  const port = await server.listen(host, options.port ?? 0);
  const hostPart = port === 22 ? host : `[${host}]:${port}`;
  return {
    host,
    port,
    user: options.user ?? 'admin',
    hostKeyFingerprint: fingerprint(hostKey.publicKey),
    knownHostsLine: `${hostPart} ${hostKey.publicKey.type} ${hostKey.publicKey.getPublicSSH().toString('base64')}`,
    faults,
    commands,
    dataDir: options.dataDir,
    state: () => store.state,
    exports: () => store.exports(),
    freeBytes,
    dropConnections: () => server.dropAll(),
    stop: () => server.close(),
  };
}
