// Grammar fuzzing over real SSH: random and malformed command lines never crash the emulator and
// are always answered either normally or with a device-like error line.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { emulatorFixture, type EmulatorFixture } from '../helpers/emulator-fixture.js';

const DEVICE_ERROR =
  /^(?:(?:bad command name .*?|expected end of command|syntax error|unsupported|expected command name|expected item numbers|invalid value for argument [a-z-]+|invalid regular expression .*)(?: \(line 1 column \d+\))?|failure: [a-z -]+)\r\n$/;

const WORDS = [
  '/disk',
  '/file',
  '/system',
  'resource',
  'identity',
  '/interface',
  'nvme-tcp',
  'connection',
  '/log',
  'print',
  'add',
  'set',
  'remove',
  'monitor-traffic',
  'detail',
  'terse',
  'as-value',
  'count-only',
  'once',
  'where',
  'and',
  'or',
  '!',
  'slot=pvc-1',
  'slot~"pvc"',
  'type=file',
  'file-size=1M',
  'file-size=-1',
  'file-path=/storage-pool/f/x.img',
  'copy-from=[find slot=pvc-1]',
  '[find]',
  '[find slot=x]',
  'name~"(',
  'nvme-tcp-export=yes',
  'comment="a;b"',
  ';',
  '"',
  '[',
  ']',
  '$x',
  '{',
  '*1',
  '0',
  'storage-pool',
];

let f: EmulatorFixture;
beforeAll(async () => {
  f = await emulatorFixture();
});
afterAll(async () => {
  await f.stop();
});

function answeredLikeTheDevice(stdout: string, code: number | undefined): boolean {
  if (code !== 0) return false;
  if (stdout === '') return true;
  const lines = stdout.split('\r\n');
  const lastLine = `${lines.filter((l) => l !== '').at(-1) ?? ''}\r\n`;
  // Either the whole answer is normal output, or its last line is one device error.
  return DEVICE_ERROR.test(lastLine) || !/failure|error|bad command|expected/.test(lastLine);
}

describe('command-line fuzzing', () => {
  it('answers sequences of grammar words with output or one device error', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.constantFrom(...WORDS), { minLength: 1, maxLength: 8 }),
        async (words) => {
          const { stdout, code } = await f.ssh.exec(words.join(' '));
          expect(
            answeredLikeTheDevice(stdout, code),
            `${words.join(' ')} -> ${JSON.stringify(stdout)}`,
          ).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('answers arbitrary bytes (control characters, unicode, 10 kB lines) without crashing', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 100 }),
          fc.constant('x'.repeat(10_000)),
        ),
        async (line) => {
          const { code } = await f.ssh.exec(line);
          expect(code).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
    // Still serving normally afterwards.
    expect((await f.ssh.exec('/system identity print')).stdout).toBe('  name: RDS\r\n');
  });

  it('rejects malformed lines with the device wording', async () => {
    expect((await f.ssh.exec('/disk print where slot="x')).stdout).toBe(
      'syntax error (line 1 column 24)\r\n',
    );
    expect((await f.ssh.exec('/dsk print')).stdout).toBe(
      'bad command name dsk (line 1 column 1)\r\n',
    );
    expect((await f.ssh.exec('/disk add file-size=lots')).stdout).toBe(
      'invalid value for argument file-size (line 1 column 11)\r\n',
    );
  });
});
