// health.ts: cached health of the driver's dependencies, fed by the components that own them.
//
// Components (the RDS connection, Kubernetes informers, leadership) report changes as they
// observe them; readers (CSI Probe, /readyz) only read. So a probe never does I/O and never opens
// an SSH session (field-lessons #7; issue 3).
import type { Clock, ComponentHealth, HealthReporter, HealthSource } from '../ports.js';

export class HealthRegistry implements HealthSource {
  private readonly components = new Map<string, ComponentHealth>();

  constructor(private readonly clock: Pick<Clock, 'now'>) {}

  /** Adds a component, unhealthy until it first reports otherwise (`initialReason` says why). */
  register(component: string, initialReason: string): HealthReporter {
    if (this.components.has(component))
      throw new Error(`health component "${component}" registered twice`);
    this.set(component, false, initialReason);
    return {
      healthy: () => this.set(component, true, ''),
      unhealthy: (reason: string) => this.set(component, false, reason),
    };
  }

  snapshot(): { ready: boolean; components: readonly ComponentHealth[] } {
    const components = [...this.components.values()];
    return { ready: components.every((c) => c.healthy), components };
  }

  private set(component: string, healthy: boolean, reason: string): void {
    const previous = this.components.get(component);
    if (previous !== undefined && previous.healthy === healthy && previous.reason === reason)
      return;
    this.components.set(component, { component, healthy, reason, since: this.clock.now() });
  }
}
