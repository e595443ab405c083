// node-events.ts: the node plugin's events (MountFailure, StaleMountDetected: the Go driver's
// reasons, so existing filters keep working), on the PVC behind the volume's PV claimRef. The PV
// is read by name: provisioned volumes are named after their PV (`pvc-<uid>`), and its
// volumeHandle must name the volume. Best effort throughout: a lookup that fails, or a volume
// with no PV or claim, is logged and nothing is posted.
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

import { describeError } from '../errors.js';
import type { Clock, EventMetrics, Logger, VolumeEventSink } from '../ports.js';
import { isNotFound } from './api-errors.js';
import { EventRecorder } from './event-recorder.js';
import { PvWriter } from './pv-writer.js';

export interface NodeEventsOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly nodeId: string;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: EventMetrics;
}

export interface NodeEvents {
  readonly sink: VolumeEventSink;
  /** Posts what is queued (bounded by the recorder's timeouts), then stops. */
  stop(): Promise<void>;
}

export function createNodeEvents(options: NodeEventsOptions): NodeEvents {
  const core = options.kubeConfig.makeApiClient(CoreV1Api);
  const claims = new PvWriter({
    kubeConfig: options.kubeConfig,
    clock: options.clock,
    log: options.log,
  });
  const recorder = new EventRecorder({
    kubeConfig: options.kubeConfig,
    component: options.driverName,
    instance: options.nodeId,
    clock: options.clock,
    log: options.log,
    metrics: options.metrics,
  });
  const claimOf = async (volumeId: string) => {
    let pv;
    try {
      pv = await core.readPersistentVolume({ name: volumeId });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    if (pv.spec?.csi?.driver !== options.driverName || pv.spec.csi.volumeHandle !== volumeId)
      return undefined;
    return claims.claimOf(pv);
  };
  return {
    sink: {
      post: (volumeId, type, reason, message) => {
        claimOf(volumeId)
          .then((pvc) => {
            if (pvc === undefined)
              options.log.info('event not posted: no PV with a claim for the volume', {
                volumeId,
                reason,
              });
            else recorder.record({ pvc, type, reason, message });
          })
          .catch((error: unknown) => {
            recorder.lookupFailed(reason);
            options.log.warn('event not posted: PV or PVC lookup failed', {
              volumeId,
              reason,
              error: describeError(error),
            });
          });
      },
    },
    stop: async () => {
      await recorder.flush();
      recorder.stop();
    },
  };
}
