// naming.ts: how volumes and snapshots are named on the RDS, and the allow-lists every name,
// path and NQN must pass. A leaf: the controller computes names with it, the RDS client checks
// every value against the same rules before any command is rendered (field-lessons #30).
//
// Compatible with the Go rds-csi driver so its volumes can be adopted (routeros-cli.md 2):
// volume ID = slot = `pvc-<uuid>`, file `<volumePath>/<slot>.img`, NQN
// `nqn.2000-02.com.mikrotik:<slot>`.
import { v5 as uuidv5 } from 'uuid';

import { InvalidInputError } from '../errors.js';

export const VOLUME_ID = /^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
export const SNAPSHOT_ID =
  /^snap-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-at-[0-9a-f]{10}$/;
/** RouterOS slot names: letters, digits and `-` (Go driver rule), at most 128. */
export const SLOT = /^[A-Za-z0-9][A-Za-z0-9-]{0,127}$/;
/** An absolute directory on the pool: segments of [A-Za-z0-9._-] starting alphanumeric (no `.`, `..`, spaces, quotes, `$`, `[`). */
export const VOLUME_PATH = /^(\/[A-Za-z0-9][A-Za-z0-9._-]{0,63}){1,8}$/;
export const NQN = /^nqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+:[a-z0-9._-]+$/;
export const MAX_NQN_BYTES = 223;
export const MIKROTIK_NQN_PREFIX = 'nqn.2000-02.com.mikrotik:';
/** What the node may disconnect and clean up: only NQNs under this prefix (field-lessons #4). */
export const DEFAULT_MANAGED_NQN_PREFIX = `${MIKROTIK_NQN_PREFIX}pvc-`;

/** RFC 4122 URL namespace: names of volumes and snapshots are hashed in it (UUIDv5). */
const NAME_NAMESPACE = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';

/**
 * The volume ID for a CreateVolume name: the name itself when it is already `pvc-<uuid>` (what the
 * Kubernetes provisioner sends), else a UUIDv5 of it, so any 128-byte CSI name maps to the same
 * valid slot every time.
 */
export function volumeIdForName(name: string): string {
  return VOLUME_ID.test(name) ? name : `pvc-${uuidv5(name, NAME_NAMESPACE)}`;
}

/** `snap-<uuidv5(name)>-at-<first 10 hex of it>`, the Go driver's snapshot slot form. */
export function snapshotIdForName(name: string): string {
  const id = uuidv5(name, NAME_NAMESPACE);
  return `snap-${id}-at-${id.replace(/-/g, '').slice(0, 10)}`;
}

export function isVolumeId(value: string): boolean {
  return VOLUME_ID.test(value);
}

export function isSnapshotId(value: string): boolean {
  return SNAPSHOT_ID.test(value);
}

export function nqnForSlot(slot: string): string {
  return `${MIKROTIK_NQN_PREFIX}${slot.toLowerCase()}`;
}

export function diskFilePath(volumePath: string, slot: string): string {
  return `${volumePath}/${slot}.img`;
}

/** The pool is the first path component (`/storage-pool/metal-csi` -> `storage-pool`). */
export function poolMountPoint(volumePath: string): string {
  return volumePath.split('/')[1] ?? '';
}

/** Checks a StorageClass `volumePath`; throws InvalidInputError naming the rule. */
export function checkVolumePath(value: string, field = 'volumePath'): string {
  if (!VOLUME_PATH.test(value)) {
    throw new InvalidInputError(
      `${field} "${value.slice(0, 80)}" is not an absolute pool directory: use /segment/segment with letters, digits, ".", "_" and "-" only, each segment starting with a letter or digit`,
      { field },
    );
  }
  return value;
}

/**
 * The one rule for which NVMe subsystems the node may connect, disconnect or rescan: a
 * well-formed NQN of at most 223 bytes that starts with the (non-empty) managed prefix and has
 * more after it. A prefix match alone would let through the bare prefix, a path (`../`), a
 * line break or upper case, none of which a volume of ours ever has.
 */
export function isManagedNqn(nqn: string, prefix: string): boolean {
  return (
    prefix !== '' &&
    NQN.test(nqn) &&
    nqn.length <= MAX_NQN_BYTES &&
    nqn.startsWith(prefix) &&
    nqn.length > prefix.length
  );
}
