// device-errors.ts: the texts the device prints when a command fails, in one place.
//
// Console errors (bad syntax, unknown names) carry `(line 1 column N)`; execution failures are
// `failure: ...` lines. Both are printed on stdout, with the configured exit status
// (routeros-cli.md 1.1: the device's own status is not established, so both are offered).

/** An execution failure; `text` is printed after `failure: `. */
export class DeviceFailure extends Error {
  constructor(readonly text: string) {
    super(`failure: ${text}`);
  }
}

export const FAILURES = {
  noSuchItem: 'no such item',
  notEnoughSpace: 'not enough space',
  fileExists: 'file already exists',
  slotExists: 'slot already exists',
  missingFilePath: 'file-path required for file disk',
  missingFileSize: 'file-size required for new file',
  cannotShrink: 'can not shrink file',
  diskBusy: 'disk is in use',
  executionError: 'execution error',
} as const;

/** `invalid value for argument X` (console error, no failure: prefix). */
export function invalidValue(argument: string): string {
  return `invalid value for argument ${argument}`;
}
