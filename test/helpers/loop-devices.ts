// loop-devices.ts: what the kernel has attached, read with losetup itself (not the code under test).
import { execFileSync } from 'node:child_process';

/** Loop devices whose backing file lies under `dir`, by device path. */
export function loopsUnder(dir: string): string[] {
  return execFileSync('losetup', ['--list', '--noheadings', '--output', 'NAME,BACK-FILE'], {
    encoding: 'utf8',
  })
    .split('\n')
    .filter((line) => line.includes(dir))
    .map((line) => line.trim().split(/\s+/)[0] ?? '');
}
