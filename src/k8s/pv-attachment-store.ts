// pv-attachment-store.ts: attachment records on the PersistentVolume itself (issue 13): the whole
// state as one versioned JSON annotation, plus the Go rds-csi driver's attached-node/attached-at
// annotations (written for tools that read them, read to adopt volumes it left).
//
// Loading lists PVs page by page (never a watch cache, so a restart rebuilds from what the API
// holds now) and cross-checks VolumeAttachments: where they disagree, the VolumeAttachment wins,
// and the disagreement is reported (field-lessons #14: stale annotations resurrected detached
// volumes when annotations alone were trusted).
import {
  type KubeConfig,
  type V1PersistentVolume,
  type V1VolumeAttachment,
} from '@kubernetes/client-node';

import type { AttachmentStore, LoadOptions, Logger, PersistedAttachment } from '../ports.js';
import type { PvWriter } from './pv-writer.js';
import { listAll } from './raw-list.js';

export const ATTACHMENT_ANNOTATION = 'rds.csi.srvlab.io/attachment';
/** The Go driver's annotations (routeros-cli.md / field-lessons): node name and RFC 3339 time. */
export const GO_ATTACHED_NODE = 'rds.csi.srvlab.io/attached-node';
export const GO_ATTACHED_AT = 'rds.csi.srvlab.io/attached-at';

const PAGE = 500;

export interface PvAttachmentStoreOptions {
  readonly kubeConfig: KubeConfig;
  readonly driverName: string;
  readonly writer: PvWriter;
  readonly graceMs: number;
  readonly log: Logger;
  /** The watch cache's copy of a PV, when there is one (saves a read per write). */
  readonly cached?: (pvName: string) => V1PersistentVolume | undefined;
  /** Told when a record and the VolumeAttachments disagree (the VolumeAttachments win). */
  readonly onDisagreement: (volumeId: string, detail: string) => void;
}

export class PvAttachmentStore implements AttachmentStore {
  /** volumeHandle -> PV name, learned while listing and saving. */
  private readonly pvNames = new Map<string, string>();
  /**
   * PV name -> the resourceVersion of our own last write, until the watch cache has caught up
   * with it: a publish right after an unpublish starts from our write, not from a cache copy that
   * is one version behind (which would cost a 409 and a re-read).
   */
  private readonly ownWrites = new Map<string, string>();

  constructor(private readonly options: PvAttachmentStoreOptions) {}

  async loadAll(options: LoadOptions = {}): Promise<Map<string, PersistedAttachment>> {
    const crossCheck = options.crossCheck ?? true;
    const pvs = await this.listVolumes();
    const attachedNodes = crossCheck ? await this.attachedNodesByPv() : undefined;
    const out = new Map<string, PersistedAttachment>();
    for (const pv of pvs) {
      const volumeId = pv.spec?.csi?.volumeHandle ?? '';
      const name = pv.metadata?.name ?? '';
      this.pvNames.set(volumeId, name);
      const fromAnnotations = this.recordOf(volumeId, pv);
      if (attachedNodes === undefined) {
        if (fromAnnotations !== undefined) out.set(volumeId, fromAnnotations);
        continue;
      }
      const vaNodes = attachedNodes.get(name) ?? [];
      const recordNodes = (fromAnnotations?.context['nodes'] as string[] | undefined) ?? [];
      const agree =
        vaNodes.length === recordNodes.length && vaNodes.every((n) => recordNodes.includes(n));
      if (agree || (vaNodes.length === 0 && fromAnnotations?.state === 'grace')) {
        if (fromAnnotations !== undefined) out.set(volumeId, fromAnnotations);
        continue;
      }
      // VolumeAttachments of nodes the record let go, beside those it holds: a detach or a stale
      // clearing is recorded before Kubernetes deletes the VolumeAttachment (a deleted node's
      // stays until the attach-detach controller force-detaches, minutes later). A node is only
      // marked attached after our publish recorded it, so the record is newer: keep it. Following
      // the VolumeAttachments here gave an RWO volume back to the dead node (test/e2e/node-loss).
      if (
        fromAnnotations !== undefined &&
        recordNodes.length > 0 &&
        recordNodes.every((n) => vaNodes.includes(n))
      ) {
        this.options.log.info(
          'VolumeAttachments remain for nodes the attachment record let go; keeping the record',
          { volumeId, pv: name, released: vaNodes.filter((n) => !recordNodes.includes(n)) },
        );
        out.set(volumeId, fromAnnotations);
        continue;
      }
      const detail = `annotations say ${recordNodes.join(', ') || 'detached'}, VolumeAttachments say ${vaNodes.join(', ') || 'detached'}`;
      this.options.onDisagreement(volumeId, detail);
      this.options.log.warn(
        'attachment record disagrees with VolumeAttachments; following the VolumeAttachments',
        {
          volumeId,
          pv: name,
          detail,
        },
      );
      const corrected =
        vaNodes.length > 0 ? this.attachedRecord(volumeId, vaNodes, Date.now()) : undefined;
      if (corrected !== undefined) out.set(volumeId, corrected);
      // Written back, so the next load agrees and the disagreement is counted once.
      await this.save(volumeId, corrected).catch((error: unknown) =>
        this.options.log.warn(
          'could not write the corrected attachment record; the next load corrects it again',
          {
            volumeId,
            error: error instanceof Error ? error.message : String(error),
          },
        ),
      );
    }
    return out;
  }

  async save(volumeId: string, record: PersistedAttachment | undefined): Promise<void> {
    const name = await this.pvNameOf(volumeId);
    const nodes = (record?.context['nodes'] as string[] | undefined) ?? [];
    const attachedAt = record?.context['attachedAt'];
    const written = await this.options.writer.updateAnnotations(
      name,
      () => ({
        [ATTACHMENT_ANNOTATION]: record === undefined ? null : JSON.stringify(record),
        [GO_ATTACHED_NODE]: nodes[0] ?? null,
        [GO_ATTACHED_AT]:
          nodes.length > 0 && typeof attachedAt === 'number'
            ? new Date(attachedAt).toISOString()
            : null,
      }),
      this.startingPoint(name),
    );
    if (written === undefined) {
      this.ownWrites.delete(name);
      throw new Error(`PersistentVolume ${name} of volume ${volumeId} is gone`);
    }
    const version = written.metadata?.resourceVersion;
    if (version === undefined) this.ownWrites.delete(name);
    else this.ownWrites.set(name, version);
  }

  /**
   * The copy a write starts from, so that it takes one round trip (a PATCH with its
   * resourceVersion precondition) instead of a GET and a PATCH: the newer of the watch cache's
   * copy and our own last write. Which one is newer is read from the resourceVersions, integers on
   * every etcd-backed API server; if they are not, the cache's copy is used. A wrong pick is
   * never unsafe: the precondition turns it into a 409, a re-read and a retry.
   */
  private startingPoint(name: string): V1PersistentVolume | undefined {
    const cached = this.options.cached?.(name);
    const own = this.ownWrites.get(name);
    if (own === undefined) return cached;
    const cachedVersion = cached?.metadata?.resourceVersion;
    if (cached !== undefined && cachedVersion !== undefined && !olderVersion(cachedVersion, own)) {
      this.ownWrites.delete(name); // the cache has seen our write (or a later one)
      return cached;
    }
    // Only the resourceVersion is read from the starting point: the record replaces the annotations.
    return { metadata: { name, resourceVersion: own } };
  }

  /** The record from the PV's annotations: ours, else adopted from the Go driver's, else none. */
  private recordOf(volumeId: string, pv: V1PersistentVolume): PersistedAttachment | undefined {
    const annotations = pv.metadata?.annotations ?? {};
    const ours = annotations[ATTACHMENT_ANNOTATION];
    if (ours !== undefined) {
      try {
        const parsed = JSON.parse(ours) as PersistedAttachment;
        if (parsed.v === 1) return parsed;
      } catch {
        // fall through: unreadable, treated like absent (the VolumeAttachments decide)
      }
      this.options.log.warn('unreadable attachment annotation ignored', { volumeId });
    }
    const goNode = annotations[GO_ATTACHED_NODE];
    if (goNode !== undefined && goNode !== '') {
      const at = Date.parse(annotations[GO_ATTACHED_AT] ?? '');
      return this.attachedRecord(volumeId, [goNode], Number.isNaN(at) ? Date.now() : at);
    }
    return undefined;
  }

  private attachedRecord(volumeId: string, nodes: string[], at: number): PersistedAttachment {
    const two = nodes.length > 1;
    return {
      v: 1,
      state: 'attached',
      context: {
        volumeId,
        graceMs: this.options.graceMs,
        access: two ? 'multi' : 'single',
        // Two attached nodes without our record: keep the first; the attacher re-publishes the other.
        nodes: nodes.slice(0, 1),
        attachedAt: at,
      },
      readOnly: {},
      savedAt: at,
    };
  }

  private async pvNameOf(volumeId: string): Promise<string> {
    const known = this.pvNames.get(volumeId);
    if (known !== undefined) return known;
    for (const pv of await this.listVolumes()) {
      this.pvNames.set(pv.spec?.csi?.volumeHandle ?? '', pv.metadata?.name ?? '');
    }
    const found = this.pvNames.get(volumeId);
    if (found === undefined)
      throw new Error(
        `no PersistentVolume of ${this.options.driverName} has volumeHandle ${volumeId}`,
      );
    return found;
  }

  /** This driver's PVs, listed page by page. */
  private async listVolumes(): Promise<V1PersistentVolume[]> {
    // Parsed with JSON.parse only (raw-list.ts): the typed deserializer was most of the CPU.
    const all = await listAll<V1PersistentVolume>(
      this.options.kubeConfig,
      '/api/v1/persistentvolumes',
      PAGE,
    );
    return all.filter((pv) => pv.spec?.csi?.driver === this.options.driverName);
  }

  /** PV name -> nodes where this driver's VolumeAttachments report attached=true. */
  private async attachedNodesByPv(): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    const all = await listAll<V1VolumeAttachment>(
      this.options.kubeConfig,
      '/apis/storage.k8s.io/v1/volumeattachments',
      PAGE,
    );
    for (const va of all) {
      const pv = va.spec.source.persistentVolumeName;
      if (
        va.spec.attacher !== this.options.driverName ||
        pv === undefined ||
        va.status?.attached !== true
      )
        continue;
      out.set(pv, [...(out.get(pv) ?? []), va.spec.nodeName]);
    }
    return out;
  }
}

/** Whether resourceVersion a is older than b, when both are integers; false when unknown. */
function olderVersion(a: string, b: string): boolean {
  if (!/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return BigInt(a) < BigInt(b);
}
