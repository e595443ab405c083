// SSH behaviour: public-key and password logins, everything else refused; the device's ident;
// MaxSessions-style channel limit; mutations serialized while reads run alongside.
import ssh2 from 'ssh2';
import { afterEach, describe, expect, it } from 'vitest';

import { LATENCY_OFF } from '../../src/rds/emulator/faults.js';
import { generateEd25519Key } from '../../src/rds/emulator/emulator.js';
import {
  TEST_PASSWORD,
  emulatorFixture,
  type EmulatorFixture,
} from '../helpers/emulator-fixture.js';
import { connectSsh } from '../helpers/ssh-exec.js';

let f: EmulatorFixture;
afterEach(async () => {
  await f.stop();
});

describe('SSH authentication', () => {
  it('accepts the authorized public key and refuses other keys, users and passwords', async () => {
    const allowed = generateEd25519Key();
    const other = generateEd25519Key();
    f = await emulatorFixture({ authorizedKeys: `# admin key\n${allowed.public}\n` });
    const target = { host: f.emulator.host, port: f.emulator.port };
    const ok = await connectSsh({ ...target, privateKey: allowed.private });
    expect((await ok.exec('/system identity print')).stdout).toBe('  name: RDS\r\n');
    ok.close();
    await expect(connectSsh({ ...target, privateKey: other.private })).rejects.toThrow(
      /All configured authentication methods failed/,
    );
    await expect(
      connectSsh({ ...target, username: 'root', privateKey: allowed.private }),
    ).rejects.toThrow(/All configured authentication methods failed/);
    await expect(connectSsh({ ...target, password: 'wrong' })).rejects.toThrow(
      /All configured authentication methods failed/,
    );
    await expect(connectSsh({ ...target, password: TEST_PASSWORD })).resolves.toBeDefined();
  });

  it('identifies as RouterOS sshd and keeps its host key across restarts', async () => {
    f = await emulatorFixture();
    const idents: string[] = [];
    const client = new ssh2.Client();
    await new Promise<void>((resolve, reject) => {
      client.on('handshake', () => resolve());
      client.on('error', reject);
      client.connect({
        host: f.emulator.host,
        port: f.emulator.port,
        username: 'admin',
        password: TEST_PASSWORD,
        debug: (line: string) => idents.push(line),
      });
    });
    client.end();
    expect(idents.join('\n')).toMatch(/Remote ident: 'SSH-2\.0-ROSSSH'/);
    const first = f.emulator.hostKeyFingerprint;
    await f.emulator.stop();
    const again = await emulatorFixture({ dataDir: f.dir.path });
    expect(again.emulator.hostKeyFingerprint).toBe(first);
    await again.stop();
  });
});

describe('sessions and concurrency', () => {
  it('refuses exec channels beyond the session limit on one connection', async () => {
    f = await emulatorFixture({ maxSessions: 2 });
    f.emulator.faults.arm({ kind: 'hang' }, { count: 2 });
    f.ssh.exec('/disk print').catch(() => undefined); // hung; fails when the fixture closes
    f.ssh.exec('/disk print').catch(() => undefined); // hung; fails when the fixture closes
    await expect(f.ssh.exec('/system identity print')).rejects.toThrow(/Channel open failure/);
  });

  it('applies mutations one at a time while reads answer meanwhile', async () => {
    f = await emulatorFixture();
    f.emulator.faults.setLatency({ ...LATENCY_OFF, mutate: { baseMs: 200, jitterMs: 0 } });
    const add = (slot: string) =>
      f.ssh.exec(
        `/disk add type=file file-path=/storage-pool/v/${slot}.img file-size=1M slot=${slot}`,
      );
    const adds = Promise.all([add('a'), add('b'), add('c')]);
    const read = await f.ssh.exec('/system identity print');
    expect(read.code).toBe(0);
    await adds;
    // Judged by the device's own log, not the wall clock (a loaded machine delays channels).
    const log = f.emulator.commands.list();
    const mutations = log.filter((c) => c.line.startsWith('/disk add'));
    const reads = log.filter((c) => c.line === '/system identity print');
    expect(mutations).toHaveLength(3);
    expect(reads).toHaveLength(1);
    const [identity] = reads;
    // The read arrived while mutations were still pending and ran at once: not queued behind them.
    const lastDone = Math.max(...mutations.map((m) => m.doneAt ?? Infinity));
    expect(identity!.at).toBeLessThan(lastDone);
    // (queued, it would have waited for at least one 200 ms mutation to finish)
    expect(identity!.startedAt! - identity!.at).toBeLessThan(100);
    // The mutations ran one after another, each for its 200 ms: no two overlapped.
    const spans = mutations
      .map((m) => [m.startedAt ?? NaN, m.doneAt ?? NaN] as const)
      .sort((x, y) => x[0] - y[0]);
    for (const [start, done] of spans) expect(done - start).toBeGreaterThanOrEqual(199);
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1]);
    expect(
      f.emulator
        .state()
        .disks.map((d) => d.slot)
        .sort(),
    ).toEqual(['a', 'b', 'c']);
  });
});
