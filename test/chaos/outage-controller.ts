// outage-controller.ts: one controller under test for the API-server outage scenario: the real
// driver executable with its own emulated RDS, driver name and namespace, plus what the test
// needs around it: its /metrics on a port chosen here, PVs with claimRef and PVCs (event
// targets), the attacher's VolumeAttachments, and a ledger of the events each answer implies.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';

import { status, type ServiceError } from '@grpc/grpc-js';
import type { CoreV1Api, StorageV1Api } from '@kubernetes/client-node';

import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { volumeIdForName } from '../../src/domain/naming.js';
import { freePort } from '../helpers/free-port.js';
import { csiClients, type CsiClients } from '../helpers/csi-client.js';
import {
  emulatorFixture,
  TEST_PASSWORD,
  type EmulatorFixture,
} from '../helpers/emulator-fixture.js';
import { parseMetrics } from '../helpers/metrics-text.js';
import { DriverProcess } from './driver-process.js';

export const RWO: VolumeCapability = {
  accessMode: { mode: 'SINGLE_NODE_WRITER' },
  mount: { fsType: 'ext4', mountFlags: [] },
};
export const RWX: VolumeCapability = { accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' }, block: {} };

export interface Volume {
  readonly key: string;
  readonly volumeId: string;
  readonly capability: VolumeCapability;
  /** The PVC the PV's claimRef names (uid included): where this volume's events go. */
  readonly pvcUid: string;
  /** Nodes the driver said OK to (publish) and not yet to an unpublish. */
  readonly holders: Set<string>;
}

/** A CSI answer: the gRPC code name ('OK' for success), its message and how long it took. */
export interface Answer {
  readonly code: string;
  readonly message: string;
  readonly ms: number;
}

export interface OutageControllerOptions {
  readonly label: string;
  readonly elected: boolean;
  readonly dir: string;
  readonly kubeconfigPath: string;
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly gracePeriod: string;
}

/** The answer of a CSI call, never a throw; the call is bounded by the client deadline. */
async function answerOf(call: Promise<unknown>): Promise<Answer> {
  const started = Date.now();
  try {
    await call;
    return { code: 'OK', message: '', ms: Date.now() - started };
  } catch (error) {
    const e = error as ServiceError;
    return {
      code: status[e.code] ?? `code ${String(e.code)}`,
      message: e.details,
      ms: Date.now() - started,
    };
  }
}

function httpText(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpGet(url, { timeout: 5_000 }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`timeout reading ${url}`)));
    req.on('error', reject);
  });
}

export class OutageController {
  readonly driverName: string;
  readonly namespace: string;
  readonly volumes = new Map<string, Volume>();
  /** Events by reason that the driver's answers imply it attempted (seed-decisions 3 and 4). */
  readonly attempted = new Map<string, number>();
  rds!: EmulatorFixture;
  driver!: DriverProcess;
  clients!: CsiClients;
  private metricsPort = 0;
  private readonly socketPath: string;
  readonly logPath: string;

  constructor(private readonly options: OutageControllerOptions) {
    this.driverName = `${options.label}.outage.csi.test`;
    this.namespace = `outage-${options.label}`;
    mkdirSync(options.dir, { recursive: true });
    this.socketPath = join(options.dir, 'csi.sock');
    this.logPath = join(options.dir, 'driver.log');
  }

  async start(): Promise<void> {
    this.rds = await emulatorFixture();
    this.metricsPort = await freePort();
    const passwordFile = join(this.options.dir, 'password');
    writeFileSync(passwordFile, TEST_PASSWORD, { mode: 0o600 });
    // prettier-ignore
    const args = [
      '--mode', 'controller',
      '--node-id', `controller-${this.options.label}`,
      '--driver-name', this.driverName,
      '--endpoint', `unix://${this.socketPath}`,
      '--rds-address', `127.0.0.1:${String(this.rds.emulator.port)}`,
      '--rds-password-file', passwordFile,
      '--rds-host-key', this.rds.emulator.hostKeyFingerprint,
      '--rds-command-timeout', '3s',
      '--kubeconfig', this.options.kubeconfigPath,
      '--leader-elect', String(this.options.elected),
      '--leader-election-namespace', 'kube-system',
      '--leader-election-lease-duration', '3s',
      '--attachment-grace-period', this.options.gracePeriod,
      '--attachment-reconcile-interval', '1m',
      '--metrics-address', `127.0.0.1:${String(this.metricsPort)}`,
      '--log-format', 'json',
      '--log-level', 'info',
    ];
    this.driver = new DriverProcess({ socketPath: this.socketPath, logPath: this.logPath, args });
    this.clients = csiClients(`unix://${this.socketPath}`);
    await this.driver.start(
      async () => (await answerOf(this.clients.identity.GetPluginInfo({}))).code === 'OK',
    );
    await this.options.core.createNamespace({
      body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: this.namespace } },
    });
  }

  async stop(): Promise<void> {
    this.clients?.close();
    await this.driver?.stop();
    this.driver?.close();
    await this.rds?.stop();
  }

  async metrics(): Promise<Map<string, number>> {
    const answer = await httpText(`http://127.0.0.1:${String(this.metricsPort)}/metrics`);
    return parseMetrics(answer.body);
  }

  /** The sum of every series of `name` whose labels contain each of `labels` (`reason="X"`). */
  async metric(name: string, ...labels: string[]): Promise<number> {
    let sum = 0;
    for (const [series, value] of await this.metrics()) {
      const bare = series.split('{')[0];
      if (bare === name && labels.every((l) => series.includes(l))) sum += value;
    }
    return sum;
  }

  readyz(): Promise<{ status: number; body: string }> {
    return httpText(`http://127.0.0.1:${String(this.metricsPort)}/readyz`);
  }

  /** Probe's ready value; undefined when the driver does not answer. */
  async probe(): Promise<boolean | undefined> {
    try {
      return (await this.clients.identity.Probe({})).ready?.value ?? false;
    } catch {
      return undefined;
    }
  }

  /** Lines of the driver's JSON log whose message is `message`. */
  logged(message: string): Record<string, unknown>[] {
    return readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((l) => l['message'] === message);
  }

  expectEvent(reason: string): void {
    this.attempted.set(reason, (this.attempted.get(reason) ?? 0) + 1);
  }

  /** CreateVolume, then the PVC and the PV bound to it by claimRef (as the provisioner would). */
  async createVolume(key: string, capability: VolumeCapability): Promise<Volume> {
    const name = `pvc-${this.options.label}-${key}`;
    const created = await answerOf(this.createRpc(name, capability));
    if (created.code !== 'OK')
      throw new Error(`CreateVolume ${name}: ${created.code} ${created.message}`);
    const volumeId = volumeIdForName(name);
    const block = capability.block !== undefined && capability.block !== null;
    const accessModes = [block ? 'ReadWriteMany' : 'ReadWriteOnce'];
    const pvc = await this.options.core.createNamespacedPersistentVolumeClaim({
      namespace: this.namespace,
      body: {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: { name: key, namespace: this.namespace },
        spec: {
          accessModes,
          volumeMode: block ? 'Block' : 'Filesystem',
          storageClassName: '',
          volumeName: volumeId,
          resources: { requests: { storage: '1Gi' } },
        },
      },
    });
    const pvcUid = pvc.metadata?.uid ?? '';
    await this.options.core.createPersistentVolume({
      body: {
        apiVersion: 'v1',
        kind: 'PersistentVolume',
        metadata: { name: volumeId },
        spec: {
          capacity: { storage: '1Gi' },
          accessModes,
          volumeMode: block ? 'Block' : 'Filesystem',
          persistentVolumeReclaimPolicy: 'Delete',
          storageClassName: '',
          claimRef: {
            kind: 'PersistentVolumeClaim',
            namespace: this.namespace,
            name: key,
            uid: pvcUid,
          },
          csi: { driver: this.driverName, volumeHandle: volumeId },
        },
      },
    });
    const volume: Volume = { key, volumeId, capability, pvcUid, holders: new Set() };
    this.volumes.set(key, volume);
    return volume;
  }

  createRpc(name: string, capability: VolumeCapability = RWO): Promise<unknown> {
    return this.clients.controller.CreateVolume({
      name,
      capacityRange: { requiredBytes: String(1024 ** 3), limitBytes: '0' },
      volumeCapabilities: [capability],
      parameters: {},
    });
  }

  vaName(volume: Volume, node: string): string {
    return `${volume.volumeId.slice(0, 40)}-${node}`;
  }

  /** The attacher's VolumeAttachment, created before it calls ControllerPublish; kept if it exists. */
  async createAttachment(volume: Volume, node: string): Promise<void> {
    await this.options.storage
      .createVolumeAttachment({
        body: {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'VolumeAttachment',
          metadata: { name: this.vaName(volume, node) },
          spec: {
            attacher: this.driverName,
            nodeName: node,
            source: { persistentVolumeName: volume.volumeId },
          },
        },
      })
      .catch((error: unknown) => {
        if ((error as { code?: unknown }).code !== 409) throw error;
      });
  }

  /**
   * ControllerPublish, and what its answer implies: OK to a new node attempts VolumeAttached, or
   * MigrationStarted when another node holds the (multi-node) volume; a repeat attempts nothing; FAILED_PRECONDITION attempts AttachmentConflict; any other answer
   * changed nothing and attempts nothing.
   */
  async publish(volume: Volume, node: string): Promise<Answer> {
    const answer = await answerOf(
      this.clients.controller.ControllerPublishVolume({
        volumeId: volume.volumeId,
        nodeId: node,
        volumeCapability: volume.capability,
        readonly: false,
        volumeContext: {},
        secrets: {},
      }),
    );
    if (answer.code === 'OK' && !volume.holders.has(node)) {
      // A second node of a multi-node block volume is a live migration (volume-attachment.ts).
      this.expectEvent(volume.holders.size > 0 ? 'MigrationStarted' : 'VolumeAttached');
      volume.holders.add(node);
    }
    if (answer.code === 'FAILED_PRECONDITION') this.expectEvent('AttachmentConflict');
    return answer;
  }

  /** ControllerUnpublish: OK from a holder attempts VolumeDetached. */
  async unpublish(volume: Volume, node: string): Promise<Answer> {
    const answer = await answerOf(
      this.clients.controller.ControllerUnpublishVolume({
        volumeId: volume.volumeId,
        nodeId: node,
        secrets: {},
      }),
    );
    if (answer.code === 'OK' && volume.holders.delete(node)) this.expectEvent('VolumeDetached');
    return answer;
  }

  /** The attacher after a successful publish: status.attached = true. */
  async markAttached(volume: Volume, node: string): Promise<void> {
    const name = this.vaName(volume, node);
    const current = await this.options.storage.readVolumeAttachment({ name });
    current.status = { attached: true };
    await this.options.storage.replaceVolumeAttachmentStatus({ name, body: current });
  }

  async deleteAttachment(volume: Volume, node: string): Promise<void> {
    await this.options.storage.deleteVolumeAttachment({ name: this.vaName(volume, node) });
  }

  /** Publish with the attacher's steps around it; throws unless the driver says OK. */
  async attach(volume: Volume, node: string): Promise<void> {
    await this.createAttachment(volume, node);
    const answer = await this.publish(volume, node);
    if (answer.code !== 'OK')
      throw new Error(`publish ${volume.key} to ${node}: ${answer.code} ${answer.message}`);
    await this.markAttached(volume, node);
  }

  /** Unpublish with the attacher's steps around it; throws unless the driver says OK. */
  async detach(volume: Volume, node: string): Promise<void> {
    const answer = await this.unpublish(volume, node);
    if (answer.code !== 'OK')
      throw new Error(`unpublish ${volume.key} from ${node}: ${answer.code} ${answer.message}`);
    await this.deleteAttachment(volume, node);
  }

  answer(call: Promise<unknown>): Promise<Answer> {
    return answerOf(call);
  }
}
