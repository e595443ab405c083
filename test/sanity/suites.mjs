// suites.mjs: the csi-sanity runs `npm test` makes, each against a freshly started driver.
//
// Each suite starts `rds-csi-ts` exactly as `npm start` does (--quickstart, own data dir), runs
// the real Go csi-sanity binary against its socket, and counts the specs from the JUnit report.
// `expectPassed` guards against a focus that silently matches nothing.
//
// Fields: name, driverArgs (extra flags), endpointForm ('unix-url' | 'bare-path': how the Go
// client is pointed at the socket), sanityArgs, expectPassed.
export const SANITY_SUITES = [
  {
    name: 'csi-sanity: Identity Service (unix:// endpoint)',
    driverArgs: [],
    endpointForm: 'unix-url',
    sanityArgs: ['--ginkgo.focus=Identity Service'],
    expectPassed: 3,
  },
  {
    // A bare path makes grpc-go dial with the passthrough resolver, which sends a different
    // :authority than unix:// targets do (csi-conformance.md pitfall 2).
    name: 'csi-sanity: Identity Service (bare socket path endpoint)',
    driverArgs: [],
    endpointForm: 'bare-path',
    sanityArgs: ['--ginkgo.focus=Identity Service'],
    expectPassed: 3,
  },
  ...fullSuites(),
];

/**
 * Every service: Identity, Controller (snapshots, publish/unpublish included) and Node with the
 * loop transport on real loop devices, mkfs, mount and bind mounts (issue 8). Mount volumes with
 * ext4 (the default) and xfs (StorageClass fsType through --csi.testvolumeparameters), block
 * volumes; each once with the emulator answering at once and once at 200 +/- 50 ms per command.
 * Skipped by capability: ModifyVolume/VolumeAttributesClass (8), GroupController (6), list
 * snapshots/volumes paging of specs csi-sanity marks pending (1).
 */
function fullSuites() {
  const suites = [];
  for (const [latencyName, latency] of [
    ['no latency', 'off'],
    ['200±50 ms per command', '200ms/50ms'],
  ]) {
    for (const [volumes, accessType, extra] of [
      ['mount volumes (ext4)', 'mount', []],
      [
        'mount volumes (xfs)',
        'mount',
        ['--csi.testvolumeparameters=test/sanity/xfs-parameters.yaml'],
      ],
      ['block volumes', 'block', []],
    ]) {
      if (latency !== 'off' && volumes === 'mount volumes (xfs)') continue; // xfs once is enough
      suites.push({
        name: `csi-sanity: all services, ${volumes}, ${latencyName}`,
        driverArgs: ['--emulator-latency', latency],
        endpointForm: 'unix-url',
        sanityArgs: [
          `--csi.testvolumeaccesstype=${accessType}`,
          '--csi.testvolumesize=1073741824',
          '--csi.testvolumeexpandsize=2147483648',
          ...extra,
        ],
        expectPassed: 75,
      });
    }
  }
  return suites;
}
