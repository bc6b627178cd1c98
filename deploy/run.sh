#!/usr/bin/env bash
# Builds cairnd (release preset) and starts it with its embedded defaults:
# data in ./data, gRPC on 127.0.0.1:7070, metrics on 127.0.0.1:7071.
# Extra arguments are passed to cairnd (see `cairnd --help`), e.g.
#   deploy/run.sh --durability=async --config=/etc/cairn/cairnd.toml
set -euo pipefail
cd "$(dirname "$0")/.."
deploy/install-deps.sh
cmake --preset release >/dev/null
cmake --build --preset release --target cairnd
exec build/release/server/cairnd "$@"
