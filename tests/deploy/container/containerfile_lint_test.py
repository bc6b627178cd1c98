#!/usr/bin/env python3
"""Static checks of the container image's sources, without building it.

deploy/container/Containerfile, its config and the build context filter
(.dockerignore) are read and checked against the layout the Kubernetes
manifests and docs/operations.md rely on:
  - two stages from ${BASE_IMAGE}: `build` (deploy/install-deps.sh
    --build-only) and `runtime` (no build tools, no -dev packages);
  - runtime: user cairn 10001:10001, EXPOSE 7070 7071, VOLUME /var/lib/cairn,
    ENTRYPOINT/CMD, STOPSIGNAL, HEALTHCHECK with `cairn health`, OCI labels;
  - every file a COPY takes from the context exists and is not filtered out;
    build trees, data dirs and .git are filtered out;
  - the runtime packages are exactly those of the libraries that the built
    cairnd and cairn link (readelf + dpkg -S; skipped without dpkg);
  - the config parses in the real cairnd (`--verify` on an empty dir exits 2
    for "not a database", not for a config error) and sets the addresses;
  - the HEALTHCHECK command's flags are accepted by the real cairn CLI.
The image build itself is container_image_test (label slow).

Usage: containerfile_lint_test.py --repo DIR --cairnd BIN --cairn BIN
"""

import argparse
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import tomllib

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print(f"FAIL: {what}")
    return cond


# --- Containerfile parsing -------------------------------------------------


def parse_containerfile(text):
    """Returns [(KEYWORD, args)] with comments dropped and continuations joined."""
    instrs = []
    current = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            continue  # comments, also between continuation lines
        if not line and not current:
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        current += line
        if current.strip():
            keyword, _, args = current.strip().partition(" ")
            instrs.append((keyword.upper(), args.strip()))
        current = ""
    return instrs


def split_stages(instrs):
    """Returns (global instructions, [{'from', 'name', 'instrs'}])."""
    glob, stages = [], []
    for keyword, args in instrs:
        if keyword == "FROM":
            m = re.fullmatch(r"(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", args, re.I)
            stages.append({"from": m.group(1), "name": m.group(2), "instrs": []})
        elif stages:
            stages[-1]["instrs"].append((keyword, args))
        else:
            glob.append((keyword, args))
    return glob, stages


def values(stage, keyword):
    return [a for k, a in stage["instrs"] if k == keyword]


def exec_form(args):
    try:
        v = json.loads(args)
    except json.JSONDecodeError:
        return None
    return v if isinstance(v, list) else None


def copy_sources(args):
    """(flags, sources) of a COPY instruction (shell or JSON form)."""
    words = shlex.split(args)
    flags = [w for w in words if w.startswith("--")]
    rest = [w for w in words if not w.startswith("--")]
    form = exec_form(" ".join(rest))
    if form is not None:
        rest = form
    return flags, rest[:-1]


# --- .dockerignore matching (Docker's rules) --------------------------------


def ignore_patterns(repo):
    path = os.path.join(repo, ".dockerignore")
    if os.path.exists(os.path.join(repo, ".containerignore")):
        path = os.path.join(repo, ".containerignore")  # podman prefers it
    patterns = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            neg = line.startswith("!")
            p = os.path.normpath(line[1:] if neg else line).lstrip("/")
            rx = ""
            i = 0
            while i < len(p):
                if p.startswith("**/", i):
                    rx += "(?:.*/)?"
                    i += 3
                elif p.startswith("**", i):
                    rx += ".*"
                    i += 2
                elif p[i] == "*":
                    rx += "[^/]*"
                    i += 1
                elif p[i] == "?":
                    rx += "[^/]"
                    i += 1
                else:
                    rx += re.escape(p[i])
                    i += 1
            patterns.append((neg, re.compile(rx + r"\Z")))
    return patterns


def excluded(patterns, rel):
    """Whether `rel` is left out of the context: the last pattern matching it
    or one of its parent directories decides."""
    parts = rel.split("/")
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    result = False
    for neg, rx in patterns:
        if any(rx.match(p) for p in prefixes):
            result = not neg
    return result


def tracked_files(repo):
    try:
        # Tracked files and new ones git does not ignore.
        out = subprocess.run(["git", "-C", repo, "ls-files", "-z", "--cached",
                              "--others", "--exclude-standard"],
                             capture_output=True, check=True).stdout
        return [p for p in out.decode().split("\0") if p]
    except (OSError, subprocess.CalledProcessError):
        files = []
        for root, dirs, names in os.walk(repo):
            dirs[:] = [d for d in dirs if d not in (".git", "build", "data")]
            for n in names:
                files.append(os.path.relpath(os.path.join(root, n), repo))
        return files


# --- runtime libraries -> packages ------------------------------------------


def needed_packages(binaries):
    """Debian packages of the shared libraries the binaries link directly, or
    None when the tools to tell (readelf, ldconfig, dpkg) are missing."""
    if not all(shutil.which(t) or os.path.exists(f"/usr/sbin/{t}")
               for t in ("readelf", "dpkg")):
        return None
    ldconfig = shutil.which("ldconfig") or "/usr/sbin/ldconfig"
    cache = {}
    for line in subprocess.run([ldconfig, "-p"], capture_output=True,
                               text=True).stdout.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \((.*)\) => (\S+)", line)
        if m is None:
            continue
        # A 64-bit entry wins over a 32-bit one of the same name.
        is64 = "64" in m.group(2)
        if m.group(1) not in cache or (is64 and not cache[m.group(1)][0]):
            cache[m.group(1)] = (is64, m.group(3))
    libs = {}  # library name -> path
    for b in binaries:
        out = subprocess.run(["readelf", "-d", b], capture_output=True,
                             text=True, check=True).stdout
        for lib in re.findall(r"\(NEEDED\).*\[(.+)\]", out):
            if re.match(r"lib(asan|ubsan|tsan)\.", lib):
                continue  # sanitizer builds
            path = cache.get(lib, (False, None))[1]
            if check(path is not None, f"{lib} (needed by {b}) is not in "
                     "ldconfig's cache"):
                libs[lib] = path
    # One dpkg -S for all (0.1 s a call): the path as linked, and the file it
    # names (/lib is a symlink to /usr/lib on merged-/usr systems).
    queries = sorted({p for path in libs.values()
                      for p in (path, os.path.realpath(path))})
    out = subprocess.run(["dpkg", "-S"] + queries, capture_output=True,
                         text=True).stdout
    owner_of = {}
    for line in out.splitlines():
        owners, _, path = line.rpartition(": ")
        owner_of[path] = owners.split(",")[0].split(":")[0].strip()
    pkgs = {}
    for lib, path in libs.items():
        owner = owner_of.get(path) or owner_of.get(os.path.realpath(path))
        if check(owner is not None, f"{lib} ({path}) belongs to no package"):
            pkgs.setdefault(owner, set()).add(lib)
    return pkgs


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--cairnd", required=True)
    ap.add_argument("--cairn", required=True)
    args = ap.parse_args()
    repo = os.path.abspath(args.repo)
    cdir = os.path.join(repo, "deploy/container")

    with open(os.path.join(cdir, "Containerfile")) as f:
        glob, stages = split_stages(parse_containerfile(f.read()))

    # Stages and the base image argument.
    check(any(k == "ARG" and a.startswith("BASE_IMAGE=") for k, a in glob),
          "a global ARG BASE_IMAGE=<default> before the first FROM")
    names = [s["name"] for s in stages]
    check(names == ["build", "runtime"], f"stages build, runtime (got {names})")
    for s in stages:
        check(s["from"] == "${BASE_IMAGE}",
              f"stage {s['name']} is FROM ${{BASE_IMAGE}} (got {s['from']})")
    if len(stages) != 2:
        return report()
    build, runtime = stages
    check(any("deploy/install-deps.sh --build-only" in a
              for a in values(build, "RUN")),
          "build stage runs deploy/install-deps.sh --build-only")
    check(any("CAIRN_BUILD_TESTS=OFF" in a and "--target cairnd cairn" in a
              for a in values(build, "RUN")),
          "build stage compiles only cairnd and cairn (tests off)")

    # Runtime stage: the layout shared with the Kubernetes manifests.
    def one(keyword):
        v = values(runtime, keyword)
        check(len(v) == 1, f"runtime has one {keyword} (got {len(v)})")
        return v[-1] if v else ""

    check(one("USER") in ("10001:10001", "10001", "cairn"),
          "runtime USER is 10001:10001 (cairn)")
    check(sorted(one("EXPOSE").split()) == ["7070", "7071"], "EXPOSE 7070 7071")
    vol = one("VOLUME")
    check((exec_form(vol) or vol.split()) == ["/var/lib/cairn"],
          "VOLUME /var/lib/cairn")
    check(exec_form(one("ENTRYPOINT")) == ["/usr/local/bin/cairnd"],
          "ENTRYPOINT [\"/usr/local/bin/cairnd\"]")
    cmd = exec_form(one("CMD"))
    check(cmd == ["--config=/etc/cairn/cairnd.toml"],
          "CMD [\"--config=/etc/cairn/cairnd.toml\"]")
    check(one("STOPSIGNAL") == "SIGTERM", "STOPSIGNAL SIGTERM")
    hc = one("HEALTHCHECK")
    m = re.search(r"\bCMD\s+(\[.*\])\s*$", hc)
    hc_cmd = exec_form(m.group(1)) if m else None
    check(hc_cmd is not None and hc_cmd[:2] == ["/usr/local/bin/cairn", "health"]
          and "--endpoint=127.0.0.1:7070" in hc_cmd,
          "HEALTHCHECK CMD [\"/usr/local/bin/cairn\", \"health\", "
          "\"--endpoint=127.0.0.1:7070\", ...]")
    labels = " ".join(values(runtime, "LABEL"))
    for key in ("title", "description", "version", "revision", "created",
                "base.name"):
        check(f"org.opencontainers.image.{key}=" in labels,
              f"LABEL org.opencontainers.image.{key}")
    runs = " ".join(values(runtime, "RUN"))
    check(re.search(r"useradd .*--uid 10001 --gid 10001.* cairn\b", runs)
          and "groupadd --gid 10001 cairn" in runs,
          "runtime creates user and group cairn 10001")
    check("-o 10001 -g 10001" in runs and "/var/lib/cairn" in runs,
          "runtime makes /var/lib/cairn owned by 10001")
    check("install-deps" not in runs, "runtime does not run install-deps.sh")
    check("--no-install-recommends" in runs and "rm -rf /var/lib/apt/lists/*"
          in runs, "runtime apt-get: --no-install-recommends, lists removed")
    m = re.search(r"apt-get install((?:\s+[^&\s]+)+)", runs)
    runtime_pkgs = [w for w in (m.group(1).split() if m else [])
                    if not w.startswith("-")]
    check(runtime_pkgs, "runtime installs its libraries with apt-get install")
    for p in runtime_pkgs:
        check(not re.search(r"-dev$|^build-essential$|^g\+\+|^gcc|^cmake$", p),
              f"runtime package {p} is not a build tool or -dev package")
    copies = values(runtime, "COPY")
    check(any(c.startswith("--from=build") and "/usr/local/bin/" in c
              for c in copies), "runtime copies /usr/local/bin from build")
    check(any(c.endswith("/etc/cairn/cairnd.toml") for c in copies),
          "runtime copies the config to /etc/cairn/cairnd.toml")

    # Context: COPY sources exist and pass the filter; junk does not.
    patterns = ignore_patterns(repo)
    tracked = tracked_files(repo)
    for s in stages:
        for c in values(s, "COPY"):
            flags, sources = copy_sources(c)
            if any(f.startswith("--from") for f in flags):
                continue
            for src in sources:
                src = src.rstrip("/")
                path = os.path.join(repo, src)
                if not check(os.path.exists(path), f"COPY source {src} exists"):
                    continue
                under = [t for t in tracked
                         if t == src or t.startswith(src + "/")]
                check(under, f"COPY source {src} has tracked files")
                left_out = [t for t in under if excluded(patterns, t)]
                check(not left_out,
                      f"COPY source {src}: .dockerignore leaves out {left_out[:5]}")
    for junk in ("build/release/server/cairnd", ".git/HEAD", "data/CURRENT",
                 "tests/CMakeLists.txt", "docs/operations.md",
                 "client/examples/node/node_modules/x/index.js",
                 "server/src/__pycache__/x.pyc"):
        check(excluded(patterns, junk), f".dockerignore leaves out {junk}")
    context_bytes = sum(os.path.getsize(os.path.join(repo, t)) for t in tracked
                        if not excluded(patterns, t)
                        and os.path.exists(os.path.join(repo, t)))
    check(context_bytes < 20 << 20,
          f"build context of tracked files < 20 MiB (got {context_bytes})")
    print(f"context: {context_bytes} bytes of tracked files")

    # Runtime packages == packages of the libraries the binaries link.
    needed = needed_packages([args.cairnd, args.cairn])
    if needed is None:
        print("SKIP package check: no readelf/dpkg here")
    else:
        base = {"libc6", "libstdc++6", "libgcc-s1"}  # in every Debian base
        want = set(needed) - base
        have = set(runtime_pkgs)
        for p in sorted(want - have):
            check(False, f"runtime lacks {p} (for {sorted(needed[p])})")
        for p in sorted(have - want):
            check(False, f"runtime installs {p}, which neither binary links")
        print(f"runtime packages match the binaries: {sorted(want)}")

    # The config: addresses, and accepted by the real cairnd.
    conf = os.path.join(cdir, "cairnd.toml")
    with open(conf, "rb") as f:
        settings = tomllib.load(f)
    check(settings.get("listen") == "0.0.0.0:7070", "config listen 0.0.0.0:7070")
    check(settings.get("metrics_listen") == "0.0.0.0:7071",
          "config metrics_listen 0.0.0.0:7071")
    check(settings.get("data_dir") == "/var/lib/cairn",
          "config data_dir /var/lib/cairn")
    with tempfile.TemporaryDirectory() as tmp:
        def verify(config):
            return subprocess.run(
                [args.cairnd, f"--config={config}", "--verify",
                 f"--data_dir={tmp}"],
                capture_output=True, text=True, timeout=30)

        r = verify(conf)
        check(r.returncode == 2 and r.stderr.startswith("cairnd --verify:")
              and "not a database" in r.stderr,
              f"cairnd accepts the config (--verify on an empty dir: exit 2, "
              f"not a database); got {r.returncode}: {r.stderr.strip()}")
        # The control: a config error is told apart by its message.
        bad = os.path.join(tmp, "bad.toml")
        with open(bad, "w") as f:
            f.write('listne = "0.0.0.0:7070"\n')
        r = verify(bad)
        check(r.returncode == 2 and r.stderr.startswith("cairnd: config:"),
              f"a bad config fails as a config error; got {r.returncode}: "
              f"{r.stderr.strip()}")

    # The health check's flags parse in the real CLI: against a closed port it
    # exits 3 (unreachable), a usage error would be 2.
    if hc_cmd:
        argv = [args.cairn] + [
            f"--endpoint=127.0.0.1:{free_port()}" if a.startswith("--endpoint=")
            else a for a in hc_cmd[1:]]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        check(r.returncode == 3,
              f"HEALTHCHECK command runs (exit 3 when down); got "
              f"{r.returncode}: {r.stderr.strip()}")

    r = subprocess.run(["bash", "-n", os.path.join(cdir, "build-image.sh")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"build-image.sh parses: {r.stderr.strip()}")
    return report()


def report():
    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
