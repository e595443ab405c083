import { describe, expect, it } from 'vitest';

import { FINGERPRINT, inputs, problemsOf, run } from '../../test/helpers/config-inputs.js';

import { OPTIONS, envName, loadConfig } from './load-config.js';

describe('loadConfig', () => {
  it('gives the documented defaults when nothing is set', () => {
    const config = run();
    expect(config).toEqual({
      mode: 'all',
      endpoint: 'unix:///csi/csi.sock',
      driverName: 'rds.csi.srvlab.io',
      nodeId: 'worker-1',
      topology: 'default',
      maxVolumesPerNode: 0,
      logFormat: 'json',
      logLevel: 'info',
      shutdownTimeoutMs: 30_000,
      dataDir: '/var/lib/rds-csi-ts',
      quickstart: false,
      emulatorLatency: 'off',
      rdsAddress: { host: '10.42.241.3', port: 22 },
      rdsUser: 'admin',
      rdsPasswordFile: '/secrets/rds/password',
      rdsHostKey: [FINGERPRINT],
      rdsInsecureSkipHostKey: false,
      rdsMaxSessions: 8,
      rdsCommandTimeoutMs: 30_000,
      rdsConnectTimeoutMs: 10_000,
      volumePath: '/storage-pool/metal-csi',
      nvmeAddress: '10.42.241.3',
      nvmePort: 4420,
      leaderElect: true,
      leaderElectionLeaseDurationMs: 15_000,
      kubernetesResyncMs: 300_000,
      attachmentGracePeriodMs: 30_000,
      attachmentReconcileIntervalMs: 300_000,
      orphanAuditIntervalMs: 600_000,
      orphanMinAgeMs: 3_600_000,
      orphanDelete: false,
      nodeTransport: 'nvme',
      managedNqnPrefix: 'nqn.2000-02.com.mikrotik:pvc-',
      hostNqnFile: '/etc/nvme/hostnqn',
      nodeCommandTimeoutMs: 30_000,
      mkfsTimeoutMs: 600_000,
      mountStormLimit: 100,
      orphanSweep: 'dry-run',
      metricsAddress: ':9809',
      debugEndpoints: 'loopback',
      inspectPort: undefined,
      standaloneNodes: [],
      kubeletDir: '/var/lib/kubelet',
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('takes flags over env over file over default', () => {
    const file = 'mode: node\nlogLevel: warn\nshutdownTimeout: 5s\ndriverName: file.example.io\n';
    const config = run({
      argv: ['--config', '/etc/rds.yaml', '--mode', 'controller'],
      env: { RDS_CSI_MODE: 'node', RDS_CSI_LOG_LEVEL: 'debug' },
      readFile: (path) => (path === '/etc/rds.yaml' ? file : ''),
    });
    expect(config.mode).toBe('controller'); // flag beats env and file
    expect(config.logLevel).toBe('debug'); // env beats file
    expect(config.shutdownTimeoutMs).toBe(5_000); // file beats default
    expect(config.driverName).toBe('file.example.io');
    expect(config.configFile).toBe('/etc/rds.yaml');
  });

  it('mirrors every flag in an RDS_CSI_ env var', () => {
    for (const spec of OPTIONS) {
      const flag = /^--([a-z-]+)/.exec(spec.flags)?.[1] ?? '';
      expect(envName(spec)).toBe(`RDS_CSI_${flag.toUpperCase().replace(/-/g, '_')}`);
    }
    expect(run({ env: { RDS_CSI_SHUTDOWN_TIMEOUT: '1m30s' } }).shutdownTimeoutMs).toBe(90_000);
    expect(run({ env: { RDS_CSI_QUICKSTART: 'true' } }).quickstart).toBe(true);
  });

  it('ignores empty env values, as Kubernetes renders unset optional ones', () => {
    expect(run({ env: { RDS_CSI_MODE: '' } }).mode).toBe('all');
  });

  it('names the flag, the env var, the source and the accepted form for a bad value', () => {
    const [problem, ...rest] = problemsOf({ env: { RDS_CSI_MODE: 'both' } });
    expect(rest).toEqual([]);
    expect(problem).toBe(
      '--mode (env RDS_CSI_MODE, YAML mode; from env RDS_CSI_MODE): "both" is not accepted; expected controller | node | all',
    );
  });

  it('reports every bad value at once, one line each', () => {
    const problems = problemsOf({
      argv: ['--shutdown-timeout', '30', '--log-format', 'xml', '--max-volumes-per-node', '-1'],
    });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(
      /^--max-volumes-per-node .*"-1" is not accepted; expected an integer from 0 to 4096/,
    );
    expect(problems[1]).toMatch(/^--log-format .*expected json \| text/);
    expect(problems[2]).toMatch(/^--shutdown-timeout .*"30" is not accepted; expected a duration/);
  });

  it('refuses driver names csi-sanity and kubelet would reject', () => {
    for (const bad of ['1rds.example.io', 'rds.example.io.', 'a', 'has space.io', 'x'.repeat(64)]) {
      expect(problemsOf({ argv: ['--driver-name', bad] })[0]).toMatch(/^--driver-name /);
    }
    expect(run({ argv: ['--driver-name', 'rds.csi.example.io'] }).driverName).toBe(
      'rds.csi.example.io',
    );
  });

  it('accepts unix and tcp endpoints and refuses relative or schemeless ones', () => {
    expect(run({ argv: ['--endpoint', 'unix:///run/csi/csi.sock'] }).endpoint).toBe(
      'unix:///run/csi/csi.sock',
    );
    expect(run({ argv: ['--endpoint', 'tcp://127.0.0.1:10000'] }).endpoint).toBe(
      'tcp://127.0.0.1:10000',
    );
    for (const bad of [
      'unix://csi.sock',
      '/csi/csi.sock',
      'http://127.0.0.1:1',
      'tcp://127.0.0.1',
    ]) {
      expect(problemsOf({ argv: ['--endpoint', bad] })[0]).toMatch(/expected unix:\/\/\/absolute/);
    }
  });

  it('takes a topology value that is a Kubernetes label value, or none', () => {
    for (const bad of ['-rack', 'rack 2', 'rack/2', 'r'.repeat(64), '']) {
      expect(problemsOf({ argv: ['--topology', bad] })[0]).toMatch(/^--topology /);
    }
    expect(run({ argv: ['--topology', 'rack-2.a_b'] }).topology).toBe('rack-2.a_b');
    expect(run({ env: { RDS_CSI_TOPOLOGY: 'none' } }).topology).toBe('none');
  });

  it('refuses node IDs over 256 bytes (CSI limit)', () => {
    expect(problemsOf({ argv: ['--node-id', 'é'.repeat(129)] })[0]).toMatch(/^--node-id /);
    expect(run({ argv: ['--node-id', 'n'.repeat(256)] }).nodeId).toHaveLength(256);
  });

  it('rejects unknown flags and stray arguments with commander’s message', () => {
    expect(problemsOf({ argv: ['--grace', '30s'] })[0]).toMatch(/unknown option '--grace'/);
    expect(problemsOf({ argv: ['serve'] })[0]).toMatch(/too many arguments/);
  });

  it('rejects unknown keys and unreadable files in the YAML config', () => {
    const problems = problemsOf({
      argv: ['--config', 'c.yaml'],
      readFile: () => 'mode: node\ngracePeriod: 30s\n',
    });
    expect(problems).toEqual([
      expect.stringMatching(/unknown key "gracePeriod"; known keys: mode, endpoint/),
    ]);
    expect(problemsOf({ argv: ['--config', 'missing.yaml'] })[0]).toMatch(
      /--config missing.yaml: cannot read it as YAML \(ENOENT/,
    );
    expect(
      problemsOf({ argv: ['--config', 'list.yaml'], readFile: () => '- a\n- b\n' })[0],
    ).toMatch(/expected a mapping/);
  });

  it('validates YAML values with the same rules and names the file as the source', () => {
    const problems = problemsOf({
      argv: ['--config', 'c.yaml'],
      readFile: () => 'maxVolumesPerNode: lots\n',
    });
    expect(problems[0]).toMatch(/from file c.yaml\): "lots" is not accepted/);
    expect(
      run({ argv: ['--config', 'c.yaml'], readFile: () => 'maxVolumesPerNode: 12\n' })
        .maxVolumesPerNode,
    ).toBe(12);
  });

  it('quickstart puts the socket and state under ./.rds-csi and logs as text', () => {
    const config = run({ argv: ['--quickstart'] });
    expect(config).toMatchObject({
      quickstart: true,
      mode: 'all',
      dataDir: '/home/me/project/.rds-csi',
      endpoint: 'unix:///home/me/project/.rds-csi/csi.sock',
      logFormat: 'text',
    });
  });

  it('quickstart never overrides what the user set', () => {
    const config = run({
      argv: ['--quickstart', '--data-dir', 'tmp/x', '--log-format', 'json'],
      env: { RDS_CSI_MODE: 'node' },
    });
    expect(config).toMatchObject({
      dataDir: '/home/me/project/tmp/x',
      endpoint: 'unix:///home/me/project/tmp/x/csi.sock',
      logFormat: 'json',
      mode: 'node',
    });
    expect(run({ argv: ['--quickstart', '--endpoint', 'tcp://127.0.0.1:9000'] }).endpoint).toBe(
      'tcp://127.0.0.1:9000',
    );
  });

  it('answers --help with every option, its env var and accepted form', () => {
    const outcome = loadConfig(inputs({ argv: ['--help'] }));
    expect(outcome.kind).toBe('exit');
    if (outcome.kind !== 'exit') return;
    expect(outcome.code).toBe(0);
    const help = outcome.output.replace(/\s+/g, ' ');
    for (const spec of OPTIONS) {
      expect(help).toContain(spec.flags);
      expect(help).toContain(`(env: ${envName(spec)})`);
      expect(help).toContain(`[${spec.accepts}]`.replace(/\s+/g, ' '));
    }
  });

  it('answers --version with the package version', () => {
    expect(loadConfig(inputs({ argv: ['--version'] }))).toEqual({
      kind: 'exit',
      code: 0,
      output: '9.9.9\n',
    });
  });
});

describe('RDS settings', () => {
  it('requires an address, credentials and a pinned host key to serve the controller', () => {
    const problems = problemsOf({
      env: { RDS_CSI_RDS_ADDRESS: '', RDS_CSI_RDS_PASSWORD_FILE: '', RDS_CSI_RDS_HOST_KEY: '' },
    });
    expect(problems).toEqual([
      expect.stringMatching(
        /^--rds-address \(env RDS_CSI_RDS_ADDRESS\) is required in controller and all modes/,
      ),
      expect.stringMatching(/^give --rds-password-file or --rds-private-key-file/),
      expect.stringMatching(
        /^pin the RDS host key with --rds-host-key .* or accept any key with --rds-insecure-skip-host-key/,
      ),
    ]);
  });

  it('needs none of them in node mode or quickstart', () => {
    const none = {
      RDS_CSI_RDS_ADDRESS: '',
      RDS_CSI_RDS_PASSWORD_FILE: '',
      RDS_CSI_RDS_HOST_KEY: '',
    };
    expect(run({ argv: ['--mode', 'node'], env: none }).rdsAddress).toBeUndefined();
    expect(run({ argv: ['--quickstart'], env: none }).quickstart).toBe(true);
  });

  it('accepts host:port and IPv6 addresses, and defaults the NVMe address to an IP RDS address', () => {
    const named = run({ argv: ['--rds-address', 'rds.lan:2222'] });
    expect(named.rdsAddress).toEqual({ host: 'rds.lan', port: 2222 });
    expect(named.nvmeAddress).toBeUndefined(); // nodes need a literal IP (docs/design/routeros-cli.md 1)
    expect(run({ argv: ['--rds-address', '[fd00::3]:22'] }).rdsAddress).toEqual({
      host: 'fd00::3',
      port: 22,
    });
    expect(run({ argv: ['--nvme-address', '10.42.68.1'] }).nvmeAddress).toBe('10.42.68.1');
    expect(problemsOf({ argv: ['--rds-address', 'a b'] })[0]).toMatch(
      /^--rds-address .*"a b" is not accepted/,
    );
    expect(problemsOf({ argv: ['--nvme-address', 'rds.lan'] })[0]).toMatch(
      /^--nvme-address .*expected an IPv4 or IPv6 address/,
    );
  });

  it('pins host keys given as known_hosts lines or fingerprints', () => {
    const line =
      '[127.0.0.1]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHi+XSCA3Xg4c+GIp/xbLg14HAM03jFEpOJj76JyGayh';
    expect(run({ argv: ['--rds-host-key', `${line},${FINGERPRINT}`] }).rdsHostKey).toEqual([
      'SHA256:vJigGYO9vXAEPk/39lbCsgx2Oo8PWpQ5C53q6ApDmxg',
      FINGERPRINT,
    ]);
    expect(problemsOf({ argv: ['--rds-host-key', 'SHA256:short'] })[0]).toMatch(/^--rds-host-key /);
  });

  it('refuses a volume path that could inject into a RouterOS command', () => {
    for (const bad of ['/x.img; /user add', '/storage pool', 'relative/path', '/a/../b', '/a/$b']) {
      expect(problemsOf({ argv: ['--volume-path', bad] })[0]).toMatch(/^--volume-path /);
    }
  });
});
