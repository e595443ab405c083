// cluster.ts: a real Kubernetes control plane on loopback for tests (issue 6): etcd 3.6,
// kube-apiserver 1.36 with RBAC and static token auth, and optionally kube-controller-manager with
// the PV controllers, each on a free port in a fresh temp dir. Built by scripts/tools.sh.
//
// Independent of the driver's Kubernetes client on purpose: it talks to the API with node:https,
// so a bug in src/k8s cannot make its own test fixture look healthy. Identities: the token file
// cannot change after start, so it holds spare users (`test-user-N`, no groups) that
// createIdentity() binds to a ClusterRole, the way a deployment grants the driver its role.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';

import { componentRbac, type Component } from './deploy-manifests.js';
import { freePort } from './free-port.js';
import { waitFor } from './wait-for.js';
import { launch, tailOf, terminate, type Managed } from './processes.js';

const TOOLS = new URL('../../.tools/bin/', import.meta.url).pathname;
const SPARE_IDENTITIES = 20;
const READY_TIMEOUT_MS = 60_000;

export interface ClusterOptions {
  /** Run kube-controller-manager (PV binder, attach-detach, expander, protection). Default true. */
  readonly controllerManager?: boolean;
}

export interface Identity {
  readonly username: string;
  readonly token: string;
  readonly kubeconfigPath: string;
}

/** What applyCrd reads of a CustomResourceDefinition. */
export interface CrdDocument {
  readonly metadata: { readonly name: string };
  readonly spec: {
    readonly group: string;
    readonly names: { readonly plural: string };
    readonly versions: readonly { readonly name: string; readonly served: boolean }[];
  };
}

export interface Cluster {
  readonly dir: string;
  /** `https://127.0.0.1:<port>` */
  readonly server: string;
  readonly adminToken: string;
  /** Admin (system:masters) kubeconfig; TLS verification off (loopback test cluster only). */
  readonly kubeconfigPath: string;
  /** A fresh user bound to `clusterRole` by a ClusterRoleBinding, with its own kubeconfig. */
  createIdentity(name: string, clusterRole: string): Promise<Identity>;
  /** POST as admin; returns the created object. */
  createObject(path: string, object: unknown): Promise<unknown>;
  getObject(path: string): Promise<unknown>;
  /** PUT as admin (e.g. a status subresource); returns the stored object. */
  putObject(path: string, object: unknown): Promise<unknown>;
  deleteObject(path: string): Promise<void>;
  /**
   * Creates a CustomResourceDefinition and resolves once it is Established and its resource is
   * served (discovery lists it a moment after Established); 30 s at most, for a loaded machine.
   */
  applyCrd(crd: CrdDocument): Promise<void>;
  /** Stops only the API server (etcd stays): clients see connection refused. */
  stopApiServer(): Promise<void>;
  /**
   * Starts the API server again after stopApiServer(), on the same port with the same etcd data,
   * certificates and tokens (kubeconfigs stay valid); resolves once /readyz answers ok. A no-op
   * while it runs.
   */
  startApiServer(): Promise<void>;
  /** Stops everything and removes the temp dir; safe to call twice. */
  stop(): Promise<void>;
}

function tool(name: string): string {
  const path = join(TOOLS, name);
  if (!existsSync(path)) {
    throw new Error(
      `${name} is not built: run "bash scripts/tools.sh ensure" (builds the test control plane from the Go module proxy)`,
    );
  }
  return path;
}

interface Answer {
  readonly status: number;
  readonly body: string;
}

/** One HTTP(S) request to the loopback cluster; TLS verification is off for its self-signed certs. */
function call(
  url: string,
  options: { method?: string; token?: string; body?: unknown } = {},
): Promise<Answer> {
  const target = new URL(url);
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      target,
      {
        method: options.method ?? 'GET',
        rejectUnauthorized: false,
        timeout: 5_000,
        headers: {
          ...(options.token !== undefined ? { authorization: `Bearer ${options.token}` } : {}),
          ...(payload !== undefined
            ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) }
            : {}),
        },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`timeout calling ${url}`)));
    req.on('error', reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

function tail(m: Managed, lines = 15): string {
  return tailOf(m.logPath, lines);
}

async function waitReady(m: Managed, what: string, probe: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (m.exited) throw new Error(`${m.name} exited before ${what}:\n${tail(m)}`);
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline)
      throw new Error(`${m.name}: no ${what} within ${READY_TIMEOUT_MS} ms:\n${tail(m)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function kubeconfig(server: string, user: string, token: string): string {
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'test', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: user, user: { token } }],
    contexts: [{ name: 'test', context: { cluster: 'test', user } }],
    'current-context': 'test',
  });
}

export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const binaries = {
    etcd: tool('etcd'),
    apiserver: tool('kube-apiserver'),
    kcm: options.controllerManager === false ? undefined : tool('kube-controller-manager'),
  };
  const dir = mkdtempSync(join(tmpdir(), 'k8s-'));
  const processes: Managed[] = [];
  const token = () => randomBytes(16).toString('hex');
  const adminToken = token();
  const kcmToken = token();
  const spares = Array.from({ length: SPARE_IDENTITIES }, (_, i) => ({
    username: `test-user-${i}`,
    token: token(),
  }));
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    for (const m of [...processes].reverse()) await terminate(m);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const [etcdClient, etcdPeer, apiPort, kcmPort] = [
      await freePort(),
      await freePort(),
      await freePort(),
      await freePort(),
    ];
    const etcd = launch(
      'etcd',
      binaries.etcd,
      [
        '--name=t',
        `--data-dir=${join(dir, 'etcd')}`,
        '--unsafe-no-fsync',
        '--log-level=warn',
        `--listen-client-urls=http://127.0.0.1:${etcdClient}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdClient}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeer}`,
        `--initial-cluster=t=http://127.0.0.1:${etcdPeer}`,
      ],
      dir,
    );
    processes.push(etcd);
    await waitReady(etcd, 'healthy /health', async () =>
      (await call(`http://127.0.0.1:${etcdClient}/health`)).body.includes('"health":"true"'),
    );

    const keys = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      publicKeyEncoding: { type: 'spki', format: 'pem' },
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
    });
    writeFileSync(join(dir, 'sa.key'), keys.privateKey, { mode: 0o600 });
    writeFileSync(join(dir, 'sa.pub'), keys.publicKey);
    writeFileSync(
      join(dir, 'tokens.csv'),
      [
        `${adminToken},admin,uid-admin,"system:masters"`,
        `${kcmToken},system:kube-controller-manager,uid-kcm`,
        ...spares.map((s, i) => `${s.token},${s.username},uid-test-${i}`),
      ].join('\n') + '\n',
      { mode: 0o600 },
    );
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdClient}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'apiserver-certs')}`,
      `--token-auth-file=${join(dir, 'tokens.csv')}`,
      '--authorization-mode=RBAC',
      '--service-account-issuer=https://kubernetes.default.svc',
      `--service-account-key-file=${join(dir, 'sa.pub')}`,
      `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--disable-admission-plugins=ServiceAccount',
      '--service-cluster-ip-range=10.0.0.0/24',
      '--endpoint-reconciler-type=none',
      // As in every real cluster (kubeadm sets it): CSI node plugins run privileged.
      '--allow-privileged=true',
    ];
    const apiserverReady = (m: Managed) =>
      waitReady(
        m,
        'ready /readyz',
        async () => (await call(`${server}/readyz`, { token: adminToken })).body === 'ok',
      );
    let apiserver = launch('kube-apiserver', binaries.apiserver, apiserverArgs, dir);
    const apiserverSlot = processes.push(apiserver) - 1;
    await apiserverReady(apiserver);
    let apiserverStarts = 1;
    const startApiServer = async (): Promise<void> => {
      if (!apiserver.exited) return;
      if (stopped) throw new Error('the test cluster is stopped');
      // A log per start: launch() truncates its file, and the first one may explain a failure.
      apiserver = launch(
        `kube-apiserver.${String(++apiserverStarts)}`,
        binaries.apiserver,
        apiserverArgs,
        dir,
      );
      processes[apiserverSlot] = apiserver;
      await apiserverReady(apiserver);
    };

    const kubeconfigPath = join(dir, 'admin.kubeconfig');
    writeFileSync(kubeconfigPath, kubeconfig(server, 'admin', adminToken), { mode: 0o600 });
    if (binaries.kcm !== undefined) {
      const kcmConfig = join(dir, 'kcm.kubeconfig');
      writeFileSync(kcmConfig, kubeconfig(server, 'system:kube-controller-manager', kcmToken), {
        mode: 0o600,
      });
      mkdirSync(join(dir, 'kcm-certs'));
      const kcm = launch(
        'kube-controller-manager',
        binaries.kcm,
        [
          `--kubeconfig=${kcmConfig}`,
          '--leader-elect=false',
          '--use-service-account-credentials=true',
          '--controllers=persistentvolume-binder-controller,persistentvolume-attach-detach-controller,persistentvolume-expander-controller,persistentvolume-protection-controller,persistentvolumeclaim-protection-controller',
          '--bind-address=127.0.0.1',
          `--secure-port=${kcmPort}`,
          `--cert-dir=${join(dir, 'kcm-certs')}`,
        ],
        dir,
      );
      processes.push(kcm);
      await waitReady(
        kcm,
        'healthy /healthz',
        async () => (await call(`https://127.0.0.1:${kcmPort}/healthz`)).body === 'ok',
      );
    }

    const api = async (method: string, path: string, body?: unknown): Promise<unknown> => {
      const answer = await call(`${server}${path}`, { method, token: adminToken, body });
      if (answer.status < 200 || answer.status >= 300) {
        throw new Error(`${method} ${path}: HTTP ${answer.status}: ${answer.body.slice(0, 400)}`);
      }
      return answer.body === '' ? undefined : JSON.parse(answer.body);
    };
    /**
     * RBAC is eventually consistent (the authorizer reads bindings from a cache): wait until the
     * API authorizes the user for the role's first rule, so tests never race the binding.
     */
    const waitForAuthorization = async (user: string, clusterRole: string): Promise<void> => {
      const role = (await api(
        'GET',
        `/apis/rbac.authorization.k8s.io/v1/clusterroles/${clusterRole}`,
      )) as {
        rules?: { apiGroups?: string[]; resources?: string[]; verbs?: string[] }[];
      };
      const rule = role.rules?.find((r) => r.resources?.length && r.verbs?.length);
      if (rule === undefined) return;
      const deadline = Date.now() + 15_000;
      for (;;) {
        const review = (await api('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
          apiVersion: 'authorization.k8s.io/v1',
          kind: 'SubjectAccessReview',
          spec: {
            user,
            resourceAttributes: {
              group: rule.apiGroups?.[0] ?? '',
              resource: rule.resources?.[0] ?? '',
              verb: rule.verbs?.[0] ?? '',
            },
          },
        })) as { status?: { allowed?: boolean } };
        if (review.status?.allowed === true) return;
        if (Date.now() > deadline)
          throw new Error(`${user} is still not authorized by ${clusterRole} after 15 s`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    let nextSpare = 0;
    return {
      dir,
      server,
      adminToken,
      kubeconfigPath,
      createIdentity: async (name, clusterRole) => {
        const spare = spares[nextSpare++];
        if (spare === undefined)
          throw new Error(`only ${SPARE_IDENTITIES} identities per test cluster`);
        await api('POST', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', {
          apiVersion: 'rbac.authorization.k8s.io/v1',
          kind: 'ClusterRoleBinding',
          metadata: { name: `${spare.username}-${name}` },
          roleRef: {
            apiGroup: 'rbac.authorization.k8s.io',
            kind: 'ClusterRole',
            name: clusterRole,
          },
          subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: spare.username }],
        });
        await waitForAuthorization(spare.username, clusterRole);
        const path = join(dir, `${name}.kubeconfig`);
        writeFileSync(path, kubeconfig(server, spare.username, spare.token), { mode: 0o600 });
        return { ...spare, kubeconfigPath: path };
      },
      createObject: (path, object) => api('POST', path, object),
      getObject: (path) => api('GET', path),
      putObject: (path, object) => api('PUT', path, object),
      deleteObject: async (path) => {
        await api('DELETE', path);
      },
      applyCrd: async (crd) => {
        await api('POST', '/apis/apiextensions.k8s.io/v1/customresourcedefinitions', crd);
        const versions = crd.spec.versions.filter((v) => v.served).map((v) => v.name);
        await waitFor(
          async () => {
            const got = (await api(
              'GET',
              `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${crd.metadata.name}`,
            )) as { status?: { conditions?: { type: string; status: string }[] } };
            if (
              !got.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')
            )
              return false;
            for (const version of versions) {
              const served = (await api('GET', `/apis/${crd.spec.group}/${version}`).catch(
                () => undefined,
              )) as { resources?: { name: string }[] } | undefined;
              if (!served?.resources?.some((r) => r.name === crd.spec.names.plural)) return false;
            }
            return true;
          },
          {
            timeoutMs: 30_000,
            intervalMs: 50,
            what: `CRD ${crd.metadata.name} established and served`,
          },
        );
      },
      stopApiServer: () => terminate(apiserver),
      startApiServer,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** What bindComponent gives a test: the component's identity and clients, and admin ones. */
export interface ComponentAccess {
  /** The fresh user bound to the component's ClusterRole (its kubeconfigPath for a process). */
  readonly identity: Identity;
  /** A client as that user: what the driver component may do, and no more. */
  readonly kube: KubeConfig;
  readonly adminKube: KubeConfig;
  /** Core API as admin, for arranging objects and reading what the driver wrote. */
  readonly admin: CoreV1Api;
}

/**
 * Creates `component`'s ClusterRole as the chart renders it (test/helpers/deploy-manifests.ts)
 * and an identity (`name`) bound to exactly it, so a permission the code needs but the role
 * lacks fails the test.
 */
export async function bindComponent(
  cluster: Cluster,
  component: Component,
  name: string,
): Promise<ComponentAccess> {
  const role = componentRbac(component).clusterRole;
  await cluster.createObject('/apis/rbac.authorization.k8s.io/v1/clusterroles', role);
  const identity = await cluster.createIdentity(name, role.metadata.name);
  const kube = new KubeConfig();
  kube.loadFromFile(identity.kubeconfigPath);
  const adminKube = new KubeConfig();
  adminKube.loadFromFile(cluster.kubeconfigPath);
  return { identity, kube, adminKube, admin: adminKube.makeApiClient(CoreV1Api) };
}
