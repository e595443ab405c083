// pv-writer.ts: changes to this driver's PersistentVolumes, made by merge patch with a
// resourceVersion precondition, re-read and retried with jitter when another writer got there
// first, so concurrent writers never lose each other's changes (issue 6). Also the PVC a PV is
// bound to (through claimRef), which events are posted on.
import {
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1PersistentVolume,
  type V1PersistentVolumeClaim,
} from '@kubernetes/client-node';

import type { Clock, Logger } from '../ports.js';
import { apiMessage, isConflict, isNotFound, jitteredBackoffMs } from './api-errors.js';
import type { PvcRef } from './event-recorder.js';

/** Annotation changes: a value sets, null removes. */
export type AnnotationChanges = Readonly<Record<string, string | null>>;

export interface PvWriterOptions {
  readonly kubeConfig: KubeConfig;
  readonly clock: Clock;
  readonly log: Logger;
  /** Attempts before a conflict is given up (client-go's RetryOnConflict default is 5). */
  readonly attempts?: number;
  readonly random?: () => number;
}

export class PvConflictError extends Error {}

export class PvWriter {
  private readonly api: CoreV1Api;
  private readonly attempts: number;

  constructor(private readonly options: PvWriterOptions) {
    this.api = options.kubeConfig.makeApiClient(CoreV1Api);
    this.attempts = options.attempts ?? 5;
  }

  /**
   * Applies `decide(current)` to the PV's annotations: read, compute, patch with the read
   * resourceVersion; on 409 read again and recompute. `decide` returns undefined for "nothing to
   * change". Returns the PV as written (or as read, when unchanged); undefined if it is gone.
   */
  async updateAnnotations(
    name: string,
    decide: (
      pv: V1PersistentVolume,
    ) => AnnotationChanges | undefined | Promise<AnnotationChanges | undefined>,
    /** A copy believed current (e.g. from the watch cache): saves the read; a stale one costs a 409. */
    known?: V1PersistentVolume,
  ): Promise<V1PersistentVolume | undefined> {
    for (let attempt = 0; ; attempt++) {
      let pv: V1PersistentVolume;
      if (attempt === 0 && known !== undefined) {
        pv = known;
      } else {
        try {
          pv = await this.api.readPersistentVolume({ name });
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      }
      const changes = await decide(pv);
      if (changes === undefined || Object.keys(changes).length === 0) return pv;
      try {
        return await this.api.patchPersistentVolume(
          {
            name,
            body: {
              metadata: { resourceVersion: pv.metadata?.resourceVersion, annotations: changes },
            },
          },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
        );
      } catch (error) {
        if (isNotFound(error)) return undefined;
        if (!isConflict(error)) throw error;
        if (attempt + 1 >= this.attempts) {
          throw new PvConflictError(
            `PV ${name} kept changing under us (${this.attempts} conflicts): ${apiMessage(error)}`,
          );
        }
        const delay = jitteredBackoffMs(attempt, 10, 1_000, this.options.random);
        this.options.log.debug('PV update conflict; re-reading', {
          pv: name,
          attempt: attempt + 1,
          retryInMs: delay,
        });
        await new Promise((resolve) => this.options.clock.setTimeout(resolve, delay));
      }
    }
  }

  /** The claim a PV is bound to, as an event target; undefined when unbound or gone. */
  async claimOf(pv: V1PersistentVolume): Promise<PvcRef | undefined> {
    const ref = pv.spec?.claimRef;
    if (ref?.name === undefined || ref.namespace === undefined) return undefined;
    let pvc: V1PersistentVolumeClaim;
    try {
      pvc = await this.api.readNamespacedPersistentVolumeClaim({
        name: ref.name,
        namespace: ref.namespace,
      });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    // A claimRef with a uid names that claim only: a new PVC reusing the name is not it.
    if (ref.uid !== undefined && pvc.metadata?.uid !== ref.uid) return undefined;
    return {
      namespace: ref.namespace,
      name: ref.name,
      ...(pvc.metadata?.uid ? { uid: pvc.metadata.uid } : {}),
    };
  }
}
