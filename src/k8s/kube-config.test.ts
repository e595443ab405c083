import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { InvalidConfigError } from '../errors.js';
import { loadKubeConfig } from './kube-config.js';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function file(text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'kc-'));
  dirs.push(dir);
  writeFileSync(join(dir, 'config'), text);
  return join(dir, 'config');
}

describe('loadKubeConfig', () => {
  it('reads --kubeconfig, else nothing outside a pod', () => {
    const path = file(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
        'current-context': 'x',
      }),
    );
    expect(loadKubeConfig(path, {})?.getCurrentCluster()?.server).toBe('https://127.0.0.1:6443');
    expect(loadKubeConfig(undefined, {})).toBeUndefined();
  });

  it('refuses an unreadable file or one without a current cluster, naming the flag', () => {
    expect(() => loadKubeConfig('/no/such/kubeconfig', {})).toThrow(InvalidConfigError);
    expect(() => loadKubeConfig('/no/such/kubeconfig', {})).toThrow(
      /--kubeconfig \/no\/such\/kubeconfig cannot be read/,
    );
    expect(() => loadKubeConfig(file('apiVersion: v1\nkind: Config\n'), {})).toThrow(
      /names no current cluster/,
    );
  });
});
