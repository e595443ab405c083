// errors.ts: the driver's domain errors. They know nothing of gRPC; src/csi/errors.ts maps them.
//
// Every failure the driver can report has one class here with a stable `code` (for logs, tests
// and dashboards) and an optional `cause` (the foreign error an adapter translated). Messages
// follow STYLE.md rule 6: what failed, for which object, and what to do next; never a secret,
// a stack or a raw multi-line device dump.

/** Codes of a failed host command on a node, by what the operator does about it. */
export const HOST_COMMAND_CODES = [
  'HOST_COMMAND_FAILED',
  'HOST_TOOL_MISSING',
  'HOST_DEVICE_BUSY',
  'HOST_FILESYSTEM_DAMAGED',
  'HOST_TARGET_UNREACHABLE',
] as const;

export type HostCommandCode = (typeof HOST_COMMAND_CODES)[number];

/** Stable machine-readable error codes. Never rename one: logs and alerts match on them. */
export const ERROR_CODES = [
  'INVALID_INPUT',
  'INVALID_CONFIG',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'ATTACHMENT_CONFLICT',
  'VOLUME_BUSY',
  'INVALID_LIST_TOKEN',
  'FAILED_PRECONDITION',
  'RESOURCE_EXHAUSTED',
  'OUT_OF_RANGE',
  'NOT_IMPLEMENTED',
  'RDS_UNAVAILABLE',
  'NOT_LEADER',
  'RDS_COMMAND_FAILED',
  'RDS_PARSE_FAILED',
  'RDS_UNCONFIRMED',
  'OPERATION_TIMEOUT',
  'OPERATION_CANCELLED',
  'UNSAFE_OPERATION',
  ...HOST_COMMAND_CODES,
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

interface DriverErrorOptions {
  readonly cause?: unknown;
}

/** Base class of every error the driver raises on purpose. */
export abstract class DriverError extends Error {
  abstract readonly code: ErrorCode;

  constructor(message: string, options: DriverErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
  }
}

/** A request or value that can never succeed as given (a caller's mistake). */
export class InvalidInputError extends DriverError {
  readonly code = 'INVALID_INPUT';
  /** The request field or parameter at fault, e.g. `volume_capabilities[0].access_mode`. */
  readonly field: string | undefined;

  constructor(message: string, options: DriverErrorOptions & { field?: string } = {}) {
    super(message, options);
    this.field = options.field;
  }
}

/** Configuration that stops the driver at start; `problems` holds one line per bad value. */
export class InvalidConfigError extends DriverError {
  readonly code = 'INVALID_CONFIG';
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(
      problems.length === 1
        ? `invalid configuration: ${problems[0]}`
        : `invalid configuration (${problems.length} problems):\n  - ${problems.join('\n  - ')}`,
    );
    this.problems = problems;
  }
}

export class NotFoundError extends DriverError {
  readonly code = 'NOT_FOUND';
}

/** The name is taken by an object that does not match the request (CSI ALREADY_EXISTS). */
export class AlreadyExistsError extends DriverError {
  readonly code = 'ALREADY_EXISTS';
}

/** An attach refused because another node holds the volume and its access mode forbids two. */
export class AttachmentConflictError extends DriverError {
  readonly code = 'ATTACHMENT_CONFLICT';
}

/** Another operation on the same volume is running; the caller retries later (CSI ABORTED). */
export class VolumeBusyError extends DriverError {
  readonly code = 'VOLUME_BUSY';
}

/** A ListVolumes/ListSnapshots starting_token this driver did not issue (CSI: ABORTED). */
export class InvalidListTokenError extends DriverError {
  readonly code = 'INVALID_LIST_TOKEN';
}

/** The system is not in a state where the request can run (CSI FAILED_PRECONDITION). */
export class FailedPreconditionError extends DriverError {
  readonly code = 'FAILED_PRECONDITION';
}

/** Out of space or another finite resource (CSI RESOURCE_EXHAUSTED). */
export class ResourceExhaustedError extends DriverError {
  readonly code = 'RESOURCE_EXHAUSTED';
}

/** A size or count outside what the request's own range allows (CSI OUT_OF_RANGE). */
export class OutOfRangeError extends DriverError {
  readonly code = 'OUT_OF_RANGE';
}

/** A capability this driver does not offer, or not in this mode. */
export class NotImplementedError extends DriverError {
  readonly code = 'NOT_IMPLEMENTED';
}

/** The RDS cannot be reached right now (connection refused, dropped, handshake failed). */
export class RdsUnavailableError extends DriverError {
  readonly code = 'RDS_UNAVAILABLE';
}

/** This controller replica is a follower: only the leader changes volumes (leader election). */
export class NotLeaderError extends DriverError {
  readonly code = 'NOT_LEADER';
}

/** The RDS answered a command with an error; `deviceMessage` is its own text, one line. */
export class RdsCommandError extends DriverError {
  readonly code = 'RDS_COMMAND_FAILED';
  readonly deviceMessage: string;

  constructor(message: string, deviceMessage: string, options: DriverErrorOptions = {}) {
    super(message, options);
    this.deviceMessage = deviceMessage;
  }
}

/** RouterOS output did not have the shape a parser expects; never guessed around. */
export class RdsParseError extends DriverError {
  readonly code = 'RDS_PARSE_FAILED';
  readonly line: number | undefined;

  constructor(message: string, options: DriverErrorOptions & { line?: number } = {}) {
    super(message, options);
    this.line = options.line;
  }
}

/**
 * The RDS accepted a change but what it holds afterwards could not be read: the change may have
 * happened. Retryable, and never final to the sidecars, which then keep tracking the operation
 * (a final answer to CreateVolume tells the provisioner no volume exists: it would leak).
 */
export class RdsUnconfirmedError extends DriverError {
  readonly code = 'RDS_UNCONFIRMED';
}

/** An I/O step ran past its deadline and was abandoned (its child process killed). */
export class OperationTimeoutError extends DriverError {
  readonly code = 'OPERATION_TIMEOUT';
}

/** The caller went away (gRPC cancellation or deadline) before the operation finished. */
export class OperationCancelledError extends DriverError {
  readonly code = 'OPERATION_CANCELLED';
}

/** A destructive step refused because its evidence or scope check failed (STYLE.md rule 7). */
export class UnsafeOperationError extends DriverError {
  readonly code = 'UNSAFE_OPERATION';
}

/** What a failed host command was: the program, how it ended and what it said. */
export interface HostCommandFacts {
  /** The program, e.g. `mount`, `mkfs.ext4`, `nvme`. */
  readonly command: string;
  /** Its exit status; null when a signal ended it or it could not start. */
  readonly exitCode: number | null;
  /**
   * The line of the tool's output that says what went wrong (not its version banner, usage text
   * or a "see dmesg" hint): one line, bounded; empty when it printed nothing.
   */
  readonly toolMessage: string;
}

/**
 * A command the node ran on the host (mount, mkfs, nvme, losetup, blkid, ...) failed. The message
 * names the step, quotes the tool and says what to check; the subclasses are the failures whose
 * kind the tool's words make plain.
 */
export class HostCommandError extends DriverError {
  readonly code: HostCommandCode = 'HOST_COMMAND_FAILED';
  readonly command: string;
  readonly exitCode: number | null;
  readonly toolMessage: string;

  constructor(message: string, facts: HostCommandFacts, options: DriverErrorOptions = {}) {
    super(message, options);
    this.command = facts.command;
    this.exitCode = facts.exitCode;
    this.toolMessage = facts.toolMessage;
  }
}

/** The program is not installed on the node, or may not be run there: the image must provide it. */
export class HostToolMissingError extends HostCommandError {
  override readonly code = 'HOST_TOOL_MISSING';
}

/** The device or mount point is in use on the node (an open file, another mount, a holder). */
export class HostDeviceBusyError extends HostCommandError {
  override readonly code = 'HOST_DEVICE_BUSY';
}

/** The tool found the volume's filesystem damaged: it needs a check (fsck) before it is used. */
export class HostFilesystemDamagedError extends HostCommandError {
  override readonly code = 'HOST_FILESYSTEM_DAMAGED';
}

/** The node could not reach the RDS's NVMe/TCP target (refused, unreachable, timed out). */
export class HostTargetUnreachableError extends HostCommandError {
  override readonly code = 'HOST_TARGET_UNREACHABLE';
}

/** A broken invariant inside the driver: a bug, reported as INTERNAL. */
export class InternalError extends DriverError {
  readonly code = 'INTERNAL';
}

/** Short, single-line description of anything thrown, for logs (never for callers). */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return `non-error thrown: ${String(error)}`;
}

/** The error an aborted signal carries, as an Error (an AbortSignal's reason may be anything). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error
    ? reason
    : new OperationCancelledError('the operation was cancelled');
}
