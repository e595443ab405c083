// Fault tests over real SSH (issue 5): the emulator drops the connection before or after a
// mutation, hangs, garbles or truncates its output, runs out of space or presents the wrong host
// key. Each ends in the right gRPC code, and afterwards the emulator's disks and files are exactly
// what the driver believes: no duplicate, no leak, no lost volume.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { status } from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';

import { snapshotIdForName, volumeIdForName } from '../../src/domain/naming.js';
import { FS_DIR } from '../../src/rds/emulator/state-store.js';
import { grpcError, retryUnavailable } from '../helpers/csi-client.js';
import {
  GIB,
  createRequest,
  emulatorFiles,
  executed,
  expectDeviceMatchesDriver,
} from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';

let fixture: DriverFixture | undefined;
afterEach(async () => {
  await fixture?.stop();
  fixture = undefined;
});

async function start(
  argv: string[] = [],
  emulator: Parameters<typeof driverFixture>[1] = {},
  rds: Parameters<typeof driverFixture>[2] = {},
): Promise<DriverFixture> {
  fixture = await driverFixture(argv, emulator, rds);
  return fixture;
}

const retried = <T>(call: () => Promise<T>): Promise<T> =>
  retryUnavailable(call, 'the call to succeed after the fault');

describe('connection dropped around a mutation', () => {
  it('before /disk add: UNAVAILABLE, nothing created; the retry creates exactly one disk', async () => {
    const { clients, rds } = await start();
    rds.emulator.faults.arm({ kind: 'drop-before' }, { match: { pattern: '/disk add' } });
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-a')));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(/RDS connection lost|outcome is unknown|unreachable|interrupted/);
    expect(rds.emulator.state().disks).toEqual([]);
    const created = await retried(() => clients.controller.CreateVolume(createRequest('vol-a')));
    expect(created.volume?.capacityBytes).toBe(String(GIB));
    expect(executed(rds, '/disk add')).toBe(1);
    const { volumes } = await expectDeviceMatchesDriver(clients, rds);
    expect(volumes).toEqual([created.volume?.volumeId]);
  });

  it('after /disk add ran: the retry finds the disk and never adds a second one', async () => {
    const { clients, rds } = await start();
    rds.emulator.faults.arm({ kind: 'drop-after' }, { match: { pattern: '/disk add' } });
    const first = await clients.controller
      .CreateVolume(createRequest('vol-b', 3 * GIB))
      .then(() => status.OK)
      .catch((error: { code: number }) => error.code);
    // Whether the read-back happened before the reconnect decides which; both are truthful.
    expect([status.OK, status.UNAVAILABLE]).toContain(first);
    const created = await retried(() =>
      clients.controller.CreateVolume(createRequest('vol-b', 3 * GIB)),
    );
    expect(created.volume?.capacityBytes).toBe(String(3 * GIB));
    expect(executed(rds, '/disk add')).toBe(1);
    await expectDeviceMatchesDriver(clients, rds);
  });

  it('after /disk remove ran: the retried DeleteVolume succeeds and leaves no file behind', async () => {
    const { clients, rds } = await start();
    const created = await clients.controller.CreateVolume(createRequest('vol-c'));
    const volumeId = created.volume?.volumeId ?? '';
    rds.emulator.faults.arm({ kind: 'drop-after' }, { match: { pattern: '/disk remove' } });
    await clients.controller.DeleteVolume({ volumeId }).catch((error: { code: number }) => {
      expect(error.code).toBe(status.UNAVAILABLE);
    });
    await retried(() => clients.controller.DeleteVolume({ volumeId }));
    expect(rds.emulator.state().disks).toEqual([]);
    expect(emulatorFiles(rds)).toEqual([]);
    await expectDeviceMatchesDriver(clients, rds);
  });

  it('before /disk set (expand): UNAVAILABLE; the retry grows the disk to the exact size', async () => {
    const { clients, rds } = await start();
    const created = await clients.controller.CreateVolume(createRequest('vol-d'));
    const volumeId = created.volume?.volumeId ?? '';
    rds.emulator.faults.arm({ kind: 'drop-before' }, { match: { pattern: '/disk set' } });
    const expand = {
      volumeId,
      capacityRange: { requiredBytes: String(2 * GIB + 1), limitBytes: '0' },
    };
    expect((await grpcError(clients.controller.ControllerExpandVolume(expand))).code).toBe(
      status.UNAVAILABLE,
    );
    const grown = await retried(() => clients.controller.ControllerExpandVolume(expand));
    expect(grown.capacityBytes).toBe(String(2 * GIB + 1024 ** 2));
    expect(rds.emulator.state().disks[0]?.fileSize).toBe(2 * GIB + 1024 ** 2);
  });
});

describe('a device that does not answer properly', () => {
  it('hangs on /disk add: UNAVAILABLE after the command timeout, the channel is closed, the retry works', async () => {
    const { clients, rds, driver } = await start(['--rds-command-timeout', '1s']);
    rds.emulator.faults.arm({ kind: 'hang' }, { match: { pattern: '/disk add' } });
    const started = Date.now();
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-e')));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(/did not answer "\/disk add" within 1000 ms/);
    expect(Date.now() - started).toBeLessThan(5_000);
    // The same connection carries the retry: a hang is not a reason to reconnect.
    const created = await clients.controller.CreateVolume(createRequest('vol-e'));
    expect(created.volume?.volumeId).toMatch(/^pvc-/);
    expect(driver.rdsStats()?.handshakes).toBe(1);
    await expectDeviceMatchesDriver(clients, rds);
  });

  it('garbled /disk print: INTERNAL naming the parse failure, never a wrong answer', async () => {
    const { clients, rds } = await start();
    const created = await clients.controller.CreateVolume(createRequest('vol-f', 5 * GIB));
    const volumeId = created.volume?.volumeId ?? '';
    for (const kind of ['garble', 'truncate'] as const) {
      rds.emulator.faults.arm({ kind }, { match: { pattern: '/disk print' } });
      const error = await grpcError(clients.controller.ControllerGetVolume({ volumeId }));
      expect(error.code, kind).toBe(status.INTERNAL);
      expect(error.details, kind).toMatch(/unexpected|could not|parse|unreadable/i);
    }
    const again = await clients.controller.ControllerGetVolume({ volumeId });
    expect(again.volume?.capacityBytes).toBe(String(5 * GIB));
  });

  it('garbled read-back after /disk add: UNAVAILABLE, never a final code; the retry finds the one disk', async () => {
    // A final code would tell the provisioner no volume exists: it would stop tracking the claim,
    // and the disk this add made would leak once the claim is deleted.
    const { clients, rds } = await start();
    const slot = volumeIdForName('vol-g');
    // The first read (nothing there yet) passes; the read-back after the add is garbled; the
    // retry's first read is cut short (faults fire in the order armed).
    const readOfSlot = { pattern: `print detail where slot="${slot}"` };
    rds.emulator.faults.arm({ kind: 'garble' }, { match: readOfSlot, skip: 1 });
    rds.emulator.faults.arm({ kind: 'truncate' }, { match: readOfSlot });
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-g')));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(/unexpected RouterOS output.*the disk may exist, so retry/);
    expect(rds.emulator.state().disks.map((d) => d.slot)).toEqual([slot]);
    // Cut short: still not final.
    expect((await grpcError(clients.controller.CreateVolume(createRequest('vol-g')))).code).toBe(
      status.UNAVAILABLE,
    );
    const created = await clients.controller.CreateVolume(createRequest('vol-g'));
    expect(created.volume?.volumeId).toBe(slot);
    expect(executed(rds, '/disk add')).toBe(1);
    await expectDeviceMatchesDriver(clients, rds);
  });

  it('garbled read-back after a snapshot copy: UNAVAILABLE; the retry answers with that snapshot', async () => {
    const { clients, rds } = await start();
    const created = await clients.controller.CreateVolume(createRequest('vol-h'));
    const sourceVolumeId = created.volume?.volumeId ?? '';
    const request = { sourceVolumeId, name: 'snap-h', parameters: {}, secrets: {} };
    rds.emulator.faults.arm(
      { kind: 'garble' },
      { match: { pattern: `print detail where slot="${snapshotIdForName('snap-h')}"` }, skip: 1 },
    );
    const error = await grpcError(clients.controller.CreateSnapshot(request));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toMatch(/creating snapshot .*the disk may exist/);
    const { snapshot } = await clients.controller.CreateSnapshot(request);
    expect(snapshot?.snapshotId).toBe(snapshotIdForName('snap-h'));
    expect(executed(rds, '/disk add')).toBe(2);
  });

  it('a device error printed on stdout with exit status 0 is still an error', async () => {
    const { clients, rds } = await start();
    rds.emulator.faults.errorExitStatus = 0;
    rds.emulator.faults.arm(
      { kind: 'fail', message: 'invalid value for argument file-size' },
      { match: { pattern: '/disk add' } },
    );
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-g')));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toMatch(/invalid value for argument file-size/);
    // "busy" is retryable (routeros-cli.md 5): ABORTED, which the sidecars retry.
    rds.emulator.faults.arm(
      { kind: 'fail', message: 'disk is busy' },
      { match: { pattern: '/disk add' } },
    );
    const busy = await grpcError(clients.controller.CreateVolume(createRequest('vol-g')));
    expect(busy.code).toBe(status.ABORTED);
    expect(busy.details).toMatch(/disk is busy; retry later/);
    // Anything unknown is INTERNAL and carries the device's own words.
    rds.emulator.faults.arm(
      { kind: 'fail', message: 'execution error' },
      { match: { pattern: '/disk add' } },
    );
    const other = await grpcError(clients.controller.CreateVolume(createRequest('vol-g')));
    expect(other.code).toBe(status.INTERNAL);
    expect(other.details).toMatch(/RDS refused creating disk pvc-[0-9a-f-]+: execution error/);
    await expectDeviceMatchesDriver(clients, rds);
  });
});

describe('space and leftovers', () => {
  it('pool full: RESOURCE_EXHAUSTED with the free space, nothing created', async () => {
    const { clients, rds } = await start();
    rds.emulator.faults.freeBytesCap = 512 * 1024 ** 2;
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-h', 2 * GIB)));
    expect(error.code).toBe(status.RESOURCE_EXHAUSTED);
    expect(error.details).toMatch(/not enough space/);
    expect(rds.emulator.state().disks).toEqual([]);
    expect(emulatorFiles(rds)).toEqual([]);
    const capacity = await clients.controller.GetCapacity({ parameters: {} });
    expect(capacity.availableCapacity).toBe(String(512 * 1024 ** 2));
  });

  it('a file an interrupted create left at the volume path is replaced, not leaked or refused', async () => {
    const { clients, rds } = await start();
    const volumeId = 'pvc-5f0c1a52-2d7e-4a43-9d47-0b5a3c1e8f21';
    const dir = join(rds.emulator.dataDir, FS_DIR, 'storage-pool', 'metal-csi');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${volumeId}.img`), 'partial');
    const created = await clients.controller.CreateVolume(createRequest(volumeId));
    expect(created.volume?.volumeId).toBe(volumeId);
    expect(emulatorFiles(rds)).toEqual([`/storage-pool/metal-csi/${volumeId}.img`]);
    expect(rds.emulator.state().disks[0]?.fileSize).toBe(GIB);
    expect(
      fixture?.log.lines().some((r) => /interrupted create left behind/.test(String(r['message']))),
    ).toBe(true);
  });

  it('DeleteVolume removes the image whether or not /disk remove deletes it', async () => {
    for (const removeDeletesFile of [true, false]) {
      const { clients, rds } = await start([], { settings: { removeDeletesFile } });
      const created = await clients.controller.CreateVolume(createRequest('vol-l'));
      rds.emulator.commands.clear();
      await clients.controller.DeleteVolume({ volumeId: created.volume?.volumeId ?? '' });
      expect(emulatorFiles(rds), `removeDeletesFile=${removeDeletesFile}`).toEqual([]);
      // The file is removed by a command only when the disk removal left it.
      expect(executed(rds, '/file remove')).toBe(removeDeletesFile ? 0 : 1);
      await fixture?.stop();
      fixture = undefined;
    }
  });

  it('a backing file whose disk is already gone is removed by DeleteVolume', async () => {
    const { clients, rds } = await start();
    const volumeId = 'pvc-0d7b1e0a-7a4c-4c55-8f0e-3b9a2c7d1e64';
    const dir = join(rds.emulator.dataDir, FS_DIR, 'storage-pool', 'metal-csi');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, `${volumeId}.img`), 'orphan');
    writeFileSync(join(dir, 'unrelated.img'), 'not ours');
    await clients.controller.DeleteVolume({ volumeId });
    expect(emulatorFiles(rds)).toEqual(['/storage-pool/metal-csi/unrelated.img']);
  });
});

describe('trust', () => {
  it('host key mismatch: refuses to connect, says which key it saw, sends no command', async () => {
    const { clients, rds, log } = await start(
      [],
      {},
      {
        hostKey: { fingerprints: [`SHA256:${'B'.repeat(43)}`], insecure: false },
      },
    );
    const error = await grpcError(clients.controller.CreateVolume(createRequest('vol-i')));
    expect(error.code).toBe(status.UNAVAILABLE);
    expect(error.details).toContain(
      `host key ${rds.emulator.hostKeyFingerprint} is not the pinned one`,
    );
    expect(error.details).toContain('update --rds-host-key');
    expect(rds.emulator.commands.list()).toEqual([]);
    const probe = await clients.identity.Probe({});
    expect(probe.ready?.value ?? probe.ready).toBe(false);
    expect(log.lines().some((r) => /not the pinned one/.test(JSON.stringify(r)))).toBe(true);
  });

  it('--rds-insecure-skip-host-key connects to any key and warns once at start', async () => {
    const { clients, log } = await start(
      [],
      {},
      {
        hostKey: { fingerprints: [], insecure: true },
      },
    );
    await clients.controller.CreateVolume(createRequest('vol-j'));
    const warnings = log.lines().filter((r) => /NOT verified/.test(String(r['message'])));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.['level']).toBe('warn');
  });

  it('never logs the password', async () => {
    const { clients, rds, log } = await start(['--log-level', 'debug']);
    rds.emulator.faults.arm({ kind: 'drop-before' }, { match: { pattern: '/disk add' } });
    await clients.controller.CreateVolume(createRequest('vol-k')).catch(() => undefined);
    await retried(() => clients.controller.CreateVolume(createRequest('vol-k')));
    expect(JSON.stringify(log.lines())).not.toContain('emulator-test-password');
  });
});
