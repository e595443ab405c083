// workload.ts: what the chaos runner asks of the driver, played the way the Kubernetes sidecars
// do it: the provisioner retries CreateVolume/DeleteVolume until it gets an answer and only then
// creates or deletes the PV; the attacher creates a VolumeAttachment before ControllerPublish,
// marks it attached after success, and calls ControllerUnpublish before the VolumeAttachment
// goes. Every call is retried on every code the sidecars treat as "may still be in progress"
// (csi-conformance.md: their isFinalError) and across driver crashes, so each operation either
// completes or is refused by a final answer, and the invariants can be checked at the end.
import { status, type ServiceError } from '@grpc/grpc-js';
import type { CoreV1Api, StorageV1Api, V1VolumeAttachment } from '@kubernetes/client-node';

import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { volumeIdForName } from '../../src/domain/naming.js';
import type { CsiClients } from '../helpers/csi-client.js';
import type { Random } from './random.js';

export const DRIVER = 'rds.csi.srvlab.io';
const GIB = 1024 ** 3;
const CALL_TIMEOUT_MS = 20_000;
const OPERATION_TIMEOUT_MS = 150_000;

export type Mode = 'rwo' | 'rwx';

const CAPABILITY: Record<Mode, VolumeCapability> = {
  rwo: { accessMode: { mode: 'SINGLE_NODE_WRITER' }, mount: { fsType: 'ext4', mountFlags: [] } },
  rwx: { accessMode: { mode: 'MULTI_NODE_MULTI_WRITER' }, block: {} },
};

/** One volume's life: created, published (some concurrently, to provoke fencing), maybe deleted. */
export interface VolumePlan {
  readonly name: string;
  readonly volumeId: string;
  readonly mode: Mode;
  /** Rounds of publishes; each round's nodes are published concurrently. */
  readonly rounds: readonly { publish: readonly string[]; unpublishWinners: boolean }[];
  readonly deleteAtEnd: boolean;
}

export function planVolumes(
  random: Random,
  nodes: readonly string[],
  minOps: number,
): VolumePlan[] {
  const plans: VolumePlan[] = [];
  let ops = 0;
  while (ops < minOps) {
    const name = `pvc-${random.uuid()}`;
    const mode: Mode = random.chance(0.6) ? 'rwo' : 'rwx';
    const rounds: { publish: string[]; unpublishWinners: boolean }[] = [];
    const roundCount = random.int(1, 2);
    for (let r = 0; r < roundCount; r++) {
      // RWO: one node, or two at once (exactly one may win); RWX: two or three (at most two win).
      const count = mode === 'rwo' ? random.int(1, 2) : random.int(2, 3);
      const last = r === roundCount - 1;
      rounds.push({
        publish: random.sample(nodes, count),
        unpublishWinners: !last || random.chance(0.5),
      });
    }
    const detachedAtEnd = rounds.at(-1)?.unpublishWinners ?? true;
    const deleteAtEnd = detachedAtEnd && random.chance(0.6);
    ops += 1 + rounds.reduce((n, r) => n + 2 * r.publish.length, 0) + (deleteAtEnd ? 1 : 0);
    plans.push({ name, volumeId: volumeIdForName(name), mode, rounds, deleteAtEnd });
  }
  return plans;
}

/** What the runner saw, for the invariants and the report. */
export interface Ledger {
  /** Volumes whose CreateVolume succeeded and whose DeleteVolume did not (yet). */
  readonly live: Set<string>;
  readonly deleted: Set<string>;
  /** volumeId -> nodes whose VolumeAttachment is attached (publish succeeded, no unpublish yet). */
  readonly attached: Map<string, Set<string>>;
  readonly violations: string[];
  readonly codes: Map<string, number>;
  rpcs: number;
  refusedPublishes: number;
}

export function newLedger(): Ledger {
  return {
    live: new Set(),
    deleted: new Set(),
    attached: new Map(),
    violations: [],
    codes: new Map(),
    rpcs: 0,
    refusedPublishes: 0,
  };
}

export interface WorkloadDeps {
  /** The current clients: replaced after every restart of the driver. */
  readonly clients: () => CsiClients;
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly ledger: Ledger;
}

/** Codes after which the operation is over, by method; every other code is retried. */
const FINAL: Record<string, readonly number[]> = {
  CreateVolume: [],
  DeleteVolume: [],
  ControllerPublishVolume: [status.FAILED_PRECONDITION],
  ControllerUnpublishVolume: [],
};
/** Codes that no retry can change: the driver answered something a correct driver never would. */
const WRONG = [
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.OUT_OF_RANGE,
  status.UNIMPLEMENTED,
  status.PERMISSION_DENIED,
  status.UNAUTHENTICATED,
];

class Wrong extends Error {}

function withTimeout<T>(pending: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        Object.assign(new Error(`no answer in ${String(ms)} ms`), {
          code: status.DEADLINE_EXCEEDED,
        }),
      );
    }, ms);
  });
  return Promise.race([pending, timeout]).finally(() => clearTimeout(timer));
}

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, ms));
}

/** Calls until an answer ends the operation: 'ok', or 'refused' for a FINAL code. */
async function until(
  deps: WorkloadDeps,
  method: keyof typeof FINAL,
  what: string,
  call: (clients: CsiClients) => Promise<unknown>,
): Promise<'ok' | 'refused'> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    deps.ledger.rpcs++;
    try {
      await withTimeout(call(deps.clients()), CALL_TIMEOUT_MS);
      return 'ok';
    } catch (error) {
      const code = (error as ServiceError).code ?? status.UNKNOWN;
      const key = `${method} ${status[code] ?? String(code)}`;
      deps.ledger.codes.set(key, (deps.ledger.codes.get(key) ?? 0) + 1);
      if (FINAL[method]?.includes(code) === true) return 'refused';
      if (WRONG.includes(code)) {
        throw new Wrong(`${what}: ${status[code] ?? String(code)}: ${(error as Error).message}`);
      }
      if (Date.now() - started > OPERATION_TIMEOUT_MS) {
        throw new Wrong(
          `${what}: no final answer after ${String(attempt)} attempts: ${(error as Error).message}`,
        );
      }
      await sleep(Math.min(1_000, 50 * attempt) + Math.random() * 100);
    }
  }
}

/** Kubernetes writes are retried too: the runner is not what is under test. */
async function api<T>(
  what: string,
  call: () => Promise<T>,
  tolerate: number[] = [],
): Promise<T | undefined> {
  for (let attempt = 1; attempt <= 50; attempt++) {
    try {
      return await call();
    } catch (error) {
      const code = (error as { code?: number }).code;
      if (code !== undefined && tolerate.includes(code)) return undefined;
      if (attempt === 50) throw new Error(`${what}: ${(error as Error).message}`);
      await sleep(100 * attempt);
    }
  }
  return undefined;
}

function vaName(volumeId: string, node: string): string {
  return `chaos-${volumeId.slice(4, 20)}-${node}`;
}

async function create(deps: WorkloadDeps, plan: VolumePlan): Promise<void> {
  await until(deps, 'CreateVolume', `CreateVolume ${plan.name}`, (c) =>
    c.controller.CreateVolume({
      name: plan.name,
      capacityRange: { requiredBytes: String(GIB), limitBytes: '0' },
      volumeCapabilities: [CAPABILITY[plan.mode]],
      parameters: {},
    }),
  );
  deps.ledger.live.add(plan.volumeId);
  await api(
    `create PV ${plan.volumeId}`,
    () =>
      deps.core.createPersistentVolume({
        body: {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: plan.volumeId },
          spec: {
            capacity: { storage: '1Gi' },
            accessModes: [plan.mode === 'rwo' ? 'ReadWriteOnce' : 'ReadWriteMany'],
            volumeMode: plan.mode === 'rwo' ? 'Filesystem' : 'Block',
            persistentVolumeReclaimPolicy: 'Delete',
            csi: { driver: DRIVER, volumeHandle: plan.volumeId },
          },
        },
      }),
    [409],
  );
}

async function publish(deps: WorkloadDeps, plan: VolumePlan, node: string): Promise<boolean> {
  const name = vaName(plan.volumeId, node);
  const body: V1VolumeAttachment = {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'VolumeAttachment',
    metadata: { name },
    spec: { attacher: DRIVER, nodeName: node, source: { persistentVolumeName: plan.volumeId } },
  };
  await api(`create VA ${name}`, () => deps.storage.createVolumeAttachment({ body }), [409]);
  const outcome = await until(
    deps,
    'ControllerPublishVolume',
    `publish ${plan.volumeId} to ${node}`,
    (c) =>
      c.controller.ControllerPublishVolume({
        volumeId: plan.volumeId,
        nodeId: node,
        volumeCapability: CAPABILITY[plan.mode],
        readonly: false,
        volumeContext: {},
        secrets: {},
      }),
  );
  if (outcome === 'refused') {
    deps.ledger.refusedPublishes++;
    return false;
  }
  const attached = deps.ledger.attached.get(plan.volumeId) ?? new Set<string>();
  attached.add(node);
  deps.ledger.attached.set(plan.volumeId, attached);
  await api(`mark VA ${name} attached`, async () => {
    const current = await deps.storage.readVolumeAttachment({ name });
    current.status = { attached: true };
    return deps.storage.replaceVolumeAttachmentStatus({ name, body: current });
  });
  return true;
}

/** The attacher's detach: ControllerUnpublish, then the VolumeAttachment goes. */
async function unpublish(deps: WorkloadDeps, plan: VolumePlan, node: string): Promise<void> {
  await until(deps, 'ControllerUnpublishVolume', `unpublish ${plan.volumeId} from ${node}`, (c) =>
    c.controller.ControllerUnpublishVolume({ volumeId: plan.volumeId, nodeId: node, secrets: {} }),
  );
  deps.ledger.attached.get(plan.volumeId)?.delete(node);
  const name = vaName(plan.volumeId, node);
  await api(`delete VA ${name}`, () => deps.storage.deleteVolumeAttachment({ name }), [404]);
}

async function remove(deps: WorkloadDeps, plan: VolumePlan): Promise<void> {
  await until(deps, 'DeleteVolume', `DeleteVolume ${plan.volumeId}`, (c) =>
    c.controller.DeleteVolume({ volumeId: plan.volumeId, secrets: {} }),
  );
  deps.ledger.live.delete(plan.volumeId);
  deps.ledger.deleted.add(plan.volumeId);
  await api(
    `delete PV ${plan.volumeId}`,
    () => deps.core.deletePersistentVolume({ name: plan.volumeId }),
    [404],
  );
}

/** Runs one volume's plan to its end; a wrong answer is recorded as a violation, never thrown. */
export async function runPlan(
  deps: WorkloadDeps,
  plan: VolumePlan,
  startDelayMs: number,
): Promise<void> {
  try {
    await sleep(startDelayMs);
    await create(deps, plan);
    for (const round of plan.rounds) {
      const results = await Promise.all(round.publish.map((node) => publish(deps, plan, node)));
      const winners = round.publish.filter((_, i) => results[i]);
      const limit = plan.mode === 'rwo' ? 1 : 2;
      const holding = deps.ledger.attached.get(plan.volumeId)?.size ?? 0;
      if (holding > limit) {
        deps.ledger.violations.push(
          `${plan.volumeId} (${plan.mode}) published to ${String(holding)} nodes at once: ${[...(deps.ledger.attached.get(plan.volumeId) ?? [])].join(', ')}`,
        );
      }
      if (winners.length === 0 && (deps.ledger.attached.get(plan.volumeId)?.size ?? 0) === 0) {
        deps.ledger.violations.push(
          `${plan.volumeId}: every publish of ${round.publish.join(', ')} was refused though no node held it`,
        );
      }
      // The losers' VolumeAttachments are deleted too: the attacher detaches them (which must
      // not touch the winner), then they go.
      const losers = round.publish.filter((_, i) => !results[i]);
      await Promise.all(losers.map((node) => unpublish(deps, plan, node)));
      if (round.unpublishWinners)
        await Promise.all(winners.map((node) => unpublish(deps, plan, node)));
    }
    if (plan.deleteAtEnd) await remove(deps, plan);
  } catch (error) {
    deps.ledger.violations.push(
      error instanceof Wrong ? error.message : `runner: ${String(error)}`,
    );
  }
}
