#!/usr/bin/env bash
# The installed client package, used from outside the tree: installs the
# build tree into a temporary prefix (cmake --install), checks what the
# prefix holds, configures and builds tests/client/package/project (which
# does find_package(cairn) and links cairn::client), then runs it against a
# cairnd started on free loopback ports.
#
# Usage: run_package_test.sh BUILD_DIR CAIRND [CXX_FLAGS]
#   CXX_FLAGS: extra compiler and linker flags for the outside project (the
#   sanitizer flags when the build tree is sanitized).
set -euo pipefail
build=$(realpath "$1")
cairnd=$2
flags=${3:-}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/cairn-package.XXXXXX)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log"

# What the package holds: the library, the generated API, the config, the
# tool; and nothing of the server or the engine.
for f in lib/libcairn_client.a lib/libcairn_proto.a \
         include/cairn/client/client.h include/cairn/v1/kv.grpc.pb.h \
         lib/cmake/cairn/cairnConfig.cmake lib/cmake/cairn/cairnTargets.cmake \
         lib/cmake/cairn/cairnConfigVersion.cmake bin/cairn; do
  [[ -e "$prefix/$f" ]] || { echo "missing from the install: $f"; exit 1; }
done
for d in include/cairn/storage include/cairn/wal include/cairn/server; do
  [[ ! -e "$prefix/$d" ]] || { echo "the client package must not hold $d"; exit 1; }
done

cmake -S "$here/project" -B "$work/build" -G Ninja \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" >"$work/configure.log" ||
  { cat "$work/configure.log"; exit 1; }
cmake --build "$work/build" -j2 >"$work/build.log" 2>&1 ||
  { cat "$work/build.log"; exit 1; }

free_port() {
  /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
mport=$(free_port)
"$cairnd" --listen=127.0.0.1:$port --metrics_listen=127.0.0.1:$mport \
  --data_dir="$work/data" 2>"$work/cairnd.log" &
pid=$!

# The outside program retries until cairnd is up (30 s at most).
for _ in $(seq 1 120); do
  if out=$("$work/build/outside_user" 127.0.0.1:$port 2>"$work/user.err"); then
    echo "$out"
    [[ "$out" == "value=hello from outside revision="* ]] ||
      { echo "unexpected output: $out"; exit 1; }
    "$prefix/bin/cairn" --help >/dev/null ||
      { echo "the installed cairn tool does not run"; exit 1; }
    echo "package test passed"
    exit 0
  fi
  kill -0 "$pid" 2>/dev/null || { echo "cairnd exited:"; cat "$work/cairnd.log"; exit 1; }
  sleep 0.25
done
echo "outside_user never succeeded:"; cat "$work/user.err"; cat "$work/cairnd.log"
exit 1
