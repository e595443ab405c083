// emulator-fixture.ts: an in-process RouterOS emulator on a free port, in a temp dir, plus an
// SSH session to it; `stop()` tears both down. Also the emulator's files as device paths (no
// vitest here: the chaos runner uses it outside the test runner).
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import {
  startEmulator,
  type Emulator,
  type EmulatorOptions,
} from '../../src/rds/emulator/emulator.js';
import { FS_DIR } from '../../src/rds/emulator/state-store.js';
import { connectSsh, type SshSession } from './ssh-exec.js';
import { tempDir, type TempDir } from './temp-dir.js';

export const TEST_PASSWORD = 'emulator-test-password';

export interface EmulatorFixture {
  readonly emulator: Emulator;
  readonly dir: TempDir;
  readonly ssh: SshSession;
  /** Opens another SSH session (closed by stop()). */
  connect(): Promise<SshSession>;
  stop(): Promise<void>;
}

export async function emulatorFixture(
  options: Partial<EmulatorOptions> = {},
): Promise<EmulatorFixture> {
  const dir =
    options.dataDir === undefined
      ? tempDir('emu-')
      : { path: options.dataDir, remove: () => undefined };
  const emulator = await startEmulator({ password: TEST_PASSWORD, ...options, dataDir: dir.path });
  const sessions: SshSession[] = [];
  const connect = async (): Promise<SshSession> => {
    const session = await connectSsh({
      host: emulator.host,
      port: emulator.port,
      password: TEST_PASSWORD,
    });
    sessions.push(session);
    return session;
  };
  const ssh = await connect();
  return {
    emulator,
    dir,
    ssh,
    connect,
    stop: async () => {
      for (const session of sessions) session.close();
      await emulator.stop();
      dir.remove();
    },
  };
}

/** Every regular file under the emulator's pool directories, as device paths (`/storage-pool/...`). */
export function emulatorFiles(rds: Pick<EmulatorFixture, 'emulator'>): string[] {
  const root = join(rds.emulator.dataDir, FS_DIR);
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(`/${relative(root, path)}`);
    }
  };
  walk(root);
  return out.sort();
}
