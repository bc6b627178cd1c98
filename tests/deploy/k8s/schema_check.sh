#!/usr/bin/env bash
# Validates what deploy/k8s builds against the Kubernetes API schemas of the
# npm package kubernetes-models (pinned below), offline once installed.
# Exits 77 (ctest: skipped) when node/npm are missing or the packages cannot
# be installed (no registry); 1 on an invalid object.
#
# Usage: schema_check.sh WORK_DIR [--k8s_dir DIR] (other args are passed to
#        k8s_manifests_test.py)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
work=$1
shift
packages=(kubernetes-models@5.1.0 @kubernetes-models/prometheus-operator@6.0.0)

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "schema_check: node or npm missing: skipped"
  exit 77
fi
mkdir -p "$work"
if [[ ! -f "$work/installed" ]] || [[ "$(cat "$work/installed")" != "${packages[*]}" ]]; then
  [[ -f "$work/package.json" ]] || echo '{"private": true}' >"$work/package.json"
  if ! timeout 180 npm install --prefix "$work" --no-audit --no-fund \
      --loglevel=error "${packages[@]}" >"$work/npm.log" 2>&1; then
    echo "schema_check: npm install failed (no registry?): skipped"
    tail -5 "$work/npm.log"
    exit 77
  fi
  echo "${packages[*]}" >"$work/installed"
fi
/usr/bin/python3 "$here/k8s_manifests_test.py" --dump_json "$work/objs.json" "$@"
cp "$here/schema_check.mjs" "$work/schema_check.mjs"
cd "$work"
node schema_check.mjs objs.json
