// node-options.ts: the option table's rows for the node side (transport, host commands, sweep,
// kubelet paths) and for what every process serves besides gRPC (the HTTP endpoint, the
// inspector); options.ts assembles the table.
import { z } from 'zod';

import { DEFAULT_MANAGED_NQN_PREFIX } from '../domain/naming.js';

import { option } from './option-row.js';
import { duration, int, listenAddress, matching, nodeIds, path, portOrOff } from './values.js';

export const NODE_OPTIONS = {
  nodeTransport: option(z.enum(['nvme', 'loop']), {
    flags: '--node-transport <kind>',
    description:
      "node: how volumes are reached: nvme (NVMe/TCP with nvme-cli) or loop (the emulator's backing files as loop devices: tests and the quickstart)",
    accepts: 'nvme | loop',
    defaultValue: 'nvme',
  }),
  loopExportTable: option(path.optional(), {
    flags: '--loop-export-table <file>',
    description:
      "node, loop transport: the emulator's export table (exports.json in its data dir); default with --quickstart: the embedded emulator's",
    accepts: 'a file path',
  }),
  managedNqnPrefix: option(matching(/^nqn\.[0-9]{4}-[0-9]{2}\.[a-z0-9.-]+:[a-z0-9._-]*$/), {
    flags: '--managed-nqn-prefix <prefix>',
    description:
      'node: the only NVMe subsystems this driver connects, disconnects or rescans; others (a host booting from NVMe-oF) are never touched',
    accepts: 'an NQN prefix like nqn.2000-02.com.mikrotik:pvc-',
    defaultValue: DEFAULT_MANAGED_NQN_PREFIX,
  }),
  hostNqnFile: option(path, {
    flags: '--host-nqn-file <file>',
    description:
      "node: this host's NQN, passed to nvme connect (mount the host's /etc/nvme read-only; a missing file means nvme-cli's own default)",
    accepts: 'a file path',
    defaultValue: '/etc/nvme/hostnqn',
  }),
  nodeCommandTimeoutMs: option(duration(1_000, 600_000), {
    flags: '--node-command-timeout <duration>',
    description:
      'node: longest run of one host command (nvme, losetup, blkid, mount) before it is killed',
    accepts: 'a duration from 1s to 10m',
    defaultValue: '30s',
  }),
  mkfsTimeoutMs: option(duration(10_000, 7_200_000), {
    flags: '--mkfs-timeout <duration>',
    description: 'node: longest run of mkfs, resize2fs or xfs_growfs before it is killed',
    accepts: 'a duration from 10s to 2h',
    defaultValue: '10m',
  }),
  mountStormLimit: option(int(2, 10_000), {
    flags: '--mount-storm-limit <n>',
    description:
      'node: mounts of one device beyond which another mount is refused (a propagation storm is under way)',
    accepts: 'an integer from 2 to 10000',
    defaultValue: 100,
  }),
  orphanSweep: option(z.enum(['off', 'dry-run', 'enabled']), {
    flags: '--orphan-sweep <mode>',
    description:
      'node, at start: connections under the managed prefix that nothing uses (not mounted, held, backing a loop device or open) are reported (dry-run) or disconnected (enabled)',
    accepts: 'off | dry-run | enabled',
    defaultValue: 'dry-run',
  }),
  metricsAddress: option(listenAddress, {
    flags: '--metrics-address <address>',
    description:
      'HTTP endpoint for /metrics, /healthz (liveness), /readyz (RDS connection, informers, leadership), /debug/attachments and /debug/orphans; off disables it',
    accepts: 'host:port, :port (every interface), [v6]:port, or off',
    defaultValue: ':9809',
  }),
  debugEndpoints: option(z.enum(['off', 'loopback', 'public']), {
    flags: '--debug-endpoints <who>',
    description:
      'who may read /debug/attachments and /debug/orphans on the metrics endpoint: loopback callers only, anyone (public), or nobody (off)',
    accepts: 'off | loopback | public',
    defaultValue: 'loopback',
  }),
  inspectPort: option(portOrOff, {
    flags: '--inspect <port>',
    description:
      'controller: stream every attachment actor to the Stately inspector through a relay on this port (open http://localhost:<port>, e.g. through kubectl port-forward); off by default: it costs at scale',
    accepts: 'a port from 1 to 65535, or off',
    defaultValue: 'off',
  }),
  kubeletDir: option(matching(/^\/(?:[^/\0]+\/?)*$/), {
    flags: '--kubelet-dir <dir>',
    description:
      "node: the kubelet's directory; staging and target paths outside it are refused, so no request can make the node unmount, remove or create anything elsewhere (quickstart: /tmp)",
    accepts: 'an absolute directory',
    defaultValue: '/var/lib/kubelet',
  }),
  standaloneNodes: option(nodeIds.optional(), {
    flags: '--standalone-nodes <ids>',
    description:
      "without Kubernetes (quickstart): node IDs ControllerPublish accepts besides this process's own --node-id, comma-separated; with Kubernetes, Node objects decide",
    accepts: 'comma-separated node IDs, e.g. node-a,node-b',
  }),
};
