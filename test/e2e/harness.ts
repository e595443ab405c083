// harness.ts: the end-to-end harness (issue 9). Everything a CSI driver meets in a cluster, on
// loopback, as separate processes where the real thing is one:
//
//   control plane   etcd, kube-apiserver (RBAC), kube-controller-manager (PV binder,
//                   attach-detach, expander, protection controllers): test/helpers/cluster.ts
//   RDS             the RouterOS emulator over real SSH (in this process, as in the driver tests)
//   our driver      dist/cli.js --mode controller, and one dist/cli.js --mode node per node
//                   (loop transport: the emulator's backing files as loop devices)
//   sidecars        csi-provisioner (--extra-create-metadata), csi-attacher, csi-resizer,
//                   csi-snapshotter and snapshot-controller, built by scripts/tools.sh, on the
//                   controller's socket as unix:///abs/path (grpc-go then sends :authority
//                   localhost; see csi-conformance.md section 7.2)
//   kubelet         test/e2e/kubelet-standin.ts per node (node-driver-registrar and livenessprobe
//                   cannot be built from the project's Go proxy; the stand-in registers the node)
//
// Every component runs as its own token user bound to exactly its ClusterRole in the Helm chart
// (and its Roles: leader-election Lease, capacity), never system:masters, so a missing rule is a
// 403, and forbidden() reports each 403 any of them logged. The stand-in and the test act as the
// admin.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { parseAllDocuments } from 'yaml';

import { startCluster, type Cluster, type CrdDocument, type Identity } from '../helpers/cluster.js';
import {
  crash,
  launch,
  tailOf as tailLines,
  terminate,
  type LaunchOptions,
  type Managed,
} from '../helpers/processes.js';
import { csiClients } from '../helpers/csi-client.js';
import {
  componentRbac,
  renderedObjects,
  type Component,
  type ManifestObject,
} from '../helpers/deploy-manifests.js';
import {
  TEST_PASSWORD,
  emulatorFixture,
  type EmulatorFixture,
} from '../helpers/emulator-fixture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';
import { waitFor } from '../helpers/wait-for.js';
import { capacityOwnerPod, type CapacityOwner } from './capacity-owner.js';
import { KubeApi, type KubeObject } from './kube-api.js';
import { KubeletStandin, attachmentName, mountPoints } from './kubelet-standin.js';

export const DRIVER = 'rds.csi.srvlab.io';
export const STORAGE_CLASS = 'rds-e2e';
/** xfs grows online with CAP_SYS_ADMIN; ext4's online resize also needs CAP_SYS_RESOURCE. */
export const STORAGE_CLASS_XFS = 'rds-e2e-xfs';
export const SNAPSHOT_CLASS = 'rds-e2e';
/** Where the sidecars and the driver keep their Leases (the chart's namespace in a cluster). */
const LEASE_NAMESPACE = 'kube-system';

const ROOT = new URL('../../', import.meta.url).pathname;
const TOOLS = join(ROOT, '.tools/bin');
const CLI = join(ROOT, 'dist/cli.js');

export const SIDECARS = [
  'csi-provisioner',
  'csi-attacher',
  'csi-resizer',
  'csi-snapshotter',
  'snapshot-controller',
] as const;
type Sidecar = (typeof SIDECARS)[number];

export interface HarnessOptions {
  /** Node names; each gets a node plugin process and a kubelet stand-in. Default one, `node-a`. */
  readonly nodes?: readonly string[];
  /** Controller flags after the harness's own (the last of a repeated flag wins). */
  readonly controllerArgs?: readonly string[];
  /**
   * Capacity tracking on: the CSIDriver says storageCapacity: true and csi-provisioner runs with
   * --enable-capacity, polling at this interval, owned by a Deployment as in a cluster.
   */
  readonly capacity?: { readonly pollInterval: string };
}

export interface HarnessNode {
  readonly name: string;
  readonly kubeletDir: string;
  readonly endpoint: string;
  readonly kubelet: KubeletStandin;
}

export interface Harness {
  readonly dir: string;
  readonly cluster: Cluster;
  /** Admin client. */
  readonly api: KubeApi;
  readonly rds: EmulatorFixture;
  readonly nodes: ReadonlyMap<string, HarnessNode>;
  /** Milliseconds each start-up phase took. */
  readonly timings: Readonly<Record<string, number>>;
  /** With `capacity`: the Deployment owning the CSIStorageCapacity objects, in kube-system. */
  readonly capacityOwner: CapacityOwner | undefined;
  node(name: string): HarnessNode;
  /**
   * A crash of the controller container: SIGKILL, then started again with the same flags; each
   * CSI sidecar that exited on the lost connection is started again too (kubelet restarts
   * containers). Resolves once the new controller answers Probe and leads.
   */
  restartController(): Promise<void>;
  /** A crash of a node plugin: SIGKILL, started again, resolves once it answers Probe. */
  restartNode(name: string): Promise<void>;
  /** The node is lost: its kubelet stand-in stops and its node plugin is killed (SIGKILL). */
  crashNode(name: string): Promise<void>;
  /** A driver process's /metrics text ('controller' or a node name). */
  metrics(component: string): Promise<string>;
  /** Every line any component logged about a 403 (a missing RBAC rule), prefixed by its name. */
  forbidden(): string[];
  /** The last lines of a component's log, for failure messages. */
  logTail(component: string, lines?: number): string;
  /** Creates a VolumeAttachment exactly as the attach-detach controller's CSI attacher does. */
  createVolumeAttachment(pvName: string, volumeHandle: string, node: string): Promise<KubeObject>;
  /** Mounts under the harness directory and loop devices backed by the emulator's files. */
  leftovers(): { mounts: string[]; loopDevices: string[] };
  stop(): Promise<void>;
}

function tool(name: string): string {
  const path = join(TOOLS, name);
  if (!existsSync(path)) {
    throw new Error(
      `${name} is not built: run "bash scripts/tools.sh ensure" (builds the kubernetes-csi sidecars and the control plane from the Go module proxy)`,
    );
  }
  return path;
}

/** A component's last log lines, for error messages (20 by default). */
function tailOf(path: string, lines = 20): string {
  return tailLines(path, lines);
}

/**
 * Creates a component's ClusterRole and Roles as the chart renders them (`chart`: the objects of
 * deploy/kubernetes/, or of `helm template` with the harness's options) and returns a fresh
 * identity bound to exactly those roles.
 */
async function applyRbac(
  cluster: Cluster,
  api: KubeApi,
  chart: readonly ManifestObject[],
  component: Component,
  name: string,
): Promise<Identity> {
  const { clusterRole, roles } = componentRbac(component, chart);
  await cluster.createObject('/apis/rbac.authorization.k8s.io/v1/clusterroles', clusterRole);
  const identity = await cluster.createIdentity(name, clusterRole.metadata.name);
  for (const role of roles) {
    const namespace = role.metadata.namespace ?? LEASE_NAMESPACE;
    await api.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/roles`, role);
    await api.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${namespace}/rolebindings`, {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'RoleBinding',
      metadata: { name: `${name}-${role.metadata.name}`, namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role.metadata.name },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: identity.username }],
    });
    // The authorizer reads bindings from a cache: wait until the Role's first rule is allowed,
    // or the first Lease call is a 403.
    const rule = role.rules?.[0];
    await waitFor(
      async () => {
        const review = await api.create<{ status?: { allowed?: boolean } }>(
          '/apis/authorization.k8s.io/v1/subjectaccessreviews',
          {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SubjectAccessReview',
            spec: {
              user: identity.username,
              resourceAttributes: {
                namespace,
                group: rule?.apiGroups?.[0] ?? '',
                resource: rule?.resources?.[0] ?? '',
                verb: rule?.verbs[0] ?? '',
              },
            },
          },
        );
        return review.status?.allowed === true;
      },
      { timeoutMs: 15_000, intervalMs: 50, what: `${name} to be allowed by ${role.metadata.name}` },
    );
  }
  return identity;
}

async function waitProbeReady(endpoint: string, m: Managed, what: string): Promise<void> {
  const socket = endpoint.slice('unix://'.length);
  await waitFor(
    async () => {
      if (m.exited) throw new Error(`${m.name} exited before ${what}:\n${tailOf(m.logPath)}`);
      if (!existsSync(socket)) return false;
      const clients = csiClients(endpoint);
      try {
        const probe = await clients.identity.Probe({});
        return probe.ready?.value === true;
      } catch {
        return false;
      } finally {
        clients.close();
      }
    },
    { timeoutMs: 30_000, intervalMs: 100, what: `${m.name} ${what}` },
  );
}

/** Bytes in a log so far: a restarted process appends, and only what follows counts. */
function logSize(m: Managed): number {
  return existsSync(m.logPath) ? statSync(m.logPath).size : 0;
}

/** Waits until a process logs `pattern` (after byte `from` of its log). */
async function waitLogged(m: Managed, pattern: RegExp, what: string, from = 0): Promise<void> {
  await waitFor(
    () => {
      if (m.exited) throw new Error(`${m.name} exited before ${what}:\n${tailOf(m.logPath)}`);
      return (
        existsSync(m.logPath) && pattern.test(readFileSync(m.logPath).subarray(from).toString())
      );
    },
    { timeoutMs: 60_000, intervalMs: 100, what: `${m.name}: ${what}` },
  ).catch((error: unknown) => {
    throw new Error(`${String(error)}\n${tailOf(m.logPath)}`);
  });
}

function leftovers(
  root: string,
  rds: EmulatorFixture | undefined,
): { mounts: string[]; loopDevices: string[] } {
  const mounts = [...mountPoints()].filter((p) => p.startsWith(`${root}/`));
  const loopDevices: string[] = [];
  for (const entry of readdirSync('/sys/block').filter((d) => d.startsWith('loop'))) {
    try {
      const backing = readFileSync(`/sys/block/${entry}/loop/backing_file`, 'utf8').trim();
      if (rds !== undefined && backing.startsWith(`${rds.dir.path}/`))
        loopDevices.push(`/dev/${entry}`);
    } catch {
      // not attached
    }
  }
  return { mounts, loopDevices };
}

export async function startHarness(options: HarnessOptions = {}): Promise<Harness> {
  const nodeNames = options.nodes ?? ['node-a'];
  const binaries = Object.fromEntries(SIDECARS.map((s) => [s, tool(s)])) as Record<Sidecar, string>;
  const crdDir = tool('snapshot-crds');
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: the vitest global setup builds it`);
  const timings: Record<string, number> = {};
  let mark = Date.now();
  const phase = (name: string) => {
    timings[name] = Date.now() - mark;
    mark = Date.now();
  };

  const dir: TempDir = tempDir('e2e-');
  const processes: Managed[] = [];
  const standins: KubeletStandin[] = [];
  let cluster: Cluster | undefined;
  let rds: EmulatorFixture | undefined;
  let api: KubeApi | undefined;
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const s of standins) await s.stop();
    for (const m of [...processes].reverse()) await terminate(m, 10_000);
    api?.close();
    await cluster?.stop();
    // A failed test may leave volumes mounted: never remove a directory with a mount under it.
    const left = leftovers(dir.path, rds);
    for (const mount of left.mounts.reverse()) spawnSync('umount', [mount]);
    for (const device of left.loopDevices) spawnSync('losetup', ['--detach', device]);
    await rds?.stop();
    if (process.env['RDS_CSI_E2E_KEEP'] === undefined) dir.remove();
    else console.log(`e2e harness: kept ${dir.path} (RDS_CSI_E2E_KEEP)`);
  };

  try {
    cluster = await startCluster();
    api = new KubeApi(cluster.server, cluster.adminToken);
    const admin = api;
    phase('control plane');

    // Snapshot CRDs (the pinned client module's own), established before anything watches them.
    const crds = readdirSync(crdDir).filter((f) => f.startsWith('snapshot.storage.k8s.io_'));
    for (const file of crds) {
      for (const doc of parseAllDocuments(readFileSync(join(crdDir, file), 'utf8'))) {
        const crd = doc.toJS() as CrdDocument | null;
        if (crd !== null) await cluster.applyCrd(crd);
      }
    }

    // The objects a chart installs besides the workloads.
    await admin.create('/apis/storage.k8s.io/v1/csidrivers', {
      apiVersion: 'storage.k8s.io/v1',
      kind: 'CSIDriver',
      metadata: { name: DRIVER },
      spec: {
        attachRequired: true,
        podInfoOnMount: false,
        storageCapacity: options.capacity !== undefined,
        fsGroupPolicy: 'File',
        volumeLifecycleModes: ['Persistent'],
      },
    });
    for (const [name, fsType] of [
      [STORAGE_CLASS, 'ext4'],
      [STORAGE_CLASS_XFS, 'xfs'],
    ] as const) {
      await admin.create('/apis/storage.k8s.io/v1/storageclasses', {
        apiVersion: 'storage.k8s.io/v1',
        kind: 'StorageClass',
        metadata: { name },
        provisioner: DRIVER,
        reclaimPolicy: 'Delete',
        volumeBindingMode: 'WaitForFirstConsumer',
        allowVolumeExpansion: true,
        parameters: { 'csi.storage.k8s.io/fstype': fsType },
      });
    }
    await admin.create('/apis/snapshot.storage.k8s.io/v1/volumesnapshotclasses', {
      apiVersion: 'snapshot.storage.k8s.io/v1',
      kind: 'VolumeSnapshotClass',
      metadata: { name: SNAPSHOT_CLASS },
      driver: DRIVER,
      deletionPolicy: 'Delete',
    });

    // The chart's RBAC: the committed manifests (capacity tracking is on by default, so the
    // provisioner's capacity Role is in them too).
    const chart = renderedObjects();
    const identities = {
      controller: await applyRbac(cluster, admin, chart, 'controller', 'rds-csi-controller'),
      node: await applyRbac(cluster, admin, chart, 'node', 'rds-csi-node'),
      'csi-provisioner': await applyRbac(
        cluster,
        admin,
        chart,
        'csi-provisioner',
        'csi-provisioner',
      ),
      'csi-attacher': await applyRbac(cluster, admin, chart, 'csi-attacher', 'csi-attacher'),
      'csi-resizer': await applyRbac(cluster, admin, chart, 'csi-resizer', 'csi-resizer'),
      'csi-snapshotter': await applyRbac(
        cluster,
        admin,
        chart,
        'csi-snapshotter',
        'csi-snapshotter',
      ),
      'snapshot-controller': await applyRbac(
        cluster,
        admin,
        chart,
        'snapshot-controller',
        'snapshot-controller',
      ),
    };
    phase('cluster objects and RBAC');

    rds = await emulatorFixture();
    const passwordFile = join(dir.path, 'rds-password');
    writeFileSync(passwordFile, TEST_PASSWORD, { mode: 0o600 });
    const controllerDir = join(dir.path, 'controller');
    mkdirSync(controllerDir);
    const controllerEndpoint = `unix://${controllerDir}/csi.sock`;
    const driverArgs = ['--log-format', 'text', '--metrics-address', '127.0.0.1:0'];
    const controllerArgs = [
      CLI,
      ...driverArgs,
      '--mode',
      'controller',
      '--endpoint',
      controllerEndpoint,
      '--data-dir',
      controllerDir,
      '--rds-address',
      `127.0.0.1:${rds.emulator.port}`,
      '--rds-password-file',
      passwordFile,
      '--rds-host-key',
      rds.emulator.hostKeyFingerprint,
      '--kubeconfig',
      identities.controller.kubeconfigPath,
      '--leader-election-namespace',
      LEASE_NAMESPACE,
      ...(options.controllerArgs ?? []),
    ];
    /** The live process of each component; a restart replaces its entry. */
    const current = new Map<string, Managed>();
    const start = (
      name: string,
      command: string,
      args: string[],
      launchOptions: LaunchOptions = {},
    ): Managed => {
      const m = launch(name, command, args, dir.path, {
        ...launchOptions,
        appendLog: current.has(name),
      });
      processes.push(m);
      current.set(name, m);
      return m;
    };
    const controller = start('controller', process.execPath, controllerArgs);

    const nodeArgs = new Map<string, string[]>();
    const nodeProcesses = new Map<string, { endpoint: string; kubeletDir: string; m: Managed }>();
    for (const name of nodeNames) {
      const nodeDir = join(dir.path, name);
      const kubeletDir = join(nodeDir, 'kubelet');
      mkdirSync(kubeletDir, { recursive: true });
      const endpoint = `unix://${nodeDir}/csi.sock`;
      const args = [
        CLI,
        ...driverArgs,
        '--mode',
        'node',
        '--node-id',
        name,
        '--endpoint',
        endpoint,
        '--data-dir',
        nodeDir,
        '--kubelet-dir',
        kubeletDir,
        '--node-transport',
        'loop',
        '--loop-export-table',
        join(rds.dir.path, 'exports.json'),
        '--kubeconfig',
        identities.node.kubeconfigPath,
      ];
      nodeArgs.set(name, args);
      nodeProcesses.set(name, { endpoint, kubeletDir, m: start(name, process.execPath, args) });
    }
    await waitProbeReady(controllerEndpoint, controller, 'ready (Probe)');
    for (const { endpoint, m } of nodeProcesses.values())
      await waitProbeReady(endpoint, m, 'ready (Probe)');
    phase('driver processes');

    const nodes = new Map<string, HarnessNode>();
    for (const [name, { endpoint, kubeletDir }] of nodeProcesses) {
      const kubelet = await KubeletStandin.start({
        api: admin,
        nodeName: name,
        driverName: DRIVER,
        endpoint,
        kubeletDir,
      });
      standins.push(kubelet);
      nodes.set(name, { name, kubeletDir, endpoint, kubelet });
    }
    phase('nodes registered');

    const capacityOwner =
      options.capacity === undefined ? undefined : await capacityOwnerPod(admin, LEASE_NAMESPACE);
    const common = (who: Sidecar) => [
      `--kubeconfig=${identities[who].kubeconfigPath}`,
      '--leader-election',
      `--leader-election-namespace=${LEASE_NAMESPACE}`,
      '--v=4',
    ];
    const csiAddress = `--csi-address=${controllerEndpoint}`;
    const capacityArgs =
      options.capacity === undefined
        ? []
        : [
            '--enable-capacity',
            // The pod's ReplicaSet's Deployment owns the objects (the chart's Deployment).
            '--capacity-ownerref-level=2',
            `--capacity-poll-interval=${options.capacity.pollInterval}`,
          ];
    const sidecarArgs: Record<Sidecar, string[]> = {
      'csi-provisioner': [
        csiAddress,
        '--extra-create-metadata',
        ...capacityArgs,
        ...common('csi-provisioner'),
      ],
      'csi-attacher': [csiAddress, ...common('csi-attacher')],
      // Online expansion: the driver grows mounted volumes.
      'csi-resizer': [csiAddress, '--handle-volume-inuse-error=false', ...common('csi-resizer')],
      'csi-snapshotter': [csiAddress, '--extra-create-metadata', ...common('csi-snapshotter')],
      'snapshot-controller': common('snapshot-controller'),
    };
    // What the chart's Deployment gives the provisioner through the downward API.
    const sidecarEnv: Partial<Record<Sidecar, Record<string, string>>> =
      capacityOwner === undefined
        ? {}
        : { 'csi-provisioner': { POD_NAME: capacityOwner.podName, NAMESPACE: LEASE_NAMESPACE } };
    // csi-lib-utils ends a sidecar that loses its driver connection (ExitOnConnectionLoss) the
    // next time it uses it; in a pod the container restarts (restartPolicy Always), and so here.
    const startSidecar = (name: Sidecar): Managed => {
      const m = start(name, binaries[name], sidecarArgs[name], {
        ...(sidecarEnv[name] !== undefined ? { env: sidecarEnv[name] } : {}),
      });
      m.child.once('exit', () => {
        const again = (): void => {
          if (!stopped) startSidecar(name);
        };
        if (!stopped) setTimeout(again, 500);
      });
      return m;
    };
    const sidecars = new Map<Sidecar, Managed>();
    for (const name of SIDECARS) sidecars.set(name, startSidecar(name));
    // Each has connected to the driver (the Lease name carries the driver name it read) and won
    // its Lease: its controllers run from here on.
    for (const m of sidecars.values())
      await waitLogged(m, /successfully acquired lease/i, 'leader election');
    phase('sidecars');

    // One log per component: a restarted process appends to its predecessor's.
    const logs = (): { name: string; path: string }[] =>
      [...current.values()].map((m) => ({ name: m.name, path: m.logPath }));
    const restartController = async (): Promise<void> => {
      const before = current.get('controller');
      if (before === undefined) throw new Error('no controller process');
      await crash(before);
      const from = logSize(before);
      const next = start('controller', process.execPath, controllerArgs);
      await waitProbeReady(controllerEndpoint, next, 'ready (Probe) after a restart');
      // The old Lease holder is gone without releasing it: the new process leads once it expires.
      await waitLogged(next, /became the leader/, 'leadership after a restart', from);
    };
    const crashNode = async (name: string): Promise<void> => {
      const m = current.get(name);
      const node = nodes.get(name);
      if (m === undefined || node === undefined) throw new Error(`no node ${name} in this harness`);
      await node.kubelet.stop();
      await crash(m);
    };
    const restartNode = async (name: string): Promise<void> => {
      const before = current.get(name);
      const args = nodeArgs.get(name);
      const node = nodes.get(name);
      if (before === undefined || args === undefined || node === undefined)
        throw new Error(`no node ${name} in this harness`);
      await crash(before);
      const m = start(name, process.execPath, args);
      await waitProbeReady(node.endpoint, m, 'ready (Probe) after a restart');
    };
    const metrics = async (component: string): Promise<string> => {
      const m = current.get(component);
      if (m === undefined) throw new Error(`no component ${component}`);
      const served = [
        ...readFileSync(m.logPath, 'utf8').matchAll(/HTTP endpoint serving.* address=(\S+)/g),
      ].at(-1)?.[1];
      if (served === undefined) throw new Error(`${component} has not logged its HTTP address`);
      const answer = await fetch(`http://${served}/metrics`);
      if (!answer.ok) throw new Error(`${component} /metrics: HTTP ${answer.status}`);
      return answer.text();
    };
    const harness: Harness = {
      dir: dir.path,
      cluster,
      api: admin,
      rds,
      nodes,
      timings,
      capacityOwner,
      restartController,
      restartNode,
      crashNode,
      metrics,
      node: (name) => {
        const node = nodes.get(name);
        if (node === undefined) throw new Error(`no node ${name} in this harness`);
        return node;
      },
      forbidden: () =>
        logs().flatMap(({ name, path }) =>
          readFileSync(path, 'utf8')
            .split('\n')
            .filter((line) => /forbidden/i.test(line))
            .map((line) => `${name}: ${line}`),
        ),
      logTail: (component, lines = 30) => {
        const found = logs().find((l) => l.name === component);
        return found === undefined ? `(no component ${component})` : tailOf(found.path, lines);
      },
      createVolumeAttachment: (pvName, volumeHandle, node) =>
        admin.create('/apis/storage.k8s.io/v1/volumeattachments', {
          apiVersion: 'storage.k8s.io/v1',
          kind: 'VolumeAttachment',
          metadata: { name: attachmentName(volumeHandle, DRIVER, node) },
          spec: { attacher: DRIVER, nodeName: node, source: { persistentVolumeName: pvName } },
        }),
      leftovers: () => leftovers(dir.path, rds),
      stop,
    };
    return harness;
  } catch (error) {
    const tails = processes
      .map((m) => `--- ${m.name} (${m.logPath}):\n${tailOf(m.logPath, 10)}`)
      .join('\n');
    await stop();
    throw new Error(`${error instanceof Error ? error.message : String(error)}\n${tails}`);
  }
}
