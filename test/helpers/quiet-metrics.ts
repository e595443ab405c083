// quiet-metrics.ts: an AttachmentMetrics that records nothing, for tests and benchmarks that
// measure something else.
import type { AttachmentMetrics } from '../../src/ports.js';

export const quietAttachmentMetrics: AttachmentMetrics = {
  attach: () => undefined,
  detach: () => undefined,
  conflict: () => undefined,
  gracePeriodUsed: () => undefined,
  staleCleared: () => undefined,
  reconcile: () => undefined,
  migration: () => undefined,
  actorStates: () => undefined,
  transition: () => undefined,
};
