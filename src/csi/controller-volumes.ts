// controller-volumes.ts: the bodies of CreateVolume, DeleteVolume and ControllerExpandVolume over
// the RdsBackend port, the pool lookup behind GetCapacity, and the Volume message and context
// ListVolumes and ControllerGetVolume build from a disk. Those two and ValidateVolumeCapabilities
// are answered in controller-service.ts itself.
//
// Each handler validates the whole request, takes the volume's lock (mutations only), looks at the
// device, answers a repeat with the same result, and only then acts (STYLE.md rule 7).
import {
  AlreadyExistsError,
  InvalidInputError,
  NotFoundError,
  RdsParseError,
  RdsUnconfirmedError,
} from '../errors.js';
import {
  checkVolumePath,
  diskFilePath,
  isSnapshotId,
  isVolumeId,
  nqnForSlot,
  poolMountPoint,
  volumeIdForName,
} from '../domain/naming.js';
import type { RdsBackend, RdsDisk } from '../ports.js';
import { parseInt64, sizeForRange } from './capacity.js';
import { decodeLineage, encodeLineage } from '../domain/disk-lineage.js';
import type { ControllerExpandVolumeRequest__Output } from './generated/csi/v1/ControllerExpandVolumeRequest.js';
import type { ControllerExpandVolumeResponse } from './generated/csi/v1/ControllerExpandVolumeResponse.js';
import type { CreateVolumeRequest__Output } from './generated/csi/v1/CreateVolumeRequest.js';
import type { CreateVolumeResponse } from './generated/csi/v1/CreateVolumeResponse.js';
import type { Volume } from './generated/csi/v1/Volume.js';
import type { VolumeContentSource__Output } from './generated/csi/v1/VolumeContentSource.js';
import type { OperationLocks } from './operation-locks.js';
import { checkMap, requireId } from './request-fields.js';
import { checkAccessibility, segmentTopology, type TopologySegment } from './topology.js';
import { checkCapabilities } from './volume-capabilities.js';
import {
  parseVolumeParameters,
  volumeContext,
  type ParameterDefaults,
} from './volume-parameters.js';

export interface VolumeHandlerDeps {
  readonly rds: RdsBackend;
  /** Attachment state to drop with the volume (refuses while the volume is published). */
  readonly attachmentRecords?: { forget(volumeId: string): Promise<void> };
  readonly locks: OperationLocks;
  readonly defaults: ParameterDefaults;
  readonly clock: { now(): number };
  /** The segment every volume is reachable from; none: no topology. */
  readonly topology?: TopologySegment;
}

export function volumeMessage(
  disk: RdsDisk,
  context: Record<string, string>,
  topology: TopologySegment | undefined,
): Volume {
  return {
    capacityBytes: String(disk.sizeBytes),
    volumeId: disk.slot,
    volumeContext: context,
    accessibleTopology: topology === undefined ? [] : [segmentTopology(topology)],
  };
}

/** What the volume context of an existing disk can be rebuilt from (ListVolumes, GetVolume). */
export function contextOfDisk(disk: RdsDisk): Record<string, string> {
  const context: Record<string, string> = {};
  if (disk.nvmeExport !== undefined) {
    context['nqn'] = disk.nvmeExport.nqn;
    context['nvmePort'] = String(disk.nvmeExport.port);
  }
  if (disk.filePath !== undefined)
    context['volumePath'] = disk.filePath.slice(0, disk.filePath.lastIndexOf('/'));
  return context;
}

interface SourceDisk {
  readonly id: string;
  readonly disk: RdsDisk;
}

async function resolveSource(
  rds: RdsBackend,
  source: VolumeContentSource__Output | null,
  signal: AbortSignal,
): Promise<SourceDisk | undefined> {
  if (source === null) return undefined;
  const id = source.snapshot?.snapshotId ?? source.volume?.volumeId ?? '';
  const kind = source.snapshot ? 'snapshot' : 'volume';
  if (source.type === undefined || id === '') {
    throw new InvalidInputError(`volume_content_source must name a ${kind} ID`, {
      field: 'volume_content_source',
    });
  }
  const valid = kind === 'snapshot' ? isSnapshotId(id) : isVolumeId(id);
  const disk = valid ? await rds.getDisk(id, { signal }) : undefined;
  if (disk === undefined)
    throw new NotFoundError(`source ${kind} ${id.slice(0, 128)} does not exist on the RDS`);
  return { id, disk };
}

export async function createVolume(
  request: CreateVolumeRequest__Output,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<CreateVolumeResponse> {
  const name = requireId(request.name, 'name');
  checkCapabilities(request.volumeCapabilities);
  checkAccessibility(request.accessibilityRequirements, deps.topology);
  const params = parseVolumeParameters(checkMap(request.parameters, 'parameters'), deps.defaults);
  const volumeId = volumeIdForName(name);
  return deps.locks.run(volumeId, 'CreateVolume', () =>
    createdOrRetryable(`creating volume ${volumeId}`, async () => {
      await requirePool(deps.rds, params.mountPoint, signal);
      const source = await resolveSource(deps.rds, request.volumeContentSource, signal);
      const size = sizeForRange(request.capacityRange, source?.disk.sizeBytes ?? 0);
      const filePath = diskFilePath(params.volumePath, volumeId);
      const nqn = nqnForSlot(volumeId);
      const context = volumeContext(params, nqn);
      const existing = await deps.rds.getDisk(volumeId, { signal });
      if (existing !== undefined) {
        checkSameVolume(existing, {
          name,
          size,
          filePath,
          sourceId: source?.id,
          range: request.capacityRange,
        });
        return {
          volume: {
            ...volumeMessage(existing, context, deps.topology),
            contentSource: request.volumeContentSource,
          },
        };
      }
      const disk = await deps.rds.createDisk(
        {
          slot: volumeId,
          filePath,
          sizeBytes: size,
          ...(source !== undefined ? { copyFromSlot: source.disk.slot } : {}),
          nvmeExport: { port: params.nvmePort, nqn },
          comment: encodeLineage('volume', deps.clock.now(), source?.id),
        },
        { signal },
      );
      return {
        volume: {
          ...volumeMessage(disk, context, deps.topology),
          contentSource: request.volumeContentSource,
        },
      };
    }),
  );
}

/**
 * Runs a create whose device answers may be unreadable. A final code tells the provisioner (or
 * snapshotter) that nothing exists and it stops tracking the request (csi-conformance.md 1.2): if
 * this call's add, or an earlier call's, made the disk, it would leak once the claim is deleted.
 * Unreadable output therefore answers UNAVAILABLE, and the retry reads the device again.
 */
export async function createdOrRetryable<T>(what: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof RdsParseError)) throw error;
    throw new RdsUnconfirmedError(
      `${what}: ${error.message}; the disk may exist, so retry: the next attempt reads the RDS again`,
      { cause: error },
    );
  }
}

/** A volume of this name exists: the same request answers OK, a different one ALREADY_EXISTS. */
function checkSameVolume(
  disk: RdsDisk,
  wanted: {
    name: string;
    size: number;
    filePath: string;
    sourceId: string | undefined;
    range: CreateVolumeRequest__Output['capacityRange'];
  },
): void {
  const required =
    wanted.range === null
      ? 0
      : parseInt64(wanted.range.requiredBytes, 'capacity_range.required_bytes');
  const limit =
    wanted.range === null ? 0 : parseInt64(wanted.range.limitBytes, 'capacity_range.limit_bytes');
  const sizeFits = disk.sizeBytes >= required && (limit === 0 || disk.sizeBytes <= limit);
  const source = decodeLineage(disk.comment).source;
  const differences = [
    sizeFits
      ? undefined
      : `its size is ${disk.sizeBytes} bytes, outside [${required}, ${limit === 0 ? 'unlimited' : limit}]`,
    disk.filePath === wanted.filePath
      ? undefined
      : `its file is ${disk.filePath ?? '-'}, not ${wanted.filePath}`,
    source === wanted.sourceId
      ? undefined
      : `its content source is ${source ?? 'none'}, not ${wanted.sourceId ?? 'none'}`,
  ].filter((d): d is string => d !== undefined);
  if (differences.length > 0) {
    throw new AlreadyExistsError(
      `volume ${disk.slot} for name "${wanted.name.slice(0, 128)}" already exists and differs: ${differences.join('; ')}`,
    );
  }
}

export async function deleteVolume(
  volumeId: string,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<void> {
  requireId(volumeId, 'volume_id');
  // An ID this driver never issued names nothing it could delete: already gone (CSI: OK).
  if (!isVolumeId(volumeId)) return;
  await deps.locks.run(volumeId, 'DeleteVolume', async () => {
    await deps.attachmentRecords?.forget(volumeId);
    await deps.rds.removeDisk(volumeId, { signal });
  });
}

export async function expandVolume(
  request: ControllerExpandVolumeRequest__Output,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<ControllerExpandVolumeResponse> {
  const volumeId = requireId(request.volumeId, 'volume_id');
  if (request.capacityRange === null)
    throw new InvalidInputError('capacity_range is required', { field: 'capacity_range' });
  const block =
    request.volumeCapability === null
      ? false
      : checkCapabilities([request.volumeCapability], 'volume_capability').block;
  const size = sizeForRange(request.capacityRange);
  if (!isVolumeId(volumeId)) throw new NotFoundError(`volume ${volumeId} does not exist`);
  return deps.locks.run(volumeId, 'ControllerExpandVolume', async () => {
    const disk = await deps.rds.getDisk(volumeId, { signal });
    if (disk === undefined) throw new NotFoundError(`volume ${volumeId} does not exist on the RDS`);
    const grown =
      size > disk.sizeBytes ? await deps.rds.resizeDisk(volumeId, size, { signal }) : disk;
    return { capacityBytes: String(grown.sizeBytes), nodeExpansionRequired: !block };
  });
}

/** Pools found on each RDS: a pool does not vanish under a running driver, so each is read once. */
const poolsFound = new WeakMap<RdsBackend, Set<string>>();

/**
 * A volumePath in no pool of the RDS is a StorageClass mistake, refused before any disk is made
 * (the device would otherwise be asked to create a file outside its storage).
 */
async function requirePool(
  rds: RdsBackend,
  mountPoint: string,
  signal: AbortSignal,
): Promise<void> {
  const found = poolsFound.get(rds) ?? new Set<string>();
  poolsFound.set(rds, found);
  if (found.has(mountPoint)) return;
  try {
    await rds.getPool(mountPoint, { signal });
  } catch (error) {
    if (!(error instanceof NotFoundError)) throw error;
    throw new InvalidInputError(`parameter volumePath: ${error.message}`, {
      field: 'parameters.volumePath',
    });
  }
  found.add(mountPoint);
}

/** Free bytes of the pool that holds `volumePath` (GetCapacity). */
export async function poolFreeBytes(
  parameters: Readonly<Record<string, string>>,
  deps: VolumeHandlerDeps,
  signal: AbortSignal,
): Promise<number> {
  const volumePath = checkVolumePath(
    parameters['volumePath'] || deps.defaults.volumePath,
    'parameters.volumePath',
  );
  const pool = await deps.rds.getPool(poolMountPoint(volumePath), { signal });
  return pool.freeBytes;
}
