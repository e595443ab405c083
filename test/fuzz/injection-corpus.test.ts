// injection-corpus.test.ts: a corpus of hostile values pushed through every user-controlled field
// of the real CSI gRPC API, served by the real driver against the SSH emulator (issue 11).
//
// What must hold: every RPC answers a defined gRPC code (INVALID_ARGUMENT for what cannot be
// valid; never UNKNOWN or INTERNAL from a crash); every command line the emulator received lexes
// and parses, with the emulator's own lexer and parser, to exactly one /disk or /file command
// whose values hold none of the console's metacharacters; no corpus value reaches a command line
// raw; paths outside --kubelet-dir are refused and nothing outside it is created; secrets never
// reach the log, an error message, the device or the driver's data directory; the device is left
// with exactly the disks and files the driver reports. command-injection.test.ts covers the
// builders alone; this covers every way a request reaches them.
import { readdirSync, readFileSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { status, type ServiceError } from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { VolumeCapability } from '../../src/csi/generated/csi/v1/VolumeCapability.js';
import { KNOWN_PARAMETERS } from '../../src/csi/volume-parameters.js';
import { lexCommandLine } from '../../src/rds/emulator/lexer.js';
import { parseCommand, type Expr, type Value } from '../../src/rds/emulator/parser.js';
import {
  MIB,
  MOUNT_RWO,
  createRequest,
  expectDeviceMatchesDriver,
} from '../helpers/controller-requests.js';
import { driverFixture, type DriverFixture } from '../helpers/driver-fixture.js';
import { TEST_PASSWORD } from '../helpers/emulator-fixture.js';
import { tempDir, type TempDir } from '../helpers/temp-dir.js';

const SECRET = 'inj-secret-5d1e07';
const NODE = 'test-node';
/** Raw control characters, line and paragraph separators, bidi overrides (they spoof text). */
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
const MISSING_VOLUME = 'pvc-00000000-0000-4000-8000-0000000000ff';

/** Console and shell metacharacters, path tricks, look-alikes, bidi controls, huge values. */
const CORPUS: readonly string[] = [
  ';',
  '; /system reset-configuration',
  'x;/system reboot',
  '$(reboot)',
  '`reboot`',
  '[/system reboot]',
  '[find]',
  '"',
  '"; /system reset-configuration; "',
  "'",
  "' or '1'='1",
  '\\',
  '\\"',
  '{',
  '}',
  '{:put x}',
  '|',
  '| reboot',
  '&',
  '&& reboot',
  '>',
  '> /etc/passwd',
  '<',
  '\n',
  'a\n/system reboot',
  '\r',
  'a\r\n/system reboot',
  '\u0000',
  'a\u0000b',
  '../',
  '../../etc/passwd',
  '..',
  '.',
  '/',
  '//',
  '$x',
  '${IFS}',
  ':put [/system reboot]',
  '#',
  '~',
  '*1',
  ' ',
  '\t',
  'x=y',
  ' slot=evil',
  'pvc-1 nvme-tcp-export=yes',
  '\u2028',
  '＂；［］',
  'pvс-00000000-0000-4000-8000-000000000001', // Cyrillic "с"
  '\u202egpj.exe',
  '😀',
  'é',
  '%00',
  '%0a',
  'pvc-00000000-0000-4000-8000-000000000001;/system reboot',
  'pvc-00000000-0000-4000-8000-000000000001 ',
  'x'.repeat(64 * 1024),
  ';'.repeat(64 * 1024),
];

/** Values distinctive enough that seeing one in a command line means it arrived raw. */
const DISTINCTIVE = CORPUS.filter((v) => v.length >= 3 && /[^A-Za-z0-9-]/.test(v));

/** Every code a CSI handler may answer to a caller's mistake or a transient state. */
const DEFINED = new Set([
  status.OK,
  status.INVALID_ARGUMENT,
  status.NOT_FOUND,
  status.ALREADY_EXISTS,
  status.FAILED_PRECONDITION,
  status.OUT_OF_RANGE,
  status.RESOURCE_EXHAUSTED,
  status.ABORTED,
  status.UNAVAILABLE,
  status.UNIMPLEMENTED,
]);
const INVALID = new Set([status.INVALID_ARGUMENT]);
/** A path that cannot exist on this node: stats and expansion answer NOT_FOUND (csi-sanity). */
const INVALID_OR_ABSENT = new Set([status.INVALID_ARGUMENT, status.NOT_FOUND]);

interface Outcome {
  readonly probe: string;
  readonly value: string;
  readonly code: status;
  readonly details: string;
}

let fixture: DriverFixture;
let root: TempDir;
let kubelet: string;
let baseVolume: string;
const outcomes: Outcome[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  // The kubelet directory inside a directory of its own: anything created beside it is a leak.
  root = tempDir('inj-');
  kubelet = join(root.path, 'kubelet');
  mkdirSync(kubelet);
  fixture = await driverFixture([
    '--mode',
    'all',
    '--node-transport',
    'loop',
    '--kubelet-dir',
    kubelet,
  ]);
  const created = await fixture.clients.controller.CreateVolume(
    createRequest('injection-base', 16 * MIB),
  );
  baseVolume = created.volume!.volumeId;
}, 60_000);

afterAll(async () => {
  await fixture?.stop();
  root?.remove();
  process.off('unhandledRejection', onUnhandled);
});

/** Corpus values in flight at once: fewer round trips waited for one by one. */
const PARALLEL = 4;

/**
 * Calls `call` with every corpus value, PARALLEL at a time (1 where calls share state); each
 * answer must be a defined code, and one of `expected` unless `validValue` says the value is fine.
 */
async function probe(
  name: string,
  call: (value: string) => Promise<unknown>,
  expected?: ReadonlySet<number>,
  validValue: (value: string) => boolean = () => false,
  parallel = PARALLEL,
): Promise<void> {
  const one = async (value: string): Promise<void> => {
    let code: status = status.OK;
    let details = '';
    try {
      await call(value);
    } catch (error) {
      code = (error as ServiceError).code ?? status.UNKNOWN;
      details = (error as ServiceError).details ?? String(error);
    }
    outcomes.push({ probe: name, value, code, details });
    const shown = `${name} with ${JSON.stringify(value.slice(0, 60))}: ${status[code] ?? code} ${details.slice(0, 200)}`;
    expect(DEFINED.has(code), shown).toBe(true);
    if (expected !== undefined && !validValue(value)) expect(expected.has(code), shown).toBe(true);
  };
  for (let i = 0; i < CORPUS.length; i += parallel)
    await Promise.all(CORPUS.slice(i, i + parallel).map(one));
}

const secrets = (v: string) => ({ token: `${SECRET}${v}`, [`${SECRET}-key`]: `${SECRET}` });
const capability = (fsType: string, flags: string[] = []): VolumeCapability => ({
  accessMode: { mode: 'SINGLE_NODE_WRITER' },
  mount: { fsType, mountFlags: flags },
});

describe('hostile values through every user-controlled field', () => {
  it('Controller: volumes', async () => {
    const c = fixture.clients.controller;
    // Any name maps to a UUIDv5 slot, so most are accepted; too long or control characters are not.
    await probe('CreateVolume.name', (v) => c.CreateVolume(createRequest(v, MIB)));
    for (const key of KNOWN_PARAMETERS) {
      await probe(
        `CreateVolume.parameters.${key}`,
        (v) =>
          c.CreateVolume(createRequest('injection-parameters', MIB, { parameters: { [key]: v } })),
        INVALID,
        // mkfsOptions are whitespace-separated: only whitespace is no options at all.
        key === 'mkfsOptions' ? (v) => v.trim() === '' : undefined,
      );
    }
    await probe(
      'CreateVolume.parameters[unknown key]',
      (v) =>
        c.CreateVolume(createRequest('injection-parameters', MIB, { parameters: { [v]: 'x' } })),
      INVALID,
    );
    for (const key of ['csi.storage.k8s.io/pvc/name', 'csi.storage.k8s.io/pvc/namespace']) {
      await probe(
        `CreateVolume.parameters.${key}`,
        (v) =>
          c.CreateVolume(createRequest('injection-parameters', MIB, { parameters: { [key]: v } })),
        INVALID,
      );
    }
    await probe('CreateVolume.parameters.csi.storage.k8s.io/pv/name', (v) =>
      c.CreateVolume(
        createRequest('injection-pv-name', MIB, {
          parameters: { 'csi.storage.k8s.io/pv/name': v },
        }),
      ),
    );
    await probe('CreateVolume.mutableParameters', (v) =>
      c.CreateVolume(
        createRequest('injection-mutable', MIB, { mutableParameters: { [v]: v, k: v } }),
      ),
    );
    await probe('CreateVolume.secrets', (v) =>
      c.CreateVolume(createRequest('injection-secrets', MIB, { secrets: secrets(v) })),
    );
    await probe('CreateVolume.volumeContentSource.snapshot', (v) =>
      c.CreateVolume(
        createRequest('injection-source', MIB, {
          volumeContentSource: { snapshot: { snapshotId: v } },
        }),
      ),
    );
    await probe('CreateVolume.volumeContentSource.volume', (v) =>
      c.CreateVolume(
        createRequest('injection-source', MIB, {
          volumeContentSource: { volume: { volumeId: v } },
        }),
      ),
    );
    await probe('CreateVolume.volumeCapabilities.mount.fsType', (v) =>
      c.CreateVolume(createRequest('injection-fs', MIB, { volumeCapabilities: [capability(v)] })),
    );
    await probe('CreateVolume.volumeCapabilities.mount.mountFlags', (v) =>
      c.CreateVolume(
        createRequest('injection-flags', MIB, { volumeCapabilities: [capability('ext4', [v])] }),
      ),
    );
    await probe('CreateVolume.accessibilityRequirements', (v) =>
      c.CreateVolume(
        createRequest('injection-topology', MIB, {
          accessibilityRequirements: {
            requisite: [{ segments: { [v]: v } }],
            preferred: [{ segments: { zone: v } }],
          },
        }),
      ),
    );
    await probe('DeleteVolume.volumeId', (v) =>
      c.DeleteVolume({ volumeId: v, secrets: secrets(v) }),
    );
    await probe('ValidateVolumeCapabilities.volumeId', (v) =>
      c.ValidateVolumeCapabilities({ volumeId: v, volumeCapabilities: [MOUNT_RWO] }),
    );
    await probe('ValidateVolumeCapabilities.maps', (v) =>
      c.ValidateVolumeCapabilities({
        volumeId: baseVolume,
        volumeCapabilities: [capability(v, [v])],
        volumeContext: { [v]: v },
        parameters: { [v]: v },
        mutableParameters: { [v]: v },
        secrets: secrets(v),
      }),
    );
    await probe('ListVolumes.startingToken', (v) =>
      c.ListVolumes({ maxEntries: 1, startingToken: v }),
    );
    await probe(
      'GetCapacity.parameters.volumePath',
      (v) => c.GetCapacity({ volumeCapabilities: [MOUNT_RWO], parameters: { volumePath: v } }),
      INVALID,
    );
    await probe('GetCapacity.parameters[unknown key]', (v) =>
      c.GetCapacity({ volumeCapabilities: [MOUNT_RWO], parameters: { [v]: v } }),
    );
    await probe('ControllerExpandVolume.volumeId', (v) =>
      c.ControllerExpandVolume({
        volumeId: v,
        capacityRange: { requiredBytes: String(32 * MIB) },
        secrets: secrets(v),
        volumeCapability: capability(v, [v]),
      }),
    );
    await probe('ControllerGetVolume.volumeId', (v) => c.ControllerGetVolume({ volumeId: v }));
    await probe('ControllerModifyVolume', (v) =>
      c.ControllerModifyVolume({ volumeId: v, mutableParameters: { [v]: v }, secrets: secrets(v) }),
    );
  }, 60_000);

  it('Controller: snapshots and publishing', async () => {
    const c = fixture.clients.controller;
    await probe('CreateSnapshot.name', (v) =>
      c.CreateSnapshot({ sourceVolumeId: baseVolume, name: v, secrets: secrets(v) }),
    );
    await probe('CreateSnapshot.sourceVolumeId', (v) =>
      c.CreateSnapshot({ sourceVolumeId: v, name: 'injection-snapshot' }),
    );
    await probe('CreateSnapshot.parameters', (v) =>
      c.CreateSnapshot({
        sourceVolumeId: baseVolume,
        name: 'injection-snapshot-parameters',
        parameters: { [v]: v },
      }),
    );
    await probe('DeleteSnapshot.snapshotId', (v) =>
      c.DeleteSnapshot({ snapshotId: v, secrets: secrets(v) }),
    );
    await probe('GetSnapshot.snapshotId', (v) =>
      c.GetSnapshot({ snapshotId: v, secrets: secrets(v) }),
    );
    await probe('ListSnapshots', (v) =>
      c.ListSnapshots({ maxEntries: 1, startingToken: v, sourceVolumeId: v, snapshotId: v }),
    );
    await probe('ControllerPublishVolume.volumeId', (v) =>
      c.ControllerPublishVolume({
        volumeId: v,
        nodeId: NODE,
        volumeCapability: MOUNT_RWO,
        readonly: false,
        volumeContext: { nqn: v },
        secrets: secrets(v),
      }),
    );
    await probe(
      'ControllerPublishVolume.nodeId',
      async (v) => {
        await c.ControllerPublishVolume({
          volumeId: baseVolume,
          nodeId: v,
          volumeCapability: MOUNT_RWO,
          readonly: false,
          volumeContext: { [v]: v, nqn: v, nvmeAddress: v, nvmePort: v },
          secrets: secrets(v),
        });
        // Accepted (the node need not be known without Kubernetes): it must also let go.
        await c.ControllerUnpublishVolume({ volumeId: baseVolume, nodeId: v, secrets: secrets(v) });
      },
      undefined,
      undefined,
      1,
    );
    await probe('ControllerUnpublishVolume', (v) =>
      c.ControllerUnpublishVolume({ volumeId: v, nodeId: v, secrets: secrets(v) }),
    );
  }, 60_000);

  it('Node: ids, contexts, secrets; paths outside --kubelet-dir are refused', async () => {
    const n = fixture.clients.node;
    const inside = (v: string) => join(kubelet, 'pods', v);
    const outside = [
      (v: string) => v,
      (v: string) => `/etc/${v}`,
      (v: string) => `${kubelet}/../${v}`,
      (v: string) => `${kubelet}/pods/../../${v}`,
      (v: string) => `${kubelet}${v}`,
    ];
    const stage = (volumeId: string, path: string, v = '') =>
      n.NodeStageVolume({
        volumeId,
        stagingTargetPath: path,
        volumeCapability: capability('ext4'),
        publishContext: { nqn: v },
        volumeContext: {},
        secrets: secrets(v),
      });
    await probe('NodeStageVolume.volumeId', (v) => stage(v, inside('stage'), v));
    for (const [i, path] of outside.entries()) {
      // `${kubelet}${v}` is inside only when v starts with "/" and stays normalised.
      const expected = i === 4 ? undefined : INVALID;
      await probe(
        `NodeStageVolume.stagingTargetPath#${i}`,
        (v) => stage(MISSING_VOLUME, path(v)),
        expected,
      );
      await probe(
        `NodeUnstageVolume.stagingTargetPath#${i}`,
        (v) => n.NodeUnstageVolume({ volumeId: MISSING_VOLUME, stagingTargetPath: path(v) }),
        expected,
      );
      await probe(
        `NodePublishVolume.targetPath#${i}`,
        (v) =>
          n.NodePublishVolume({
            volumeId: MISSING_VOLUME,
            stagingTargetPath: inside('stage'),
            targetPath: path(v),
            volumeCapability: capability('ext4'),
            readonly: false,
            publishContext: {},
            volumeContext: {},
            secrets: secrets(v),
          }),
        expected,
      );
      await probe(
        `NodeUnpublishVolume.targetPath#${i}`,
        (v) => n.NodeUnpublishVolume({ volumeId: MISSING_VOLUME, targetPath: path(v) }),
        expected,
      );
      await probe(
        `NodeGetVolumeStats.volumePath#${i}`,
        (v) => n.NodeGetVolumeStats({ volumeId: MISSING_VOLUME, volumePath: path(v) }),
        i === 4 ? undefined : INVALID_OR_ABSENT,
      );
      await probe(
        `NodeExpandVolume.volumePath#${i}`,
        (v) =>
          n.NodeExpandVolume({
            volumeId: MISSING_VOLUME,
            volumePath: path(v),
            capacityRange: { requiredBytes: String(32 * MIB) },
          }),
        i === 4 ? undefined : INVALID_OR_ABSENT,
      );
    }
    await probe('NodeStageVolume.stagingTargetPath (inside)', (v) =>
      stage(MISSING_VOLUME, inside(v)),
    );
    await probe('NodeStageVolume.contexts', (v) =>
      n.NodeStageVolume({
        volumeId: MISSING_VOLUME,
        stagingTargetPath: inside('stage'),
        volumeCapability: capability(v, [v]),
        publishContext: { nqn: v, nvmeAddress: v, nvmePort: v, [v]: v },
        volumeContext: Object.fromEntries(
          [
            'nvmeAddress',
            'nvmePort',
            'ctrlLossTmo',
            'reconnectDelay',
            'keepAliveTmo',
            'fsType',
            'mkfsOptions',
            v,
          ].map((k) => [k, v]),
        ),
        secrets: secrets(v),
      }),
    );
    await probe('NodePublishVolume.stagingTargetPath (inside)', (v) =>
      n.NodePublishVolume({
        volumeId: MISSING_VOLUME,
        stagingTargetPath: inside(v),
        targetPath: inside(`${v}-target`),
        volumeCapability: capability(v, [v]),
        readonly: true,
        publishContext: { nqn: v },
        volumeContext: { [v]: v },
        secrets: secrets(v),
      }),
    );
    // A real stage and publish at paths full of metacharacters: mount, mkfs and the mount table
    // (which escapes space, tab, newline and backslash as octal) must all see the same path.
    const odd = join(kubelet, 'pods', 'a b\tc\\d\n$(reboot);`x`|&<>\'"é😀');
    const staging = join(odd, 'staging');
    const target = join(odd, 'target');
    mkdirSync(staging, { recursive: true });
    const { publishContext } = await fixture.clients.controller.ControllerPublishVolume({
      volumeId: baseVolume,
      nodeId: NODE,
      volumeCapability: MOUNT_RWO,
      readonly: false,
      volumeContext: {},
    });
    const volume = { volumeId: baseVolume, publishContext, volumeCapability: MOUNT_RWO };
    await n.NodeStageVolume({ ...volume, stagingTargetPath: staging, volumeContext: {} });
    await n.NodePublishVolume({
      ...volume,
      stagingTargetPath: staging,
      targetPath: target,
      readonly: false,
      volumeContext: {},
    });
    expect(mountedUnder(kubelet)).toEqual([staging, target].sort());
    const stats = await n.NodeGetVolumeStats({ volumeId: baseVolume, volumePath: target });
    expect(stats.usage.length).toBeGreaterThan(0);
    await n.NodeUnpublishVolume({ volumeId: baseVolume, targetPath: target });
    await n.NodeUnstageVolume({ volumeId: baseVolume, stagingTargetPath: staging });
    await fixture.clients.controller.ControllerUnpublishVolume({
      volumeId: baseVolume,
      nodeId: NODE,
    });
    expect(mountedUnder(kubelet)).toEqual([]);
    // Nothing was created beside the kubelet directory.
    expect(readdirSync(root.path)).toEqual(['kubelet']);
  }, 120_000);
});

/** Every text value of a parsed command: arguments, positionals, and `where`/`find` comparisons. */
function valuesOf(value: Value | undefined): string[] {
  if (value === undefined) return [];
  return value.kind === 'text' ? [value.text] : exprValues(value.where);
}

function exprValues(expr: Expr | undefined): string[] {
  if (expr === undefined) return [];
  switch (expr.op) {
    case 'and':
    case 'or':
      return [...exprValues(expr.left), ...exprValues(expr.right)];
    case 'not':
      return exprValues(expr.expr);
    case 'cmp':
      return [expr.value];
    case 'truthy':
      return [];
  }
}

/** Mount points under `dir`, from the kernel's mount table (octal escapes undone). */
function mountedUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) =>
      (line.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) =>
        String.fromCharCode(parseInt(o, 8)),
      ),
    )
    .filter((point) => point.startsWith(`${dir}/`))
    .sort();
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('what the corpus left behind', () => {
  it('the device received only single, well-formed commands with no raw corpus value', () => {
    const lines = fixture.rds.emulator.commands.list().map((r) => r.line);
    expect(lines.length).toBeGreaterThan(200);
    for (const line of lines) {
      const commands = lexCommandLine(line);
      expect(commands, line).toHaveLength(1);
      const command = parseCommand(commands[0]!);
      expect(['disk', 'file'], line).toContain(command.path[0]);
      expect(['print', 'add', 'set', 'remove'], line).toContain(command.verb);
      const values = [
        ...[...command.args.values()].flatMap(valuesOf),
        ...command.positional.flatMap(valuesOf),
        ...exprValues(command.where),
      ];
      // Slots, paths, NQNs, sizes, lineage comments, anchored regexes: nothing else.
      for (const value of values) expect(value, line).toMatch(/^[A-Za-z0-9._:/=;,^[\]-]*$/);
      for (const hostile of DISTINCTIVE) expect(line.includes(hostile), line).toBe(false);
      expect(line).not.toContain(SECRET);
    }
  });

  it('secrets reached neither the log, an error message nor the data directory', () => {
    const log = fixture.log.text();
    expect(log.length).toBeGreaterThan(10_000);
    expect(log).not.toContain(SECRET);
    expect(log).not.toContain(TEST_PASSWORD);
    for (const outcome of outcomes) expect(outcome.details, outcome.probe).not.toContain(SECRET);
    for (const file of [...filesUnder(fixture.dir.path), ...filesUnder(fixture.rds.dir.path)]) {
      if (statSync(file).isFile() && !file.endsWith('.img') && !file.endsWith('.sock'))
        expect(readFileSync(file, 'utf8'), file).not.toContain(SECRET);
    }
  });

  it('error messages are one printable line a user can act on', () => {
    const refused = outcomes.filter((o) => o.code !== status.OK);
    expect(refused.length).toBeGreaterThan(500);
    const unprintable = refused.filter(
      (o) => o.details.length >= 1_000 || UNPRINTABLE.test(o.details),
    );
    expect(
      unprintable.map((o) => `${o.probe}: ${JSON.stringify(o.details.slice(0, 120))}`),
    ).toEqual([]);
  });

  it('the device holds exactly what the driver reports: no leaked disk or file', async () => {
    await expectDeviceMatchesDriver(fixture.clients, fixture.rds);
    expect(unhandled).toEqual([]);
  });
});
