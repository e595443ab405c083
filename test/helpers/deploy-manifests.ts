// deploy-manifests.ts: the objects of the Helm chart deploy/helm/rds-csi-ts for tests. Tests that
// run a component with exactly its deployment's permissions take its ClusterRole and Roles from
// the rendered manifests in deploy/kubernetes/ (kept equal to the chart by
// scripts/render-manifests.mjs --check); renderChart() runs `helm template` for other values.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';

import { parseAllDocuments } from 'yaml';

const ROOT = new URL('../../', import.meta.url).pathname;
const HELM = `${ROOT}.tools/bin/helm`;
export const CHART = `${ROOT}deploy/helm/rds-csi-ts`;
/** The chart with its default values, in kube-system. */
export const DEFAULT_MANIFEST = `${ROOT}deploy/kubernetes/rds-csi-ts.yaml`;
/** The chart's snapshot-controller part alone (off by default: one per cluster). */
export const SNAPSHOT_CONTROLLER_MANIFEST = `${ROOT}deploy/kubernetes/snapshot-controller.yaml`;
/** The release name the manifests are rendered with: every object name starts with it. */
export const RELEASE = 'rds-csi-ts';

/** Each identity the chart grants permissions to (one ClusterRole each, `rds-csi-ts-<name>`). */
export const COMPONENTS = [
  'controller',
  'node',
  'csi-provisioner',
  'csi-attacher',
  'csi-resizer',
  'csi-snapshotter',
  'snapshot-controller',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface RbacRule {
  readonly apiGroups?: readonly string[];
  readonly resources?: readonly string[];
  readonly verbs: readonly string[];
}

/** A rendered object: the fields tests read; the rest stays `unknown`. */
export interface ManifestObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly rules?: readonly RbacRule[];
  readonly [field: string]: unknown;
}

export interface ComponentRbac {
  readonly clusterRole: ManifestObject;
  /** Its namespaced Roles (leader election; capacity tracking), each with its namespace. */
  readonly roles: readonly ManifestObject[];
}

/** The objects of a multi-document YAML text, in order, without empty documents. */
export function parseManifest(text: string): ManifestObject[] {
  return parseAllDocuments(text)
    .map((d) => {
      // A duplicate key or a bad indent is an error here, not a silently different object.
      if (d.errors.length > 0) throw new Error(`manifest YAML: ${d.errors[0]?.message ?? ''}`);
      return d.toJS() as ManifestObject | null;
    })
    .filter((o): o is ManifestObject => o !== null);
}

/** The default manifest and the snapshot-controller one, parsed. */
export function renderedObjects(): ManifestObject[] {
  return [DEFAULT_MANIFEST, SNAPSHOT_CONTROLLER_MANIFEST].flatMap((path) =>
    parseManifest(readFileSync(path, 'utf8')),
  );
}

/**
 * `helm template rds-csi-ts <chart> --namespace <ns> --set <each>`: the chart's objects for other
 * values. Throws with helm's message when it fails or is not built.
 */
export function renderChart(
  sets: readonly string[] = [],
  namespace = 'kube-system',
): ManifestObject[] {
  if (!existsSync(HELM))
    throw new Error(`${HELM} is not built: run "bash scripts/tools.sh ensure" (builds helm)`);
  const args = ['template', RELEASE, CHART, '--namespace', namespace];
  for (const value of sets) args.push('--set', value);
  const result = spawnSync(HELM, args, { encoding: 'utf8', timeout: 60_000 });
  if (result.status !== 0)
    throw new Error(`helm ${args.join(' ')} failed: ${result.stderr || String(result.error)}`);
  return parseManifest(result.stdout);
}

/**
 * A component's ClusterRole (`rds-csi-ts-<component>`) and Roles (`rds-csi-ts-<component>-*`)
 * among `objects` (default: the rendered manifests). Throws when the ClusterRole is missing.
 */
export function componentRbac(
  component: Component,
  objects: readonly ManifestObject[] = renderedObjects(),
): ComponentRbac {
  const name = `${RELEASE}-${component}`;
  const clusterRole = objects.find((o) => o.kind === 'ClusterRole' && o.metadata.name === name);
  if (clusterRole === undefined)
    throw new Error(`the rendered chart has no ClusterRole ${name} (deploy/kubernetes/*.yaml)`);
  const roles = objects.filter((o) => o.kind === 'Role' && o.metadata.name.startsWith(`${name}-`));
  return { clusterRole, roles };
}
