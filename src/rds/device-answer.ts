// device-answer.ts: decides whether a command's answer is a device error, and which one.
//
// RouterOS prints errors on stdout, possibly with exit status 0 (field-lessons #11;
// routeros-cli.md 1.1): both streams and the status are read, and a known error in either stream
// fails the command whatever the status. Messages keep the device's own text: one printable line
// of bounded length, whatever the device sent (a gRPC status message is a header; STYLE.md rule 6).
import {
  AlreadyExistsError,
  InvalidInputError,
  NotFoundError,
  RdsCommandError,
  ResourceExhaustedError,
  VolumeBusyError,
  type DriverError,
} from '../errors.js';

export interface ShellResult {
  readonly stdout: string;
  readonly stderr: string;
  /** undefined when the channel closed without an exit status. */
  readonly exitCode: number | undefined;
}

const ERROR_LINE =
  /^(failure: .*|bad command name .*|expected end of command.*|syntax error.*|invalid value for argument.*|expected command name.*|expected item numbers.*|no such item.*|invalid regular expression.*|ambiguous value.*|input does not match any value.*|not enough space.*|unsupported.*)$/m;

const MAX_DEVICE_TEXT = 200;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/g;

/** Device text fit for a message: unprintable characters escaped, at most 200 characters. */
function oneLine(text: string): string {
  const shown = text.length > MAX_DEVICE_TEXT ? `${text.slice(0, MAX_DEVICE_TEXT)}...` : text;
  return shown.replace(CONTROL, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The first device error line in either stream, or undefined. */
export function findDeviceError(result: ShellResult): string | undefined {
  const match =
    ERROR_LINE.exec(result.stdout.replace(/\r/g, '')) ??
    ERROR_LINE.exec(result.stderr.replace(/\r/g, ''));
  const line = match?.[1]?.trim();
  return line === undefined ? undefined : oneLine(line);
}

/** Maps a device error line to the domain error a caller acts on. */
export function classifyDeviceError(text: string, what: string): DriverError {
  const reason = text.replace(/^failure: /, '');
  const message = `RDS refused ${what}: ${reason}`;
  if (/not enough space/.test(reason)) {
    return new ResourceExhaustedError(
      `${message}; free space on the RDS storage pool or choose a smaller size`,
    );
  }
  if (/no such item/.test(reason)) return new NotFoundError(message);
  if (/already exists/.test(reason)) return new AlreadyExistsError(message);
  if (/invalid value for argument/.test(reason)) return new InvalidInputError(message);
  if (/disk is (in use|busy)/.test(reason)) return new VolumeBusyError(`${message}; retry later`);
  return new RdsCommandError(message, reason);
}

/**
 * Returns stdout when the answer is clean; throws the classified error when the device reported
 * one, and RdsCommandError for a non-zero exit status without any text.
 */
export function checkAnswer(result: ShellResult, what: string): string {
  const error = findDeviceError(result);
  if (error !== undefined) throw classifyDeviceError(error, what);
  if (result.exitCode !== undefined && result.exitCode !== 0) {
    const text = oneLine((result.stderr || result.stdout).trim().split(/\r?\n/)[0] ?? '');
    throw new RdsCommandError(
      `RDS failed ${what} with exit status ${result.exitCode}${text ? `: ${text}` : ''}`,
      text,
    );
  }
  return result.stdout;
}
