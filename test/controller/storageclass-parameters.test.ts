// StorageClass parameters CreateVolume refuses before any disk is made, over real gRPC against the
// emulator: a volumePath in no pool of the RDS, and a migrationTimeoutSeconds outside its rule.
import { status } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { MIGRATION_TIMEOUT_RULE } from '../../src/domain/migration-timeout.js';
import { grpcError } from '../helpers/csi-client.js';
import { BLOCK_RWX, createRequest, executed } from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';

let fixture: DriverFixture;
beforeAll(async () => {
  fixture = await driverFixture();
});
afterAll(async () => {
  await fixture.stop();
});

const create = (name: string, parameters: Record<string, string>) =>
  fixture.clients.controller.CreateVolume(
    createRequest(name, undefined, { parameters, volumeCapabilities: [BLOCK_RWX] }),
  );

describe('volumePath', () => {
  it('in a pool the RDS does not have: INVALID_ARGUMENT naming the pools it has, no disk made', async () => {
    fixture.rds.emulator.commands.clear();
    const error = await grpcError(create('no-pool', { volumePath: '/no-such-pool/vols' }));
    expect(error.code).toBe(status.INVALID_ARGUMENT);
    expect(error.details).toBe(
      'parameter volumePath: the RDS has no storage pool mounted at "no-such-pool"; its pools: /storage-pool; the first component of volumePath must name one',
    );
    expect(executed(fixture.rds, '/disk add')).toBe(0);
    expect(fixture.rds.emulator.state().disks).toEqual([]);
  });

  it('in an existing pool: created, and the pool is read once for all later volumes', async () => {
    fixture.rds.emulator.commands.clear();
    await create('pool-a', { volumePath: '/storage-pool/other' });
    await create('pool-b', { volumePath: '/storage-pool/other' });
    const poolReads = fixture.rds.emulator.commands
      .list()
      .filter((c) => c.line.includes('mount-point=')).length;
    expect(poolReads).toBe(1);
  });
});

describe('migrationTimeoutSeconds', () => {
  it.each(['5', '29', '3601', '90000', 'abc', '300s', '-60', '1e3', ' 300'])(
    '%j is refused with INVALID_ARGUMENT stating the rule',
    async (value) => {
      const error = await grpcError(create(`mig-${value}`, { migrationTimeoutSeconds: value }));
      expect(error.code).toBe(status.INVALID_ARGUMENT);
      expect(error.details).toBe(
        `parameter migrationTimeoutSeconds="${value}" must be ${MIGRATION_TIMEOUT_RULE}`,
      );
    },
  );

  it.each([
    ['30', '30'],
    ['3600', '3600'],
    ['', '300'],
  ])('%j is taken as %s seconds, passed on in the volume context', async (value, seconds) => {
    const created = await create(`mig-ok-${value}`, { migrationTimeoutSeconds: value });
    expect(created.volume?.volumeContext['migrationTimeoutSeconds']).toBe(seconds);
  });
});
