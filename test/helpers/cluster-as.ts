// cluster-as.ts: a test file's Kubernetes control plane (test/helpers/cluster.ts), started before
// its tests and stopped after them, with an identity bound to exactly one component's ClusterRole
// from the rendered chart, and admin clients for arranging and checking.
import { afterAll, beforeAll } from 'vitest';

import {
  bindComponent,
  startCluster,
  type Cluster,
  type ClusterOptions,
  type ComponentAccess,
} from './cluster.js';
import type { Component } from './deploy-manifests.js';

export interface ClusterAs extends ComponentAccess {
  readonly cluster: Cluster;
}

/**
 * Registers the file's beforeAll (start a cluster, without kube-controller-manager unless asked,
 * and bind `component` as `name`) and afterAll (stop it; the file's own afterAll hooks, registered
 * later, run first). Read the fields inside hooks and tests: they exist once beforeAll has run.
 */
export function useClusterAs(
  component: Component,
  name: string,
  options: ClusterOptions = {},
): ClusterAs {
  let started: ClusterAs | undefined;
  let cluster: Cluster | undefined;
  beforeAll(async () => {
    cluster = await startCluster({ controllerManager: false, ...options });
    started = { cluster, ...(await bindComponent(cluster, component, name)) };
  }, 120_000);
  afterAll(async () => {
    await cluster?.stop();
  });
  const get = (): ClusterAs => {
    if (started === undefined)
      throw new Error('the test cluster starts in beforeAll: read it inside a hook or a test');
    return started;
  };
  return {
    get cluster() {
      return get().cluster;
    },
    get identity() {
      return get().identity;
    },
    get kube() {
      return get().kube;
    },
    get adminKube() {
      return get().adminKube;
    },
    get admin() {
      return get().admin;
    },
  };
}
