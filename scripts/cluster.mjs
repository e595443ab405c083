// cluster.mjs: `npm run cluster`: the tests' Kubernetes control plane (etcd, kube-apiserver,
// kube-controller-manager on loopback), by hand, until Ctrl-C. Builds the binaries first if needed.
import { execFileSync } from 'node:child_process';

execFileSync('bash', ['scripts/tools.sh', 'ensure'], { stdio: 'inherit' });
const { startCluster } = await import('../test/helpers/cluster.ts');
const started = Date.now();
const cluster = await startCluster();
console.log(`
Kubernetes control plane up in ${((Date.now() - started) / 1000).toFixed(1)} s
  server:     ${cluster.server}
  kubeconfig: ${cluster.kubeconfigPath}   (admin, system:masters)
  logs:       ${cluster.dir}/*.log

Try:
  curl -sk -H "Authorization: Bearer ${cluster.adminToken}" ${cluster.server}/api/v1/namespaces
  node dist/cli.js --mode controller --kubeconfig ${cluster.kubeconfigPath} ...

Ctrl-C stops it and removes ${cluster.dir}.
`);
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void cluster.stop().then(() => process.exit(0));
  });
}
