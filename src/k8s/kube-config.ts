// kube-config.ts: where the driver's Kubernetes credentials come from: `--kubeconfig` when given,
// else the in-cluster service account, else none (the quickstart and tests without a cluster).
import { KubeConfig } from '@kubernetes/client-node';

import { InvalidConfigError } from '../errors.js';

export function loadKubeConfig(
  path: string | undefined,
  env: Readonly<Record<string, string | undefined>>,
): KubeConfig | undefined {
  const config = new KubeConfig();
  if (path !== undefined) {
    try {
      config.loadFromFile(path);
    } catch (error) {
      throw new InvalidConfigError([
        `--kubeconfig ${path} cannot be read: ${error instanceof Error ? error.message : String(error)}`,
      ]);
    }
    if (config.getCurrentCluster() === null) {
      throw new InvalidConfigError([`--kubeconfig ${path} names no current cluster`]);
    }
    return config;
  }
  if (env['KUBERNETES_SERVICE_HOST'] !== undefined && env['KUBERNETES_SERVICE_HOST'] !== '') {
    config.loadFromCluster();
    return config;
  }
  return undefined;
}
