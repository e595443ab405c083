// orphan-references.ts: what the cluster references on the RDS, for the orphan audit: every PV's
// volumeHandle and every VolumeSnapshotContent's snapshotHandle, listed fresh from the API server.
//
// Not from the watched PV cache: that cache keeps this driver's PVs only (a PV of a renamed or
// older driver naming the same disk must protect it too) and can lag behind its watch; the audit
// is the one path that deletes on a negative signal, so it reads the source itself, paginated,
// with JSON.parse only (raw-list.ts), every few minutes.
import type { KubeConfig } from '@kubernetes/client-node';

import type { ClusterReferenceSource, ClusterReferences } from '../ports.js';
import { ApiListError, listAll } from './raw-list.js';

const PAGE = 500;

interface PvShape {
  readonly spec?: {
    readonly csi?: {
      readonly volumeHandle?: string;
      readonly volumeAttributes?: Readonly<Record<string, string>>;
    };
  };
}

interface ContentShape {
  readonly spec?: { readonly source?: { readonly snapshotHandle?: string } };
  readonly status?: { readonly snapshotHandle?: string };
}

export const PV_PATH = '/api/v1/persistentvolumes';
export const CONTENT_PATH = '/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents';

export function clusterReferenceSource(
  kubeConfig: KubeConfig,
  options: {
    readonly timeoutMs?: number;
    readonly onSnapshotsUnreadable?: (why: string) => void;
  } = {},
): ClusterReferenceSource {
  const timeoutMs = options.timeoutMs ?? 30_000;
  return {
    load: async (): Promise<ClusterReferences> => {
      // Any error here propagates: without the PVs nothing can be judged (the pass is skipped).
      const pvs = await listAll<PvShape>(kubeConfig, PV_PATH, PAGE, timeoutMs);
      const volumeHandles = new Set<string>();
      const volumePaths = new Set<string>();
      for (const pv of pvs) {
        const csi = pv.spec?.csi;
        if (typeof csi?.volumeHandle === 'string' && csi.volumeHandle !== '')
          volumeHandles.add(csi.volumeHandle);
        const path = csi?.volumeAttributes?.['volumePath'];
        if (typeof path === 'string' && path.startsWith('/')) volumePaths.add(path);
      }
      let snapshotHandles: Set<string> | undefined;
      try {
        const contents = await listAll<ContentShape>(kubeConfig, CONTENT_PATH, PAGE, timeoutMs);
        snapshotHandles = new Set<string>();
        for (const content of contents) {
          for (const handle of [
            content.status?.snapshotHandle,
            content.spec?.source?.snapshotHandle,
          ])
            if (typeof handle === 'string' && handle !== '') snapshotHandles.add(handle);
        }
      } catch (error) {
        // 404: the API server has no such resource (the snapshot CRDs are not installed), so no
        // VolumeSnapshotContent exists. Anything else (403, timeout): snapshots stay undecided.
        if (error instanceof ApiListError && error.statusCode === 404) snapshotHandles = new Set();
        else
          options.onSnapshotsUnreadable?.(error instanceof Error ? error.message : String(error));
      }
      return { volumeHandles, volumePaths, snapshotHandles };
    },
  };
}
