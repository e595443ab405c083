// metrics.ts: the driver's Prometheus metrics, on one dedicated registry (seed-decisions 2: never
// the global default). This file holds the RDS connection metrics; the attachment metrics and the
// HTTP endpoint that serves the registry arrive with their issues.
//
// Labels are bounded (seed-decisions 2): `command` is a RouterOS menu and verb (`/disk add`),
// `result` one of four words; never a volume ID, slot or path.
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

import type { EventMetrics, HealthReporter, ShellObserver } from '../ports.js';

/** Seconds; the Phase 7 buckets, widened at the top for slow device mutations (a 1 TiB add). */
export const RDS_COMMAND_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface DriverMetrics {
  readonly registry: Registry;
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
}

export function createMetrics(): DriverMetrics {
  const registry = new Registry();
  return {
    registry,
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
