// node-lookup.ts: does a Node exist? A GET against the API server itself (not the watch cache),
// for the reconciler: NotFound is "gone"; every other failure is thrown, so the caller changes
// nothing (seed-decisions 6: an API error never clears an attachment).
import { CoreV1Api, type KubeConfig } from '@kubernetes/client-node';

import { isNotFound } from './api-errors.js';

export function nodeLookup(kubeConfig: KubeConfig): { exists(name: string): Promise<boolean> } {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    exists: async (name) => {
      try {
        await core.readNode({ name });
        return true;
      } catch (error) {
        if (isNotFound(error)) return false;
        throw error;
      }
    },
  };
}
