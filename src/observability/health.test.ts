import { SimulatedClock } from 'xstate';
import { describe, expect, it } from 'vitest';

import { HealthRegistry } from './health.js';

describe('HealthRegistry', () => {
  it('is ready with no components, and not ready while any is unhealthy', () => {
    const clock = new SimulatedClock();
    const health = new HealthRegistry(clock);
    expect(health.snapshot()).toEqual({ ready: true, components: [] });
    const rds = health.register('rds', 'not connected yet');
    const k8s = health.register('kubernetes', 'informers not synced');
    expect(health.snapshot().ready).toBe(false);
    rds.healthy();
    expect(health.snapshot().ready).toBe(false);
    k8s.healthy();
    expect(health.snapshot().ready).toBe(true);
    clock.increment(5_000);
    rds.unhealthy('connection lost; reconnecting');
    expect(health.snapshot()).toEqual({
      ready: false,
      components: [
        { component: 'rds', healthy: false, reason: 'connection lost; reconnecting', since: 5_000 },
        { component: 'kubernetes', healthy: true, reason: '', since: 0 },
      ],
    });
  });

  it('keeps the time of the last change when a status is repeated', () => {
    const clock = new SimulatedClock();
    const health = new HealthRegistry(clock);
    const rds = health.register('rds', 'starting');
    clock.increment(1_000);
    rds.healthy();
    clock.increment(1_000);
    rds.healthy();
    expect(health.snapshot().components[0]?.since).toBe(1_000);
  });

  it('refuses to register one component twice', () => {
    const health = new HealthRegistry(new SimulatedClock());
    health.register('rds', 'x');
    expect(() => health.register('rds', 'y')).toThrow('registered twice');
  });
});
