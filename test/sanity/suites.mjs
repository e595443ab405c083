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
  ...controllerSuites(),
];

/**
 * Identity + Controller (+ snapshots) for both access types, with the emulator answering at once
 * and at 200 +/- 50 ms per command (issue 5), Publish/Unpublish included (issue 13). The Node
 * specs wait for the node issue; ModifyVolume and GroupController specs skip themselves: their
 * capabilities are not advertised.
 */
function controllerSuites() {
  const suites = [];
  for (const [latencyName, latency] of [
    ['no latency', 'off'],
    ['200±50 ms per command', '200ms/50ms'],
  ]) {
    for (const accessType of ['mount', 'block']) {
      suites.push({
        name: `csi-sanity: Controller Service, ${accessType} volumes, ${latencyName}`,
        driverArgs: ['--emulator-latency', latency],
        endpointForm: 'unix-url',
        sanityArgs: [
          '--ginkgo.skip=Node Service',
          `--csi.testvolumeaccesstype=${accessType}`,
          '--csi.testvolumesize=1073741824',
          '--csi.testvolumeexpandsize=2147483648',
        ],
        expectPassed: 52,
      });
    }
  }
  return suites;
}
