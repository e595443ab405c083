// quickstart.ts: `npm start`'s local RDS: the RouterOS emulator, embedded, with its state, host key
// and disk files under `<data-dir>/rds-emulator` and a password generated once beside them; and
// the banner that says what to try next.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Config, EmulatorLatency } from '../config/load-config.js';
import type { Logger } from '../ports.js';
import { startEmulator, type Emulator } from '../rds/emulator/emulator.js';
import { LATENCY_OFF, LATENCY_REALISTIC, type LatencyProfile } from '../rds/emulator/faults.js';
import type { RdsSettings } from './rds-settings.js';

export interface QuickstartRds {
  readonly emulator: Emulator;
  readonly password: string;
  /** How the driver reaches it: pinned to the emulator's own host key. */
  readonly settings: RdsSettings;
}

export async function startQuickstartRds(
  dataDir: string,
  latency: EmulatorLatency,
  log: Logger,
): Promise<QuickstartRds> {
  const dir = join(dataDir, 'rds-emulator');
  mkdirSync(dir, { recursive: true });
  const passwordFile = join(dir, 'admin-password');
  if (!existsSync(passwordFile))
    writeFileSync(passwordFile, `${randomBytes(12).toString('hex')}\n`, { mode: 0o600 });
  const password = readFileSync(passwordFile, 'utf8').trim();
  const emulator = await startEmulator({
    dataDir: dir,
    password,
    latency: latencyProfile(latency),
  });
  log.info('RouterOS emulator started', {
    address: `${emulator.host}:${emulator.port}`,
    hostKey: emulator.hostKeyFingerprint,
    dataDir: dir,
    latency: typeof latency === 'string' ? latency : `${latency.baseMs}ms/${latency.jitterMs}ms`,
  });
  return {
    emulator,
    password,
    settings: {
      host: emulator.host,
      port: emulator.port,
      username: emulator.user,
      password,
      hostKey: { fingerprints: [emulator.hostKeyFingerprint], insecure: false },
      nvmeAddress: '127.0.0.1',
    },
  };
}

function latencyProfile(latency: EmulatorLatency): LatencyProfile {
  if (latency === 'off') return LATENCY_OFF;
  if (latency === 'realistic') return LATENCY_REALISTIC;
  return { read: latency, mutate: latency, addPerGiBMs: 0 };
}

export function quickstartBanner(
  config: Config,
  address: string,
  version: string,
  rds: QuickstartRds,
  httpAddress?: string,
): string {
  const services = config.mode === 'all' ? 'Identity, Controller and Node' : config.mode;
  const { emulator } = rds;
  return [
    '',
    `rds-csi-ts ${version} quickstart: serving ${services} on ${address}`,
    `  state directory: ${config.dataDir}`,
    `  RDS: the RouterOS emulator on ${emulator.host}:${emulator.port} (user ${emulator.user}, host key ${emulator.hostKeyFingerprint})`,
    '',
    'Try next:',
    `  ssh -p ${emulator.port} ${emulator.user}@${emulator.host} '/disk print detail'`,
    `        poke the RDS stand-in (password: ${rds.password}); try /file print detail, /system resource print`,
    `  .tools/bin/csi-sanity --csi.endpoint=${address} --csi.mountdir=/tmp/rds-csi-mnt --csi.stagingdir=/tmp/rds-csi-stage`,
    '        run the CSI conformance suite, node side included (as root: loop devices, mkfs, mount; npm test installs csi-sanity)',
    ...(httpAddress !== undefined
      ? [
          `  curl http://${httpAddress}/metrics`,
          `        the driver's metrics; also /readyz, /healthz and /debug/attachments (each volume's actor state)`,
        ]
      : []),
    '  npm test        run every test suite',
    '  Ctrl-C          stop: in-flight calls drain, the socket is removed',
    '',
    `Volumes and snapshots live on the emulator; publish/unpublish are fenced per volume (state in ${config.dataDir}/attachments.json); the node side attaches the emulator's disk files as loop devices (--node-transport loop) where production uses NVMe/TCP.`,
    '',
  ].join('\n');
}
