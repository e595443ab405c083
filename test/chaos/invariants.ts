// invariants.ts: what must hold after a chaos run has converged, read from the device (the
// emulator's own state and files) and from the API server, never from the driver's memory.
import type { CoreV1Api, StorageV1Api, V1PersistentVolume } from '@kubernetes/client-node';

import { ATTACHMENT_ANNOTATION } from '../../src/k8s/pv-attachment-store.js';
import type { Emulator } from '../../src/rds/emulator/emulator.js';
import { emulatorFiles } from '../helpers/emulator-fixture.js';
import { DRIVER, type Ledger, type Mode, type VolumePlan } from './workload.js';

/** The nodes a PV's attachment record holds (our annotation); [] when detached or absent. */
export function recordedNodes(pv: V1PersistentVolume): string[] {
  const raw = pv.metadata?.annotations?.[ATTACHMENT_ANNOTATION];
  if (raw === undefined) return [];
  const record = JSON.parse(raw) as { state?: string; context?: { nodes?: string[] } };
  return record.context?.nodes ?? [];
}

export function limitOf(mode: Mode): number {
  return mode === 'rwo' ? 1 : 2;
}

/** Fencing, sampled while the run is going: never more nodes than the access mode allows. */
export async function sampleFencing(
  core: CoreV1Api,
  modes: ReadonlyMap<string, Mode>,
  violations: string[],
): Promise<void> {
  const pvs = await core.listPersistentVolume();
  for (const pv of pvs.items) {
    const mode = modes.get(pv.metadata?.name ?? '');
    if (mode === undefined) continue;
    const nodes = recordedNodes(pv);
    if (nodes.length > limitOf(mode)) {
      violations.push(
        `${pv.metadata?.name ?? ''} (${mode}) recorded on ${nodes.join(', ')} at once`,
      );
    }
  }
}

/** The disk slots and image files on the device now: what the next run counts as earlier. */
export function deviceLeftovers(emulator: Emulator): { slots: string[]; files: string[] } {
  return {
    slots: emulator
      .state()
      .disks.map((d) => d.slot)
      .filter((slot) => slot.startsWith('pvc-')),
    files: emulatorFiles({ emulator }).filter((file) => file.endsWith('.img')),
  };
}

/** After convergence: disks, files, PVs and attachments agree with what the runner was told. */
export async function checkConverged(options: {
  readonly emulator: Emulator;
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly plans: readonly VolumePlan[];
  readonly ledger: Ledger;
  /**
   * What earlier runs left on the device and already judged: disk slots (live volumes, or a failed
   * run's leaks) and image files. A failed run's leftovers are reported by that run only.
   */
  readonly earlier: { readonly slots: ReadonlySet<string>; readonly files: ReadonlySet<string> };
}): Promise<string[]> {
  const { emulator, core, storage, plans, ledger } = options;
  const out: string[] = [];
  const ours = new Set(plans.map((p) => p.volumeId));
  const state = emulator.state();
  // An emulator that could not run a command (a bug of its own) answered a failure the driver
  // might have handled correctly: the run still fails, so the emulator bug is seen.
  for (const e of emulator.commands.internalErrors())
    out.push(`emulator internal error running ${e.line}: ${e.message}`);
  const disks = state.disks.filter((d) => d.slot.startsWith('pvc-'));
  const bySlot = new Map<string, number>();
  for (const disk of disks) bySlot.set(disk.slot, (bySlot.get(disk.slot) ?? 0) + 1);

  // Every disk belongs to a live volume of this run or an earlier one; none is duplicated.
  for (const [slot, count] of bySlot) {
    if (count > 1) out.push(`duplicated disk: ${String(count)} disks for ${slot}`);
    if (!ledger.live.has(slot) && !options.earlier.slots.has(slot)) {
      out.push(
        `leaked disk ${slot}: ${ours.has(slot) ? (ledger.deleted.has(slot) ? 'DeleteVolume succeeded' : 'CreateVolume never succeeded') : 'no run created it'}`,
      );
    }
  }
  // Every live volume has its disk and its PV.
  const pvs = await core.listPersistentVolume();
  // A deleted PV may linger as Terminating: the apiserver adds the pv-protection finalizer, and
  // the controller that removes it (kube-controller-manager) is not running here.
  const pvByName = new Map(
    pvs.items
      .filter(
        (pv) => pv.spec?.csi?.driver === DRIVER && pv.metadata?.deletionTimestamp === undefined,
      )
      .map((pv) => [pv.metadata?.name ?? '', pv]),
  );
  for (const id of ledger.live) {
    if (!bySlot.has(id)) out.push(`lost disk: live volume ${id} has no disk on the RDS`);
    if (!pvByName.has(id)) out.push(`live volume ${id} has no PV`);
  }
  for (const id of ledger.deleted)
    if (pvByName.has(id)) out.push(`deleted volume ${id} still has a PV`);

  // Every file belongs to a disk: no image left behind by an interrupted create or delete.
  const diskFiles = new Set(state.disks.map((d) => d.filePath));
  for (const file of emulatorFiles({ emulator })) {
    if (file.endsWith('.img') && !diskFiles.has(file) && !options.earlier.files.has(file))
      out.push(`leaked file ${file} (no disk uses it)`);
  }

  // Attachment records match the VolumeAttachments (the attacher's truth) for this run's volumes.
  const vas = await storage.listVolumeAttachment();
  const vaNodes = new Map<string, Set<string>>();
  for (const va of vas.items) {
    if (va.spec.attacher !== DRIVER || va.status?.attached !== true) continue;
    const pv = va.spec.source.persistentVolumeName ?? '';
    const set = vaNodes.get(pv) ?? new Set<string>();
    set.add(va.spec.nodeName);
    vaNodes.set(pv, set);
  }
  for (const plan of plans) {
    if (!ledger.live.has(plan.volumeId)) continue;
    const pv = pvByName.get(plan.volumeId);
    const recorded = pv === undefined ? [] : recordedNodes(pv);
    const expected = [...(vaNodes.get(plan.volumeId) ?? [])].sort();
    const told = [...(ledger.attached.get(plan.volumeId) ?? [])].sort();
    if (expected.join(',') !== told.join(',')) {
      out.push(
        `${plan.volumeId}: VolumeAttachments say [${expected.join(', ')}], the runner was told [${told.join(', ')}]`,
      );
    }
    if ([...recorded].sort().join(',') !== expected.join(',')) {
      out.push(
        `${plan.volumeId} (${plan.mode}): the driver records [${recorded.join(', ')}], VolumeAttachments say [${expected.join(', ')}]`,
      );
    }
    if (recorded.length > limitOf(plan.mode))
      out.push(`${plan.volumeId} (${plan.mode}) recorded on ${recorded.join(', ')}`);
  }
  return out;
}
