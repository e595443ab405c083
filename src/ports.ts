// ports.ts: the capabilities the driver's core needs from the world, as interfaces.
//
// Adapters implement these; src/main.ts wires concrete ones in; tests pass real ones or small
// in-memory fakes (STYLE.md rule 3). Nothing here imports from elsewhere in src/.

/** Opaque handle of a scheduled callback. */
export type TimerHandle = unknown;

/**
 * Time as a port. The same object drives our own timeouts and `createActor({ clock })`, so one
 * xstate `SimulatedClock` (which has all three members) can drive a whole test.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for clearTimeout. */
  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle;
  /** Cancels a pending callback; a no-op for one that already ran or was cleared. */
  clearTimeout(handle: TimerHandle): void;
}

/** Fields a log line may carry; names are fixed (STYLE.md rule 10). */
export interface LogFields {
  readonly [key: string]: unknown;
}

/**
 * Structured logger. `child` binds fields (component, requestId, ...) to every line it writes.
 * Implementations redact secrets (CSI secrets, passwords, keys) before anything is written.
 */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** One dependency's health as last observed. */
export interface ComponentHealth {
  readonly component: string;
  readonly healthy: boolean;
  /** Why it is unhealthy, in words an operator can act on; empty when healthy. */
  readonly reason: string;
  /** When the status last changed (ms since epoch). */
  readonly since: number;
}

/** How a component reports its health as it observes changes (never polled). */
/** What the RDS shell reports for metrics; `command` is the menu and verb only (`/disk add`). */
export interface ShellObserver {
  handshake(): void;
  commandDone(
    command: string,
    result: 'ok' | 'device_error' | 'unavailable' | 'cancelled',
    seconds: number,
  ): void;
}

export interface HealthReporter {
  healthy(): void;
  /** `reason` is shown to operators: say what is wrong and what the driver is doing about it. */
  unhealthy(reason: string): void;
}

/**
 * Cached readiness of the driver's dependencies. Reading it never performs I/O: a CSI Probe or
 * an HTTP health check must not open an SSH session (field-lessons #7; issue 3).
 */
export interface HealthSource {
  /** Current status of every registered component; ready when all are healthy. */
  snapshot(): { readonly ready: boolean; readonly components: readonly ComponentHealth[] };
}

// ---------------------------------------------------------------------------------------------
// The RDS, as the controller sees it (implemented over SSH in src/rds/)
// ---------------------------------------------------------------------------------------------

/** A disk as the device reports it; sizes are exact bytes read from `size=`. */
export interface RdsDisk {
  readonly slot: string;
  /** `file`, `partition`, ... */
  readonly type: string;
  /** Device path with a leading slash; undefined unless type is file. */
  readonly filePath: string | undefined;
  readonly sizeBytes: number;
  readonly nvmeExport: { readonly port: number; readonly nqn: string } | undefined;
  readonly comment: string;
}

export interface RdsPool {
  readonly mountPoint: string;
  readonly totalBytes: number;
  readonly freeBytes: number;
}

export interface RdsFile {
  /** Device path with a leading slash (normalised: /file print omits it). */
  readonly path: string;
  readonly isDirectory: boolean;
  /** Rounded as printed (`10.0GiB`): never use for exact sizes. */
  readonly approxSizeBytes: number | undefined;
}

export interface CreateDiskSpec {
  readonly slot: string;
  readonly filePath: string;
  /** Whole MiB. Omit for a snapshot, which takes its source's size. */
  readonly sizeBytes?: number;
  /** Populate from this disk's content (snapshot, restore, clone). */
  readonly copyFromSlot?: string;
  readonly nvmeExport?: { readonly port: number; readonly nqn: string };
  readonly comment: string;
}

/** Options every RDS call takes: every wait is bounded (STYLE.md rule 15). */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export interface LoadOptions extends CallOptions {
  /** Check records against VolumeAttachments and write corrections back (rebuild only). */
  readonly crossCheck?: boolean;
}

/**
 * The storage operations of one RDS. Errors: RdsUnavailableError (no connection, or the RDS did
 * not answer in time; outcome read back where it matters; retry), ResourceExhaustedError
 * (pool full), NotFoundError, InvalidInputError (a value outside the allow-lists; nothing sent),
 * RdsCommandError (the device said no, with its text), RdsParseError (unexpected output).
 */
export interface RdsBackend {
  /** The disk with this slot, or undefined. */
  getDisk(slot: string, options?: CallOptions): Promise<RdsDisk | undefined>;
  /** Disks whose slot starts with `prefix`, in device order. */
  listDisks(prefix: string, options?: CallOptions): Promise<RdsDisk[]>;
  /**
   * Creates a disk and returns it as read back. Callers look first (under the volume's lock); a
   * slot that turns out taken, or a connection that drops mid-way, is answered by reading the
   * device: a disk matching the spec is returned, a different one is AlreadyExistsError.
   */
  createDisk(spec: CreateDiskSpec, options?: CallOptions): Promise<RdsDisk>;
  /** Grows a disk to `sizeBytes` (whole MiB) and returns it as read back. */
  resizeDisk(slot: string, sizeBytes: number, options?: CallOptions): Promise<RdsDisk>;
  /** Removes the disk, then its backing file. Safe to repeat: a missing disk or file is success. */
  removeDisk(slot: string, options?: CallOptions): Promise<void>;
  /** Files under a directory (recursively), paths with a leading slash. */
  listFiles(directory: string, options?: CallOptions): Promise<RdsFile[]>;
  /** The pool mounted at `mountPoint`; NotFoundError when there is none. */
  getPool(mountPoint: string, options?: CallOptions): Promise<RdsPool>;
}

// ---------------------------------------------------------------------------------------------
// The orphan audit (src/actors/orphan-auditor.ts; field-lessons #2, #3)
// ---------------------------------------------------------------------------------------------

/** What the orphan audit reads and removes on the RDS (implemented by src/rds/rds-client.ts). */
export interface OrphanStorage {
  /** Every disk on the RDS, whatever its slot (file references are checked against all of them). */
  listAllDisks(options?: CallOptions): Promise<RdsDisk[]>;
  /** The disk with this slot, or undefined. */
  getDisk(slot: string, options?: CallOptions): Promise<RdsDisk | undefined>;
  /** Files under a directory (recursively), paths with a leading slash. */
  listFiles(directory: string, options?: CallOptions): Promise<RdsFile[]>;
  /** Removes the disk, then its backing file. Safe to repeat. */
  removeDisk(slot: string, options?: CallOptions): Promise<void>;
  /** Removes one file by path (leading slash); a file already gone is success. */
  removeFile(path: string, options?: CallOptions): Promise<void>;
}

/** What the cluster references, read fresh from the API server (never from a watch cache). */
export interface ClusterReferences {
  /** Every PersistentVolume's `spec.csi.volumeHandle`, whatever its driver. */
  readonly volumeHandles: ReadonlySet<string>;
  /** `volumePath` attributes of those PVs: directories whose files the audit examines. */
  readonly volumePaths: ReadonlySet<string>;
  /**
   * Every VolumeSnapshotContent's snapshot handle (status and spec.source); undefined when they
   * could not be read, so no snapshot can be judged this time. Empty when the API has no
   * snapshot resources at all (the CRDs are not installed).
   */
  readonly snapshotHandles: ReadonlySet<string> | undefined;
}

/** Reads ClusterReferences. Throws when the PersistentVolumes cannot be listed. */
export interface ClusterReferenceSource {
  load(options?: CallOptions): Promise<ClusterReferences>;
}

/** The controller's own in-flight work on a slot (its CSI operation locks). */
export interface VolumeActivity {
  /** The operation running on `slot` now (CreateVolume, ...), or undefined. */
  busyWith(slot: string): string | undefined;
  /**
   * Runs `fn` holding `slot`'s operation lock, so no CSI call on it can start meanwhile; throws
   * VolumeBusyError without calling `fn` when the lock is held.
   */
  exclusive<T>(slot: string, operation: string, fn: () => Promise<T>): Promise<T>;
}

export type OrphanKind = 'disk' | 'file';

/** Orphan audit metrics; every label value is a constant in code. */
export interface OrphanMetrics {
  /** Orphans found by the last complete pass, by kind (replaced wholesale). */
  current(counts: Readonly<Record<OrphanKind, number>>): void;
  /** One decision about one orphan: detected, deleted, skipped or cleared, with a reason. */
  decision(kind: OrphanKind, decision: string, reason: string): void;
  /** One pass: completed, or why it was skipped. */
  pass(result: string, seconds: number): void;
}

// ---------------------------------------------------------------------------------------------
// The node's host (implemented in src/node/)
// ---------------------------------------------------------------------------------------------

/** One line of /proc/self/mountinfo. */
export interface MountEntry {
  readonly mountPoint: string;
  /** The mounted filesystem's device number, `major:minor` (a bind mount shows its source's). */
  readonly device: string;
  /** Device or source as the kernel reports it (e.g. /dev/nvme0n1, /dev/loop3, tmpfs). */
  readonly source: string;
  readonly fsType: string;
  readonly options: readonly string[];
}

/** Reads the kernel's mount table: node state comes from the kernel, not from files (field-lessons #19). */
export interface MountTable {
  /** Every mount whose mount point is exactly `path` (stacked mounts included, oldest first). */
  mountsAt(path: string, options?: CallOptions): Promise<MountEntry[]>;
  /** The whole table (mount-storm counts, in-use checks). */
  all(options?: CallOptions): Promise<MountEntry[]>;
}

/** Whether this controller replica may change volumes (leader election; always yes without it). */
export interface Leadership {
  isLeader(): boolean;
  /** The current leader's identity, for messages ('' when unknown). */
  leader(): string;
}

/** Kubernetes event counters, by reason (bounded: reasons are constants in code). */
export interface EventMetrics {
  posted(reason: string): void;
  dropped(reason: string, why: 'queue-full' | 'post-failed'): void;
}

/**
 * One volume's attachment state as persisted (a versioned JSON record: a PV annotation, or a
 * file in standalone mode). `state` and `context` are the machine's; `readOnly` records each
 * node's publish mode (an incompatible repeat is ALREADY_EXISTS).
 */
export interface PersistedAttachment {
  readonly v: 1;
  readonly state: string;
  readonly context: Readonly<Record<string, unknown>>;
  readonly readOnly: Readonly<Record<string, boolean>>;
  readonly savedAt: number;
}

/** Where attachment records live. `save(id, undefined)` removes the record. */
export interface AttachmentStore {
  /**
   * Every record. At a rebuild (`crossCheck`, the default) a store that can check records against
   * another source (VolumeAttachments) corrects them, writing the correction back. A reconcile
   * pass reads records as they are: live actors are the truth then, and a publish whose
   * VolumeAttachment is not marked attached yet must not be undone.
   */
  loadAll(options?: LoadOptions): Promise<Map<string, PersistedAttachment>>;
  save(
    volumeId: string,
    record: PersistedAttachment | undefined,
    options?: CallOptions,
  ): Promise<void>;
}

/** Posts a Kubernetes event on the PVC of a volume (best effort; never throws). */
export interface VolumeEventSink {
  post(volumeId: string, type: 'Normal' | 'Warning', reason: string, message: string): void;
}

/** Attachment metrics (seed-decisions 2, plus migrations and actor states). */
export interface AttachmentMetrics {
  attach(status: 'success' | 'failure', seconds: number): void;
  detach(status: 'success' | 'failure', seconds: number): void;
  conflict(): void;
  gracePeriodUsed(): void;
  staleCleared(): void;
  reconcile(action: string): void;
  migration(result: 'started' | 'completed' | 'failed' | 'aborted', seconds?: number): void;
  /** Count of actors per machine state, replaced wholesale. */
  actorStates(counts: Readonly<Record<string, number>>): void;
  /** One state change of a volume's actor; `cause` is the event type, or `timer` for `after`. */
  transition(from: string, to: string, cause: string): void;
}

// ---------------------------------------------------------------------------------------------
// The node's volumes (implemented in src/node/node-volumes.ts)
// ---------------------------------------------------------------------------------------------

export type Filesystem = 'ext4' | 'xfs';

/** Where a volume is exported: what ControllerPublish put in publish_context. */
export interface TransportTarget {
  readonly nqn: string;
  readonly address: string;
  readonly port: number;
  /** NVMe/TCP session tuning from the StorageClass (VolumeContext); absent: nvme-cli defaults. */
  readonly ctrlLossTmoSeconds?: number | undefined;
  readonly reconnectDelaySeconds?: number | undefined;
  readonly keepAliveTmoSeconds?: number | undefined;
}

export interface StageRequest {
  readonly volumeId: string;
  readonly target: TransportTarget;
  readonly stagingPath: string;
  readonly block: boolean;
  /** The filesystem the capability names; undefined: whatever the device holds, else `defaultFsType`. */
  readonly fsType: Filesystem | undefined;
  readonly defaultFsType: Filesystem;
  readonly mountFlags: readonly string[];
  readonly mkfsOptions: readonly string[];
}

export interface PublishRequest {
  readonly volumeId: string;
  readonly nqn: string;
  readonly stagingPath: string;
  readonly targetPath: string;
  readonly block: boolean;
  readonly readOnly: boolean;
  readonly mountFlags: readonly string[];
}

export interface VolumeStats {
  readonly block: boolean;
  readonly bytes: { readonly total: number; readonly available?: number; readonly used?: number };
  readonly inodes?: { readonly total: number; readonly available: number; readonly used: number };
  /** Why the volume is abnormal (stale mount, device gone); undefined when it is fine. */
  readonly abnormal: string | undefined;
}

/**
 * The node's work on volumes. Errors: FailedPreconditionError (wrong order, a path holding
 * something else), NotFoundError (no such path), UnsafeOperationError (a destructive step
 * refused), AlreadyExistsError (an incompatible repeat), OperationTimeoutError (a killed child).
 */
export interface NodeVolumeOperations {
  stage(request: StageRequest, options?: CallOptions): Promise<void>;
  unstage(volumeId: string, nqn: string, stagingPath: string, options?: CallOptions): Promise<void>;
  publish(request: PublishRequest, options?: CallOptions): Promise<void>;
  unpublish(
    volumeId: string,
    nqn: string,
    targetPath: string,
    options?: CallOptions,
  ): Promise<void>;
  stats(volumeId: string, nqn: string, path: string, options?: CallOptions): Promise<VolumeStats>;
  /** Rescans, grows a mounted filesystem; returns the device's size in bytes. */
  expand(
    volumeId: string,
    nqn: string,
    path: string,
    block: boolean,
    options?: CallOptions,
  ): Promise<number>;
}
