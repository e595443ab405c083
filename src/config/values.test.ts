// The value rules of single options: latency, timing, orphan audit, durations, the socket mode.
import { describe, expect, it } from 'vitest';

import { inputs, problemsOf, run } from '../../test/helpers/config-inputs.js';

import { loadConfig, parseDurationMs } from './load-config.js';

describe('--emulator-latency', () => {
  it('takes presets and <base>/<jitter>, only with --quickstart', () => {
    expect(
      run({ argv: ['--quickstart', '--emulator-latency', '200ms/50ms'] }).emulatorLatency,
    ).toEqual({ baseMs: 200, jitterMs: 50 });
    expect(run({ argv: ['--quickstart', '--emulator-latency', '1s'] }).emulatorLatency).toEqual({
      baseMs: 1000,
      jitterMs: 0,
    });
    expect(
      run({ argv: ['--quickstart'], env: { RDS_CSI_EMULATOR_LATENCY: 'realistic' } })
        .emulatorLatency,
    ).toBe('realistic');
    for (const bad of ['fast', '200', '50ms/200ms', '1s/1ms/1ms', '2m']) {
      expect(problemsOf({ argv: ['--quickstart', '--emulator-latency', bad] })[0]).toMatch(
        /^--emulator-latency /,
      );
    }
    expect(problemsOf({ argv: ['--emulator-latency', 'realistic'] })[0]).toMatch(
      /only applies with --quickstart/,
    );
  });
});

describe('attachment timing (docs/design/decisions.md 1)', () => {
  it('replaces 0 by the defaults and refuses reconcile intervals under a minute', () => {
    const zero = run({
      argv: ['--attachment-grace-period', '0s', '--attachment-reconcile-interval', '0s'],
    });
    expect(zero.attachmentGracePeriodMs).toBe(30_000);
    expect(zero.attachmentReconcileIntervalMs).toBe(300_000);
    expect(
      run({ env: { RDS_CSI_ATTACHMENT_RECONCILE_INTERVAL: '90s' } }).attachmentReconcileIntervalMs,
    ).toBe(90_000);
    expect(problemsOf({ argv: ['--attachment-reconcile-interval', '30s'] })[0]).toMatch(
      /^--attachment-reconcile-interval /,
    );
  });
});

describe('orphan audit options', () => {
  it('reports only by default, and takes the interval, age and delete switch from flags and env', () => {
    const config = run({
      argv: ['--orphan-audit-interval', '0s', '--orphan-min-age', '2h30m'],
      env: { RDS_CSI_ORPHAN_DELETE: 'true' },
    });
    expect(config.orphanAuditIntervalMs).toBe(0); // 0 turns the audit off (not "the default")
    expect(config.orphanMinAgeMs).toBe(9_000_000);
    expect(config.orphanDelete).toBe(true);
    expect(run().orphanDelete).toBe(false);
  });

  it('refuses an interval under a minute and a minimum age under ten minutes', () => {
    expect(problemsOf({ argv: ['--orphan-audit-interval', '30s'] })[0]).toMatch(
      /^--orphan-audit-interval \(env RDS_CSI_ORPHAN_AUDIT_INTERVAL.*expected a duration of 0s or from 1m to 24h/,
    );
    expect(problemsOf({ env: { RDS_CSI_ORPHAN_MIN_AGE: '5m' } })[0]).toMatch(
      /^--orphan-min-age \(env RDS_CSI_ORPHAN_MIN_AGE.*expected a duration from 10m to 720h/,
    );
    expect(problemsOf({ argv: ['--orphan-min-age', '0s'] })[0]).toMatch(/^--orphan-min-age /);
    expect(problemsOf({ argv: ['--orphan-delete', 'maybe'] })[0]).toMatch(/^--orphan-delete /);
  });

  it('describes all three in --help, with their env names', () => {
    const outcome = loadConfig(inputs({ argv: ['--help'] }));
    if (outcome.kind !== 'exit') throw new Error('expected the help text');
    const help = outcome.output.replace(/\s+/g, ' ');
    for (const [flag, env] of [
      ['--orphan-audit-interval', 'RDS_CSI_ORPHAN_AUDIT_INTERVAL'],
      ['--orphan-min-age', 'RDS_CSI_ORPHAN_MIN_AGE'],
      ['--orphan-delete', 'RDS_CSI_ORPHAN_DELETE'],
    ]) {
      expect(help).toContain(flag);
      expect(help).toContain(`env: ${env}`);
    }
    expect(help).toMatch(/false \(the default\) only reports them/);
  });
});

describe('parseDurationMs', () => {
  it('reads Go-style durations', () => {
    expect(parseDurationMs('30s')).toBe(30_000);
    expect(parseDurationMs('5m')).toBe(300_000);
    expect(parseDurationMs('1h30m')).toBe(5_400_000);
    expect(parseDurationMs('250ms')).toBe(250);
    expect(parseDurationMs('1.5s')).toBe(1_500);
  });

  it('refuses numbers without a unit and other text', () => {
    for (const bad of ['30', '', 's', '5 m', '-5s', '1d', '5m3']) {
      expect(() => parseDurationMs(bad)).toThrow('not a duration');
    }
  });
});
