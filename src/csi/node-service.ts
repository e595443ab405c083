// node-service.ts: the CSI Node service: requests checked here, the work done by NodeVolumes
// (src/node/node-volumes.ts) through the NVMe transport chosen at start (nvme-cli in production,
// loop devices for tests and the quickstart).
//
// The NQN a node acts on is always this volume's own (`nqn.2000-02.com.mikrotik:<volume id>`): a
// publish_context naming another is refused, and the transport refuses anything outside the
// managed prefix on its own (field-lessons #4).
import type { NodeHandlers } from './generated/csi/v1/Node.js';
import type { NodeServiceCapability } from './generated/csi/v1/NodeServiceCapability.js';
import type { VolumeCapability__Output } from './generated/csi/v1/VolumeCapability.js';
import type { VolumeUsage } from './generated/csi/v1/VolumeUsage.js';
import { InvalidInputError, NotFoundError } from '../errors.js';
import { SLOT, nqnForSlot } from '../domain/naming.js';
import { parseMkfsOptions } from '../domain/mkfs-options.js';
import type { Filesystem, NodeVolumeOperations, TransportTarget } from '../ports.js';
import { requireId, checkMap } from './request-fields.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';
import { segmentTopology, type TopologySegment } from './topology.js';
import { DEFAULT_FILESYSTEM, capabilityProblem } from './volume-capabilities.js';

export interface NodeDeps extends RpcDeps {
  readonly version: string;
  readonly nodeId: string;
  /** 0: no limit (the CO decides). */
  readonly maxVolumesPerNode: number;
  readonly volumes: NodeVolumeOperations;
  /** Every staging and target path must lie under it (--kubelet-dir). */
  readonly kubeletDir: string;
  /** Reported in NodeGetInfo: kubelet labels the Node with it and lists its key in the CSINode. */
  readonly topology?: TopologySegment;
}

/**
 * A path the kubelet gave: absolute, normalised (no `.`, `..` or empty segments, so a prefix check
 * means what it says) and under --kubelet-dir. The node unmounts, removes and mknods at these
 * paths: one outside the kubelet's directory (`/dev/sda`, `/etc`) is never touched.
 * CSI paths may be longer than other strings (csi-conformance.md 1.1).
 */
function kubeletPath(
  value: string,
  field: string,
  kubeletDir: string,
  absent: (message: string) => Error,
): string {
  if (value === '') throw new InvalidInputError(`${field} is required`, { field });
  if (!value.startsWith('/') || value.includes('\0') || Buffer.byteLength(value) > 4096)
    throw absent(`${field} ${value.slice(0, 200)} is not an absolute path`);
  const segments = value.split('/').slice(1);
  if (
    segments.some(
      (segment, i) =>
        segment === '.' || segment === '..' || (segment === '' && i < segments.length - 1),
    )
  )
    throw new InvalidInputError(`${field} ${value.slice(0, 200)} is not a normalised path`, {
      field,
    });
  const root = kubeletDir.endsWith('/') ? kubeletDir : `${kubeletDir}/`;
  if (!value.startsWith(root) || value.length === root.length) {
    throw new InvalidInputError(
      `${field} ${value.slice(0, 200)} is outside the kubelet directory ${kubeletDir} (--kubelet-dir); the node touches only paths under it`,
      { field },
    );
  }
  return value;
}

/** The volume's NQN; a volume ID that cannot be one of ours is NOT_FOUND (it cannot exist). */
function nqnOf(volumeId: string): string {
  if (!SLOT.test(volumeId)) throw new NotFoundError(`volume ${volumeId} does not exist`);
  return nqnForSlot(volumeId);
}

function requireCapability(
  capability: VolumeCapability__Output | null,
  field: string,
): VolumeCapability__Output {
  if (capability === null) throw new InvalidInputError(`${field} is required`, { field });
  const problem = capabilityProblem(capability, field);
  if (problem !== undefined) throw new InvalidInputError(problem, { field });
  return capability;
}

function intOr(value: string | undefined, field: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d{1,6}$/.test(value))
    throw new InvalidInputError(`${field}="${value.slice(0, 20)}" is not an integer`, { field });
  return Number(value);
}

/** Where to connect: publish_context first (what ControllerPublish decided), then VolumeContext. */
function targetOf(
  volumeId: string,
  publishContext: Readonly<Record<string, string>>,
  volumeContext: Readonly<Record<string, string>>,
): TransportTarget {
  const nqn = nqnOf(volumeId);
  const given = publishContext['nqn'] || volumeContext['nqn'];
  if (given !== undefined && given !== '' && given !== nqn) {
    throw new InvalidInputError(
      `publish_context nqn ${given.slice(0, 100)} is not volume ${volumeId}'s (${nqn})`,
      { field: 'publish_context' },
    );
  }
  const address = publishContext['nvmeAddress'] || volumeContext['nvmeAddress'] || '';
  const port = intOr(publishContext['nvmePort'] || volumeContext['nvmePort'], 'nvmePort') ?? 4420;
  return {
    nqn,
    address,
    port,
    ctrlLossTmoSeconds: intOr(volumeContext['ctrlLossTmo'], 'volume_context.ctrlLossTmo'),
    reconnectDelaySeconds: intOr(volumeContext['reconnectDelay'], 'volume_context.reconnectDelay'),
    keepAliveTmoSeconds: intOr(volumeContext['keepAliveTmo'], 'volume_context.keepAliveTmo'),
  };
}

function filesystemOf(value: string | undefined, field: string): Filesystem | undefined {
  if (value === undefined || value === '') return undefined;
  if (value !== 'ext4' && value !== 'xfs')
    throw new InvalidInputError(`${field} "${value.slice(0, 20)}" must be ext4 or xfs`, { field });
  return value;
}

/** Mount flags from the capability, passed through as given (none added, none dropped). */
function mountFlagsOf(capability: VolumeCapability__Output): string[] {
  const flags = capability.mount?.mountFlags ?? [];
  for (const flag of flags) {
    if (!/^[A-Za-z0-9_=.,:/+-]{1,128}$/.test(flag) || flag.includes(',')) {
      throw new InvalidInputError(
        `volume_capability.mount.mount_flags: "${flag.slice(0, 40)}" is not a mount option`,
        { field: 'volume_capability.mount.mount_flags' },
      );
    }
  }
  return [...flags];
}

export function createNodeService(deps: NodeDeps): NodeHandlers {
  const capabilities: NodeServiceCapability[] = [
    { rpc: { type: 'STAGE_UNSTAGE_VOLUME' } },
    { rpc: { type: 'GET_VOLUME_STATS' } },
    { rpc: { type: 'EXPAND_VOLUME' } },
    { rpc: { type: 'VOLUME_CONDITION' } },
  ];
  const { volumes } = deps;
  const invalid = (field: string) => (message: string) => new InvalidInputError(message, { field });
  const requirePath = (value: string, field: string) =>
    kubeletPath(value, field, deps.kubeletDir, invalid(field));
  // Stats and expansion: a path that is not absolute cannot exist (NOT_FOUND, as csi-sanity expects).
  const existingPath = (value: string, field: string) =>
    kubeletPath(
      value,
      field,
      deps.kubeletDir,
      (message) => new NotFoundError(`${message}: it does not exist`),
    );
  return {
    NodeGetCapabilities: wrapUnary(
      'NodeGetCapabilities',
      () => Promise.resolve({ capabilities }),
      deps,
    ),
    NodeGetInfo: wrapUnary(
      'NodeGetInfo',
      () =>
        Promise.resolve({
          nodeId: deps.nodeId,
          maxVolumesPerNode: String(deps.maxVolumesPerNode),
          accessibleTopology: deps.topology === undefined ? null : segmentTopology(deps.topology),
        }),
      deps,
    ),
    NodeStageVolume: wrapUnary(
      'NodeStageVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const stagingPath = requirePath(request.stagingTargetPath, 'staging_target_path');
        const capability = requireCapability(request.volumeCapability, 'volume_capability');
        const volumeContext = checkMap(request.volumeContext, 'volume_context');
        const target = targetOf(
          volumeId,
          checkMap(request.publishContext, 'publish_context'),
          volumeContext,
        );
        const block = capability.accessType === 'block';
        await volumes.stage(
          {
            volumeId,
            target,
            stagingPath,
            block,
            fsType: filesystemOf(capability.mount?.fsType, 'volume_capability.mount.fs_type'),
            defaultFsType:
              filesystemOf(volumeContext['fsType'], 'volume_context.fsType') ?? DEFAULT_FILESYSTEM,
            mountFlags: block ? [] : mountFlagsOf(capability),
            mkfsOptions: parseMkfsOptions(
              volumeContext['mkfsOptions'],
              'volume_context.mkfsOptions',
            ),
          },
          { signal },
        );
        return {};
      },
      deps,
    ),
    NodeUnstageVolume: wrapUnary(
      'NodeUnstageVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const path = requirePath(request.stagingTargetPath, 'staging_target_path');
        await volumes.unstage(volumeId, nqnOf(volumeId), path, { signal });
        return {};
      },
      deps,
    ),
    NodePublishVolume: wrapUnary(
      'NodePublishVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const targetPath = requirePath(request.targetPath, 'target_path');
        const stagingPath = requirePath(request.stagingTargetPath, 'staging_target_path');
        const capability = requireCapability(request.volumeCapability, 'volume_capability');
        const block = capability.accessType === 'block';
        const readOnly =
          request.readonly || capability.accessMode?.mode === 'SINGLE_NODE_READER_ONLY';
        await volumes.publish(
          {
            volumeId,
            nqn: targetOf(
              volumeId,
              checkMap(request.publishContext, 'publish_context'),
              checkMap(request.volumeContext, 'volume_context'),
            ).nqn,
            stagingPath,
            targetPath,
            block,
            readOnly,
            mountFlags: block ? [] : mountFlagsOf(capability),
          },
          { signal },
        );
        return {};
      },
      deps,
    ),
    NodeUnpublishVolume: wrapUnary(
      'NodeUnpublishVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const path = requirePath(request.targetPath, 'target_path');
        await volumes.unpublish(volumeId, nqnOf(volumeId), path, { signal });
        return {};
      },
      deps,
    ),
    NodeGetVolumeStats: wrapUnary(
      'NodeGetVolumeStats',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const path = existingPath(request.volumePath, 'volume_path');
        const stats = await volumes.stats(volumeId, nqnOf(volumeId), path, { signal });
        const usage: VolumeUsage[] = [
          {
            unit: 'BYTES' as const,
            total: String(stats.bytes.total),
            ...(stats.bytes.available !== undefined
              ? { available: String(stats.bytes.available) }
              : {}),
            ...(stats.bytes.used !== undefined ? { used: String(stats.bytes.used) } : {}),
          },
        ];
        if (stats.inodes !== undefined) {
          usage.push({
            unit: 'INODES' as const,
            total: String(stats.inodes.total),
            available: String(stats.inodes.available),
            used: String(stats.inodes.used),
          });
        }
        return {
          usage,
          volumeCondition: {
            abnormal: stats.abnormal !== undefined,
            message: stats.abnormal ?? 'the volume is connected and its mount is current',
          },
        };
      },
      deps,
    ),
    NodeExpandVolume: wrapUnary(
      'NodeExpandVolume',
      async (request, { signal }) => {
        const volumeId = requireId(request.volumeId, 'volume_id');
        const path = existingPath(request.volumePath, 'volume_path');
        if (request.volumeCapability !== null)
          requireCapability(request.volumeCapability, 'volume_capability');
        const block = request.volumeCapability?.accessType === 'block';
        const size = await volumes.expand(volumeId, nqnOf(volumeId), path, block, { signal });
        return { capacityBytes: String(size) };
      },
      deps,
    ),
  };
}
