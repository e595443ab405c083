#!/usr/bin/env bash
# tools.sh: builds the third-party Go test tools from the Go module proxy, caches them by a hash
# of their pinned version and recipe, and links them into .tools/bin for tests.
#
#   scripts/tools.sh ensure        build what is missing (no-op when cached), link, list versions
#   scripts/tools.sh path <tool>   print the cached binary's path (builds it if missing)
#   scripts/tools.sh list          show each tool, its pin and whether it is cached
#
# Go is used only here, for test tools; the driver is TypeScript. Pins must be versions the
# project's Go proxy serves (`go list -m -versions <module>`); see
# ../shared/reference/csi-conformance.md sections 3-6 for the recipes and measured build times.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${RDS_CSI_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rds-csi-ts}
LINKS="$ROOT/.tools/bin"

# --- pins -------------------------------------------------------------------------------------
# csi-sanity v5.4.0 is built against CSI spec v1.12.0, the version proto/csi.proto implements.
# (v5.6.0 targets spec v1.13.0, which drops fields we still serve; move both together.)
CSI_SANITY_VERSION=v5.4.0

# The specification's own csi.proto, which test/proto-fidelity.test.ts compares ours against.
CSI_SPEC_VERSION=v1.12.0

# The test control plane (issue 6): etcd 3.6 (Debian's 3.4 lacks RequestWatchProgress, which
# current API servers need for watch-list) and Kubernetes 1.36 (what the pinned sidecars' client-go
# 0.36 expects). csi-conformance.md section 5 has the recipes and measured times.
ETCD_VERSION=v3.6.16
KUBERNETES_VERSION=v1.36.3
KUBERNETES_STAGING_VERSION=v0.36.3

# promtool checks and unit-tests deploy/prometheus (issue 10). Prometheus 3.x is published as Go
# module v0.3MM.P for release 3.MM.P; promtool_release derives the release, which the build checks
# against the module's own VERSION file.
PROMETHEUS_VERSION=v0.316.0

# The kubernetes-csi sidecars for the end-to-end harness (issue 9): the tags whose client-go (0.36)
# matches KUBERNETES_VERSION; their next tags move to client-go 0.37. The snapshotter's client
# module is pinned beside it (its go.mod names an older client that lacks volumegroupsnapshot/v1,
# and `go get` would otherwise take the newest, whose apimachinery does not build against the
# pinned apiserver). The snapshot CRDs come from that client module's config/crd.
# node-driver-registrar and livenessprobe are not built: the project's Go proxy refuses every
# version of both (403). The harness does without them: it plays kubelet and creates the CSINode
# from NodeGetInfo itself, and calls Probe directly (csi-conformance.md section 4).
CSI_PROVISIONER_VERSION=v6.3.0
CSI_ATTACHER_VERSION=v4.12.0
CSI_RESIZER_VERSION=v2.2.0
CSI_SNAPSHOTTER_VERSION=v8.6.0

# helm renders deploy/helm/rds-csi-ts (issue 9): `helm template` and `helm lint` only, never
# installs. v4 is the current major; its go.mod has no replace directives, so `go install` builds it.
HELM_VERSION=v4.3.2

# Each tool: name, a recipe function, and the string its cache key is made from.
TOOLS=(csi-sanity csi-spec etcd kube-apiserver kube-controller-manager promtool csi-provisioner csi-attacher csi-resizer csi-snapshotter snapshot-controller snapshot-crds helm)

key_csi-sanity() { echo "csi-sanity $CSI_SANITY_VERSION go-install-v1"; }
build_csi-sanity() {
  local out=$1
  GOBIN="$out" CGO_ENABLED=0 go install -trimpath -ldflags "-X main.VERSION=$CSI_SANITY_VERSION" \
    "github.com/kubernetes-csi/csi-test/v5/cmd/csi-sanity@$CSI_SANITY_VERSION"
}
check_csi-sanity() { "$1/csi-sanity" -version | grep -q "$CSI_SANITY_VERSION"; }

key_csi-spec() { echo "csi-spec $CSI_SPEC_VERSION mod-download-v1"; }
build_csi-spec() {
  local out=$1 dir
  dir=$(go mod download -json "github.com/container-storage-interface/spec@$CSI_SPEC_VERSION" | jq -r .Dir)
  cp "$dir/csi.proto" "$out/csi-spec"
  chmod 0644 "$out/csi-spec"
}
check_csi-spec() { grep -q '^package csi.v1;' "$1/csi-spec"; }

# `go install` refuses modules with replace directives, so each is built from a throw-away
# wrapper module in the build's own temp dir (one per tool: tools never upgrade each other).
key_etcd() { echo "etcd $ETCD_VERSION wrapper-v1"; }
build_etcd() {
  local out=$1
  go mod init harness.local/wrap-etcd >/dev/null 2>&1
  # All six of etcd's replaces are local paths: none is copied; `go get` resolves published ones.
  go get "go.etcd.io/etcd/server/v3@$ETCD_VERSION"
  CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$out/etcd" go.etcd.io/etcd/server/v3
}
check_etcd() { "$1/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}"; }

# k8s.io/kubernetes requires its staging modules at v0.0.0 with ./staging replaces; the wrapper
# points each at its published version instead.
kubernetes_wrapper() {
  local gomod module
  go mod init harness.local/wrap-kubernetes >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" | jq -r .GoMod)
  for module in $(go mod edit -json "$gomod" | jq -r '.Replace[] | select(.New.Path | startswith("./staging/")) | .Old.Path'); do
    go mod edit "-replace=$module=$module@$KUBERNETES_STAGING_VERSION"
  done
  go get "k8s.io/kubernetes/cmd/$1@$KUBERNETES_VERSION"
}
kubernetes_build() {
  local out=$1 cmd=$2 minor
  minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
  kubernetes_wrapper "$cmd"
  CGO_ENABLED=0 nice -n 10 go build -trimpath -o "$out/$cmd" -ldflags "-s -w \
    -X k8s.io/component-base/version.gitVersion=$KUBERNETES_VERSION \
    -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor \
    -X k8s.io/component-base/version.gitTreeState=clean \
    -X k8s.io/component-base/version.buildDate=1970-01-01T00:00:00Z" "k8s.io/kubernetes/cmd/$cmd"
}

key_kube-apiserver() { echo "kube-apiserver $KUBERNETES_VERSION staging $KUBERNETES_STAGING_VERSION wrapper-v1"; }
build_kube-apiserver() { kubernetes_build "$1" kube-apiserver; }
check_kube-apiserver() { "$1/kube-apiserver" --version | grep -qx "Kubernetes $KUBERNETES_VERSION"; }

key_kube-controller-manager() { echo "kube-controller-manager $KUBERNETES_VERSION staging $KUBERNETES_STAGING_VERSION wrapper-v1"; }
build_kube-controller-manager() { kubernetes_build "$1" kube-controller-manager; }
check_kube-controller-manager() { "$1/kube-controller-manager" --version | grep -qx "Kubernetes $KUBERNETES_VERSION"; }

# remove_all_sd leaves out the service-discovery plugins (AWS, Azure, GCE, ...) and their SDKs: we
# only run `check rules` and `test rules`. The module has no replace directives, so `go install`
# builds it directly; version.Version is empty unless set here.
promtool_release() {
  local minor=${PROMETHEUS_VERSION#v0.}
  echo "$((${minor%%.*} / 100)).$((${minor%%.*} % 100)).${minor#*.}"
}
key_promtool() { echo "promtool $PROMETHEUS_VERSION go-install-remove_all_sd-v1"; }
build_promtool() {
  local out=$1 json dir release
  release=$(promtool_release)
  # ensure_tool runs this as an `if` condition, where set -e is off: each step returns its failure.
  json=$(go mod download -json "github.com/prometheus/prometheus@$PROMETHEUS_VERSION") ||
    { log "$(jq -r .Error <<<"$json")"; return 1; }
  dir=$(jq -r .Dir <<<"$json")
  if [[ $(cat "$dir/VERSION") != "$release" ]]; then
    log "Prometheus $PROMETHEUS_VERSION is release $(cat "$dir/VERSION"), not $release"; return 1
  fi
  GOBIN="$out" CGO_ENABLED=0 nice -n 10 go install -trimpath -tags remove_all_sd \
    -ldflags "-s -w -X github.com/prometheus/common/version.Version=$release" \
    "github.com/prometheus/prometheus/cmd/promtool@$PROMETHEUS_VERSION"
}
check_promtool() { "$1/promtool" --version | grep -q "^promtool, version $(promtool_release) "; }

# The sidecars with replace directives are built from a wrapper module that copies their versioned
# replaces (local-path ones are left out; the extra `go get` arguments stand in for them). Each step
# returns its failure: ensure_tool runs the recipe as an `if` condition, where set -e is off.
csi_sidecar_wrapper() {
  local module=$1 version=$2 json replaces=()
  shift 2
  go mod init "harness.local/wrap-${module##*/}" >/dev/null 2>&1 || return 1
  json=$(go mod download -json "$module@$version") || { log "$(jq -r .Error <<<"$json")"; return 1; }
  mapfile -t replaces < <(go mod edit -json "$(jq -r .GoMod <<<"$json")" | jq -r '.Replace[]? |
    select(.New.Version) | "-replace=\(.Old.Path)\(if .Old.Version then "@"+.Old.Version else "" end)=\(.New.Path)@\(.New.Version)"')
  if ((${#replaces[@]} > 0)); then go mod edit "${replaces[@]}" || return 1; fi
  go get "$@"
}
# -X main.version is what --version prints (`<argv0> <version>`); -s -w only strip symbols.
csi_sidecar_build() {
  local out=$1 version=$2 package=$3
  CGO_ENABLED=0 nice -n 10 go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out/" "$package"
}
check_csi_sidecar() { "$1/$2" --version | grep -q " $3\$"; }

CSI_PROVISIONER_MODULE=github.com/kubernetes-csi/external-provisioner/v6
key_csi-provisioner() { echo "csi-provisioner $CSI_PROVISIONER_VERSION wrapper-v1"; }
build_csi-provisioner() {
  local package=$CSI_PROVISIONER_MODULE/cmd/csi-provisioner
  csi_sidecar_wrapper "$CSI_PROVISIONER_MODULE" "$CSI_PROVISIONER_VERSION" "$package@$CSI_PROVISIONER_VERSION" &&
    csi_sidecar_build "$1" "$CSI_PROVISIONER_VERSION" "$package"
}
check_csi-provisioner() { check_csi_sidecar "$1" csi-provisioner "$CSI_PROVISIONER_VERSION"; }

CSI_ATTACHER_MODULE=github.com/kubernetes-csi/external-attacher/v4
key_csi-attacher() { echo "csi-attacher $CSI_ATTACHER_VERSION wrapper-v1"; }
build_csi-attacher() {
  local package=$CSI_ATTACHER_MODULE/cmd/csi-attacher
  csi_sidecar_wrapper "$CSI_ATTACHER_MODULE" "$CSI_ATTACHER_VERSION" "$package@$CSI_ATTACHER_VERSION" &&
    csi_sidecar_build "$1" "$CSI_ATTACHER_VERSION" "$package"
}
check_csi-attacher() { check_csi_sidecar "$1" csi-attacher "$CSI_ATTACHER_VERSION"; }

# The resizer's go.mod has no replace directives: `go install` builds it with its own dependency
# versions.
key_csi-resizer() { echo "csi-resizer $CSI_RESIZER_VERSION go-install-v1"; }
build_csi-resizer() {
  GOBIN="$1" CGO_ENABLED=0 nice -n 10 go install -trimpath -ldflags "-s -w -X main.version=$CSI_RESIZER_VERSION" \
    "github.com/kubernetes-csi/external-resizer/v2/cmd/csi-resizer@$CSI_RESIZER_VERSION"
}
check_csi-resizer() { check_csi_sidecar "$1" csi-resizer "$CSI_RESIZER_VERSION"; }

# csi-snapshotter and snapshot-controller share one module; each gets its own wrapper (the second
# build reuses the first's compile cache).
CSI_SNAPSHOTTER_MODULE=github.com/kubernetes-csi/external-snapshotter/v8
CSI_SNAPSHOTTER_CLIENT=github.com/kubernetes-csi/external-snapshotter/client/v8
snapshotter_build() {
  local out=$1 package=$CSI_SNAPSHOTTER_MODULE/cmd/$2
  csi_sidecar_wrapper "$CSI_SNAPSHOTTER_MODULE" "$CSI_SNAPSHOTTER_VERSION" \
    "$package@$CSI_SNAPSHOTTER_VERSION" "$CSI_SNAPSHOTTER_CLIENT@$CSI_SNAPSHOTTER_VERSION" &&
    csi_sidecar_build "$out" "$CSI_SNAPSHOTTER_VERSION" "$package"
}
key_csi-snapshotter() { echo "csi-snapshotter $CSI_SNAPSHOTTER_VERSION client-v8 $CSI_SNAPSHOTTER_VERSION wrapper-v1"; }
build_csi-snapshotter() { snapshotter_build "$1" csi-snapshotter; }
check_csi-snapshotter() { check_csi_sidecar "$1" csi-snapshotter "$CSI_SNAPSHOTTER_VERSION"; }

key_snapshot-controller() { echo "snapshot-controller $CSI_SNAPSHOTTER_VERSION client-v8 $CSI_SNAPSHOTTER_VERSION wrapper-v1"; }
build_snapshot-controller() { snapshotter_build "$1" snapshot-controller; }
check_snapshot-controller() { check_csi_sidecar "$1" snapshot-controller "$CSI_SNAPSHOTTER_VERSION"; }

# The snapshot CRDs (VolumeSnapshot, -Content, -Class, and the group-snapshot ones) as a directory
# of YAML files, cached like a binary so tests apply exactly the pinned snapshotter's schema.
key_snapshot-crds() { echo "snapshot-crds client-v8 $CSI_SNAPSHOTTER_VERSION mod-download-v1"; }
build_snapshot-crds() {
  local out=$1 json dir
  json=$(go mod download -json "$CSI_SNAPSHOTTER_CLIENT@$CSI_SNAPSHOTTER_VERSION") || { log "$(jq -r .Error <<<"$json")"; return 1; }
  dir=$(jq -r .Dir <<<"$json")
  mkdir -p "$out/snapshot-crds" && cp "$dir"/config/crd/*.storage.k8s.io_*.yaml "$out/snapshot-crds/" &&
    chmod 0644 "$out"/snapshot-crds/*.yaml
}
check_snapshot-crds() {
  local kind
  for kind in volumesnapshots volumesnapshotcontents volumesnapshotclasses; do
    grep -q "^  name: $kind.snapshot.storage.k8s.io\$" "$1/snapshot-crds/snapshot.storage.k8s.io_$kind.yaml" || return 1
  done
}

# -X internal/version.version is what `helm version --short` prints (it defaults to the minor only).
key_helm() { echo "helm $HELM_VERSION go-install-v1"; }
build_helm() {
  GOBIN="$1" CGO_ENABLED=0 nice -n 10 go install -trimpath \
    -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
    "helm.sh/helm/v4/cmd/helm@$HELM_VERSION"
}
check_helm() { "$1/helm" version --short | grep -q "^$HELM_VERSION"; }

# --- machinery --------------------------------------------------------------------------------
log() { printf 'tools: %s\n' "$*" >&2; }

go_version() { go env GOVERSION 2>/dev/null || echo "no-go"; }

tool_dir() {
  local tool=$1 hash
  hash=$( { "key_$tool"; go_version; } | sha256sum | cut -c1-16)
  echo "$CACHE/$tool-$hash"
}

ensure_tool() {
  local tool=$1 dir
  dir=$(tool_dir "$tool")
  # -e, not -x: some tools are data (csi-spec is a 0644 file, snapshot-crds a directory).
  if [[ -e "$dir/bin/$tool" ]] && [[ -f "$dir/.complete" ]]; then
    return 0
  fi
  command -v go >/dev/null || { log "Go is required to build $tool (test tool only); install Go >= 1.26"; exit 1; }
  log "building $tool ($("key_$tool")) into $dir — cold builds take minutes"
  local tmp="$dir.tmp.$$" start=$SECONDS
  rm -rf "$tmp"; mkdir -p "$tmp/bin"
  # A failed build leaves nothing behind under the final name: the cache never half-succeeds.
  if ! ( cd "$tmp" && "build_$tool" "$tmp/bin" ); then
    rm -rf "$tmp"; log "FAILED to build $tool"; exit 1
  fi
  if ! "check_$tool" "$tmp/bin"; then
    rm -rf "$tmp"; log "FAILED: built $tool does not report the pinned version"; exit 1
  fi
  touch "$tmp/.complete"
  rm -rf "$dir"; mv "$tmp" "$dir"
  log "built $tool in $((SECONDS - start)) s"
}

link_tool() {
  local tool=$1
  mkdir -p "$LINKS"
  ln -sfn "$(tool_dir "$tool")/bin/$tool" "$LINKS/$tool"
}

cmd=${1:-ensure}
case "$cmd" in
  ensure)
    for t in "${TOOLS[@]}"; do ensure_tool "$t"; link_tool "$t"; done
    for t in "${TOOLS[@]}"; do log "$t ready: $(tool_dir "$t")/bin/$t"; done
    ;;
  path)
    t=${2:?usage: tools.sh path <tool>}
    ensure_tool "$t" && link_tool "$t"
    echo "$(tool_dir "$t")/bin/$t"
    ;;
  list)
    for t in "${TOOLS[@]}"; do
      d=$(tool_dir "$t"); s=missing; [[ -f "$d/.complete" ]] && s=cached
      printf '%-24s %-58s %s\n' "$t" "$("key_$t")" "$s"
    done
    ;;
  *) echo "usage: tools.sh ensure|path <tool>|list" >&2; exit 2 ;;
esac
