// identity-service.ts: the CSI Identity service: who this plugin is and whether it can work.
import type { IdentityHandlers } from './generated/csi/v1/Identity.js';
import type { PluginCapability } from './generated/csi/v1/PluginCapability.js';
import type { HealthSource } from '../ports.js';
import { wrapUnary, type RpcDeps } from './rpc-handler.js';
import type { TopologySegment } from './topology.js';

export interface IdentityDeps extends RpcDeps {
  readonly driverName: string;
  readonly version: string;
  /** Whether this process serves the Controller service (mode controller or all). */
  readonly servesController: boolean;
  /** Read, never probed: Probe does no I/O (issue 3). */
  readonly health: HealthSource;
  /** With a segment, volumes are reachable only from its nodes (VOLUME_ACCESSIBILITY_CONSTRAINTS). */
  readonly topology?: TopologySegment;
}

export function createIdentityService(deps: IdentityDeps): IdentityHandlers {
  const capabilities: PluginCapability[] = [];
  if (deps.servesController) capabilities.push({ service: { type: 'CONTROLLER_SERVICE' } });
  if (deps.topology !== undefined)
    capabilities.push({ service: { type: 'VOLUME_ACCESSIBILITY_CONSTRAINTS' } });
  return {
    GetPluginInfo: wrapUnary(
      'GetPluginInfo',
      () => Promise.resolve({ name: deps.driverName, vendorVersion: deps.version, manifest: {} }),
      deps,
    ),
    GetPluginCapabilities: wrapUnary(
      'GetPluginCapabilities',
      () => Promise.resolve({ capabilities }),
      deps,
    ),
    Probe: wrapUnary(
      'Probe',
      (_request, { log }) => {
        const { ready, components } = deps.health.snapshot();
        if (!ready) {
          const reasons = components
            .filter((c) => !c.healthy)
            .map((c) => `${c.component}: ${c.reason}`);
          log.debug('probe: not ready', { reasons });
        }
        return Promise.resolve({ ready: { value: ready } });
      },
      deps,
    ),
  };
}
