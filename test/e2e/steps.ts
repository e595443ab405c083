// steps.ts: the user-level steps the scenario files share (claims, pods, attachments, events,
// block I/O), each checked through the API with a deadline, and failing with the logs of the
// components that would explain it.
import { spawnSync } from 'node:child_process';

import { sample } from '../helpers/metrics-text.js';
import { waitFor } from '../helpers/wait-for.js';
import { DRIVER, STORAGE_CLASS, type Harness } from './harness.js';
import type { KubeObject } from './kube-api.js';
import { attachmentName, type Publication } from './kubelet-standin.js';

export interface Claim extends KubeObject {
  readonly spec: { readonly volumeName?: string };
  readonly status?: { readonly phase?: string; readonly capacity?: Record<string, string> };
}
export interface PersistentVolume extends KubeObject {
  readonly spec: {
    readonly capacity: Record<string, string>;
    readonly volumeMode?: string;
    readonly csi: {
      readonly driver: string;
      readonly volumeHandle: string;
      readonly fsType?: string;
      readonly volumeAttributes?: Record<string, string>;
    };
  };
}
export interface VolumeAttachment extends KubeObject {
  readonly spec: { readonly nodeName: string; readonly source: { persistentVolumeName?: string } };
  readonly status?: {
    readonly attached?: boolean;
    readonly attachError?: { readonly message?: string };
  };
}
export interface CoreEvent extends KubeObject {
  readonly reason: string;
  readonly type: string;
  readonly message: string;
  readonly count?: number;
  readonly source?: { readonly component?: string };
  readonly reportingComponent?: string;
  readonly involvedObject: { readonly kind: string; readonly name: string; readonly uid?: string };
}

export interface ClaimSpec {
  readonly node: string;
  readonly storage?: string;
  readonly accessMode?: 'ReadWriteOnce' | 'ReadWriteMany';
  readonly volumeMode?: 'Filesystem' | 'Block';
  /** Default: the harness's ext4 class. */
  readonly storageClass?: string;
}

export class Steps {
  constructor(
    private readonly harness: Harness,
    readonly namespace: string,
  ) {}

  async createNamespace(): Promise<void> {
    await this.harness.api.create('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: this.namespace },
    });
  }

  /** A claim of the WaitForFirstConsumer class, already "scheduled" (no scheduler runs here). */
  async createClaim(name: string, spec: ClaimSpec): Promise<void> {
    await this.harness.api.create(`/api/v1/namespaces/${this.namespace}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name, annotations: { 'volume.kubernetes.io/selected-node': spec.node } },
      spec: {
        accessModes: [spec.accessMode ?? 'ReadWriteOnce'],
        volumeMode: spec.volumeMode ?? 'Filesystem',
        storageClassName: spec.storageClass ?? STORAGE_CLASS,
        resources: { requests: { storage: spec.storage ?? '256Mi' } },
      },
    });
  }

  async boundVolume(claim: string): Promise<PersistentVolume> {
    const bound = await waitFor(
      async () => {
        const got = await this.harness.api.get<Claim>(
          `/api/v1/namespaces/${this.namespace}/persistentvolumeclaims/${claim}`,
        );
        return got.status?.phase === 'Bound' ? got : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 100, what: `claim ${claim} Bound` },
    ).catch(this.failWithLogs('csi-provisioner', 'controller'));
    return this.harness.api.get<PersistentVolume>(
      `/api/v1/persistentvolumes/${bound.spec.volumeName}`,
    );
  }

  /** A pod bound to a node (spec.nodeName set, as the scheduler would), using the claim. */
  async createPod(name: string, node: string, claim: string, block = false): Promise<void> {
    const use = block
      ? { volumeDevices: [{ name: 'data', devicePath: '/dev/xvda' }] }
      : { volumeMounts: [{ name: 'data', mountPath: '/data' }] };
    await this.harness.api.create(`/api/v1/namespaces/${this.namespace}/pods`, {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name },
      spec: {
        nodeName: node,
        containers: [{ name: 'app', image: 'registry.invalid/never-pulled:1', ...use }],
        volumes: [{ name: 'data', persistentVolumeClaim: { claimName: claim } }],
      },
    });
  }

  async published(node: string, pod: string): Promise<Publication> {
    const { kubelet } = this.harness.node(node);
    return waitFor(() => kubelet.publication(this.namespace, pod), {
      timeoutMs: 60_000,
      intervalMs: 100,
      what: `pod ${pod} published on ${node}`,
    }).catch((error: unknown) => {
      throw new Error(
        `${String(error)}; kubelet stand-in errors: ${JSON.stringify([...kubelet.errors])}\n` +
          `attacher:\n${this.harness.logTail('csi-attacher', 15)}\ncontroller:\n${this.harness.logTail('controller', 15)}\n${node}:\n${this.harness.logTail(node, 15)}`,
      );
    });
  }

  attachmentPath(pv: PersistentVolume, node: string): string {
    return `/apis/storage.k8s.io/v1/volumeattachments/${attachmentName(pv.spec.csi.volumeHandle, DRIVER, node)}`;
  }

  /** The VolumeAttachment of the volume on the node, once csi-attacher has marked it attached. */
  async attached(
    pv: PersistentVolume,
    node: string,
    timeoutMs = 60_000,
  ): Promise<VolumeAttachment> {
    return waitFor(
      async () => {
        const got = await this.harness.api.find<VolumeAttachment>(this.attachmentPath(pv, node));
        return got?.status?.attached === true ? got : undefined;
      },
      { timeoutMs, intervalMs: 100, what: `${pv.metadata.name} attached to ${node}` },
    ).catch(this.failWithLogs('csi-attacher', 'controller'));
  }

  async detached(pv: PersistentVolume, node: string): Promise<void> {
    await waitFor(
      async () => (await this.harness.api.find(this.attachmentPath(pv, node))) === undefined,
      { timeoutMs: 60_000, intervalMs: 100, what: `${pv.metadata.name} detached from ${node}` },
    ).catch(this.failWithLogs('csi-attacher', 'controller'));
  }

  /** Deletes a pod the way a user does (graceful); the kubelet stand-in finishes it. */
  async deletePod(pod: string): Promise<void> {
    const path = `/api/v1/namespaces/${this.namespace}/pods/${pod}`;
    await this.harness.api.delete(path);
    await waitFor(async () => (await this.harness.api.find(path)) === undefined, {
      timeoutMs: 30_000,
      intervalMs: 100,
      what: `pod ${pod} gone`,
    });
  }

  async events(claim: string): Promise<CoreEvent[]> {
    const list = await this.harness.api.list<CoreEvent>(
      `/api/v1/namespaces/${this.namespace}/events?fieldSelector=${encodeURIComponent(
        `involvedObject.kind=PersistentVolumeClaim,involvedObject.name=${claim}`,
      )}`,
    );
    return list.items;
  }

  async event(claim: string, reason: string, timeoutMs = 15_000): Promise<CoreEvent> {
    return waitFor(async () => (await this.events(claim)).find((e) => e.reason === reason), {
      timeoutMs,
      intervalMs: 100,
      what: `a ${reason} event on claim ${claim}`,
    }).catch(this.failWithLogs('controller'));
  }

  /** Deletes a claim and waits for its PV (reclaim Delete: DeleteVolume) to go. */
  async deleteClaim(claim: string, pv: PersistentVolume): Promise<void> {
    await this.harness.api.delete(
      `/api/v1/namespaces/${this.namespace}/persistentvolumeclaims/${claim}`,
    );
    await waitFor(
      async () =>
        (await this.harness.api.find(`/api/v1/persistentvolumes/${pv.metadata.name}`)) ===
        undefined,
      { timeoutMs: 60_000, intervalMs: 100, what: `PV ${pv.metadata.name} deleted` },
    ).catch(this.failWithLogs('csi-provisioner', 'controller'));
  }

  /** A series of the controller's /metrics, `name` with `labels` as the registry prints them; 0 if absent. */
  async controllerMetric(name: string, labels = ''): Promise<number> {
    const series = labels === '' ? name : `${name}{${labels}}`;
    return sample(await this.harness.metrics('controller'), series) ?? 0;
  }

  failWithLogs(...components: string[]) {
    return (error: unknown): never => {
      throw new Error(
        `${String(error)}\n${components.map((c) => `--- ${c}:\n${this.harness.logTail(c, 20)}`).join('\n')}`,
      );
    };
  }
}

/** Writes `data` at `offset` of a block device, bypassing the page cache (O_DIRECT, then fsync). */
export function writeBlock(device: string, offset: number, data: Buffer): void {
  const done = spawnSync(
    'dd',
    [
      `of=${device}`,
      'bs=4096',
      `seek=${offset / 4096}`,
      `count=${data.length / 4096}`,
      'oflag=direct',
      'conv=fsync,notrunc',
      'status=none',
    ],
    { input: data },
  );
  if (done.status !== 0) throw new Error(`dd to ${device}: ${done.stderr.toString()}`);
}

/** Reads `length` bytes at `offset` of a block device, from the device (O_DIRECT). */
export function readBlock(device: string, offset: number, length: number): Buffer {
  const done = spawnSync(
    'dd',
    [
      `if=${device}`,
      'bs=4096',
      `skip=${offset / 4096}`,
      `count=${length / 4096}`,
      'iflag=direct',
      'status=none',
    ],
    { maxBuffer: length + 4096 },
  );
  if (done.status !== 0) throw new Error(`dd from ${device}: ${done.stderr.toString()}`);
  return done.stdout;
}
