// volume-parameters.ts: StorageClass parameters, checked before any device command, and the
// VolumeContext the node receives.
//
// Names follow the Go rds-csi driver so its StorageClasses keep working (volumePath, nvmeAddress,
// nvmePort, fsType; plus the connection tuning ctrlLossTmo, reconnectDelay, keepAliveTmo and
// migrationTimeoutSeconds). Keys under csi.storage.k8s.io/ come from the provisioner; any other
// key is a typo until proven otherwise and is refused with the list of known ones.
import { isIP } from 'node:net';

import { InvalidInputError } from '../errors.js';
import { parseMigrationTimeoutSeconds } from '../domain/migration-timeout.js';
import { parseMkfsOptions } from '../domain/mkfs-options.js';
import { checkVolumePath, poolMountPoint } from '../domain/naming.js';

export interface ParameterDefaults {
  readonly volumePath: string;
  readonly nvmeAddress: string | undefined;
  readonly nvmePort: number;
}

export interface VolumeParameters {
  readonly volumePath: string;
  readonly mountPoint: string;
  readonly nvmeAddress: string;
  readonly nvmePort: number;
  readonly ctrlLossTmo: number;
  readonly reconnectDelay: number;
  readonly keepAliveTmo: number;
  readonly migrationTimeoutSeconds: number;
  readonly fsType: string | undefined;
  /** Extra mkfs arguments, checked (mkfs-options.ts) and passed to the node as given. */
  readonly mkfsOptions: string | undefined;
  readonly pvcName: string | undefined;
  readonly pvcNamespace: string | undefined;
}

/** Defaults of the Go driver's DefaultConnectionConfig: retry forever, every 5 s, kernel keep-alive. */
export const CONNECTION_DEFAULTS = { ctrlLossTmo: -1, reconnectDelay: 5, keepAliveTmo: 0 } as const;

/** Every StorageClass parameter this driver reads (the fuzz tests push hostile values through each). */
export const KNOWN_PARAMETERS = [
  'volumePath',
  'nvmeAddress',
  'nvmePort',
  'fsType',
  'ctrlLossTmo',
  'reconnectDelay',
  'keepAliveTmo',
  'migrationTimeoutSeconds',
  'mkfsOptions',
] as const;
const PROVISIONER_PREFIX = 'csi.storage.k8s.io/';
export const PVC_NAME_KEY = 'csi.storage.k8s.io/pvc/name';
export const PVC_NAMESPACE_KEY = 'csi.storage.k8s.io/pvc/namespace';
const K8S_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

function integer(
  parameters: Readonly<Record<string, string>>,
  key: string,
  min: number,
  max: number,
  fallback: number,
): number {
  const value = parameters[key];
  if (value === undefined || value === '') return fallback;
  const number = Number(value);
  if (!/^-?\d{1,6}$/.test(value) || number < min || number > max) {
    throw new InvalidInputError(
      `parameter ${key}="${value.slice(0, 40)}" must be an integer from ${min} to ${max}`,
      { field: `parameters.${key}` },
    );
  }
  return number;
}

export function parseVolumeParameters(
  parameters: Readonly<Record<string, string>>,
  defaults: ParameterDefaults,
): VolumeParameters {
  for (const key of Object.keys(parameters)) {
    if (
      !key.startsWith(PROVISIONER_PREFIX) &&
      !(KNOWN_PARAMETERS as readonly string[]).includes(key)
    ) {
      throw new InvalidInputError(
        `unknown StorageClass parameter "${key.slice(0, 60)}"; known: ${KNOWN_PARAMETERS.join(', ')}`,
        {
          field: `parameters.${key.slice(0, 60)}`,
        },
      );
    }
  }
  const volumePath = checkVolumePath(
    parameters['volumePath'] || defaults.volumePath,
    'parameters.volumePath',
  );
  const nvmeAddress = parameters['nvmeAddress'] || defaults.nvmeAddress;
  if (nvmeAddress === undefined || isIP(nvmeAddress) === 0) {
    throw new InvalidInputError(
      nvmeAddress === undefined
        ? 'no NVMe/TCP address: set the StorageClass parameter nvmeAddress or the driver flag --nvme-address'
        : `parameter nvmeAddress="${nvmeAddress.slice(0, 60)}" must be an IP address (nodes connect to a literal IP)`,
      { field: 'parameters.nvmeAddress' },
    );
  }
  const fsType = parameters['fsType'] || undefined;
  if (fsType !== undefined && fsType !== 'ext4' && fsType !== 'xfs') {
    throw new InvalidInputError(`parameter fsType="${fsType.slice(0, 20)}" must be ext4 or xfs`, {
      field: 'parameters.fsType',
    });
  }
  const pvcName = parameters[PVC_NAME_KEY];
  const pvcNamespace = parameters[PVC_NAMESPACE_KEY];
  for (const [key, value] of [
    [PVC_NAME_KEY, pvcName],
    [PVC_NAMESPACE_KEY, pvcNamespace],
  ] as const) {
    if (value !== undefined && !K8S_NAME.test(value)) {
      throw new InvalidInputError(
        `parameter ${key}="${value.slice(0, 60)}" is not a Kubernetes object name`,
        { field: `parameters.${key}` },
      );
    }
  }
  return {
    volumePath,
    mountPoint: poolMountPoint(volumePath),
    nvmeAddress,
    nvmePort: integer(parameters, 'nvmePort', 1, 65535, defaults.nvmePort),
    ctrlLossTmo: integer(parameters, 'ctrlLossTmo', -1, 86_400, CONNECTION_DEFAULTS.ctrlLossTmo),
    reconnectDelay: integer(
      parameters,
      'reconnectDelay',
      1,
      3600,
      CONNECTION_DEFAULTS.reconnectDelay,
    ),
    keepAliveTmo: integer(parameters, 'keepAliveTmo', 0, 3600, CONNECTION_DEFAULTS.keepAliveTmo),
    migrationTimeoutSeconds: parseMigrationTimeoutSeconds(parameters['migrationTimeoutSeconds']),
    fsType,
    mkfsOptions: mkfsOptionsOf(parameters['mkfsOptions']),
    pvcName,
    pvcNamespace,
  };
}

/** What NodeStage needs to connect, plus what events need to find the PVC. */
export function volumeContext(params: VolumeParameters, nqn: string): Record<string, string> {
  const context: Record<string, string> = {
    nqn,
    nvmeAddress: params.nvmeAddress,
    nvmePort: String(params.nvmePort),
    volumePath: params.volumePath,
    ctrlLossTmo: String(params.ctrlLossTmo),
    reconnectDelay: String(params.reconnectDelay),
    keepAliveTmo: String(params.keepAliveTmo),
    migrationTimeoutSeconds: String(params.migrationTimeoutSeconds),
  };
  if (params.fsType !== undefined) context['fsType'] = params.fsType;
  if (params.mkfsOptions !== undefined) context['mkfsOptions'] = params.mkfsOptions;
  if (params.pvcName !== undefined) context[PVC_NAME_KEY] = params.pvcName;
  if (params.pvcNamespace !== undefined) context[PVC_NAMESPACE_KEY] = params.pvcNamespace;
  return context;
}

function mkfsOptionsOf(value: string | undefined): string | undefined {
  const tokens = parseMkfsOptions(value, 'parameters.mkfsOptions');
  return tokens.length === 0 ? undefined : tokens.join(' ');
}
