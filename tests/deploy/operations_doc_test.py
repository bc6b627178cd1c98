#!/usr/bin/python3
"""docs/operations.md lists every cairnd flag, and only real ones.

Run:
  /usr/bin/python3 tests/deploy/operations_doc_test.py --cairnd PATH

`cairnd --help` must exit 0 and list its flags; the "Configure" section of
docs/operations.md must have a table row (| `--name` | default | meaning |)
for each, with the default --help shows, and no row for a flag cairnd does
not have. Every `--flag` written anywhere in the guide's prose must be a
flag of cairnd or of the `cairn` CLI (`cairn help`), every alert it names
must be in deploy/monitoring/cairn-alerts.yml, and every relative link must
name a file that exists.
"""

import argparse
import os
import re
import subprocess
import sys

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
DOC = os.path.join(REPO, "docs", "operations.md")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairnd", required=True)
    ap.add_argument("--cairn", default="")
    args = ap.parse_args()
    failures = []

    r = subprocess.run([args.cairnd, "--help"], capture_output=True, text=True,
                       timeout=30)
    if r.returncode != 0:
        failures.append(f"cairnd --help exited {r.returncode}")
    flags = dict(re.findall(r"^  --(\w+)  \(default: (.*)\)$", r.stdout, re.M))
    if len(flags) < 50:
        failures.append(f"cairnd --help listed only {len(flags)} flags")

    text = open(DOC).read()
    m = re.search(r"^## Configure\n(.*?)^## ", text, re.M | re.S)
    if not m:
        print("FAIL: docs/operations.md has no '## Configure' section")
        return 1
    rows = re.findall(r"^\| `--(\w+)` \|([^|]*)\|", m.group(1), re.M)
    documented = {}
    for name, default in rows:
        if name in documented:
            failures.append(f"--{name} has two rows")
        documented[name] = default.strip().strip("`")
    for name, default in sorted(flags.items()):
        if name not in documented:
            failures.append(f"--{name} (cairnd --help) is not in the Configure tables")
            continue
        want = "" if default == '""' else default
        if documented[name] != want:
            failures.append(f"--{name}: documented default {documented[name]!r}, "
                            f"cairnd says {want!r}")
    for name in sorted(set(documented) - set(flags)):
        failures.append(f"--{name} is documented but cairnd has no such flag")

    # Flags in the prose: cairnd's, or the CLI's.
    cli_flags = set()
    if args.cairn:
        for cmd in ("", "put", "get", "scan", "tail", "checkpoint", "health",
                    "stats", "snapshot acquire", "bench"):
            r = subprocess.run([args.cairn, *cmd.split(), "--help"],
                               capture_output=True, text=True, timeout=30)
            cli_flags |= set(re.findall(r"--([a-z][a-z0-9-]*)", r.stdout + r.stderr))
    for name, star in sorted(set(re.findall(
            r"(?<![\w-])--([a-z][a-z0-9_-]*[a-z0-9])([_-]\*)?", text))):
        norm = name.replace("-", "_")
        if norm in flags or name in cli_flags or name in KNOWN_OTHER:
            continue
        # "--replica_tls_*", "--tls-*": a family of flags.
        if star and (any(f.startswith(norm + "_") for f in flags) or
                     any(f.startswith(name + "-") for f in cli_flags)):
            continue
        failures.append(f"--{name} in docs/operations.md is not a flag of "
                        f"cairnd or cairn")

    # Alert names the guide mentions are alerts of deploy/monitoring.
    rules = open(os.path.join(REPO, "deploy", "monitoring",
                              "cairn-alerts.yml")).read()
    alerts = set(re.findall(r"alert: (Cairn\w+)", rules))
    for name in sorted(set(re.findall(r"\b(Cairn[A-Z]\w+)", text)) - alerts):
        failures.append(f"{name} in docs/operations.md is not an alert of "
                        f"deploy/monitoring/cairn-alerts.yml")

    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        if not os.path.exists(os.path.join(REPO, "docs", link)):
            failures.append(f"link to {link}: no such file")

    for f in failures:
        print("FAIL:", f)
    print(f"{len(flags)} flags in --help, {len(documented)} documented; "
          f"{len(failures)} failure(s)")
    return 1 if failures else 0


# Flags of other programs that the guide shows (cmake, kubectl, podman, ...).
KNOWN_OTHER = {
    "preset", "build", "install", "prefix", "target", "now", "test-dir",
    "cascade", "from-file", "dry-run", "replicas", "output-on-failure",
    "offline", "no-pager", "threshold", "build-only", "build-arg", "format",
    "tag", "file", "volume", "publish", "user", "name", "rm", "env",
    "isolation", "network", "storage-driver", "layers", "squash", "follow",
    "all", "recursive", "archive", "numeric-owner", "one-file-system",
    "reuid", "regid", "clear-groups", "no-new-privs", "help",
    # podman, apt-get, debootstrap
    "filter", "no-cache", "no-install-recommends", "read-only", "variant",
    # deploy/container/build-image.sh, tests/deploy/container/image_test.py
    "base", "rebuild-base", "repo",
}

if __name__ == "__main__":
    sys.exit(main())
