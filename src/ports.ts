// ports.ts: the capabilities the driver's core needs from the world, as interfaces.
//
// Adapters implement these; src/main.ts wires concrete ones in; tests pass real ones or small
// in-memory fakes (STYLE.md rule 3). Nothing here imports from elsewhere in src/.

/** Opaque handle of a scheduled callback. */
export type TimerHandle = unknown;

/**
 * Time as a port. The same object drives our own timeouts and `createActor({ clock })`, so one
 * xstate `SimulatedClock` (which has all three members) can drive a whole test.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
  /** Runs `fn` once after `ms`; returns a handle for clearTimeout. */
  setTimeout(fn: (...args: unknown[]) => void, ms: number): TimerHandle;
  /** Cancels a pending callback; a no-op for one that already ran or was cleared. */
  clearTimeout(handle: TimerHandle): void;
}

/** Fields a log line may carry; names are fixed (STYLE.md rule 10). */
export interface LogFields {
  readonly [key: string]: unknown;
}

/**
 * Structured logger. `child` binds fields (component, requestId, ...) to every line it writes.
 * Implementations redact secrets (CSI secrets, passwords, keys) before anything is written.
 */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  child(fields: LogFields): Logger;
}

/** One dependency's health as last observed. */
export interface ComponentHealth {
  readonly component: string;
  readonly healthy: boolean;
  /** Why it is unhealthy, in words an operator can act on; empty when healthy. */
  readonly reason: string;
  /** When the status last changed (ms since epoch). */
  readonly since: number;
}

/**
 * Cached readiness of the driver's dependencies. Reading it never performs I/O: a CSI Probe or
 * an HTTP health check must not open an SSH session (field-lessons #7; issue 3).
 */
export interface HealthSource {
  /** Current status of every registered component; ready when all are healthy. */
  snapshot(): { readonly ready: boolean; readonly components: readonly ComponentHealth[] };
}
