// Each fault kind, shown happening over a real SSH connection.
import { afterEach, describe, expect, it } from 'vitest';

import { LATENCY_OFF } from '../../src/rds/emulator/faults.js';
import {
  TEST_PASSWORD,
  emulatorFixture,
  type EmulatorFixture,
} from '../helpers/emulator-fixture.js';
import { connectSsh } from '../helpers/ssh-exec.js';

const ADD = (slot: string, size = '1G') =>
  `/disk add type=file file-path=/storage-pool/metal-csi/${slot}.img file-size=${size} slot=${slot}`;

let f: EmulatorFixture;
afterEach(async () => {
  await f.stop();
});

function slots(fx: EmulatorFixture): string[] {
  return fx.emulator.state().disks.map((d) => d.slot);
}

describe('fault injection over SSH', () => {
  it('fails the next matching command with a chosen device error, then behaves again', async () => {
    f = await emulatorFixture();
    f.emulator.faults.arm(
      { kind: 'fail', message: 'not enough space' },
      { match: { commandClass: 'mutate' } },
    );
    expect(await f.ssh.exec('/disk print count-only')).toMatchObject({ code: 0 }); // reads do not match
    expect(await f.ssh.exec(ADD('pvc-1'))).toEqual({
      stdout: 'failure: not enough space\r\n',
      stderr: '',
      code: 0,
    });
    expect(slots(f)).toEqual([]); // nothing was applied
    expect(await f.ssh.exec(ADD('pvc-1'))).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(slots(f)).toEqual(['pvc-1']);
  });

  it('lets the first matching commands through when told to skip them', async () => {
    f = await emulatorFixture();
    f.emulator.faults.arm(
      { kind: 'fail', message: 'not enough space' },
      { match: { pattern: '/disk add' }, skip: 2 },
    );
    for (const slot of ['pvc-1', 'pvc-2'])
      expect(await f.ssh.exec(ADD(slot))).toEqual({ stdout: '', stderr: '', code: 0 });
    expect((await f.ssh.exec(ADD('pvc-3'))).stdout).toBe('failure: not enough space\r\n');
    expect(await f.ssh.exec(ADD('pvc-3'))).toEqual({ stdout: '', stderr: '', code: 0 });
    expect(slots(f)).toEqual(['pvc-1', 'pvc-2', 'pvc-3']);
  });

  it('reports failures with exit status 1 when configured so', async () => {
    f = await emulatorFixture({ errorExitStatus: 1 });
    expect(await f.ssh.exec('/disk remove [find slot=ghost]')).toEqual({
      stdout: 'failure: no such item\r\n',
      stderr: '',
      code: 1,
    });
  });

  it('drops the connection before a mutation: nothing applied', async () => {
    f = await emulatorFixture();
    f.emulator.faults.arm({ kind: 'drop-before' }, { match: { commandClass: 'mutate' } });
    const closed = new Promise<void>((resolve) => f.ssh.client.once('close', () => resolve()));
    const result = await f.ssh.exec(ADD('pvc-1'));
    expect(result.code).toBeUndefined();
    await closed;
    expect(slots(f)).toEqual([]);
  });

  it('drops the connection after a mutation: applied but never acknowledged', async () => {
    f = await emulatorFixture();
    f.emulator.faults.arm({ kind: 'drop-after' }, { match: { pattern: 'slot=pvc-1' } });
    const result = await f.ssh.exec(ADD('pvc-1'));
    expect(result).toEqual({ stdout: '', stderr: '', code: undefined });
    expect(slots(f)).toEqual(['pvc-1']);
    const again = await f.connect();
    expect((await again.exec('/disk print detail where slot=pvc-1')).stdout).toContain(
      'slot="pvc-1"',
    );
  });

  it('hangs a command: no answer until the client gives up', async () => {
    f = await emulatorFixture();
    f.emulator.faults.arm({ kind: 'hang' });
    const outcome = await Promise.race([
      f.ssh.exec('/disk print detail').then(
        () => 'answered',
        () => 'closed', // the fixture closes the hung channel at teardown
      ),
      new Promise((resolve) => setTimeout(() => resolve('still waiting'), 500)),
    ]);
    expect(outcome).toBe('still waiting');
    expect(f.emulator.commands.list().at(-1)?.outcome).toBe('hung');
    // The connection itself still works for other commands.
    expect((await f.ssh.exec('/system identity print')).stdout).toBe('  name: RDS\r\n');
  });

  it('truncates and garbles output', async () => {
    f = await emulatorFixture();
    await f.ssh.exec(ADD('pvc-1'));
    const whole = (await f.ssh.exec('/disk print detail where slot=pvc-1')).stdout;
    f.emulator.faults.arm({ kind: 'truncate' });
    const truncated = (await f.ssh.exec('/disk print detail where slot=pvc-1')).stdout;
    expect(truncated).toBe(whole.slice(0, Math.floor(whole.length / 2)));
    f.emulator.faults.arm({ kind: 'garble' });
    const garbled = (await f.ssh.exec('/disk print detail where slot=pvc-1')).stdout;
    expect(garbled).toHaveLength(whole.length);
    expect(garbled).not.toBe(whole);
  });

  it('slows the handshake past a client deadline, and refuses connections', async () => {
    f = await emulatorFixture();
    const target = { host: f.emulator.host, port: f.emulator.port, password: TEST_PASSWORD };
    f.emulator.faults.handshakeDelayMs = 1_000;
    await expect(connectSsh({ ...target, readyTimeout: 300 })).rejects.toThrow(
      /Timed out while waiting for handshake/,
    );
    f.emulator.faults.handshakeDelayMs = 0;
    f.emulator.faults.refuseConnections = true;
    await expect(connectSsh(target)).rejects.toThrow();
    f.emulator.faults.refuseConnections = false;
    const ok = await connectSsh(target);
    ok.close();
  });

  it('reports a full pool: free 0 and not enough space', async () => {
    f = await emulatorFixture();
    f.emulator.faults.freeBytesCap = 0;
    expect(
      (await f.ssh.exec('/disk print detail where mount-point="storage-pool"')).stdout,
    ).toContain('free=0 use=');
    expect((await f.ssh.exec(ADD('pvc-1'))).stdout).toBe('failure: not enough space\r\n');
  });

  it('adds latency with jitter per command class', async () => {
    f = await emulatorFixture();
    f.emulator.faults.setLatency({ ...LATENCY_OFF, mutate: { baseMs: 300, jitterMs: 0 } });
    await f.ssh.exec('/disk print');
    await f.ssh.exec(ADD('pvc-1'));
    // The device's own execution times (its log), which a loaded test machine does not stretch.
    const log = f.emulator.commands.list();
    const read = log.find((c) => c.line === '/disk print');
    const add = log.find((c) => c.line === ADD('pvc-1'));
    expect(read!.doneAt! - read!.startedAt!).toBeLessThan(100);
    expect(add!.doneAt! - add!.startedAt!).toBeGreaterThanOrEqual(299);
  });
});
