// cluster-options.ts: the option table's rows for the controller's cluster side: the Kubernetes
// API, leader election, attachment timing and the orphan audit (options.ts assembles the table).
import { bool, duration, durationOrZero, matching, path } from './values.js';
import { option } from './option-row.js';

export const CLUSTER_OPTIONS = {
  kubeconfig: option(path.optional(), {
    flags: '--kubeconfig <file>',
    description:
      'kubeconfig for the Kubernetes API; default: the in-cluster service account. Controller and all modes need one or the other (fencing), except with --quickstart',
    accepts: 'a readable kubeconfig file',
  }),
  leaderElect: option(bool, {
    flags: '--leader-elect <bool>',
    description:
      'controller: only the replica holding the Lease changes volumes (needs Kubernetes); followers answer UNAVAILABLE',
    accepts: 'true | false',
    defaultValue: true,
  }),
  leaderElectionNamespace: option(matching(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/).optional(), {
    flags: '--leader-election-namespace <ns>',
    description:
      "namespace of the leader Lease; default: the pod's own namespace, else kube-system",
    accepts: 'a Kubernetes namespace name',
  }),
  leaderElectionLeaseDurationMs: option(duration(3_000, 300_000), {
    flags: '--leader-election-lease-duration <duration>',
    description:
      'how long a silent leader keeps the Lease; it renews every lease/7.5 and steps down after 2/3 of it without renewing',
    accepts: 'a duration from 3s to 5m',
    defaultValue: '15s',
  }),
  kubernetesResyncMs: option(duration(30_000, 86_400_000), {
    flags: '--kubernetes-resync <duration>',
    description:
      'how often the Node, PV and VolumeAttachment caches are re-delivered to their handlers',
    accepts: 'a duration from 30s to 24h',
    defaultValue: '5m',
  }),
  attachmentGracePeriodMs: option(duration(0, 3_600_000), {
    flags: '--attachment-grace-period <duration>',
    description:
      'after a detach, how long another node may take the volume over as a handoff (KubeVirt live migration); also how long a deleted node keeps its attachment before it is cleared; 0 means the default',
    accepts: 'a duration from 0s to 1h, e.g. 30s',
    defaultValue: '30s',
  }),
  attachmentReconcileIntervalMs: option(durationOrZero(60_000, 86_400_000), {
    flags: '--attachment-reconcile-interval <duration>',
    description:
      'how often the reconciler checks attachments against the cluster (deleted nodes, records out of step); also after node deletions; 0 means the default; at least 1m',
    accepts: 'a duration of 0s or from 1m to 24h, e.g. 5m',
    defaultValue: '5m',
  }),
  orphanAuditIntervalMs: option(durationOrZero(60_000, 86_400_000), {
    flags: '--orphan-audit-interval <duration>',
    description:
      'controller (leader, with Kubernetes): how often RDS disks and files of this driver are compared with PVs and VolumeSnapshotContents to report orphans (metric, log, /debug/orphans); 0s turns the audit off',
    accepts: 'a duration of 0s or from 1m to 24h, e.g. 10m',
    defaultValue: '10m',
  }),
  orphanMinAgeMs: option(duration(600_000, 2_592_000_000), {
    flags: '--orphan-min-age <duration>',
    description:
      'controller: an orphan may be deleted (with --orphan-delete) only after two audit passes at least this far apart from its first sighting, and this long after the driver created it',
    accepts: 'a duration from 10m to 720h, e.g. 1h',
    defaultValue: '1h',
  }),
  orphanDelete: option(bool, {
    flags: '--orphan-delete <bool>',
    description:
      'controller: delete orphans the audit has confirmed (two passes, --orphan-min-age, a fresh check under the volume lock); false (the default) only reports them',
    accepts: 'true | false',
    defaultValue: false,
  }),
};
