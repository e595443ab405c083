// topology.ts: the one topology segment this driver reports: `<driver-name>/rds=<value>`, the nodes
// that reach this RDS over NVMe/TCP. Every node plugin reports it in NodeGetInfo (kubelet labels
// the Node and lists the key in its CSINode), every volume carries it, so the PV's node affinity
// names the segment and external-provisioner keeps one CSIStorageCapacity object per class for
// it. Without a segment, external-provisioner v6.3.0 cannot match the objects it made to its work
// items and deletes and recreates them over and over (test/e2e/capacity.test.ts).
import { ResourceExhaustedError } from '../errors.js';
import type { Topology, Topology__Output } from './generated/csi/v1/Topology.js';
import type { TopologyRequirement__Output } from './generated/csi/v1/TopologyRequirement.js';

export interface TopologySegment {
  readonly key: string;
  readonly value: string;
}

/** The label key of the segment: a Kubernetes label with the driver name as its prefix. */
export function topologyKey(driverName: string): string {
  return `${driverName}/rds`;
}

/** What NodeGetInfo reports and every Volume carries. */
export function segmentTopology(segment: TopologySegment): Topology {
  return { segments: { [segment.key]: segment.value } };
}

/** Whether `topology` (from a request) names our segment; one without our key names another's. */
function isOurs(topology: Topology__Output, segment: TopologySegment): boolean {
  return topology.segments[segment.key] === segment.value;
}

/**
 * CreateVolume: a volume can only be made where the RDS is reached. If the requisite list names
 * topologies and none is ours, RESOURCE_EXHAUSTED (CSI: cannot be provisioned in that topology).
 * Preferred topologies only order the requisite ones; they never refuse.
 */
export function checkAccessibility(
  requirement: TopologyRequirement__Output | null,
  segment: TopologySegment | undefined,
): void {
  if (segment === undefined || requirement === null) return;
  const requisite = requirement.requisite;
  if (requisite.length === 0 || requisite.some((t) => isOurs(t, segment))) return;
  const named = requisite
    .slice(0, 3)
    .map((t) => JSON.stringify(t.segments).slice(0, 200))
    .join(', ');
  throw new ResourceExhaustedError(
    `accessibility_requirements.requisite names only topologies this RDS does not serve (${named}${requisite.length > 3 ? ', ...' : ''}); ` +
      `its volumes are reachable from nodes labelled ${segment.key}=${segment.value}: check the StorageClass allowedTopologies and the node plugins' --topology`,
  );
}

/**
 * GetCapacity: the pool serves our segment only; another segment (or another key) has none. With
 * topology off, or no topology asked for, the pool is everyone's.
 */
export function servesTopology(
  topology: Topology__Output | null,
  segment: TopologySegment | undefined,
): boolean {
  if (segment === undefined || topology === null) return true;
  return Object.keys(topology.segments).length === 0 || isOurs(topology, segment);
}
