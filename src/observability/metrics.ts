// metrics.ts: the driver's Prometheus metrics, on one dedicated registry (seed-decisions 2: never
// the global default), with the default process metrics; served by http-endpoint.ts.
//
// Labels are bounded (seed-decisions 2): `command` is a RouterOS menu and verb (`/disk add`),
// `result` one of four words; never a volume ID, slot or path.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

import type {
  AttachmentMetrics,
  EventMetrics,
  HealthReporter,
  OrphanMetrics,
  ShellObserver,
} from '../ports.js';

/** Seconds: the Phase 7 buckets (seed-decisions 2), exactly. */
export const ATTACHMENT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/** Seconds; the Phase 7 buckets, widened at the top for slow device mutations (a 1 TiB add). */
export const RDS_COMMAND_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Seconds, for CSI calls: a cached Probe to a format of a large volume. */
export const RPC_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export interface DriverMetrics {
  readonly registry: Registry;
  /** Every CSI call, by method and gRPC code name (OK, NOT_FOUND, ...). */
  readonly rpcs: Counter<'method' | 'code'>;
  readonly rpcSeconds: Histogram<'method'>;
  /** 1 while the SSH connection to the RDS is up. */
  readonly rdsConnected: Gauge;
  readonly rdsHandshakes: Counter;
  readonly rdsCommands: Counter<'command' | 'result'>;
  readonly rdsCommandSeconds: Histogram<'command'>;
  /** Seed name (Go driver): every event posted, by reason. */
  readonly eventsPosted: Counter<'reason'>;
  readonly eventsDropped: Counter<'reason' | 'why'>;
  /** 1 while this controller replica holds the leader Lease. */
  readonly leader: Gauge;
  readonly attachment: {
    readonly transitions: Counter<'from' | 'to' | 'cause'>;
    readonly attach: Counter<'status'>;
    readonly detach: Counter<'status'>;
    readonly conflicts: Counter;
    readonly reconcile: Counter<'action'>;
    readonly duration: Histogram<'operation'>;
    readonly gracePeriodUsed: Counter;
    readonly staleCleared: Counter;
    readonly migrations: Counter<'result'>;
    readonly migrationSeconds: Histogram;
    readonly activeMigrations: Gauge;
    readonly actors: Gauge<'state'>;
  };
  /** The controller's orphan audit (src/actors/orphan-auditor.ts). */
  readonly orphan: {
    readonly orphans: Gauge<'kind'>;
    readonly decisions: Counter<'kind' | 'decision' | 'reason'>;
    readonly passes: Counter<'result'>;
    readonly passSeconds: Histogram;
  };
}

/**
 * Label values known in advance, exported at 0 from the start: an alert on increase() sees the
 * first failure after a restart only if the series existed before it.
 */
const KNOWN_LABELS = {
  status: ['success', 'failure'],
  migrationResult: ['started', 'completed', 'failed', 'aborted'],
  reconcileAction: ['clear_stale', 'sync_annotation'],
  eventReasons: [
    'AttachmentConflict',
    'VolumeAttached',
    'VolumeDetached',
    'StaleAttachmentCleared',
    'MigrationStarted',
    'MigrationCompleted',
    'MigrationFailed',
    'MountFailure',
    'StaleMountDetected',
  ],
  dropWhy: ['queue-full', 'post-failed'],
} as const;

export function createMetrics(): DriverMetrics {
  const metrics = buildMetrics();
  const a = metrics.attachment;
  for (const status of KNOWN_LABELS.status) {
    a.attach.inc({ status }, 0);
    a.detach.inc({ status }, 0);
  }
  for (const result of KNOWN_LABELS.migrationResult) a.migrations.inc({ result }, 0);
  for (const action of KNOWN_LABELS.reconcileAction) a.reconcile.inc({ action }, 0);
  for (const reason of KNOWN_LABELS.eventReasons) {
    metrics.eventsPosted.inc({ reason }, 0);
    for (const why of KNOWN_LABELS.dropWhy) metrics.eventsDropped.inc({ reason, why }, 0);
  }
  return metrics;
}

function buildMetrics(): DriverMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
    rpcs: new Counter({
      name: 'rds_csi_rpc_total',
      help: 'CSI calls answered, by method and gRPC code',
      labelNames: ['method', 'code'],
      registers: [registry],
    }),
    rpcSeconds: new Histogram({
      name: 'rds_csi_rpc_duration_seconds',
      help: 'Time to answer a CSI call, by method (NodeStageVolume includes mkfs and mount)',
      labelNames: ['method'],
      buckets: RPC_BUCKETS,
      registers: [registry],
    }),
    rdsConnected: new Gauge({
      name: 'rds_csi_rds_connected',
      help: '1 while the SSH connection to the RDS is established, else 0',
      registers: [registry],
    }),
    rdsHandshakes: new Counter({
      name: 'rds_csi_rds_ssh_handshakes_total',
      help: 'SSH handshakes completed with the RDS (one per (re)connection)',
      registers: [registry],
    }),
    rdsCommands: new Counter({
      name: 'rds_csi_rds_commands_total',
      help: 'RouterOS commands sent to the RDS, by menu and verb and by result',
      labelNames: ['command', 'result'],
      registers: [registry],
    }),
    rdsCommandSeconds: new Histogram({
      name: 'rds_csi_rds_command_duration_seconds',
      help: 'Time from sending a RouterOS command to its answer',
      labelNames: ['command'],
      buckets: RDS_COMMAND_BUCKETS,
      registers: [registry],
    }),
    eventsPosted: new Counter({
      name: 'rds_csi_events_posted_total',
      help: 'Kubernetes events posted (or aggregated into an earlier one), by reason',
      labelNames: ['reason'],
      registers: [registry],
    }),
    eventsDropped: new Counter({
      name: 'rds_csi_events_dropped_total',
      help: 'Kubernetes events dropped: queue-full (the API server is slow or gone) or post-failed',
      labelNames: ['reason', 'why'],
      registers: [registry],
    }),
    leader: new Gauge({
      name: 'rds_csi_leader',
      help: '1 while this controller replica holds the leader Lease (always 1 without leader election)',
      registers: [registry],
    }),
    attachment: attachmentMetrics(registry),
    orphan: orphanMetrics(registry),
  };
}

/** The orphan audit: what it finds now, each decision it makes, each pass (field-lessons #3). */
function orphanMetrics(registry: Registry): DriverMetrics['orphan'] {
  const registers = [registry];
  return {
    orphans: new Gauge({
      name: 'rds_csi_orphan_audit_orphans',
      help: 'RDS disks and files the last complete orphan audit pass found unreferenced, by kind',
      labelNames: ['kind'],
      registers,
    }),
    decisions: new Counter({
      name: 'rds_csi_orphan_audit_decisions_total',
      help: 'Orphan audit decisions (detected, deleted, skipped, cleared), by kind and reason',
      labelNames: ['kind', 'decision', 'reason'],
      registers,
    }),
    passes: new Counter({
      name: 'rds_csi_orphan_audit_passes_total',
      help: 'Orphan audit passes, by result (completed, or why one was skipped)',
      labelNames: ['result'],
      registers,
    }),
    passSeconds: new Histogram({
      name: 'rds_csi_orphan_audit_pass_duration_seconds',
      help: 'Duration of orphan audit passes',
      buckets: RDS_COMMAND_BUCKETS,
      registers,
    }),
  };
}

export function orphanMetricsPort(metrics: DriverMetrics): OrphanMetrics {
  const m = metrics.orphan;
  for (const kind of ['disk', 'file']) m.orphans.set({ kind }, 0);
  for (const result of ['completed', 'kubernetes_unavailable', 'rds_unavailable'])
    m.passes.inc({ result }, 0);
  return {
    current: (counts) => {
      for (const kind of ['disk', 'file'] as const) m.orphans.set({ kind }, counts[kind]);
    },
    decision: (kind, decision, reason) => m.decisions.inc({ kind, decision, reason }),
    pass: (result, seconds) => {
      m.passes.inc({ result });
      m.passSeconds.observe(seconds);
    },
  };
}

/** The seven Phase 7 metrics, name for name (seed-decisions 2), plus migrations and actor states. */
function attachmentMetrics(registry: Registry): DriverMetrics['attachment'] {
  const registers = [registry];
  return {
    attach: new Counter({
      name: 'rds_csi_attachment_attach_total',
      help: 'ControllerPublish attachment decisions, by status',
      labelNames: ['status'],
      registers,
    }),
    detach: new Counter({
      name: 'rds_csi_attachment_detach_total',
      help: 'ControllerUnpublish detaches, by status',
      labelNames: ['status'],
      registers,
    }),
    conflicts: new Counter({
      name: 'rds_csi_attachment_conflicts_total',
      help: 'Attachments refused because the volume is attached elsewhere',
      registers,
    }),
    reconcile: new Counter({
      name: 'rds_csi_attachment_reconcile_total',
      help: 'Reconciler actions, by action',
      labelNames: ['action'],
      registers,
    }),
    duration: new Histogram({
      name: 'rds_csi_attachment_operation_duration_seconds',
      help: 'Duration of attach, detach and reconcile operations',
      labelNames: ['operation'],
      buckets: ATTACHMENT_BUCKETS,
      registers,
    }),
    gracePeriodUsed: new Counter({
      name: 'rds_csi_attachment_grace_period_used_total',
      help: 'Attachments handed to another node inside the grace period after a detach',
      registers,
    }),
    staleCleared: new Counter({
      name: 'rds_csi_attachment_stale_cleared_total',
      help: 'Attachments of deleted nodes cleared after the grace period',
      registers,
    }),
    migrations: new Counter({
      name: 'rds_csi_attachment_migrations_total',
      help: 'Live migrations (RWX block, two nodes), by result',
      labelNames: ['result'],
      registers,
    }),
    migrationSeconds: new Histogram({
      name: 'rds_csi_attachment_migration_duration_seconds',
      help: 'Duration of completed live migrations',
      buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
      registers,
    }),
    activeMigrations: new Gauge({
      name: 'rds_csi_attachment_migrations_active',
      help: 'Volumes attached to two nodes for a live migration now',
      registers,
    }),
    transitions: new Counter({
      name: 'rds_csi_attachment_transitions_total',
      help: 'State changes of the volume attachment actors (cause: the event, or timer)',
      labelNames: ['from', 'to', 'cause'],
      registers,
    }),
    actors: new Gauge({
      name: 'rds_csi_attachment_actors',
      help: 'Volume attachment actors, by machine state',
      labelNames: ['state'],
      registers,
    }),
  };
}

const ACTOR_STATES = ['attached', 'migrating', 'detaching', 'grace', 'stale', 'conflict'];

export function attachmentMetricsPort(metrics: DriverMetrics): AttachmentMetrics {
  const m = metrics.attachment;
  return {
    attach: (status, seconds) => {
      m.attach.inc({ status });
      m.duration.observe({ operation: 'attach' }, seconds);
    },
    detach: (status, seconds) => {
      m.detach.inc({ status });
      m.duration.observe({ operation: 'detach' }, seconds);
    },
    conflict: () => m.conflicts.inc(),
    gracePeriodUsed: () => m.gracePeriodUsed.inc(),
    staleCleared: () => m.staleCleared.inc(),
    reconcile: (action) => m.reconcile.inc({ action }),
    migration: (result, seconds) => {
      m.migrations.inc({ result });
      if (result === 'completed' && seconds !== undefined) m.migrationSeconds.observe(seconds);
    },
    actorStates: (counts) => {
      for (const state of ACTOR_STATES) m.actors.set({ state }, counts[state] ?? 0);
      // Derived from the actors themselves, so it can never drift below zero (field-lessons #13).
      m.activeMigrations.set(counts['migrating'] ?? 0);
    },
    transition: (from, to, cause) => m.transitions.inc({ from, to, cause }),
  };
}

export function eventMetrics(metrics: DriverMetrics): EventMetrics {
  return {
    posted: (reason) => metrics.eventsPosted.inc({ reason }),
    dropped: (reason, why) => metrics.eventsDropped.inc({ reason, why }),
  };
}

/** Health changes of the RDS connection, mirrored into the gauge. */
export function connectionGauge(metrics: DriverMetrics, inner: HealthReporter): HealthReporter {
  metrics.rdsConnected.set(0);
  return {
    healthy: () => {
      metrics.rdsConnected.set(1);
      inner.healthy();
    },
    unhealthy: (reason) => {
      metrics.rdsConnected.set(0);
      inner.unhealthy(reason);
    },
  };
}

export function shellObserver(metrics: DriverMetrics): ShellObserver {
  return {
    handshake: () => metrics.rdsHandshakes.inc(),
    commandDone: (command, result, seconds) => {
      metrics.rdsCommands.inc({ command, result });
      metrics.rdsCommandSeconds.observe({ command }, seconds);
    },
  };
}
