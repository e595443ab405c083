import { describe, expect, it } from 'vitest';

import { checkAnswer } from './device-answer.js';

describe('checkAnswer messages', () => {
  it('keep the device text to one printable, bounded line (a gRPC status is a header)', () => {
    const huge = `failure: not enough space${'x'.repeat(1_000_000)}\r\n`;
    expect(() => checkAnswer({ stdout: huge, stderr: '', exitCode: 0 }, 'creating disk a')).toThrow(
      /^RDS refused creating disk a: not enough spacex{175}\.\.\.; free space/,
    );
    const noisy = { stdout: '', stderr: '\u001b[31mboom\r\nsecond line', exitCode: 1 };
    expect(() => checkAnswer(noisy, 'removing disk a')).toThrow(
      'RDS failed removing disk a with exit status 1: \\x1b[31mboom',
    );
  });
});
