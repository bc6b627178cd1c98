#!/usr/bin/python3
"""Runs a client example (client/examples/python or node) against a real
cairnd and checks that it passes.

  /usr/bin/python3 tests/client/examples/example_test.py --lang python|node \\
      --cairnd PATH --proto_dir DIR --examples_dir DIR [--auth] \\
      [--node_work_dir DIR]

Starts cairnd on free loopback ports with a temporary data dir (with
tests/server/python/cairnd_harness.py) and runs the example:
- without --auth: two copies at once (each tails the other's writes too);
- with --auth: cairnd gets an --auth_tokens file; the example passes with
  --token <write token>, and fails with UNAUTHENTICATED without a token and
  with PERMISSION_DENIED with a read-role token.
Every passing run must exit 0 and print the expected lines. Finally cairnd
is stopped with SIGTERM and must exit 0. Every wait is bounded.

For node, the npm dependencies (client/examples/node/package-lock.json) are
installed with `npm ci` into --node_work_dir (not the source tree) unless
already there, and the example runs with NODE_PATH pointing at them.

Exit status: 0 passed, 1 failed, 77 skipped: only for node, when node or npm
is not installed or the npm registry cannot be reached.
"""

import argparse
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "server", "python"))
import cairnd_harness  # noqa: E402

SKIP = 77
EXAMPLE_TIMEOUT = 60     # seconds per example run
NPM_PING_TIMEOUT = 30
NPM_CI_TIMEOUT = 90
LOCK_TIMEOUT = 150       # waiting for another test installing the same deps
SHUTDOWN_TIMEOUT = 30

WRITE_TOKEN = "example-test-writer-0123456789"
READ_TOKEN = "example-test-reader-0123456789"

# Lines every passing run prints (Python prints True/False, Node true/false).
EXPECTED = [
    r"put \S+/greeting = 'hello' -> seq \d+",
    r"get \S+/greeting -> found=[Tt]rue value='hello' revision=\d+ "
    r"read_seq=\d+",
    r"scan prefix \S+/fruit/ -> 3 keys at read_seq \d+",
    r"batch if exists\(\S+\) and absent\(\S+\): .* -> succeeded=[Tt]rue "
    r"seq=\d+ failed_condition=-1",
    r"batch again with 'v2' -> succeeded=[Ff]alse seq=0 failed_condition=1 .*",
    r"txn worker \d: attempt \d+ \(read \d+\) ABORTED: .*",
    r"txn: \S+/counter = 20 after 20 increments \(expected 20\); [1-9]\d* "
    r"conflicts \(ABORTED\) retried",
    r"tail: \d+ events, seq \d+\.\.\d+ in order with no gaps; all 26 writes "
    r"of this program seen \(\d+ from other clients\)",
    r"OK: all checks passed",
]

NETWORK_ERROR = re.compile(
    r"ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|"
    r"EHOSTUNREACH|ERR_SOCKET_TIMEOUT|network request|socket hang up|"
    r"request to \S+ failed|FETCH_ERROR|ENOTCONN|self.signed certificate|"
    r"unable to get local issuer")


class Skip(Exception):
    pass


def log(msg):
    print("[example_test] " + msg, flush=True)


# -- node dependencies --------------------------------------------------------

def _lock(path, timeout):
    f = open(path, "w")
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return f
        except BlockingIOError:
            if time.monotonic() > deadline:
                f.close()
                raise RuntimeError("%s still locked after %d s" %
                                   (path, timeout))
            time.sleep(0.2)


def ensure_node_deps(node_src, work_dir):
    """Installs the example's npm dependencies into work_dir/node_modules
    (once per package.json + package-lock.json). Returns the node binary."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        raise Skip("%s not installed (deploy/install-deps.sh installs "
                   "Debian's nodejs and npm)" %
                   " and ".join(n for n, p in (("node", node), ("npm", npm))
                                if not p))
    manifests = ("package.json", "package-lock.json")
    digest = hashlib.sha256()
    for name in manifests:
        with open(os.path.join(node_src, name), "rb") as f:
            digest.update(f.read())
    want = digest.hexdigest()
    os.makedirs(work_dir, exist_ok=True)
    stamp = os.path.join(work_dir, "node_modules", ".cairn-example-stamp")
    lock = _lock(os.path.join(work_dir, ".install.lock"), LOCK_TIMEOUT)
    try:
        try:
            with open(stamp) as f:
                if f.read().strip() == want:
                    log("npm dependencies already in %s" % work_dir)
                    return node
        except OSError:
            pass
        for name in manifests:
            shutil.copyfile(os.path.join(node_src, name),
                            os.path.join(work_dir, name))
        net = ["--fetch-retries=1", "--fetch-timeout=30000"]
        log("checking the npm registry: npm ping")
        try:
            ping = subprocess.run([npm, "ping"] + net, cwd=work_dir,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT,
                                  timeout=NPM_PING_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Skip("npm registry unreachable: npm ping did not answer "
                       "within %d s" % NPM_PING_TIMEOUT)
        if ping.returncode != 0:
            raise Skip("npm registry unreachable: npm ping exited %d:\n%s" %
                       (ping.returncode,
                        ping.stdout.decode(errors="replace").strip()))
        cmd = [npm, "ci", "--no-audit", "--no-fund"] + net
        log("installing into %s: %s" % (work_dir, " ".join(cmd[1:])))
        started = time.monotonic()
        try:
            res = subprocess.run(cmd, cwd=work_dir, stdout=subprocess.PIPE,
                                 stderr=subprocess.STDOUT,
                                 timeout=NPM_CI_TIMEOUT)
        except subprocess.TimeoutExpired:
            raise Skip("npm registry unreachable: npm ci did not finish "
                       "within %d s" % NPM_CI_TIMEOUT)
        out = res.stdout.decode(errors="replace").strip()
        if res.returncode != 0:
            if NETWORK_ERROR.search(out):
                raise Skip("npm registry unreachable: npm ci failed with a "
                           "network error:\n" + out)
            raise RuntimeError("npm ci exited %d:\n%s" % (res.returncode, out))
        for mod in ("@grpc/grpc-js", "@grpc/proto-loader"):
            if not os.path.isfile(os.path.join(work_dir, "node_modules", mod,
                                               "package.json")):
                raise RuntimeError("npm ci did not install %s:\n%s" %
                                   (mod, out))
        with open(stamp, "w") as f:
            f.write(want + "\n")
        log("npm ci done in %.1f s" % (time.monotonic() - started))
        return node
    finally:
        lock.close()


# -- running the example ------------------------------------------------------

def example_command(args, node):
    if args.lang == "python":
        return [sys.executable,
                os.path.join(args.examples_dir, "python", "example.py"),
                "--proto-dir", args.proto_dir]
    return [node, os.path.join(args.examples_dir, "node", "example.js"),
            "--proto-dir", args.proto_dir]


def example_env(args):
    env = dict(os.environ)
    for name in ("CAIRN_ENDPOINT", "CAIRN_TOKEN"):
        env.pop(name, None)
    if args.lang == "node":
        env["NODE_PATH"] = os.path.join(args.node_work_dir, "node_modules")
    return env


def start_examples(cmd, env, count):
    procs = []
    for _ in range(count):
        procs.append(subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.PIPE,
                                      stderr=subprocess.STDOUT))
    return procs


def finish_example(proc, label):
    """Waits (bounded) for one example run; returns (exit code, output)."""
    try:
        out, _ = proc.communicate(timeout=EXAMPLE_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate(timeout=30)
        out = out.decode(errors="replace")
        print(out)
        raise AssertionError("%s: no exit within %d s" %
                             (label, EXAMPLE_TIMEOUT))
    out = out.decode(errors="replace")
    log("%s exited %d after printing:" % (label, proc.returncode))
    print(out, end="" if out.endswith("\n") else "\n", flush=True)
    return proc.returncode, out


def check_passed(label, rc, out):
    lines = out.splitlines()
    missing = [p for p in EXPECTED
               if not any(re.fullmatch(p, line) for line in lines)]
    if rc != 0 or missing or any(l.startswith("FAILED") for l in lines):
        raise AssertionError("%s: exit %d, expected lines missing: %s" %
                             (label, rc, missing))
    log("%s: passed, %d expected lines present" % (label, len(EXPECTED)))


def check_refused(label, rc, out, code):
    want = "FAILED: RPC error %s: " % code
    if rc != 1 or not any(l.startswith(want) for l in out.splitlines()):
        raise AssertionError("%s: wanted exit 1 and a line starting with "
                             "%r, got exit %d" % (label, want, rc))
    if "OK: all checks passed" in out:
        raise AssertionError("%s: claims success" % label)
    log("%s: refused with %s as expected" % (label, code))


def start_cairnd(args, tmp, extra_args):
    stubs = os.path.join(tmp, "stubs")
    cairnd_harness.generate_stubs(args.proto_dir, stubs)
    for attempt in range(5):
        data_dir = os.path.join(tmp, "data%d" % attempt)
        server = cairnd_harness.Cairnd(args.cairnd, data_dir,
                                       os.path.join(tmp, "cairnd.log"),
                                       extra_args=extra_args, stub_dir=stubs)
        try:
            server.start(timeout=60)
            log("cairnd serving at %s%s" % (server.address, "".join(
                " " + a for a in extra_args)))
            return server
        except RuntimeError as e:
            # A port free when chosen can be taken before cairnd binds it.
            if "address in use" not in str(e).lower() and \
                    "address already in use" not in str(e).lower():
                raise
            log("port taken, starting again on new ports")
    raise RuntimeError("cairnd could not bind free ports in 5 attempts")


def run(args, tmp):
    node = None
    if args.lang == "node":
        node = ensure_node_deps(os.path.join(args.examples_dir, "node"),
                                args.node_work_dir)
    extra = []
    if args.auth:
        tokens = os.path.join(tmp, "tokens")
        with open(tokens, "w") as f:
            f.write("# role token\nwrite %s\nread %s\n" %
                    (WRITE_TOKEN, READ_TOKEN))
        extra.append("--auth_tokens=" + tokens)

    server = start_cairnd(args, tmp, extra)
    try:
        base = example_command(args, node) + ["--endpoint", server.address]
        env = example_env(args)
        if not args.auth:
            # Two copies at once: distinct key prefixes, each one's Tail also
            # carries the other's writes.
            procs = start_examples(base, env, 2)
            results = [finish_example(p, "%s example #%d" % (args.lang, i + 1))
                       for i, p in enumerate(procs)]
            for i, (rc, out) in enumerate(results):
                check_passed("%s example #%d" % (args.lang, i + 1), rc, out)
        else:
            label = "%s example --token <write token>" % args.lang
            (p,) = start_examples(base + ["--token", WRITE_TOKEN], env, 1)
            check_passed(label, *finish_example(p, label))

            label = "%s example without a token" % args.lang
            (p,) = start_examples(base, env, 1)
            check_refused(label, *finish_example(p, label), "UNAUTHENTICATED")

            label = "%s example --token <read token>" % args.lang
            (p,) = start_examples(base + ["--token", READ_TOKEN], env, 1)
            check_refused(label, *finish_example(p, label),
                          "PERMISSION_DENIED")
    except BaseException:
        log("cairnd log (tail):\n" + server.log_tail())
        server.kill()
        raise
    rc = server.stop(signal.SIGTERM, timeout=SHUTDOWN_TIMEOUT)
    if rc != 0:
        raise AssertionError("cairnd exited %s after SIGTERM; log:\n%s" %
                             (rc, server.log_tail()))
    log("cairnd stopped with SIGTERM, exit 0")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", choices=("python", "node"), required=True)
    ap.add_argument("--cairnd", required=True)
    ap.add_argument("--proto_dir", required=True)
    ap.add_argument("--examples_dir", required=True,
                    help="the repository's client/examples")
    ap.add_argument("--auth", action="store_true")
    ap.add_argument("--node_work_dir",
                    help="where npm installs the node example's dependencies")
    args = ap.parse_args()
    if args.lang == "node" and not args.node_work_dir:
        ap.error("--lang node needs --node_work_dir")

    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="cairn-example-test-")
    try:
        run(args, tmp)
    except Skip as e:
        log("SKIP: %s" % e)
        return SKIP
    except (AssertionError, RuntimeError, OSError,
            subprocess.SubprocessError) as e:
        log("FAIL: %s" % e)
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log("PASS in %.1f s" % (time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())
