// errors.ts: the one table from domain error to gRPC status (STYLE.md rule 5).
//
// The only module that imports gRPC status codes for error mapping. Known errors keep their
// message (written for operators); anything else becomes INTERNAL naming the request id, and its
// stack goes to the log, never to the caller.
import { status as Status, type StatusObject, Metadata } from '@grpc/grpc-js';

import { DriverError, type ErrorCode } from '../errors.js';

/** Exhaustive: adding an ErrorCode without a status here fails to compile. */
export const STATUS_BY_ERROR_CODE: Readonly<Record<ErrorCode, Status>> = {
  INVALID_INPUT: Status.INVALID_ARGUMENT,
  INVALID_CONFIG: Status.INTERNAL,
  NOT_FOUND: Status.NOT_FOUND,
  ALREADY_EXISTS: Status.ALREADY_EXISTS,
  // CSI: published elsewhere without a MULTI_NODE capability -> FAILED_PRECONDITION.
  ATTACHMENT_CONFLICT: Status.FAILED_PRECONDITION,
  // CSI: an operation is already pending for the volume -> ABORTED; the CO retries.
  VOLUME_BUSY: Status.ABORTED,
  // CSI: an invalid starting_token -> ABORTED (the CO restarts the listing).
  INVALID_LIST_TOKEN: Status.ABORTED,
  FAILED_PRECONDITION: Status.FAILED_PRECONDITION,
  RESOURCE_EXHAUSTED: Status.RESOURCE_EXHAUSTED,
  OUT_OF_RANGE: Status.OUT_OF_RANGE,
  NOT_IMPLEMENTED: Status.UNIMPLEMENTED,
  RDS_UNAVAILABLE: Status.UNAVAILABLE,
  // A follower replica: retryable; the leader (or the next one) answers.
  NOT_LEADER: Status.UNAVAILABLE,
  RDS_COMMAND_FAILED: Status.INTERNAL,
  RDS_PARSE_FAILED: Status.INTERNAL,
  // Not final (csi-conformance.md 1.2): the change may exist, so the CO must keep tracking it.
  RDS_UNCONFIRMED: Status.UNAVAILABLE,
  // Sidecars treat DEADLINE_EXCEEDED as "may still be running" and retry; that is the truth
  // after we abandon a step (csi-conformance.md 1.2).
  OPERATION_TIMEOUT: Status.DEADLINE_EXCEEDED,
  OPERATION_CANCELLED: Status.CANCELLED,
  UNSAFE_OPERATION: Status.FAILED_PRECONDITION,
  // A host tool refused a step (mkfs, mount, nvme, ...): not a bug, and final, since the node
  // undoes what the call did; it stays refused until someone acts on the tool's words (an option,
  // the node image, a process holding the device, a filesystem check).
  HOST_COMMAND_FAILED: Status.FAILED_PRECONDITION,
  HOST_TOOL_MISSING: Status.FAILED_PRECONDITION,
  // The same answer as the node's own in-use checks give for a device something still holds.
  HOST_DEVICE_BUSY: Status.FAILED_PRECONDITION,
  HOST_FILESYSTEM_DAMAGED: Status.FAILED_PRECONDITION,
  // An RDS or network outage: nothing was connected, and a retry may succeed once it is back.
  HOST_TARGET_UNREACHABLE: Status.UNAVAILABLE,
  INTERNAL: Status.INTERNAL,
};

export interface MappedError {
  readonly status: StatusObject;
  /** True when the error was not a DriverError: a bug, to be logged with its stack. */
  readonly unexpected: boolean;
}

/**
 * Raw control characters, line and paragraph separators and bidi overrides in caller input that a
 * message quotes: the message lands in events and `kubectl describe`, where they would break it
 * into fake lines or spoof its text (STYLE.md rule 6). Written as `\uXXXX` instead.
 */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function printable(message: string): string {
  return message.replace(
    UNPRINTABLE,
    (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/** Maps anything thrown by a handler to the status the caller receives. */
export function toGrpcStatus(error: unknown, requestId: string): MappedError {
  const metadata = new Metadata();
  metadata.set('x-request-id', requestId);
  if (error instanceof DriverError) {
    return {
      status: {
        code: STATUS_BY_ERROR_CODE[error.code],
        details: printable(error.message),
        metadata,
      },
      unexpected: false,
    };
  }
  return {
    status: {
      code: Status.INTERNAL,
      details: `internal error in the driver (request ${requestId}); the driver log has the details`,
      metadata,
    },
    unexpected: true,
  };
}

/** `Status.ABORTED` -> `'ABORTED'`, for log lines and metrics labels. */
export function statusName(code: Status): string {
  return Status[code] ?? `CODE_${code}`;
}
