import { status as Status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';

import * as errors from '../errors.js';
import { ERROR_CODES } from '../errors.js';
import { STATUS_BY_ERROR_CODE, statusName, toGrpcStatus } from './errors.js';

const FACTS = { command: 'mount', exitCode: 32, toolMessage: 'mount: no' };

/** Every concrete DriverError subclass, built with a sample message. */
const SAMPLES: errors.DriverError[] = [
  new errors.InvalidInputError('bad field', { field: 'name' }),
  new errors.InvalidConfigError(['--mode: bad']),
  new errors.NotFoundError('no volume'),
  new errors.AlreadyExistsError('taken'),
  new errors.AttachmentConflictError('on node a'),
  new errors.VolumeBusyError('busy'),
  new errors.InvalidListTokenError('bad token'),
  new errors.FailedPreconditionError('not now'),
  new errors.ResourceExhaustedError('pool full'),
  new errors.OutOfRangeError('too big'),
  new errors.NotImplementedError('later'),
  new errors.RdsUnavailableError('ssh down'),
  new errors.NotLeaderError('follower'),
  new errors.RdsCommandError('device said no', 'failure: no'),
  new errors.RdsParseError('garbled', { line: 3 }),
  new errors.RdsUnconfirmedError('accepted, unreadable'),
  new errors.OperationTimeoutError('too slow'),
  new errors.OperationCancelledError('gone'),
  new errors.UnsafeOperationError('refused'),
  new errors.HostCommandError('mount failed', FACTS),
  new errors.HostToolMissingError('no mkfs.xfs', FACTS),
  new errors.HostDeviceBusyError('target is busy', FACTS),
  new errors.HostFilesystemDamagedError('needs fsck', FACTS),
  new errors.HostTargetUnreachableError('connection refused', FACTS),
  new errors.InternalError('bug'),
];

describe('error to gRPC status table', () => {
  it('covers every error code with exactly one sample class', () => {
    expect(SAMPLES.map((e) => e.code).sort()).toEqual([...ERROR_CODES].sort());
  });

  it('maps each domain error to its CSI status and keeps its message', () => {
    const expected: Record<string, Status> = {
      InvalidInputError: Status.INVALID_ARGUMENT,
      InvalidConfigError: Status.INTERNAL,
      NotFoundError: Status.NOT_FOUND,
      AlreadyExistsError: Status.ALREADY_EXISTS,
      AttachmentConflictError: Status.FAILED_PRECONDITION,
      VolumeBusyError: Status.ABORTED,
      InvalidListTokenError: Status.ABORTED,
      FailedPreconditionError: Status.FAILED_PRECONDITION,
      ResourceExhaustedError: Status.RESOURCE_EXHAUSTED,
      OutOfRangeError: Status.OUT_OF_RANGE,
      NotImplementedError: Status.UNIMPLEMENTED,
      RdsUnavailableError: Status.UNAVAILABLE,
      NotLeaderError: Status.UNAVAILABLE,
      RdsCommandError: Status.INTERNAL,
      RdsParseError: Status.INTERNAL,
      RdsUnconfirmedError: Status.UNAVAILABLE,
      OperationTimeoutError: Status.DEADLINE_EXCEEDED,
      OperationCancelledError: Status.CANCELLED,
      UnsafeOperationError: Status.FAILED_PRECONDITION,
      HostCommandError: Status.FAILED_PRECONDITION,
      HostToolMissingError: Status.FAILED_PRECONDITION,
      HostDeviceBusyError: Status.FAILED_PRECONDITION,
      HostFilesystemDamagedError: Status.FAILED_PRECONDITION,
      HostTargetUnreachableError: Status.UNAVAILABLE,
      InternalError: Status.INTERNAL,
    };
    for (const error of SAMPLES) {
      const { status, unexpected } = toGrpcStatus(error, 'req-1');
      expect({ name: error.name, code: status.code }).toEqual({
        name: error.name,
        code: expected[error.name],
      });
      expect(status.details).toBe(error.message);
      expect(unexpected).toBe(false);
      expect(status.metadata.get('x-request-id')).toEqual(['req-1']);
    }
  });

  it('turns anything else into INTERNAL naming the request, without its message or stack', () => {
    const { status, unexpected } = toGrpcStatus(
      new TypeError('cannot read x of undefined at /src/a.ts:1'),
      'req-9',
    );
    expect(status.code).toBe(Status.INTERNAL);
    expect(status.details).toBe(
      'internal error in the driver (request req-9); the driver log has the details',
    );
    expect(unexpected).toBe(true);
    expect(toGrpcStatus('a string', 'r').status.code).toBe(Status.INTERNAL);
  });

  it('names statuses for logs', () => {
    expect(statusName(Status.ABORTED)).toBe('ABORTED');
    expect(statusName(STATUS_BY_ERROR_CODE.VOLUME_BUSY)).toBe('ABORTED');
  });

  it('keeps the cause of a translated error', () => {
    const cause = new Error('ECONNRESET');
    expect(new errors.RdsUnavailableError('lost', { cause }).cause).toBe(cause);
  });

  it('writes control characters and bidi overrides of quoted input as escapes, one line', () => {
    const error = new errors.InvalidInputError('parameter volumePath="a\n/system reboot\u202e"');
    expect(toGrpcStatus(error, 'r1').status.details).toBe(
      'parameter volumePath="a\\u000a/system reboot\\u202e"',
    );
  });
});
