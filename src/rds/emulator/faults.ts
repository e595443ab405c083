// faults.ts: what the emulator does wrong on purpose: latency, device errors, dropped
// connections, hangs, corrupted output, slow handshakes, refused connections, a full pool.
//
// Faults are armed through this object (in-process tests) or the admin HTTP endpoint (bin), and
// each one-shot fault is consumed by the first matching command. Nothing here touches SSH: the
// server asks `plan()` what to do with each command and obeys.

/** Reads (print, monitor) and writes (add, set, remove) are timed and faulted separately. */
export type CommandClass = 'read' | 'mutate';

export interface Latency {
  readonly baseMs: number;
  /** Uniform jitter, +/- this much. */
  readonly jitterMs: number;
}

export interface LatencyProfile {
  readonly read: Latency;
  readonly mutate: Latency;
  /** Extra time for `/disk add`, per GiB of file-size (creating a large file is slower). */
  readonly addPerGiBMs: number;
}

export const LATENCY_OFF: LatencyProfile = {
  read: { baseMs: 0, jitterMs: 0 },
  mutate: { baseMs: 0, jitterMs: 0 },
  addPerGiBMs: 0,
};

/** Device timings from routeros-cli.md section 7 (print 50-100 ms, add 0.5-1 s per GiB...). */
export const LATENCY_REALISTIC: LatencyProfile = {
  read: { baseMs: 75, jitterMs: 25 },
  mutate: { baseMs: 500, jitterMs: 100 },
  addPerGiBMs: 30,
};

/** What a command matches: its class, or a substring/regex of its text. */
export interface FaultMatch {
  readonly commandClass?: CommandClass;
  readonly pattern?: string;
}

export type OneShotFault =
  | { readonly kind: 'fail'; readonly message: string }
  | { readonly kind: 'drop-before' }
  | { readonly kind: 'drop-after' }
  | { readonly kind: 'hang' }
  | { readonly kind: 'truncate' }
  | { readonly kind: 'garble' };

/** A fault waiting for its commands (as the admin endpoint lists it). */
export interface ArmedFault {
  fault: OneShotFault;
  match: FaultMatch;
  remaining: number;
  /** Matching commands still to let through before the fault fires. */
  skip: number;
}

export interface CommandPlan {
  readonly delayMs: number;
  readonly fault: OneShotFault | undefined;
}

export class FaultInjector {
  private armed: ArmedFault[] = [];
  private latencyProfile: LatencyProfile;
  /** Delay before the SSH handshake begins. */
  handshakeDelayMs = 0;
  /** Close every new TCP connection at once. */
  refuseConnections = false;
  /** Exit status of a command that fails with a device error (the device's is unknown: 0 or 1). */
  errorExitStatus: 0 | 1;
  /** When set, reported free space never exceeds this (0: the pool is full). */
  freeBytesCap: number | undefined;

  constructor(
    options: { latency?: LatencyProfile; errorExitStatus?: 0 | 1 } = {},
    private readonly random: () => number = Math.random,
  ) {
    this.latencyProfile = options.latency ?? LATENCY_OFF;
    this.errorExitStatus = options.errorExitStatus ?? 0;
  }

  get latency(): LatencyProfile {
    return this.latencyProfile;
  }

  setLatency(profile: LatencyProfile): void {
    this.latencyProfile = profile;
  }

  /** Arms `fault` for the next `count` commands that match, after letting `skip` of them pass. */
  arm(
    fault: OneShotFault,
    options: { count?: number; match?: FaultMatch; skip?: number } = {},
  ): void {
    this.armed.push({
      fault,
      match: options.match ?? {},
      remaining: options.count ?? 1,
      skip: options.skip ?? 0,
    });
  }

  /** Clears every fault and restores the given latency (default: none). */
  reset(latency: LatencyProfile = LATENCY_OFF): void {
    this.armed = [];
    this.latencyProfile = latency;
    this.handshakeDelayMs = 0;
    this.refuseConnections = false;
    this.freeBytesCap = undefined;
  }

  /** Faults still armed, for the admin endpoint. */
  pending(): readonly ArmedFault[] {
    return this.armed.map((a) => ({ ...a }));
  }

  /** Decides delay and fault for one command; consumes the first matching armed fault. */
  plan(commandLine: string, commandClass: CommandClass, addGiB = 0): CommandPlan {
    const latency = this.latencyProfile[commandClass];
    const jitter = latency.jitterMs === 0 ? 0 : (this.random() * 2 - 1) * latency.jitterMs;
    const delayMs = Math.max(
      0,
      Math.round(latency.baseMs + jitter + addGiB * this.latencyProfile.addPerGiBMs),
    );
    const index = this.armed.findIndex((a) => matches(a.match, commandLine, commandClass));
    if (index === -1) return { delayMs, fault: undefined };
    const armed = this.armed[index]!;
    if (armed.skip > 0) {
      armed.skip--;
      return { delayMs, fault: undefined };
    }
    armed.remaining--;
    if (armed.remaining <= 0) this.armed.splice(index, 1);
    return { delayMs, fault: armed.fault };
  }
}

function matches(match: FaultMatch, commandLine: string, commandClass: CommandClass): boolean {
  if (match.commandClass !== undefined && match.commandClass !== commandClass) return false;
  if (match.pattern !== undefined && !commandLine.includes(match.pattern)) return false;
  return true;
}

/** Replaces a third of the characters with noise, keeping the length (garbled output). */
export function garble(text: string, random: () => number = Math.random): string {
  const noise = '#@%&*?!~^';
  return [...text]
    .map((ch) =>
      ch !== '\r' && ch !== '\n' && random() < 0.33
        ? noise[Math.floor(random() * noise.length)]
        : ch,
    )
    .join('');
}
