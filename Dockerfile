# Dockerfile: the rds-csi-ts driver image, one image for the controller and the node plugin
# (`--mode controller` / `--mode node`). Nothing here has been built on the project's machines (no
# container engine); test/dockerfile.test.ts keeps it honest instead: every COPY'd path exists
# and is in the build context, the apt packages are exactly the Debian packages of the binaries
# src/node runs, and the entrypoint is the file package.json's build produces.
#
#   docker build -t rds-csi-ts:dev .

# Node 20 is what package.json's engines field (>= 20.19) and the tests run on. Bookworm (Debian 12)
# in both stages, so a native addon compiled in the build stage (ssh2's optional cpu-features)
# links against the same glibc at run time.
ARG NODE_VERSION=20.19

# --- build: compile TypeScript, then drop the dev dependencies -----------------------------------
FROM node:${NODE_VERSION}-bookworm AS build
WORKDIR /src
# Lockfile first: the npm ci layer is reused until the dependencies change.
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/gen-proto-types.mjs scripts/
COPY proto/ proto/
COPY src/ src/
# `npm run build` = gen:proto (regenerates src/csi/generated from proto/csi.proto) + tsc with
# tsconfig.build.json (src -> dist, tests excluded).
RUN npm run build && npm prune --omit=dev --no-audit --no-fund

# --- runtime --------------------------------------------------------------------------------------
FROM node:${NODE_VERSION}-bookworm-slim
# Host tools the node plugin runs (src/node; binary -> Debian package):
#   nvme                          -> nvme-cli    (connect, disconnect, ns-rescan, list-subsys)
#   mkfs.ext4, resize2fs          -> e2fsprogs
#   mkfs.xfs, xfs_growfs          -> xfsprogs
#   blkid, blockdev               -> util-linux
#   mount, umount, losetup        -> mount
#   mknod                         -> coreutils   (already in every Debian image; listed for the test)
# tini is PID 1: the node plugin spawns mount and mkfs, whose own helpers can outlive them, and
# Node as PID 1 never reaps a process it did not start; tini reaps them and forwards SIGTERM,
# which the driver handles itself (drain in-flight calls, remove the socket).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      nvme-cli e2fsprogs xfsprogs util-linux mount coreutils tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
ENV NODE_ENV=production
# dist/csi/proto.js loads ../../proto/csi.proto and dist/main.js reads ../package.json (version),
# so both sit beside dist/ as in the repo.
COPY --from=build /src/package.json ./
COPY --from=build /src/proto/ proto/
COPY --from=build /src/node_modules/ node_modules/
COPY --from=build /src/dist/ dist/

# Non-root by default, as the controller needs no privilege: it speaks SSH to the RDS, HTTPS to
# the API server and gRPC on a socket in an emptyDir. Numeric, so `runAsNonRoot: true` can check
# it; 65532 is the uid the chart's controller pods run as (deploy/helm/rds-csi-ts). The node
# plugin must run as root AND privileged (nvme connect, mkfs, mount, mknod, bind mounts into the
# kubelet directory with Bidirectional propagation), so its container sets
# `securityContext: {privileged: true, runAsUser: 0}`: `privileged` alone is not enough, since a
# non-root process loses every capability when it execs, and mount then fails with EPERM.
USER 65532:65532

# /metrics, /healthz, /readyz (--metrics-address, default :9809).
EXPOSE 9809
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--enable-source-maps", "/app/dist/cli.js"]
# No CMD: the mode and everything else come from the pod's args and RDS_CSI_* environment
# (`--help` lists them). Without them the driver stops at once with exit code 2 and one line per
# missing setting (--rds-address, credentials, host key), not a silent default.
