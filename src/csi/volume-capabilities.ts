// volume-capabilities.ts: which CSI volume capabilities this driver supports, and why not.
//
// Block and filesystem (ext4, xfs) volumes, single-node access; MULTI_NODE_MULTI_WRITER only with
// block access: the mode KubeVirt live migration needs, safe because no filesystem is mounted on
// two nodes (field-lessons #25). A filesystem volume on two nodes would corrupt it.
import { InvalidInputError } from '../errors.js';
import type { VolumeCapability__Output } from './generated/csi/v1/VolumeCapability.js';

export const FILESYSTEMS = ['ext4', 'xfs'] as const;
export const DEFAULT_FILESYSTEM = 'ext4';

const SINGLE_NODE = new Set(['SINGLE_NODE_WRITER', 'SINGLE_NODE_READER_ONLY']);

export interface CapabilitySummary {
  readonly block: boolean;
  /** RWX block (live migration): at most two nodes at once. */
  readonly multiNode: boolean;
}

/** Why `capability` is unsupported, or undefined when it is fine. */
export function capabilityProblem(
  capability: VolumeCapability__Output,
  field: string,
): string | undefined {
  const mode = capability.accessMode?.mode ?? 'UNKNOWN';
  if (capability.accessType === undefined) return `${field} sets neither block nor mount access`;
  if (mode === 'UNKNOWN') return `${field}.access_mode is missing`;
  if (capability.accessType === 'mount') {
    const fsType = capability.mount?.fsType ?? '';
    if (fsType !== '' && !(FILESYSTEMS as readonly string[]).includes(fsType)) {
      return `${field}.mount.fs_type "${fsType.slice(0, 20)}" is not supported; use ext4 or xfs`;
    }
    if (mode === 'MULTI_NODE_MULTI_WRITER') {
      return `${field}: MULTI_NODE_MULTI_WRITER (ReadWriteMany) is supported only for block volumes (volumeMode: Block), as KubeVirt live migration uses it`;
    }
  }
  if (!SINGLE_NODE.has(mode) && mode !== 'MULTI_NODE_MULTI_WRITER') {
    return `${field}.access_mode ${mode} is not supported; use SINGLE_NODE_WRITER (ReadWriteOnce) or, for block volumes, MULTI_NODE_MULTI_WRITER`;
  }
  return undefined;
}

/** Throws INVALID_ARGUMENT for a missing or unsupported capability list. */
export function checkCapabilities(
  capabilities: readonly VolumeCapability__Output[],
  field = 'volume_capabilities',
): CapabilitySummary {
  if (capabilities.length === 0)
    throw new InvalidInputError(`${field} is required and must not be empty`, { field });
  const problem = capabilities
    .map((c, i) => capabilityProblem(c, `${field}[${i}]`))
    .find((p) => p !== undefined);
  if (problem !== undefined) throw new InvalidInputError(problem, { field });
  return {
    block: capabilities.some((c) => c.accessType === 'block'),
    multiNode: capabilities.some((c) => c.accessMode?.mode === 'MULTI_NODE_MULTI_WRITER'),
  };
}

/** The first problem of a list, for ValidateVolumeCapabilities' message; undefined when all fit. */
export function firstCapabilityProblem(
  capabilities: readonly VolumeCapability__Output[],
): string | undefined {
  return capabilities
    .map((c, i) => capabilityProblem(c, `volume_capabilities[${i}]`))
    .find((p) => p !== undefined);
}
