# Shell helpers shared by the run_*_bench.sh scripts (sourced, not run).

# require_built TARGET... : exits 2 unless each binary exists, saying how to
# build them (the build targets are the binaries' names).
require_built() {
  local bin
  for bin in "$@"; do
    if [[ ! -x $bin ]]; then
      echo "missing $bin; build it: cmake --build --preset release" \
           "--target $(for b in "$@"; do printf '%s ' "$(basename "$b")"; done)" >&2
      exit 2
    fi
  done
}

# free_ports N : prints N loopback ports that were free a moment ago.
free_ports() {
  python3 - "$1" <<'PY'
import socket, sys
s = [socket.socket() for _ in range(int(sys.argv[1]))]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])
PY
}
