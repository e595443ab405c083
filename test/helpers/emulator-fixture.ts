// emulator-fixture.ts: an in-process RouterOS emulator on a free port, in a temp dir, plus an
// SSH session to it; `stop()` tears both down.
import {
  startEmulator,
  type Emulator,
  type EmulatorOptions,
} from '../../src/rds/emulator/emulator.js';
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
