// types.ts: the shape of the driver's configuration (values parsed, units applied).
export const DRIVER_MODES = ['controller', 'node', 'all'] as const;
export type DriverMode = (typeof DRIVER_MODES)[number];

export interface Config {
  readonly mode: DriverMode;
  readonly endpoint: string;
  readonly driverName: string;
  readonly nodeId: string;
  readonly maxVolumesPerNode: number;
  /** The value of the `<driverName>/rds` topology segment; `none`: no topology reported. */
  readonly topology: string;
  readonly logFormat: 'json' | 'text';
  readonly logLevel: 'error' | 'warn' | 'info' | 'debug';
  readonly shutdownTimeoutMs: number;
  readonly dataDir: string;
  readonly quickstart: boolean;
  /** The quickstart emulator's per-command latency. */
  readonly emulatorLatency: EmulatorLatency;
  readonly configFile: string | undefined;
  /** SSH address of the RDS management interface. */
  readonly rdsAddress: { readonly host: string; readonly port: number } | undefined;
  readonly rdsUser: string;
  readonly rdsPasswordFile: string | undefined;
  readonly rdsPrivateKeyFile: string | undefined;
  readonly rdsPrivateKeyPassphraseFile: string | undefined;
  /** Pinned host key fingerprints (`SHA256:...`). */
  readonly rdsHostKey: readonly string[];
  readonly rdsInsecureSkipHostKey: boolean;
  readonly rdsMaxSessions: number;
  readonly rdsCommandTimeoutMs: number;
  readonly rdsConnectTimeoutMs: number;
  /** Default StorageClass volumePath. */
  readonly volumePath: string;
  /** NVMe/TCP address nodes connect to, when a StorageClass gives none. */
  readonly nvmeAddress: string | undefined;
  readonly nvmePort: number;
  /** Kubernetes API credentials; undefined: in-cluster when in a pod, else none. */
  readonly kubeconfig: string | undefined;
  readonly leaderElect: boolean;
  readonly leaderElectionNamespace: string | undefined;
  readonly leaderElectionLeaseDurationMs: number;
  readonly kubernetesResyncMs: number;
  readonly attachmentGracePeriodMs: number;
  readonly attachmentReconcileIntervalMs: number;
  /** Orphan audit period; 0: off. */
  readonly orphanAuditIntervalMs: number;
  /** Least age (since first sighting and since creation) before an orphan may be deleted. */
  readonly orphanMinAgeMs: number;
  /** Delete confirmed orphans; false: report only (dry-run). */
  readonly orphanDelete: boolean;
  /** How the node reaches volumes: NVMe/TCP with nvme-cli, or the emulator's files as loop devices. */
  readonly nodeTransport: 'nvme' | 'loop';
  /** The loop transport's export table (the emulator's exports.json). */
  readonly loopExportTable: string | undefined;
  /** The only NQNs the node may connect, disconnect or rescan (field-lessons #4). */
  readonly managedNqnPrefix: string;
  /** This host's NQN file, passed to nvme connect (field-lessons #24). */
  readonly hostNqnFile: string;
  readonly nodeCommandTimeoutMs: number;
  readonly mkfsTimeoutMs: number;
  /** Mounts of one device beyond which the node refuses another (field-lessons #5). */
  readonly mountStormLimit: number;
  /** At node start: leave, report (dry-run) or disconnect connections nothing uses. */
  readonly orphanSweep: 'off' | 'dry-run' | 'enabled';
  /** Where /metrics, /healthz, /readyz are served (`host:port`, `:port`), or 'off'. */
  readonly metricsAddress: string;
  /** Who may read /debug/attachments on that endpoint. */
  readonly debugEndpoints: 'off' | 'loopback' | 'public';
  /** Port of the Stately inspector relay, or undefined (off). */
  readonly inspectPort: number | undefined;
  /** Without Kubernetes: node IDs ControllerPublish accepts besides this process's own. */
  readonly standaloneNodes: readonly string[];
  /** Node: every staging and target path must lie under it. */
  readonly kubeletDir: string;
}

export type EmulatorLatency =
  'off' | 'realistic' | { readonly baseMs: number; readonly jitterMs: number };
