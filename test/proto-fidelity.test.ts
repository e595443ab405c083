// Our proto/csi.proto against the CSI specification's own csi.proto v1.12.0: every package,
// service, method, message, field (name, number, type, label, options) and enum value must be
// identical; only comments and layout may differ. The spec file comes from the Go module proxy
// (scripts/tools.sh, tool "csi-spec").
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';

import { CSI_PROTO_PATH } from '../src/csi/proto.js';

const SPEC_PROTO = new URL('../.tools/bin/csi-spec', import.meta.url).pathname;
const DESCRIPTOR_PROTO = createRequire(import.meta.url).resolve(
  'protobufjs/google/protobuf/descriptor.proto',
);

function load(path: string): Record<string, unknown> {
  const root = new protobuf.Root();
  // Well-known types come bundled with protobufjs (timestamp and wrappers built in, descriptor
  // as a file it ships).
  root.resolvePath = (origin, target) => {
    if (target === 'google/protobuf/descriptor.proto') return DESCRIPTOR_PROTO;
    if (target.startsWith('google/protobuf/')) return target;
    return protobuf.util.path.resolve(origin, target);
  };
  root.loadSync(path, { keepCase: true, alternateCommentMode: false });
  root.resolveAll();
  const csi = root.lookup('csi.v1');
  if (csi === null) throw new Error(`no csi.v1 package in ${path}`);
  return csi.toJSON();
}

describe('proto/csi.proto', () => {
  it('matches the CSI v1.12.0 specification definitions exactly', () => {
    expect(existsSync(SPEC_PROTO), `${SPEC_PROTO} missing: run bash scripts/tools.sh ensure`).toBe(
      true,
    );
    const ours = load(CSI_PROTO_PATH);
    const spec = load(SPEC_PROTO);
    expect(ours).toEqual(spec);
  });

  it('is compared deeply enough to notice a changed field number', () => {
    const ours = load(CSI_PROTO_PATH);
    const nested = ours['nested'] as Record<string, { fields?: Record<string, { id: number }> }>;
    const field = nested['CreateVolumeRequest']?.fields?.['name'];
    expect(field?.id).toBe(1);
    const altered = structuredClone(ours);
    (altered['nested'] as typeof nested)['CreateVolumeRequest']!.fields!['name']!.id = 9;
    expect(altered).not.toEqual(ours);
  });
});
