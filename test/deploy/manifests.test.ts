// manifests.test.ts: the Helm chart deploy/helm/rds-csi-ts, rendered with its default values (the
// committed deploy/kubernetes manifests) and with every optional feature on, is accepted object by
// object by a real kube-apiserver in server-side dry-run with strict field validation; the
// driver's flags and env in it are the driver's own, parsed by its real config loader; the
// StorageClasses' parameters pass the driver's own parameter check; and every sidecar flag is
// one the pinned sidecar binary lists in --help.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { envName, loadConfig, OPTIONS } from '../../src/config/load-config.js';
import { KNOWN_PARAMETERS, parseVolumeParameters } from '../../src/csi/volume-parameters.js';
import { InvalidConfigError } from '../../src/errors.js';
import { startCluster, type Cluster, type CrdDocument } from '../helpers/cluster.js';
import {
  parseManifest,
  renderChart,
  renderedObjects,
  type ManifestObject,
} from '../helpers/deploy-manifests.js';
import { waitFor } from '../helpers/wait-for.js';

const TOOLS = new URL('../../.tools/bin/', import.meta.url).pathname;
const DRIVER = 'rds.csi.srvlab.io';
/** The features namespace differs from kube-system, so a hard-coded namespace would show. */
const FEATURES_NAMESPACE = 'rds-system';
const HOST_KEY = `SHA256:${'A'.repeat(43)}`;
/** Every optional part on: capacity tracking, ServiceMonitor, an existing Secret, snapshot-controller. */
const FEATURES = [
  'capacity.enabled=true',
  'metrics.serviceMonitor.enabled=true',
  'snapshotController.enabled=true',
  'rds.existingSecret=rds-credentials',
  'rds.address=10.42.241.3',
  'rds.nvmeAddress=10.42.241.4',
];

interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly {
    readonly name: string;
    readonly value?: string;
    readonly valueFrom?: {
      readonly secretKeyRef?: { readonly key: string };
      readonly fieldRef?: { readonly fieldPath: string };
    };
  }[];
}

function containers(objects: readonly ManifestObject[], workload: string): Container[] {
  const found = objects.find(
    (o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === workload,
  ) as { spec: { template: { spec: { containers: Container[] } } } } | undefined;
  if (found === undefined) throw new Error(`no workload ${workload} in the rendered chart`);
  return found.spec.template.spec.containers;
}

function driverContainer(objects: readonly ManifestObject[], workload: string): Container {
  const driver = containers(objects, workload).find((c) => c.name === 'driver');
  if (driver === undefined) throw new Error(`${workload} has no driver container`);
  return driver;
}

/** The container's env as the kubelet would set it: Secret keys and fields filled with samples. */
function envOf(container: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const e of container.env ?? []) {
    if (e.value !== undefined) env[e.name] = e.value;
    else if (e.valueFrom?.secretKeyRef?.key === 'host-key') env[e.name] = HOST_KEY;
    else if (e.valueFrom?.fieldRef !== undefined) env[e.name] = 'node-a';
    else throw new Error(`env ${e.name}: no sample for ${JSON.stringify(e.valueFrom)}`);
  }
  return env;
}

function load(container: Container) {
  return loadConfig({
    argv: container.args ?? [],
    env: envOf(container),
    readFile: () => {
      throw new Error('the chart passes no --config');
    },
    hostname: 'rds-csi-ts-controller-5d8f7c-x2x9q',
    cwd: '/',
    version: '0.1.0',
  });
}

describe('the chart renders what the driver accepts', () => {
  const defaults = renderedObjects();
  const features = renderChart(FEATURES, FEATURES_NAMESPACE);

  it('the committed manifest is the chart with its default values (a stale one fails here too)', () => {
    const committed = readFileSync(
      new URL('../../deploy/kubernetes/rds-csi-ts.yaml', import.meta.url),
      'utf8',
    );
    expect(parseManifest(committed)).toEqual(renderChart([]));
  });

  it('every driver flag and RDS_CSI_ variable is one the driver defines', () => {
    const flags = new Set(OPTIONS.map((o) => /^--[a-z0-9-]+/.exec(o.flags)?.[0]));
    const envs = new Set(OPTIONS.map((o) => envName(o)));
    let checked = 0;
    for (const objects of [defaults, features]) {
      for (const workload of ['rds-csi-ts-controller', 'rds-csi-ts-node']) {
        const driver = driverContainer(objects, workload);
        for (const arg of driver.args ?? []) {
          expect(arg).toMatch(/^--[a-z0-9-]+(=.*)?$/);
          expect(flags, `${workload}: ${arg}`).toContain(arg.split('=')[0]);
          checked++;
        }
        for (const e of driver.env ?? []) {
          if (e.name.startsWith('RDS_CSI_')) expect(envs, workload).toContain(e.name);
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('the controller and node configuration load through the real config parser', () => {
    const controller = load(driverContainer(features, 'rds-csi-ts-controller'));
    expect(controller.kind).toBe('run');
    if (controller.kind !== 'run') return;
    expect(controller.config).toMatchObject({
      mode: 'controller',
      endpoint: 'unix:///csi/csi.sock',
      driverName: DRIVER,
      leaderElect: true,
      leaderElectionNamespace: FEATURES_NAMESPACE,
      rdsAddress: { host: '10.42.241.3', port: 22 },
      rdsPasswordFile: '/etc/rds-csi-ts/rds/password',
      rdsHostKey: [HOST_KEY],
      nvmeAddress: '10.42.241.4',
      metricsAddress: ':9809',
    });
    const node = load(driverContainer(features, 'rds-csi-ts-node'));
    expect(node.kind).toBe('run');
    if (node.kind !== 'run') return;
    expect(node.config).toMatchObject({
      mode: 'node',
      nodeId: 'node-a',
      kubeletDir: '/var/lib/kubelet',
      nodeTransport: 'nvme',
      hostNqnFile: '/etc/nvme/hostnqn',
    });
  });

  it('unedited default manifest: the controller stops at start naming the RDS address and host key', () => {
    const driver = driverContainer(defaults, 'rds-csi-ts-controller');
    const env = envOf(driver);
    delete env['RDS_CSI_RDS_HOST_KEY']; // the default Secret's host-key is empty
    let problems: readonly string[] = [];
    try {
      loadConfig({
        argv: driver.args ?? [],
        env,
        readFile: () => '',
        hostname: 'h',
        cwd: '/',
        version: '0.1.0',
      });
    } catch (error) {
      if (error instanceof InvalidConfigError) problems = error.problems;
    }
    expect(problems.join('\n')).toMatch(/--rds-address .*required/);
    expect(problems.join('\n')).toMatch(/pin the RDS host key with --rds-host-key/);
  });

  it('workloads: two leader-elected controllers on one socket; a privileged root node plugin on the host', () => {
    const deployment = defaults.find(
      (o) => o.kind === 'Deployment' && o.metadata.name === 'rds-csi-ts-controller',
    ) as unknown as {
      spec: {
        replicas: number;
        template: { spec: { volumes: { name: string; emptyDir?: object }[] } };
      };
    };
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.template.spec.volumes).toContainEqual({
      name: 'socket-dir',
      emptyDir: {},
    });
    const controller = containers(defaults, 'rds-csi-ts-controller');
    expect(controller.map((c) => c.name)).toEqual([
      'driver',
      'csi-provisioner',
      'csi-attacher',
      'csi-resizer',
      'csi-snapshotter',
    ]);
    for (const c of controller.slice(1)) {
      expect(c.args, c.name).toContain('--leader-election');
      expect(c.args, c.name).toContain('--csi-address=unix:///csi/csi.sock');
    }
    expect(controller[0]?.args).toContain('--leader-elect=true');
    expect(controller[1]?.args).toContain('--extra-create-metadata');

    const daemonSet = defaults.find((o) => o.kind === 'DaemonSet') as unknown as {
      spec: { template: { spec: { hostNetwork: boolean; containers: Record<string, unknown>[] } } };
    };
    expect(daemonSet.spec.template.spec.hostNetwork).toBe(true);
    const [driver, registrar, probe] = daemonSet.spec.template.spec.containers as {
      name: string;
      args: string[];
      securityContext?: { privileged?: boolean; runAsUser?: number };
      volumeMounts: { mountPath: string; mountPropagation?: string }[];
      livenessProbe?: { httpGet: { port: string } };
      ports?: { name: string; containerPort: number }[];
    }[];
    expect([driver?.name, registrar?.name, probe?.name]).toEqual([
      'driver',
      'node-driver-registrar',
      'liveness-probe',
    ]);
    // The image's user is 65532 (the controller's); privileged alone would keep it.
    expect(driver?.securityContext).toMatchObject({ privileged: true, runAsUser: 0 });
    expect(driver?.volumeMounts).toContainEqual({
      name: 'kubelet-dir',
      mountPath: '/var/lib/kubelet',
      mountPropagation: 'Bidirectional',
    });
    for (const path of ['/dev', '/sys', '/etc/nvme'])
      expect(driver?.volumeMounts.map((m) => m.mountPath)).toContain(path);
    expect(registrar?.args).toContain(
      `--kubelet-registration-path=/var/lib/kubelet/plugins/${DRIVER}/csi.sock`,
    );
    expect(probe?.args).toContain('--http-endpoint=:9808');
    expect(driver?.livenessProbe?.httpGet.port).toBe('healthz');
    expect(driver?.ports).toContainEqual({ name: 'healthz', containerPort: 9808 });
  });

  it('StorageClass parameters are ones the driver reads, and pass its own check', () => {
    for (const objects of [defaults, features]) {
      const classes = objects.filter((o) => o.kind === 'StorageClass') as unknown as {
        metadata: { name: string };
        provisioner: string;
        parameters: Record<string, string>;
      }[];
      expect(classes.map((c) => c.metadata.name)).toEqual(['rds-rwo', 'rds-rwx-block']);
      for (const sc of classes) {
        expect(sc.provisioner).toBe(DRIVER);
        for (const key of Object.keys(sc.parameters))
          expect(KNOWN_PARAMETERS as readonly string[], `${sc.metadata.name}`).toContain(key);
        const parsed = parseVolumeParameters(sc.parameters, {
          volumePath: '/storage-pool/metal-csi',
          nvmeAddress: '10.42.241.3',
          nvmePort: 4420,
        });
        expect(parsed.volumePath).toBe('/storage-pool/metal-csi');
      }
    }
  });

  it('capacity tracking comes whole or not at all (CSIDriver, provisioner flags, RBAC), and only with a topology segment', () => {
    const parts = (objects: readonly ManifestObject[]) => {
      const csiDriver = objects.find((o) => o.kind === 'CSIDriver') as unknown as {
        spec: { storageCapacity: boolean; attachRequired: boolean; podInfoOnMount: boolean };
      };
      const provisioner = containers(objects, 'rds-csi-ts-controller').find(
        (c) => c.name === 'csi-provisioner',
      );
      return {
        storageCapacity: csiDriver.spec.storageCapacity,
        attachRequired: csiDriver.spec.attachRequired,
        podInfoOnMount: csiDriver.spec.podInfoOnMount,
        enableCapacity: provisioner?.args?.includes('--enable-capacity'),
        ownerLevel: provisioner?.args?.includes('--capacity-ownerref-level=2'),
        podName: provisioner?.env?.some((e) => e.name === 'POD_NAME') ?? false,
        role: objects.some(
          (o) => o.kind === 'Role' && o.metadata.name === 'rds-csi-ts-csi-provisioner-capacity',
        ),
      };
    };
    const on = {
      storageCapacity: true,
      attachRequired: true,
      podInfoOnMount: true,
      enableCapacity: true,
      ownerLevel: true,
      podName: true,
      role: true,
    };
    expect(parts(defaults)).toEqual(on);
    expect(parts(features)).toEqual(on);
    expect(parts(renderChart(['capacity.enabled=false', 'topology=none']))).toEqual({
      storageCapacity: false,
      attachRequired: true,
      podInfoOnMount: true,
      enableCapacity: false,
      ownerLevel: false,
      podName: false,
      role: false,
    });
    // Without a segment the provisioner would delete and recreate its objects (capacity.test.ts).
    expect(() => renderChart(['topology=none'])).toThrow(
      /capacity.enabled needs a topology segment/,
    );
  });

  it('the controller and every node plugin report the same topology segment', () => {
    const topologyArgs = (objects: readonly ManifestObject[]) =>
      ['rds-csi-ts-controller', 'rds-csi-ts-node'].map((workload) =>
        driverContainer(objects, workload).args?.filter((a) => a.startsWith('--topology')),
      );
    expect(topologyArgs(defaults)).toEqual([['--topology=default'], ['--topology=default']]);
    expect(topologyArgs(renderChart(['topology=rack-2']))).toEqual([
      ['--topology=rack-2'],
      ['--topology=rack-2'],
    ]);
  });

  it('each sidecar flag is one the pinned sidecar binary lists in --help', () => {
    // node-driver-registrar and livenessprobe are not checked: the project's Go proxy refuses
    // them (csi-conformance.md section 4), so there is no binary to ask.
    const binaries = ['csi-provisioner', 'csi-attacher', 'csi-resizer', 'csi-snapshotter'];
    const sidecars = [
      ...containers(features, 'rds-csi-ts-controller').filter((c) => binaries.includes(c.name)),
      ...containers(features, 'rds-csi-ts-snapshot-controller').map((c) => ({
        ...c,
        name: 'snapshot-controller',
      })),
    ];
    expect(sidecars.map((c) => c.name).sort()).toEqual([...binaries, 'snapshot-controller'].sort());
    for (const sidecar of sidecars) {
      const bin = join(TOOLS, sidecar.name);
      if (!existsSync(bin)) throw new Error(`${bin} is not built: bash scripts/tools.sh ensure`);
      const help = spawnSync(bin, ['--help'], { encoding: 'utf8', timeout: 20_000 });
      const text = `${help.stdout}${help.stderr}`;
      for (const arg of sidecar.args ?? []) {
        // Go's flag package lists `-name type`; pflag-based ones `--name type`.
        const name = (arg.split('=')[0] ?? arg).replace(/^--?/, '');
        expect(text, `${sidecar.name} --${name}`).toMatch(
          new RegExp(`(^|\\s)--?${name}(\\s|=|$)`, 'm'),
        );
      }
    }
  });
});

// --- server-side dry-run against a real kube-apiserver -------------------------------------------

/**
 * The ServiceMonitor CRD is prometheus-operator's, not in this repository: a minimal stand-in
 * with the fields the chart sets (their paths and types as in monitoring.coreos.com/v1) and no
 * others, so strict validation still refuses a misspelled or misplaced field.
 */
const SERVICE_MONITOR_CRD = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'servicemonitors.monitoring.coreos.com' },
  spec: {
    group: 'monitoring.coreos.com',
    scope: 'Namespaced',
    names: { plural: 'servicemonitors', singular: 'servicemonitor', kind: 'ServiceMonitor' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: {
            type: 'object',
            properties: {
              spec: {
                type: 'object',
                required: ['selector', 'endpoints'],
                properties: {
                  selector: {
                    type: 'object',
                    properties: {
                      matchLabels: { type: 'object', additionalProperties: { type: 'string' } },
                    },
                  },
                  namespaceSelector: {
                    type: 'object',
                    properties: { matchNames: { type: 'array', items: { type: 'string' } } },
                  },
                  endpoints: {
                    type: 'array',
                    items: {
                      type: 'object',
                      properties: {
                        port: { type: 'string' },
                        path: { type: 'string' },
                        interval: { type: 'string' },
                      },
                    },
                  },
                },
              },
            },
          },
        },
      },
    ],
  },
};

interface ApiResource {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

describe('server-side dry-run (dryRun=All, fieldValidation=Strict)', () => {
  let cluster: Cluster;
  const discovery = new Map<string, readonly ApiResource[]>();

  /** The collection URL of an object, from the API server's own discovery. */
  async function collectionPath(object: ManifestObject): Promise<string> {
    const base = object.apiVersion.includes('/') ? `/apis/${object.apiVersion}` : '/api/v1';
    let resources = discovery.get(base);
    if (resources === undefined) {
      resources = await waitFor(
        async () => {
          try {
            return ((await cluster.getObject(base)) as { resources: ApiResource[] }).resources;
          } catch {
            return undefined; // a new CRD's group is served a moment after Established
          }
        },
        { timeoutMs: 15_000, intervalMs: 100, what: `${base} to be served` },
      );
      discovery.set(base, resources);
    }
    const resource = resources.find((r) => r.kind === object.kind && !r.name.includes('/'));
    if (resource === undefined) throw new Error(`${base} serves no ${object.kind}`);
    const namespace = object.metadata.namespace;
    if (resource.namespaced && namespace === undefined)
      throw new Error(`${object.kind} ${object.metadata.name} is namespaced but has no namespace`);
    return resource.namespaced
      ? `${base}/namespaces/${namespace}/${resource.name}`
      : `${base}/${resource.name}`;
  }

  async function dryRun(object: ManifestObject): Promise<void> {
    const path = await collectionPath(object);
    await cluster.createObject(`${path}?dryRun=All&fieldValidation=Strict`, object);
  }

  beforeAll(async () => {
    cluster = await startCluster({ controllerManager: false });
    const crdDir = join(TOOLS, 'snapshot-crds');
    if (!existsSync(crdDir)) throw new Error(`${crdDir} is missing: bash scripts/tools.sh ensure`);
    for (const file of readdirSync(crdDir).filter((f) => f.startsWith('snapshot.storage.k8s.io_')))
      for (const crd of parseManifest(readFileSync(join(crdDir, file), 'utf8')))
        await cluster.applyCrd(crd as unknown as CrdDocument);
    await cluster.applyCrd(SERVICE_MONITOR_CRD);
    await cluster.createObject('/api/v1/namespaces', {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: FEATURES_NAMESPACE },
    });
  }, 120_000);

  afterAll(async () => {
    await cluster?.stop();
  });

  it('refuses an unknown field, so an accepted object really passed strict validation', async () => {
    const deployment = renderedObjects().find((o) => o.kind === 'Deployment');
    if (deployment === undefined) throw new Error('no Deployment rendered');
    const broken = { ...deployment, spec: { ...(deployment['spec'] as object), replica: 2 } };
    await expect(dryRun(broken)).rejects.toThrow(/HTTP 400.*unknown field \\*"spec\.replica/s);
    const monitor = renderChart(FEATURES, FEATURES_NAMESPACE).find(
      (o) => o.kind === 'ServiceMonitor',
    );
    if (monitor === undefined) throw new Error('no ServiceMonitor rendered');
    const spec = monitor['spec'] as { endpoints: object[] };
    const misplaced = { ...monitor, spec: { ...spec, endpoints: [{ targetPort: 'metrics' }] } };
    await expect(dryRun(misplaced)).rejects.toThrow(/HTTP 400.*unknown field/s);
  });

  it('accepts every object of the default manifests (deploy/kubernetes)', async () => {
    const objects = renderedObjects();
    for (const object of objects) await dryRun(object);
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        'ServiceAccount',
        'Secret',
        'ClusterRole',
        'ClusterRoleBinding',
        'Role',
        'RoleBinding',
        'Service',
        'DaemonSet',
        'Deployment',
        'CSIDriver',
        'StorageClass',
        'VolumeSnapshotClass',
      ]),
    );
  });

  it('accepts every object with capacity, ServiceMonitor, an existing Secret and snapshot-controller on', async () => {
    const objects = renderChart(FEATURES, FEATURES_NAMESPACE);
    for (const object of objects) await dryRun(object);
    const kinds = objects.map((o) => o.kind);
    expect(kinds).toContain('ServiceMonitor');
    expect(kinds).not.toContain('Secret');
    expect(objects.filter((o) => o.metadata.namespace !== undefined).length).toBeGreaterThan(10);
    for (const o of objects)
      if (o.metadata.namespace !== undefined) expect(o.metadata.namespace).toBe(FEATURES_NAMESPACE);
  });
});
