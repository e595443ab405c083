// controller-snapshots.ts: CreateSnapshot, DeleteSnapshot, ListSnapshots and GetSnapshot.
//
// A snapshot is a full `/disk add copy-from` of its source volume next to it, not exported over
// NVMe. Its lineage (source volume, creation time) lives in the disk's comment, a field the device
// really has; CreateSnapshot is synchronous, so a snapshot that exists is ready to use.
import { AlreadyExistsError, InvalidInputError, NotFoundError } from '../errors.js';
import { diskFilePath, isSnapshotId, isVolumeId, snapshotIdForName } from '../domain/naming.js';
import type { RdsDisk } from '../ports.js';
import { decodeLineage, encodeLineage } from '../domain/disk-lineage.js';
import type { ListSnapshotsRequest__Output } from './generated/csi/v1/ListSnapshotsRequest.js';
import type { ListSnapshotsResponse } from './generated/csi/v1/ListSnapshotsResponse.js';
import type { Snapshot } from './generated/csi/v1/Snapshot.js';
import { page } from './list-pages.js';
import { checkMap, requireId } from './request-fields.js';
import { createdOrRetryable, type VolumeHandlerDeps } from './controller-volumes.js';

const PROVISIONER_PREFIX = 'csi.storage.k8s.io/';

export function snapshotMessage(disk: RdsDisk, sourceSizeBytes?: number): Snapshot {
  const lineage = decodeLineage(disk.comment);
  return {
    sizeBytes: String(sourceSizeBytes ?? disk.sizeBytes),
    snapshotId: disk.slot,
    sourceVolumeId: lineage.source ?? '',
    creationTime:
      lineage.createdAt === undefined ? null : { seconds: String(lineage.createdAt), nanos: 0 },
    readyToUse: true,
    groupSnapshotId: '',
  };
}

export async function createSnapshot(
  request: { sourceVolumeId: string; name: string; parameters: Record<string, string> },
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<Snapshot> {
  const sourceVolumeId = requireId(request.sourceVolumeId, 'source_volume_id');
  const name = requireId(request.name, 'name');
  for (const key of Object.keys(checkMap(request.parameters, 'parameters'))) {
    if (!key.startsWith(PROVISIONER_PREFIX)) {
      throw new InvalidInputError(
        `unknown VolumeSnapshotClass parameter "${key.slice(0, 60)}"; this driver takes none`,
        {
          field: 'parameters',
        },
      );
    }
  }
  const snapshotId = snapshotIdForName(name);
  return deps.locks.run(snapshotId, 'CreateSnapshot', () =>
    createdOrRetryable(`creating snapshot ${snapshotId}`, async () => {
      const existing = await deps.rds.getDisk(snapshotId, { signal });
      if (existing !== undefined) {
        const source = decodeLineage(existing.comment).source;
        if (source !== sourceVolumeId) {
          throw new AlreadyExistsError(
            `snapshot "${name.slice(0, 128)}" (${snapshotId}) already exists for volume ${source ?? 'unknown'}, not ${sourceVolumeId}`,
          );
        }
        return snapshotMessage(existing);
      }
      const source = isVolumeId(sourceVolumeId)
        ? await deps.rds.getDisk(sourceVolumeId, { signal })
        : undefined;
      if (source?.filePath === undefined)
        throw new NotFoundError(`source volume ${sourceVolumeId} does not exist on the RDS`);
      const directory = source.filePath.slice(0, source.filePath.lastIndexOf('/'));
      const disk = await deps.rds.createDisk(
        {
          slot: snapshotId,
          filePath: diskFilePath(directory, snapshotId),
          copyFromSlot: sourceVolumeId,
          comment: encodeLineage('snapshot', deps.clock.now(), sourceVolumeId),
        },
        { signal },
      );
      return snapshotMessage(disk);
    }),
  );
}

export async function deleteSnapshot(
  snapshotId: string,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<void> {
  requireId(snapshotId, 'snapshot_id');
  if (!isSnapshotId(snapshotId)) return; // never issued here: nothing to delete (CSI: OK)
  await deps.locks.run(snapshotId, 'DeleteSnapshot', () =>
    deps.rds.removeDisk(snapshotId, { signal }),
  );
}

export async function getSnapshot(
  snapshotId: string,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<Snapshot> {
  requireId(snapshotId, 'snapshot_id');
  const disk = isSnapshotId(snapshotId)
    ? await deps.rds.getDisk(snapshotId, { signal })
    : undefined;
  if (disk === undefined)
    throw new NotFoundError(`snapshot ${snapshotId} does not exist on the RDS`);
  return snapshotMessage(disk);
}

export async function listSnapshots(
  request: ListSnapshotsRequest__Output,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<ListSnapshotsResponse> {
  let disks: RdsDisk[];
  if (request.snapshotId !== '') {
    const one = isSnapshotId(request.snapshotId)
      ? await deps.rds.getDisk(request.snapshotId, { signal })
      : undefined;
    disks = one === undefined ? [] : [one];
  } else {
    disks = (await deps.rds.listDisks('snap-', { signal })).filter((d) => isSnapshotId(d.slot));
  }
  if (request.sourceVolumeId !== '')
    disks = disks.filter((d) => decodeLineage(d.comment).source === request.sourceVolumeId);
  const { entries, nextToken } = page(disks, (d) => d.slot, request, isSnapshotId);
  return { entries: entries.map((d) => ({ snapshot: snapshotMessage(d) })), nextToken };
}
