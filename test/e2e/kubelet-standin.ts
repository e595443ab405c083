// kubelet-standin.ts: the part of kubelet a CSI driver sees, for one node of the e2e harness.
// It registers the node (Node and CSINode from NodeGetInfo, as kubelet's plugin watcher and
// nodeinfomanager do after node-driver-registrar, which the project's Go proxy cannot supply) and
// runs the volume manager's steps for pods bound to the node, with kubelet 1.36's paths:
//
//   report in use   node.status.volumesInUse += kubernetes.io/csi/<driver>^<handle>
//   wait attached   VolumeAttachment csi-<sha256(handle+driver+node)> status.attached, and the
//                   volume in node.status.volumesAttached (set by the attach-detach controller)
//   stage           <kubelet>/plugins/kubernetes.io/csi/<driver>/<sha256(handle)>/globalmount
//                   (block: <kubelet>/plugins/kubernetes.io/csi/volumeDevices/staging/<pv>)
//   publish         <kubelet>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount
//                   (block: <kubelet>/plugins/kubernetes.io/csi/volumeDevices/publish/<pv>/<uid>)
//   expand          NodeExpandVolume when the claim waits for the node (NodeResizePending), then
//                   the claim's status capacity, as kubelet's volume manager does online
//   tear down       when a pod is deleted: unpublish, unstage once no pod uses the volume, drop it
//                   from volumesInUse, then delete the pod with grace 0 (kubelet's status manager)
//
// Requests carry what kubelet sends: the PV's volume handle, volumeAttributes and fsType, the
// mount options, the VolumeAttachment's attachmentMetadata as publish context, and the access mode
// kubelet maps from the PV (RWO -> SINGLE_NODE_WRITER; the node plugin has no
// SINGLE_NODE_MULTI_WRITER capability). It acts as the admin: kubelet's own node authorizer is not
// part of an RBAC-only API server.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import type {
  VolumeCapability,
  _csi_v1_VolumeCapability_AccessMode_Mode as AccessMode,
} from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { csiClients, type CsiClients } from '../helpers/csi-client.js';
import type { KubeApi, KubeObject } from './kube-api.js';

export interface KubeletStandinOptions {
  readonly api: KubeApi;
  readonly nodeName: string;
  readonly driverName: string;
  /** The node plugin's socket, `unix:///abs/path`. */
  readonly endpoint: string;
  readonly kubeletDir: string;
  readonly syncIntervalMs?: number;
}

interface Pod extends KubeObject {
  readonly spec: {
    readonly nodeName?: string;
    readonly volumes?: readonly {
      readonly name: string;
      readonly persistentVolumeClaim?: { readonly claimName: string; readonly readOnly?: boolean };
    }[];
  };
}

interface Claim extends KubeObject {
  readonly spec: { readonly volumeName?: string };
  readonly status?: {
    readonly phase?: string;
    readonly capacity?: Readonly<Record<string, string>>;
    readonly allocatedResourceStatuses?: Readonly<Record<string, string>>;
    readonly conditions?: readonly { readonly type: string }[];
  };
}

interface PersistentVolume extends KubeObject {
  readonly spec: {
    readonly accessModes?: readonly string[];
    readonly capacity?: Readonly<Record<string, string>>;
    readonly mountOptions?: readonly string[];
    readonly volumeMode?: string;
    readonly csi?: {
      readonly driver: string;
      readonly volumeHandle: string;
      readonly readOnly?: boolean;
      readonly fsType?: string;
      readonly volumeAttributes?: Readonly<Record<string, string>>;
    };
  };
}

interface VolumeAttachment extends KubeObject {
  readonly status?: {
    readonly attached?: boolean;
    readonly attachmentMetadata?: Readonly<Record<string, string>>;
    readonly attachError?: { readonly message?: string };
  };
}

interface NodeStatus {
  readonly status?: { readonly volumesAttached?: readonly { readonly name: string }[] };
}

/** One claim of one pod, as published. */
export interface Publication {
  readonly podUid: string;
  readonly pod: string;
  readonly namespace: string;
  readonly pvName: string;
  readonly volumeHandle: string;
  readonly stagingPath: string;
  readonly targetPath: string;
  readonly block: boolean;
}

interface Staged {
  readonly stagingPath: string;
  readonly capability: VolumeCapability;
}

/** Kubelet's access-mode mapping for a plugin without SINGLE_NODE_MULTI_WRITER. */
const ACCESS_MODES: Readonly<Record<string, AccessMode>> = {
  ReadWriteOnce: 'SINGLE_NODE_WRITER',
  ReadWriteOncePod: 'SINGLE_NODE_WRITER',
  ReadOnlyMany: 'MULTI_NODE_READER_ONLY',
  ReadWriteMany: 'MULTI_NODE_MULTI_WRITER',
};

const SI: Readonly<Record<string, number>> = {
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
};

/** A Kubernetes quantity of bytes (`256Mi`, `1G`, `1073741824`) as a number. */
export function quantityBytes(quantity: string): number {
  const match = /^(\d+)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(quantity);
  const scale = SI[match?.[2] ?? ''];
  if (match === null || scale === undefined) throw new Error(`unexpected quantity ${quantity}`);
  return Number(match[1]) * scale;
}

/** Mount points of this mount namespace (/proc/self/mountinfo field 5, octal escapes decoded). */
export function mountPoints(): Set<string> {
  const points = new Set<string>();
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const field = line.split(' ')[4];
    if (field !== undefined)
      points.add(
        field.replace(/\\([0-7]{3})/g, (_, octal: string) =>
          String.fromCharCode(parseInt(octal, 8)),
        ),
      );
  }
  return points;
}

function assertUnmounted(path: string, call: string): void {
  if (mountPoints().has(path))
    throw new Error(`${path} is still mounted after ${call} answered OK`);
}

/** os.Remove: a file or an empty directory; gone already is fine, a non-empty directory is not. */
function removeIfPresent(path: string): void {
  let isDirectory: boolean;
  try {
    isDirectory = statSync(path).isDirectory();
  } catch {
    return;
  }
  if (isDirectory) rmdirSync(path);
  else rmSync(path);
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** The VolumeAttachment name kubelet and the attach-detach controller use. */
export function attachmentName(volumeHandle: string, driver: string, node: string): string {
  return `csi-${sha256(`${volumeHandle}${driver}${node}`)}`;
}

export class KubeletStandin {
  private readonly clients: CsiClients;
  private readonly published = new Map<string, Publication>();
  private readonly staged = new Map<string, Staged>();
  private readonly inUse = new Set<string>();
  private reportedInUse = '';
  private readonly retryAt = new Map<string, { at: number; delayMs: number }>();
  /** The last failure per step and volume, e.g. `stage pvc-1: <gRPC error>`; cleared on success. */
  readonly errors = new Map<string, string>();
  /** Every CSI call made, in order: `NodeStageVolume pvc-1`. */
  readonly calls: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly options: KubeletStandinOptions) {
    this.clients = csiClients(options.endpoint);
  }

  /** Registers the node and starts the volume manager loop. */
  static async start(options: KubeletStandinOptions): Promise<KubeletStandin> {
    const standin = new KubeletStandin(options);
    await standin.register();
    standin.schedule();
    return standin;
  }

  get nodeName(): string {
    return this.options.nodeName;
  }

  /** What is published now, keyed `<pod uid>/<pv name>`. */
  publications(): Publication[] {
    return [...this.published.values()];
  }

  publication(namespace: string, pod: string): Publication | undefined {
    return this.publications().find((p) => p.namespace === namespace && p.pod === pod);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.syncing;
    this.clients.close();
  }

  private async register(): Promise<void> {
    const { api, nodeName, driverName } = this.options;
    const info = await this.clients.node.NodeGetInfo({});
    const segments = info.accessibleTopology?.segments ?? {};
    const node = await api.create<KubeObject>('/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name: nodeName,
        labels: { 'kubernetes.io/hostname': nodeName, 'kubernetes.io/os': 'linux', ...segments },
        annotations: {
          // Attach and detach are the attach-detach controller's (kubelet's default).
          'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
          // What nodeinfomanager records next to the CSINode.
          'csi.volume.kubernetes.io/nodeid': JSON.stringify({ [driverName]: info.nodeId }),
        },
      },
    });
    await api.patch(`/api/v1/nodes/${nodeName}/status`, {
      status: {
        conditions: [
          {
            type: 'Ready',
            status: 'True',
            reason: 'KubeletReady',
            message: 'kubelet stand-in of the e2e harness',
            lastHeartbeatTime: new Date().toISOString(),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
      },
    });
    const maxVolumes = Number(info.maxVolumesPerNode);
    await api.create('/apis/storage.k8s.io/v1/csinodes', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSINode',
      metadata: {
        name: nodeName,
        ownerReferences: [
          { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: node.metadata.uid },
        ],
      },
      spec: {
        drivers: [
          {
            name: driverName,
            nodeID: info.nodeId,
            topologyKeys: Object.keys(segments).length > 0 ? Object.keys(segments) : null,
            ...(maxVolumes > 0 ? { allocatable: { count: maxVolumes } } : {}),
          },
        ],
      },
    });
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.syncing = this.sync()
        .then(
          () => this.errors.delete('sync'),
          (error: unknown) => this.errors.set('sync', String(error)),
        )
        .then(() => undefined)
        .finally(() => this.schedule());
    }, this.options.syncIntervalMs ?? 200);
  }

  /** Kubelet backs off a failing volume operation; so does the stand-in (200 ms doubling to 5 s). */
  private due(key: string): boolean {
    const retry = this.retryAt.get(key);
    return retry === undefined || Date.now() >= retry.at;
  }

  private async attempt(key: string, step: () => Promise<void>): Promise<boolean> {
    if (!this.due(key)) return false;
    try {
      await step();
      this.retryAt.delete(key);
      this.errors.delete(key);
      return true;
    } catch (error) {
      const delayMs = Math.min((this.retryAt.get(key)?.delayMs ?? 100) * 2, 5_000);
      this.retryAt.set(key, { at: Date.now() + delayMs, delayMs });
      this.errors.set(key, error instanceof Error ? error.message : String(error));
      return false;
    }
  }

  private async sync(): Promise<void> {
    const { api, nodeName } = this.options;
    const pods = await api.list<Pod>(
      `/api/v1/pods?fieldSelector=${encodeURIComponent(`spec.nodeName=${nodeName}`)}`,
    );
    const wantedKeys = new Set<string>();
    const wantedHandles = new Set<string>();
    for (const pod of pods.items) {
      if (pod.metadata.deletionTimestamp !== undefined) continue;
      for (const volume of pod.spec.volumes ?? []) {
        const claim = volume.persistentVolumeClaim;
        if (claim === undefined) continue;
        const mounted = await this.mountClaim(pod, claim.claimName, claim.readOnly === true);
        if (mounted === undefined) continue;
        wantedKeys.add(mounted.key);
        wantedHandles.add(mounted.handle);
      }
    }
    // Tear down what no live pod wants any more (deleted pods and pods being deleted).
    for (const [key, publication] of this.published) {
      if (wantedKeys.has(key) || this.wantedByPod(pods.items, publication)) continue;
      await this.attempt(`unpublish ${key}`, () => this.unpublish(key, publication));
    }
    for (const [handle, staged] of this.staged) {
      if (wantedHandles.has(handle)) continue;
      if (this.publications().some((p) => p.volumeHandle === handle)) continue;
      await this.attempt(`unstage ${handle}`, () => this.unstage(handle, staged));
    }
    // In use: what a live pod wants, and what is still staged (kubelet's volumesInUse).
    this.inUse.clear();
    for (const handle of [...wantedHandles, ...this.staged.keys()])
      this.inUse.add(this.uniqueName(handle));
    await this.reportInUse();
    // A pod being deleted goes once none of its volumes is published (kubelet's status manager).
    for (const pod of pods.items) {
      if (pod.metadata.deletionTimestamp === undefined) continue;
      if (this.publications().some((p) => p.podUid === pod.metadata.uid)) continue;
      await api.delete(`/api/v1/namespaces/${pod.metadata.namespace}/pods/${pod.metadata.name}`, {
        gracePeriodSeconds: 0,
        preconditions: { uid: pod.metadata.uid },
      });
    }
  }

  /** A publication stays while its pod lives and still names it (it may be mid-mount). */
  private wantedByPod(pods: readonly Pod[], publication: Publication): boolean {
    return pods.some(
      (p) => p.metadata.uid === publication.podUid && p.metadata.deletionTimestamp === undefined,
    );
  }

  /** Runs the mount steps for one claim of a pod; returns its publication key once resolvable. */
  private async mountClaim(
    pod: Pod,
    claimName: string,
    readOnly: boolean,
  ): Promise<{ key: string; handle: string } | undefined> {
    const { api, driverName } = this.options;
    const namespace = pod.metadata.namespace ?? 'default';
    const claim = await api.find<Claim>(
      `/api/v1/namespaces/${namespace}/persistentvolumeclaims/${claimName}`,
    );
    const pvName = claim?.spec.volumeName;
    if (claim === undefined || pvName === undefined || claim.status?.phase !== 'Bound')
      return undefined;
    const pv = await api.get<PersistentVolume>(`/api/v1/persistentvolumes/${pvName}`);
    const csi = pv.spec.csi;
    if (csi === undefined || csi.driver !== driverName) return undefined;
    const key = `${pod.metadata.uid}/${pvName}`;
    const handle = csi.volumeHandle;
    const block = pv.spec.volumeMode === 'Block';
    // Kubelet reports the volume in use before it mounts it: the attach-detach controller will
    // not detach a volume the node reports in use.
    this.inUse.add(this.uniqueName(handle));
    await this.reportInUse();
    if (!this.published.has(key)) {
      const attachment = await this.attachment(handle);
      if (attachment === undefined) return { key, handle };
      const capability = this.capability(pv, block);
      const publishContext = attachment.status?.attachmentMetadata ?? {};
      const volumeContext = csi.volumeAttributes ?? {};
      const stagingPath = this.stagingPath(handle, pvName, block);
      if (!this.staged.has(handle)) {
        const staged = await this.attempt(`stage ${handle}`, async () => {
          // Kubelet creates the staging directory (MountDevice, block: stageVolumeForBlock).
          mkdirSync(stagingPath, { recursive: true, mode: 0o750 });
          this.calls.push(`NodeStageVolume ${handle}`);
          await this.clients.node.NodeStageVolume({
            volumeId: handle,
            publishContext,
            stagingTargetPath: stagingPath,
            volumeCapability: capability,
            secrets: {},
            volumeContext,
          });
          this.staged.set(handle, { stagingPath, capability });
        });
        if (!staged) return { key, handle };
      }
      const targetPath = this.targetPath(pod.metadata.uid, pvName, block);
      await this.attempt(`publish ${key}`, async () => {
        mkdirSync(dirname(targetPath), { recursive: true, mode: 0o750 });
        this.calls.push(`NodePublishVolume ${handle} ${pod.metadata.name}`);
        await this.clients.node.NodePublishVolume({
          volumeId: handle,
          publishContext,
          stagingTargetPath: stagingPath,
          targetPath,
          volumeCapability: capability,
          readonly: readOnly || csi.readOnly === true,
          secrets: {},
          volumeContext,
        });
        this.published.set(key, {
          podUid: pod.metadata.uid,
          pod: pod.metadata.name,
          namespace,
          pvName,
          volumeHandle: handle,
          stagingPath,
          targetPath,
          block,
        });
      });
    }
    const publication = this.published.get(key);
    if (publication !== undefined && this.awaitsNodeExpansion(claim)) {
      await this.attempt(`expand ${handle}`, () => this.expand(claim, pv, publication));
    }
    return { key, handle };
  }

  /** The attachment, once attached and reported in node.status.volumesAttached. */
  private async attachment(handle: string): Promise<VolumeAttachment | undefined> {
    const { api, driverName, nodeName } = this.options;
    const name = attachmentName(handle, driverName, nodeName);
    const attachment = await api.find<VolumeAttachment>(
      `/apis/storage.k8s.io/v1/volumeattachments/${name}`,
    );
    if (attachment?.status?.attached !== true) {
      const error = attachment?.status?.attachError?.message;
      if (error !== undefined) this.errors.set(`attach ${handle}`, error);
      return undefined;
    }
    this.errors.delete(`attach ${handle}`);
    const node = await api.get<NodeStatus>(`/api/v1/nodes/${nodeName}`);
    const reported = node.status?.volumesAttached?.some((v) => v.name === this.uniqueName(handle));
    return reported === true ? attachment : undefined;
  }

  private awaitsNodeExpansion(claim: Claim): boolean {
    return (
      claim.status?.allocatedResourceStatuses?.['storage'] === 'NodeResizePending' ||
      (claim.status?.conditions ?? []).some((c) => c.type === 'FileSystemResizePending')
    );
  }

  private async expand(claim: Claim, pv: PersistentVolume, publication: Publication) {
    const capacity = pv.spec.capacity?.['storage'];
    if (capacity === undefined) throw new Error(`PV ${pv.metadata.name} has no capacity`);
    const staged = this.staged.get(publication.volumeHandle);
    this.calls.push(`NodeExpandVolume ${publication.volumeHandle}`);
    await this.clients.node.NodeExpandVolume({
      volumeId: publication.volumeHandle,
      volumePath: publication.targetPath,
      stagingTargetPath: publication.stagingPath,
      capacityRange: { requiredBytes: String(quantityBytes(capacity)), limitBytes: '0' },
      ...(staged !== undefined ? { volumeCapability: staged.capability } : {}),
      secrets: {},
    });
    // What kubelet's node expander writes once the file system has grown.
    await this.options.api.patch(
      `/api/v1/namespaces/${claim.metadata.namespace}/persistentvolumeclaims/${claim.metadata.name}/status`,
      {
        status: {
          capacity: { storage: capacity },
          allocatedResourceStatuses: null,
          conditions: (claim.status?.conditions ?? []).filter(
            (c) => c.type !== 'FileSystemResizePending' && c.type !== 'Resizing',
          ),
        },
      },
    );
  }

  private async unpublish(key: string, publication: Publication): Promise<void> {
    this.calls.push(`NodeUnpublishVolume ${publication.volumeHandle} ${publication.pod}`);
    await this.clients.node.NodeUnpublishVolume({
      volumeId: publication.volumeHandle,
      targetPath: publication.targetPath,
    });
    // Kubelet removes what it created once the target is no longer mounted (removeMountDir).
    // Kubelet would leave a still-mounted target silently; the stand-in fails loudly instead.
    assertUnmounted(publication.targetPath, 'NodeUnpublishVolume');
    removeIfPresent(publication.targetPath);
    removeIfPresent(dirname(publication.targetPath));
    this.published.delete(key);
  }

  private async unstage(handle: string, staged: Staged): Promise<void> {
    this.calls.push(`NodeUnstageVolume ${handle}`);
    await this.clients.node.NodeUnstageVolume({
      volumeId: handle,
      stagingTargetPath: staged.stagingPath,
    });
    assertUnmounted(staged.stagingPath, 'NodeUnstageVolume');
    removeIfPresent(staged.stagingPath);
    if (staged.stagingPath.endsWith('/globalmount')) removeIfPresent(dirname(staged.stagingPath));
    this.staged.delete(handle);
  }

  private async reportInUse(): Promise<void> {
    const names = [...this.inUse].sort();
    const text = names.join(',');
    if (text === this.reportedInUse) return;
    await this.options.api.patch(`/api/v1/nodes/${this.options.nodeName}/status`, {
      status: { volumesInUse: names.length > 0 ? names : null },
    });
    this.reportedInUse = text;
  }

  private uniqueName(handle: string): string {
    return `kubernetes.io/csi/${this.options.driverName}^${handle}`;
  }

  private capability(pv: PersistentVolume, block: boolean): VolumeCapability {
    const mode = ACCESS_MODES[pv.spec.accessModes?.[0] ?? ''] ?? 'UNKNOWN';
    return block
      ? { accessMode: { mode }, block: {} }
      : {
          accessMode: { mode },
          mount: {
            fsType: pv.spec.csi?.fsType ?? '',
            mountFlags: [...(pv.spec.mountOptions ?? [])],
          },
        };
  }

  stagingPath(handle: string, pvName: string, block: boolean): string {
    const csiDir = join(this.options.kubeletDir, 'plugins', 'kubernetes.io', 'csi');
    return block
      ? join(csiDir, 'volumeDevices', 'staging', pvName)
      : join(csiDir, this.options.driverName, sha256(handle), 'globalmount');
  }

  targetPath(podUid: string, pvName: string, block: boolean): string {
    return block
      ? join(
          this.options.kubeletDir,
          'plugins',
          'kubernetes.io',
          'csi',
          'volumeDevices',
          'publish',
          pvName,
          podUid,
        )
      : join(
          this.options.kubeletDir,
          'pods',
          podUid,
          'volumes',
          'kubernetes.io~csi',
          pvName,
          'mount',
        );
  }
}
