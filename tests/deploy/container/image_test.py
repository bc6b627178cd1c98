#!/usr/bin/env python3
"""Builds the cairnd container image and checks what is in it.

Runs deploy/container/build-image.sh (podman build on a local debootstrap
base; the first build compiles cairnd in the build stage, later runs reuse
podman's layer cache), then, without starting a container:
  - `podman image inspect`: user 10001:10001, ports 7070/7071, the volume,
    entrypoint and command, health check, stop signal, OCI labels; the size;
  - the image's file system, exported from a created (never started)
    container: the binaries, the config, user cairn 10001 and its data dir,
    no compiler, headers or -dev packages;
  - in that file system with chroot: `cairnd --version` and ldd (every runtime
    library present); `cairnd --verify` with the image's config as uid 10001;
  - cairnd itself, chrooted as uid 10001 with the image's config (only the
    addresses moved to free loopback ports): the image's `cairn` waits for
    health, puts and gets a key, /healthz answers, SIGTERM ends it with exit 0
    and the database it wrote in /var/lib/cairn verifies clean.

Needs root (debootstrap, chroot, mounts) and the Debian mirror. Exits 77
(ctest: skipped) when not root.

Usage: image_test.py --repo DIR [--image NAME]
"""

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

failures = []


def check(cond, what):
    print(("ok:   " if cond else "FAIL: ") + what, flush=True)
    if not cond:
        failures.append(what)
    return cond


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Rootfs:
    """Runs programs in the exported image file system with chroot, in a
    private mount namespace (its mounts are gone when the program exits):
    the file system read-only except /var/lib/cairn, as under Kubernetes'
    readOnlyRootFilesystem with the data volume, plus /proc and /dev."""

    def __init__(self, path):
        self.path = path

    def argv(self, args, user=None):
        chroot = ["chroot"]
        if user:
            chroot.append(f"--userspec={user}")
        script = ('mount --bind "$0" "$0"'
                  ' && mount --bind "$0/var/lib/cairn" "$0/var/lib/cairn"'
                  ' && mount -o remount,bind,ro "$0"'
                  ' && mount -t proc proc "$0/proc" && mount --rbind /dev "$0/dev"'
                  ' && exec "$@"')
        return (["unshare", "--mount", "--propagation", "private", "--",
                 "sh", "-c", script, self.path] + chroot + [self.path] + args)

    def run(self, args, user=None, timeout=60):
        return run(self.argv(args, user), timeout=timeout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--image", default="")
    args = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (debootstrap, chroot)")
        return 77
    repo = os.path.abspath(args.repo)
    with open(os.path.join(repo, "CMakeLists.txt")) as f:
        version = re.search(r"project\(cairn VERSION ([0-9.]+)", f.read()).group(1)
    image = args.image or f"localhost/cairn:{version}"

    # Build (or reuse the cached layers).
    t0 = time.monotonic()
    build = subprocess.run(
        [os.path.join(repo, "deploy/container/build-image.sh"), "--tag", image],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        timeout=3300)
    took = time.monotonic() - t0
    tail = "\n".join(build.stdout.splitlines()[-40:])
    if not check(build.returncode == 0, f"build-image.sh exits 0 ({took:.0f} s)"):
        print(tail)
        return 1
    print("\n".join(l for l in build.stdout.splitlines()
                    if l.startswith("build-image:")))
    print(f"build: {took:.0f} s")

    # The image's configuration.
    r = run(["podman", "image", "inspect", image])
    info = json.loads(r.stdout)[0]
    cfg = info["Config"]
    print(f"image: {image} {info['Id'][:12]} size {info['Size']} bytes "
          f"({info['Size'] / 2**20:.1f} MiB)")
    check(cfg.get("User") == "10001:10001", f"User 10001:10001 ({cfg.get('User')})")
    check(set(cfg.get("ExposedPorts", {})) == {"7070/tcp", "7071/tcp"},
          f"ExposedPorts 7070, 7071 ({cfg.get('ExposedPorts')})")
    check(set(cfg.get("Volumes") or {}) == {"/var/lib/cairn"},
          f"Volumes /var/lib/cairn ({cfg.get('Volumes')})")
    check(cfg.get("Entrypoint") == ["/usr/local/bin/cairnd"],
          f"Entrypoint ({cfg.get('Entrypoint')})")
    check(cfg.get("Cmd") == ["--config=/etc/cairn/cairnd.toml"],
          f"Cmd ({cfg.get('Cmd')})")
    check(cfg.get("StopSignal") == "SIGTERM", f"StopSignal ({cfg.get('StopSignal')})")
    # podman reports the Docker-format health check beside Config.
    hc = info.get("Healthcheck") or cfg.get("Healthcheck") or {}
    test = hc.get("Test") or []
    check(test[:3] == ["CMD", "/usr/local/bin/cairn", "health"]
          and hc.get("Interval", 0) > 0 and hc.get("Retries", 0) > 0,
          f"Healthcheck runs cairn health ({hc})")
    labels = cfg.get("Labels") or {}
    check(labels.get("org.opencontainers.image.version") == version,
          f"label version {version}")
    for key in ("title", "revision", "created", "base.name"):
        v = labels.get(f"org.opencontainers.image.{key}", "")
        check(v not in ("", "unknown"), f"label {key} = {v}")

    work = tempfile.mkdtemp(prefix="cairn-image-test.")
    ctr = f"cairn-image-test-{os.getpid()}"
    server = None
    try:
        # The file system of a created, never started container.
        root = os.path.join(work, "root")
        os.mkdir(root)
        r = run(["podman", "create", "--name", ctr, image])
        check(r.returncode == 0, f"podman create: {r.stderr.strip()}")
        exp = subprocess.Popen(["podman", "export", ctr], stdout=subprocess.PIPE)
        r = run(["tar", "-x", "-p", "--numeric-owner", "-C", root], stdin=exp.stdout)
        exp.stdout.close()
        check(exp.wait(timeout=120) == 0 and r.returncode == 0,
              f"podman export | tar -x: {r.stderr.strip()}")
        run(["podman", "rm", ctr])
        for d in ("proc", "dev"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        fs = Rootfs(root)

        def p(rel):
            return os.path.join(root, rel.lstrip("/"))

        for f in ("/usr/local/bin/cairnd", "/usr/local/bin/cairn"):
            check(os.access(p(f), os.X_OK), f"{f} is executable")
        check(os.path.isfile(p("/etc/cairn/cairnd.toml")), "/etc/cairn/cairnd.toml")
        with open(p("/etc/passwd")) as f:
            passwd = f.read()
        check(re.search(r"^cairn:x:10001:10001:", passwd, re.M),
              "/etc/passwd has cairn:x:10001:10001")
        st = os.stat(p("/var/lib/cairn"))
        check((st.st_uid, st.st_gid) == (10001, 10001),
              f"/var/lib/cairn owned by 10001:10001 ({st.st_uid}:{st.st_gid})")
        for f in ("/usr/bin/g++", "/usr/bin/gcc", "/usr/bin/c++", "/usr/bin/cmake",
                  "/usr/bin/ld", "/usr/include/grpcpp", "/usr/include/absl",
                  "/usr/include/c++", "/src"):
            check(not os.path.lexists(p(f)), f"no {f} in the runtime image")
        with open(p("/var/lib/dpkg/status")) as f:
            dev = re.findall(r"^Package: (\S+-dev)$", f.read(), re.M)
        check(not dev, f"no -dev packages installed ({dev})")

        # The binaries run with the image's libraries.
        r = fs.run(["/usr/local/bin/cairnd", "--version"])
        check(r.returncode == 0 and r.stdout.strip() == f"cairnd {version}",
              f"cairnd --version in the image: {r.stdout.strip()} "
              f"{r.stderr.strip()}")
        r = fs.run(["/usr/local/bin/cairn", "--version"])
        check(r.returncode == 0 and r.stdout.strip() == f"cairn {version}",
              f"cairn --version in the image: {r.stdout.strip()}")
        for b in ("/usr/local/bin/cairnd", "/usr/local/bin/cairn"):
            r = fs.run(["ldd", b])
            check(r.returncode == 0 and "not found" not in r.stdout,
                  f"ldd {b}: every library found")
        r = fs.run(["sh", "-c", "touch /etc/x; touch /var/lib/cairn/x && "
                    "rm /var/lib/cairn/x"], user="10001:10001")
        check(r.returncode == 0 and "Read-only file system" in r.stderr,
              f"as uid 10001: / is read-only, /var/lib/cairn writable: "
              f"{r.returncode} {r.stderr.strip()}")
        r = fs.run(["/usr/local/bin/cairnd", "--config=/etc/cairn/cairnd.toml",
                    "--verify"], user="10001:10001")
        check(r.returncode == 2 and "/var/lib/cairn: not a database" in r.stderr,
              f"as uid 10001, the image's config parses and names an empty "
              f"/var/lib/cairn: {r.returncode} {r.stderr.strip()}")

        # cairnd in the image, as uid 10001, with the image's config.
        port, mport = free_port(), free_port()
        log = open(os.path.join(work, "cairnd.log"), "w+")
        server = subprocess.Popen(
            fs.argv(["/usr/local/bin/cairnd", "--config=/etc/cairn/cairnd.toml",
                     f"--listen=127.0.0.1:{port}",
                     f"--metrics_listen=127.0.0.1:{mport}"], user="10001:10001"),
            stdout=log, stderr=subprocess.STDOUT)
        endpoint = f"--endpoint=127.0.0.1:{port}"
        cli = ["/usr/local/bin/cairn"]
        r = fs.run(cli + ["health", endpoint, "--wait=30s"], user="10001:10001",
                   timeout=60)
        check(r.returncode == 0 and "SERVING" in r.stdout,
              f"cairn health --wait: {r.stdout.strip()} {r.stderr.strip()}")
        r = fs.run(cli + ["put", endpoint, "image/test", "hello-from-image"],
                   user="10001:10001")
        check(r.returncode == 0, f"cairn put: {r.stdout.strip()} {r.stderr.strip()}")
        r = fs.run(cli + ["get", endpoint, "image/test"], user="10001:10001")
        check(r.returncode == 0 and r.stdout.strip() == "hello-from-image",
              f"cairn get: {r.stdout.strip()} {r.stderr.strip()}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/healthz",
                                        timeout=10) as resp:
                check(resp.status == 200, f"/healthz: {resp.status}")
            with urllib.request.urlopen(f"http://127.0.0.1:{mport}/metrics",
                                        timeout=10) as resp:
                check(b"cairn_" in resp.read(), "/metrics has cairn_ metrics")
        except OSError as e:
            check(False, f"metrics endpoint: {e}")
        server.terminate()  # SIGTERM, as `podman stop` sends
        try:
            rc = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            rc = None
        check(rc == 0, f"cairnd exits 0 on SIGTERM ({rc})")
        server = None
        current = p("/var/lib/cairn/CURRENT")
        check(os.path.exists(current) and os.stat(current).st_uid == 10001,
              "the database files belong to uid 10001")
        r = fs.run(["/usr/local/bin/cairnd", "--config=/etc/cairn/cairnd.toml",
                    "--verify"], user="10001:10001")
        check(r.returncode == 0, f"cairnd --verify of what it wrote: exit "
              f"{r.returncode} {r.stderr.strip()}")
        if failures:
            log.seek(0)
            print("cairnd log:\n" + log.read()[-4000:])
    finally:
        if server is not None:
            server.kill()
            server.wait(timeout=30)
        run(["podman", "rm", "--force", "--ignore", ctr])
        # The mounts were private to the chroots' namespaces; never delete
        # through one that is visible here.
        if not any(os.path.ismount(os.path.join(work, "root", d))
                   for d in ("proc", "dev")):
            shutil.rmtree(work, ignore_errors=True)

    if failures:
        print(f"{len(failures)} check(s) failed")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
