// exec-context.ts: what a menu executor may use: the state, settings, logs, counters, files.
import type { DeviceLog } from './device-log.js';
import type { StateStore } from './state-store.js';
import type { TrafficMonitor } from './traffic.js';

/** Device behaviours the sources leave open (routeros-cli.md 8), exposed as settings. */
export interface DeviceSettings {
  /** `/disk remove` also deletes the backing file ([doc] says yes; unverified). */
  readonly removeDeletesFile: boolean;
  /** `/disk set file-size=` may shrink (unverified; refused by default). */
  readonly allowShrink: boolean;
  /** `remove`/`set` with an empty `[find ...]` prints `no such item` ([doc]) instead of nothing. */
  readonly emptyFindIsError: boolean;
}

export interface ExecContext {
  readonly store: StateStore;
  readonly settings: DeviceSettings;
  readonly deviceLog: DeviceLog;
  readonly traffic: TrafficMonitor;
  /** Pool bytes not taken by files (capped by the pool-full fault). */
  freeBytes(): number;
  /** Files were created, resized or removed: recount pool usage. */
  usageChanged(): void;
  /** Copies content keeping holes, reflinking where possible. */
  copyFile(source: string, target: string): Promise<void>;
  now(): number;
}
