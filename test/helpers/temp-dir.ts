// temp-dir.ts: short temporary directories (unix socket paths must stay under 108 bytes).
import { mkdtempSync, rmSync } from 'node:fs';

export interface TempDir {
  readonly path: string;
  remove(): void;
}

export function tempDir(prefix = 'rds-'): TempDir {
  const path = mkdtempSync(`/tmp/${prefix}`);
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
