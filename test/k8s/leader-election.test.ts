// leader-election.test.ts: the Lease-based leader election between controller replicas, on a real
// etcd + kube-apiserver as the controller's ClusterRole: takeover after a silent death waits for
// the lease, a graceful stop hands over at once.
import { describe, expect, it } from 'vitest';

import { LeaderElector } from '../../src/k8s/leader-election.js';
import { systemClock } from '../../src/main.js';
import { useClusterAs } from '../helpers/cluster-as.js';
import { captureLog } from '../helpers/log-capture.js';
import { waitFor } from '../helpers/wait-for.js';

const k8s = useClusterAs('controller', 'rds-csi-controller');
const log = captureLog('info');

describe('leader election', () => {
  function elector(identity: string, events: string[]): LeaderElector {
    return new LeaderElector({
      kubeConfig: k8s.kube,
      namespace: 'kube-system',
      name: 'rds-csi-test-controller',
      identity,
      leaseDurationMs: 3_000,
      renewDeadlineMs: 2_000,
      retryPeriodMs: 400,
      clock: systemClock,
      log: log.logger,
      onStartedLeading: () => events.push(`${identity} leads`),
      onStoppedLeading: () => events.push(`${identity} stops`),
    });
  }

  it('one replica leads; when it dies silently the other takes over within the lease duration', async () => {
    const events: string[] = [];
    const a = elector('replica-a', events);
    a.start();
    await waitFor(() => a.isLeader, { what: 'replica-a to lead' });
    const b = elector('replica-b', events);
    b.start();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(b.isLeader).toBe(false);
    expect(b.holder).toBe('replica-a');

    const crashed = Date.now();
    await a.stop({ release: false });
    await waitFor(() => b.isLeader, { timeoutMs: 6_000, what: 'replica-b to take over' });
    const takeover = Date.now() - crashed;
    expect(takeover).toBeLessThanOrEqual(3_000 + 400 + 500);
    expect(takeover).toBeGreaterThanOrEqual(2_000); // it waited for the lease to expire
    expect(events).toEqual(['replica-a leads', 'replica-a stops', 'replica-b leads']);

    // A graceful stop releases the lease: the next replica takes over within a retry period or two.
    const c = elector('replica-c', events);
    c.start();
    const released = Date.now();
    await b.stop();
    await waitFor(() => c.isLeader, { timeoutMs: 3_000, what: 'replica-c to take over' });
    expect(Date.now() - released).toBeLessThan(1_500);
    await c.stop();
  }, 20_000);
});
