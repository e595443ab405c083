// controller-service.ts: the CSI Controller service: volumes and snapshots on the RDS, and
// Publish/Unpublish through the attachment supervisor when the driver wires one in.
import { InvalidInputError, NotFoundError, NotLeaderError } from '../errors.js';
import type { Leadership } from '../ports.js';
import { isVolumeId } from '../domain/naming.js';
import type { ControllerHandlers } from './generated/csi/v1/Controller.js';
import type { ControllerServiceCapability } from './generated/csi/v1/ControllerServiceCapability.js';
import {
  createSnapshot,
  deleteSnapshot,
  getSnapshot,
  listSnapshots,
} from './controller-snapshots.js';
import {
  contextOfDisk,
  createVolume,
  deleteVolume,
  expandVolume,
  poolFreeBytes,
  volumeMessage,
  type VolumeHandlerDeps,
} from './controller-volumes.js';
import { publishVolume, unpublishVolume, type PublishDeps } from './controller-publish.js';
import { page } from './list-pages.js';
import { notImplemented } from './not-implemented.js';
import { checkMap, requireId } from './request-fields.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';
import { servesTopology } from './topology.js';
import { firstCapabilityProblem } from './volume-capabilities.js';

export interface ControllerDeps extends RpcDeps, VolumeHandlerDeps {
  readonly version: string;
  /** Without leader election every replica may act. */
  readonly leadership?: Leadership;
  /** Attachment fencing; without it Publish/Unpublish are not advertised (UNIMPLEMENTED). */
  readonly publishing?: Omit<PublishDeps, 'rds' | 'defaults'>;
  readonly publishDefaults?: PublishDeps['defaults'];
}

/** Mutations run on the leader only; a follower answers UNAVAILABLE, which the sidecars retry. */
function requireLeader(deps: ControllerDeps, method: string): void {
  if (deps.leadership === undefined || deps.leadership.isLeader()) return;
  const leader = deps.leadership.leader();
  throw new NotLeaderError(
    `${method}: this controller replica is not the leader${leader ? ` (${leader} is)` : ''}; retry, the leader answers`,
  );
}

/**
 * Advertise only what really works (issue 3): each of these is exercised by csi-sanity. GetSnapshot
 * is served but GET_SNAPSHOT (alpha in CSI 1.12) is not advertised: csi-sanity v5.4.0 rejects it.
 */
export const CONTROLLER_CAPABILITIES = [
  'CREATE_DELETE_VOLUME',
  'LIST_VOLUMES',
  'GET_CAPACITY',
  'CREATE_DELETE_SNAPSHOT',
  'LIST_SNAPSHOTS',
  'CLONE_VOLUME',
  'EXPAND_VOLUME',
  'GET_VOLUME',
  'VOLUME_CONDITION',
] as const;

function conditionOf(exported: boolean): { abnormal: boolean; message: string } {
  return exported
    ? { abnormal: false, message: 'disk present and exported over NVMe/TCP' }
    : {
        abnormal: true,
        message: 'disk present but not exported over NVMe/TCP; nodes cannot connect to it',
      };
}

export function createControllerService(deps: ControllerDeps): ControllerHandlers {
  const types = [
    ...CONTROLLER_CAPABILITIES,
    ...(deps.publishing !== undefined ? (['PUBLISH_UNPUBLISH_VOLUME'] as const) : []),
  ];
  const capabilities: ControllerServiceCapability[] = types.map((type) => ({ rpc: { type } }));
  const publishDeps: PublishDeps | undefined =
    deps.publishing === undefined
      ? undefined
      : {
          ...deps.publishing,
          rds: deps.rds,
          defaults: deps.publishDefaults ?? { nvmeAddress: undefined, nvmePort: 4420 },
        };
  const todo = <Req, Res>(method: string) => notImplemented<Req, Res>(method, deps.version, deps);
  return {
    ControllerGetCapabilities: wrapUnary(
      'ControllerGetCapabilities',
      () => Promise.resolve({ capabilities }),
      deps,
    ),
    CreateVolume: wrapUnary(
      'CreateVolume',
      (request, { signal }) => {
        requireLeader(deps, 'CreateVolume');
        return createVolume(request, deps, signal);
      },
      deps,
    ),
    DeleteVolume: wrapUnary(
      'DeleteVolume',
      async (request, { signal }) => {
        requireLeader(deps, 'DeleteVolume');
        await deleteVolume(request.volumeId, deps, signal);
        return {};
      },
      deps,
    ),
    ValidateVolumeCapabilities: wrapUnary(
      'ValidateVolumeCapabilities',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        if (request.volumeCapabilities.length === 0) {
          throw new InvalidInputError('volume_capabilities is required and must not be empty', {
            field: 'volume_capabilities',
          });
        }
        checkMap(request.parameters, 'parameters');
        const disk = isVolumeId(volumeId)
          ? await deps.rds.getDisk(volumeId, { signal })
          : undefined;
        if (disk === undefined)
          throw new NotFoundError(`volume ${volumeId} does not exist on the RDS`);
        const problem = firstCapabilityProblem(request.volumeCapabilities);
        if (problem !== undefined) return { confirmed: null, message: problem };
        return {
          confirmed: {
            volumeContext: request.volumeContext,
            volumeCapabilities: request.volumeCapabilities,
            parameters: request.parameters,
            mutableParameters: request.mutableParameters,
          },
          message: '',
        };
      },
      deps,
    ),
    ListVolumes: wrapUnary(
      'ListVolumes',
      async (request, { signal }) => {
        const disks = (await deps.rds.listDisks('pvc-', { signal })).filter((d) =>
          isVolumeId(d.slot),
        );
        const { entries, nextToken } = page(disks, (d) => d.slot, request, isVolumeId);
        return {
          entries: entries.map((disk) => ({
            volume: volumeMessage(disk, contextOfDisk(disk), deps.topology),
            status: {
              publishedNodeIds: [],
              volumeCondition: conditionOf(disk.nvmeExport !== undefined),
            },
          })),
          nextToken,
        };
      },
      deps,
    ),
    ControllerGetVolume: wrapUnary(
      'ControllerGetVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const disk = isVolumeId(volumeId)
          ? await deps.rds.getDisk(volumeId, { signal })
          : undefined;
        if (disk === undefined)
          throw new NotFoundError(`volume ${volumeId} does not exist on the RDS`);
        return {
          volume: volumeMessage(disk, contextOfDisk(disk), deps.topology),
          status: {
            publishedNodeIds: [],
            volumeCondition: conditionOf(disk.nvmeExport !== undefined),
          },
        };
      },
      deps,
    ),
    GetCapacity: wrapUnary(
      'GetCapacity',
      async (request, { signal }) => {
        const free =
          firstCapabilityProblem(request.volumeCapabilities) === undefined &&
          servesTopology(request.accessibleTopology, deps.topology)
            ? await poolFreeBytes(checkMap(request.parameters, 'parameters'), deps, signal)
            : 0;
        return {
          availableCapacity: String(free),
          maximumVolumeSize: { value: String(free) },
          minimumVolumeSize: { value: String(1024 * 1024) },
        };
      },
      deps,
    ),
    ControllerExpandVolume: wrapUnary(
      'ControllerExpandVolume',
      (request, { signal }) => {
        requireLeader(deps, 'ControllerExpandVolume');
        return expandVolume(request, deps, signal);
      },
      deps,
    ),
    CreateSnapshot: wrapUnary(
      'CreateSnapshot',
      async (request, { signal }) => {
        requireLeader(deps, 'CreateSnapshot');
        return { snapshot: await createSnapshot(request, deps, signal) };
      },
      deps,
    ),
    DeleteSnapshot: wrapUnary(
      'DeleteSnapshot',
      async (request, { signal }) => {
        requireLeader(deps, 'DeleteSnapshot');
        await deleteSnapshot(request.snapshotId, deps, signal);
        return {};
      },
      deps,
    ),
    ListSnapshots: wrapUnary(
      'ListSnapshots',
      (request, { signal }) => listSnapshots(request, deps, signal),
      deps,
    ),
    GetSnapshot: wrapUnary(
      'GetSnapshot',
      async (request, { signal }) => ({
        snapshot: await getSnapshot(request.snapshotId, deps, signal),
      }),
      deps,
    ),
    ControllerPublishVolume:
      publishDeps === undefined
        ? todo('ControllerPublishVolume')
        : wrapUnary(
            'ControllerPublishVolume',
            (request, { signal }) => {
              requireLeader(deps, 'ControllerPublishVolume');
              return publishVolume(request, publishDeps, signal);
            },
            deps,
          ),
    ControllerUnpublishVolume:
      publishDeps === undefined
        ? todo('ControllerUnpublishVolume')
        : wrapUnary(
            'ControllerUnpublishVolume',
            async (request) => {
              requireLeader(deps, 'ControllerUnpublishVolume');
              await unpublishVolume(request, publishDeps);
              return {};
            },
            deps,
          ),
    ControllerModifyVolume: todo('ControllerModifyVolume'),
  };
}
