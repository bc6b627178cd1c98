#!/usr/bin/env bash
# Installs the Debian 12 packages that building and testing Cairn needs, and
# only those that are missing. Idempotent: a second run changes nothing.
# Used by the README commands, by CI and by the container build.
#
# Usage: deploy/install-deps.sh [--build-only]
#   --build-only   just what compiling cairnd needs (for a container's build stage)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config
  libabsl-dev
  libgrpc++-dev protobuf-compiler-grpc libprotobuf-dev protobuf-compiler
  prometheus-cpp-dev libcivetweb-dev libtomlplusplus-dev
  liblz4-dev libzstd-dev libxxhash-dev libsystemd-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev googletest libbenchmark-dev
  clang libclang-rt-dev
  python3-grpcio python3-grpc-tools python3-yaml
  openssl prometheus strace
)

# Node.js and npm run the client/examples/node test. They are checked by
# command, not by package: a node from another repository (NodeSource's
# nodejs bundles npm) is kept, and Debian's npm package would conflict with it.
node_pkgs=(nodejs npm)

want=("${build_pkgs[@]}")
if [[ "${1:-}" != "--build-only" ]]; then
  want+=("${test_pkgs[@]}")
  if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    want+=("${node_pkgs[@]}")
  fi
fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
  echo "install-deps: all ${#want[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
sudo=""
if [[ $(id -u) -ne 0 ]]; then sudo="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
