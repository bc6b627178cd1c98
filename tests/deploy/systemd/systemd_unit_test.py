#!/usr/bin/python3
"""Checks deploy/systemd: the unit, its sample config and the sandbox.

Run:
  /usr/bin/python3 tests/deploy/systemd/systemd_unit_test.py \
      --cairnd PATH --cairn PATH --build_dir DIR
      [--only verify,security,consistency,install,sandbox]

This machine runs no systemd (PID 1 is not systemd), so the unit cannot be
started for real. Instead:

- verify:      `systemd-analyze verify` accepts the unit (with ExecStart
               pointing at the built cairnd: verify checks that it exists)
               and prints nothing.
- security:    `systemd-analyze security --offline=true` rates the unit's
               exposure at most 2.0 ("OK"), and the directives the unit
               promises are there.
- consistency: the unit and the sample config agree: --config names
               /etc/cairn/cairnd.toml, the config's data_dir is the unit's
               StateDirectory, the only writable path, and the stop timeout
               covers the config's shutdown_grace.
- install:     `cmake --install BUILD_DIR --prefix TMP` installs cairnd,
               cairn, the unit with ExecStart at TMP/bin/cairnd, the
               sysusers.d entry and the sample config, and the installed
               unit still passes `systemd-analyze verify`.
- sandbox:     a rehearsal of what the unit enforces. cairnd runs with the
               sample config (only data_dir and ports changed) as an
               unprivileged user with no capabilities and no_new_privs,
               under strace, through a workload of every kind of call
               (the `cairn` CLI and a /metrics scrape) and a SIGTERM. Every
               system call it made must be allowed by the unit's
               SystemCallFilter= (expanded with `systemd-analyze
               syscall-filter`), every socket family by
               RestrictAddressFamilies=, no mapping may be writable and
               executable (MemoryDenyWriteExecute=), and every file opened
               for writing must be under the data dir (ProtectSystem=strict
               with ReadWritePaths=). It must exit 0.

Exits non-zero with a message on failure. Every wait is bounded.
"""

import argparse
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
UNIT = os.path.join(REPO, "deploy", "systemd", "cairnd.service")
CONFIG = os.path.join(REPO, "deploy", "systemd", "cairnd.toml")
SYSUSERS = os.path.join(REPO, "deploy", "systemd", "cairn.sysusers")
UNPRIVILEGED = 65534  # nobody: owns nothing but the test's data dir

failures = []


def check(cond, msg):
    if not cond:
        failures.append(msg)
        print("FAIL:", msg)
    return cond


def parse_unit(path):
    """Section -> list of (key, value), in order (keys repeat)."""
    sections = {}
    current = None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line.startswith("#") or line.startswith(";"):
                continue
            if line.startswith("[") and line.endswith("]"):
                current = line[1:-1]
                sections.setdefault(current, [])
                continue
            key, _, value = line.partition("=")
            sections[current].append((key.strip(), value.strip()))
    return sections


def values(unit, section, key):
    return [v for k, v in unit.get(section, []) if k == key]


def value(unit, section, key):
    vs = values(unit, section, key)
    return vs[-1] if vs else None


def seconds(text):
    """A systemd or cairnd duration ("90s", "2min", "10s", "500ms")."""
    total = 0.0
    for num, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text):
        mult = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60,
                "h": 3600, "hr": 3600}[unit]
        total += float(num) * mult
    return total


def unit_for(cairnd, tmp):
    """The unit with ExecStart pointing at the built cairnd."""
    with open(UNIT) as f:
        text = f.read()
    check("ExecStart=/usr/local/bin/cairnd " in text,
          "ExecStart runs /usr/local/bin/cairnd (the install target rewrites it)")
    path = os.path.join(tmp, "cairnd.service")
    with open(path, "w") as f:
        f.write(text.replace("/usr/local/bin/cairnd", cairnd))
    return path


def test_verify(cairnd, tmp):
    path = unit_for(cairnd, tmp)
    r = subprocess.run(["systemd-analyze", "verify", path],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0, f"systemd-analyze verify exit {r.returncode}: {r.stderr}")
    check(r.stdout.strip() == "" and r.stderr.strip() == "",
          f"systemd-analyze verify printed: {r.stdout}{r.stderr}")
    # A unit with a mistake must be refused: the check can fail.
    bad = os.path.join(tmp, "broken.service")
    with open(path) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("Type=notify", "Type=notifyy"))
    r = subprocess.run(["systemd-analyze", "verify", bad],
                       capture_output=True, text=True, timeout=60)
    check("notifyy" in r.stderr, f"verify did not flag a bad Type=: {r.stderr}")


def test_security(cairnd, tmp):
    path = unit_for(cairnd, tmp)
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", path],
                       capture_output=True, text=True, timeout=60)
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", r.stdout)
    if check(m is not None, f"no exposure level in: {r.stdout[-500:]}{r.stderr}"):
        print(f"exposure: {m.group(1)} {m.group(2)}")
        check(float(m.group(1)) <= 2.0, f"exposure {m.group(1)} > 2.0")
    unit = parse_unit(UNIT)
    want = {
        "Type": "notify", "NotifyAccess": "main", "User": "cairn",
        "Group": "cairn", "StateDirectory": "cairn",
        "NoNewPrivileges": "yes", "ProtectSystem": "strict",
        "ReadWritePaths": "/var/lib/cairn", "PrivateTmp": "yes",
        "ProtectHome": "yes", "CapabilityBoundingSet": "",
        "AmbientCapabilities": "", "MemoryDenyWriteExecute": "yes",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "KillSignal": "SIGTERM", "Restart": "on-failure",
    }
    for key, v in want.items():
        check(value(unit, "Service", key) == v,
              f"[Service] {key}={value(unit, 'Service', key)!r}, want {v!r}")
    check(seconds(value(unit, "Service", "WatchdogSec") or "0") > 0,
          "WatchdogSec is set")
    check(int(value(unit, "Service", "LimitNOFILE") or 0) >= 65536,
          "LimitNOFILE >= 65536")
    check(value(unit, "Install", "WantedBy") == "multi-user.target",
          "WantedBy=multi-user.target")
    with open(SYSUSERS) as f:
        line = [l for l in f if l.strip() and not l.startswith("#")]
    check(len(line) == 1 and line[0].split()[:2] == ["u", "cairn"],
          f"cairn.sysusers creates user cairn: {line}")


def test_consistency(cairnd, tmp):
    unit = parse_unit(UNIT)
    with open(CONFIG, "rb") as f:
        config = tomllib.load(f)
    exec_start = value(unit, "Service", "ExecStart")
    check(exec_start.split()[1:] == ["--config=/etc/cairn/cairnd.toml"],
          f"ExecStart passes only --config=/etc/cairn/cairnd.toml: {exec_start}")
    state = "/var/lib/" + value(unit, "Service", "StateDirectory")
    check(config.get("data_dir") == state,
          f"config data_dir {config.get('data_dir')} is the StateDirectory {state}")
    check(values(unit, "Service", "ReadWritePaths") == [state],
          "the data dir is the only ReadWritePaths")
    check(value(unit, "Service", "WorkingDirectory") == state,
          "WorkingDirectory is the data dir")
    grace = seconds(config.get("shutdown_grace", "10s"))
    stop = seconds(value(unit, "Service", "TimeoutStopSec"))
    check(stop >= grace + 30,
          f"TimeoutStopSec {stop}s leaves 30 s beyond shutdown_grace {grace}s")
    watchdog = seconds(value(unit, "Service", "WatchdogSec"))
    check(watchdog >= 10, f"WatchdogSec {watchdog}s >= 10 s (cairnd needs 5 s to call itself wedged)")
    # Loopback by default, like cairnd's embedded defaults.
    check(config.get("listen", "").startswith("127.0.0.1:"), "listen on loopback")
    check(config.get("metrics_listen", "").startswith("127.0.0.1:"),
          "metrics on loopback")
    # The sample config is accepted by the real cairnd: --verify parses the
    # whole configuration first, then finds no database (exit 2).
    empty = os.path.join(tmp, "no-db")
    r = subprocess.run([cairnd, f"--config={CONFIG}", "--verify",
                        f"--data_dir={empty}"],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 2 and "setting" not in r.stderr,
          f"sample config refused: exit {r.returncode}: {r.stderr}")


def test_install(build_dir, tmp):
    prefix = os.path.join(tmp, "prefix")
    r = subprocess.run(["cmake", "--install", build_dir, "--prefix", prefix],
                       capture_output=True, text=True, timeout=300)
    if not check(r.returncode == 0, f"cmake --install: {r.stderr}"):
        return
    for rel in ("bin/cairnd", "bin/cairn"):
        check(os.access(os.path.join(prefix, rel), os.X_OK), f"{rel} installed")
    unit_path = os.path.join(prefix, "lib/systemd/system/cairnd.service")
    for rel in ("lib/systemd/system/cairnd.service", "lib/sysusers.d/cairn.conf",
                "share/cairn/cairnd.toml"):
        check(os.path.isfile(os.path.join(prefix, rel)), f"{rel} installed")
    if not os.path.isfile(unit_path):
        return
    unit = parse_unit(unit_path)
    check(value(unit, "Service", "ExecStart") ==
          f"{prefix}/bin/cairnd --config=/etc/cairn/cairnd.toml",
          f"installed ExecStart: {value(unit, 'Service', 'ExecStart')}")
    r = subprocess.run(["systemd-analyze", "verify", unit_path],
                       capture_output=True, text=True, timeout=60)
    check(r.returncode == 0 and not r.stderr.strip(),
          f"installed unit: systemd-analyze verify: {r.stderr}")
    r = subprocess.run([os.path.join(prefix, "bin/cairnd"), "--version"],
                       capture_output=True, text=True, timeout=30)
    check(r.returncode == 0 and r.stdout.startswith("cairnd "),
          f"installed cairnd --version: {r.stdout}{r.stderr}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expand_filter(group, cache):
    """Syscall names of a systemd syscall-filter group, nested groups expanded."""
    if group in cache:
        return cache[group]
    r = subprocess.run(["systemd-analyze", "syscall-filter", group],
                       capture_output=True, text=True, timeout=60)
    names = set()
    for line in r.stdout.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("@"):
            names |= expand_filter(line, cache)
        else:
            names.add(line)
    cache[group] = names
    return names


def allowed_syscalls(unit):
    cache = {}
    allowed = set()
    for entry in values(unit, "Service", "SystemCallFilter"):
        deny = entry.startswith("~")
        names = set()
        for token in entry.lstrip("~").split():
            names |= expand_filter(token, cache) if token.startswith("@") else {token}
        if deny:
            allowed -= names
        else:
            allowed |= names
    return allowed


def traced_child(strace_pid):
    """The pid of the process strace started (0 if none)."""
    try:
        with open(f"/proc/{strace_pid}/task/{strace_pid}/children") as f:
            children = f.read().split()
        return int(children[0]) if children else 0
    except OSError:
        return 0


def run_cli(cairn, port, *args, stdin=None, timeout=30):
    r = subprocess.run([cairn, f"--endpoint=127.0.0.1:{port}", *args],
                       input=stdin, capture_output=True, text=True,
                       timeout=timeout)
    check(r.returncode == 0, f"cairn {' '.join(args)}: exit {r.returncode}: {r.stderr}")
    return r.stdout


def test_sandbox(cairnd, cairn, tmp):
    unit = parse_unit(UNIT)
    with open(CONFIG, "rb") as f:
        config = tomllib.load(f)
    data = os.path.join(tmp, "data")
    os.mkdir(data)
    os.chown(data, UNPRIVILEGED, UNPRIVILEGED)
    os.chmod(tmp, 0o755)
    grpc_port, metrics_port = free_port(), free_port()
    # The sample config, with the data dir and ports of this test.
    text = open(CONFIG).read()
    text = text.replace(f'data_dir = "{config["data_dir"]}"', f'data_dir = "{data}"')
    text = text.replace(f'listen = "{config["listen"]}"',
                        f'listen = "127.0.0.1:{grpc_port}"')
    text = text.replace(f'metrics_listen = "{config["metrics_listen"]}"',
                        f'metrics_listen = "127.0.0.1:{metrics_port}"')
    conf = os.path.join(tmp, "cairnd.toml")
    with open(conf, "w") as f:
        f.write(text)
    os.chmod(conf, 0o644)
    trace = os.path.join(tmp, "strace.log")
    umask = int(value(unit, "Service", "UMask"), 8)
    cmd = ["strace", "-f", "-qq", "-o", trace, "-e", "signal=none",
           "setpriv", f"--reuid={UNPRIVILEGED}", f"--regid={UNPRIVILEGED}",
           "--clear-groups", "--no-new-privs", "--inh-caps=-all",
           "--bounding-set=-all",
           cairnd, f"--config={conf}"]
    log = open(os.path.join(tmp, "cairnd.log"), "w+")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                            cwd=data, preexec_fn=lambda: os.umask(umask))
    try:
        r = subprocess.run([cairn, f"--endpoint=127.0.0.1:{grpc_port}",
                            "health", "--wait=60s"],
                           capture_output=True, text=True, timeout=90)
        if not check(r.returncode == 0, f"cairnd did not become healthy: {r.stderr}"):
            return
        # One call of every kind the unit must allow.
        run_cli(cairn, grpc_port, "put", "k1", "v1")
        check(run_cli(cairn, grpc_port, "get", "k1").strip().endswith("v1"),
              "get k1 returns v1")
        run_cli(cairn, grpc_port, "merge", "n", "add", "5")
        run_cli(cairn, grpc_port, "batch", stdin="put b1 x\nput b2 y\n")
        run_cli(cairn, grpc_port, "txn", stdin="get k1\nput t1 z\ncommit\n")
        run_cli(cairn, grpc_port, "scan", "--limit=10")
        run_cli(cairn, grpc_port, "del", "b1")
        run_cli(cairn, grpc_port, "del-range", "--prefix=t")
        run_cli(cairn, grpc_port, "tail", "--from-seq=1", "--count=3")
        run_cli(cairn, grpc_port, "snapshot", "acquire")
        run_cli(cairn, grpc_port, "flush")
        run_cli(cairn, grpc_port, "compact")
        run_cli(cairn, grpc_port, "stats")
        run_cli(cairn, grpc_port, "checkpoint", os.path.join(data, "backup"))
        with urllib.request.urlopen(
                f"http://127.0.0.1:{metrics_port}/metrics", timeout=10) as m:
            body = m.read().decode()
        check("cairn_build_info" in body, "/metrics answers")
        check(re.search(r"^process_start_time_seconds [1-9]", body, re.M),
              "process_start_time_seconds is set")
        with urllib.request.urlopen(
                f"http://127.0.0.1:{metrics_port}/healthz", timeout=10) as h:
            check(h.status == 200, "/healthz 200")
    finally:
        # SIGTERM to cairnd itself (strace's child: setpriv exec'd it), as
        # systemd would send it; strace then exits with cairnd's status.
        target = traced_child(proc.pid)
        if target:
            os.kill(target, signal.SIGTERM)
        else:
            proc.kill()
        try:
            rc = proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        log.seek(0)
        output = log.read()
    check(rc == 0, f"cairnd exit {rc}:\n{output[-3000:]}")

    allowed = allowed_syscalls(unit)
    families = set(value(unit, "Service", "RestrictAddressFamilies").split())
    used = set()
    bad_families, wx, writes_outside = set(), [], set()
    # strace -f lines: "PID name(args) = result" (or "<unfinished ...>" and
    # "<... name resumed>" halves, which name the call too).
    call = re.compile(r"^\d+\s+(?:<\.\.\. )?([a-z0-9_]+)[( ]")
    traced_cairnd = False
    for line in open(trace):
        m = call.match(line)
        if not m:
            continue
        name = m.group(1)
        if name == "execve" and cairnd in line:
            traced_cairnd = True
            continue
        if not traced_cairnd:  # setpriv's own calls before the exec
            continue
        used.add(name)
        if name in ("socket", "socketpair"):
            fam = re.search(r"\((AF_\w+)", line)
            if fam and fam.group(1) not in families:
                bad_families.add(fam.group(1))
        if name in ("mmap", "mprotect", "pkey_mprotect") and \
                "PROT_WRITE" in line and "PROT_EXEC" in line:
            wx.append(line.strip())
        if name in ("open", "openat", "creat") and " = " in line and \
                "ENOENT" not in line:
            path = re.search(r'"([^"]*)"', line)
            if path and re.search(r"O_WRONLY|O_RDWR|O_CREAT", line):
                p = path.group(1)
                if not (p.startswith(data) or p.startswith("/dev/")):
                    writes_outside.add(p)
    check(traced_cairnd and len(used) > 20, f"strace saw cairnd's calls: {len(used)}")
    print(f"cairnd made {len(used)} distinct system calls: {' '.join(sorted(used))}")
    check(not (used - allowed),
          f"calls the unit's SystemCallFilter= refuses: {sorted(used - allowed)}")
    check(not bad_families, f"socket families not in RestrictAddressFamilies=: {bad_families}")
    check(not wx, f"writable+executable mappings: {wx[:3]}")
    check(not writes_outside, f"files opened for writing outside the data dir: {writes_outside}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cairnd", required=True)
    ap.add_argument("--cairn", required=True)
    ap.add_argument("--build_dir", required=True)
    ap.add_argument("--only",
                    default="verify,security,consistency,install,sandbox")
    args = ap.parse_args()
    cairnd, cairn = os.path.abspath(args.cairnd), os.path.abspath(args.cairn)
    for tool in ("systemd-analyze", "strace", "setpriv"):
        if shutil.which(tool) is None:
            print(f"missing {tool} (deploy/install-deps.sh installs it)")
            return 1
    tmp = tempfile.mkdtemp(prefix="cairn-systemd-")
    try:
        for name in args.only.split(","):
            print(f"=== {name}")
            start = time.monotonic()
            if name == "sandbox":
                test_sandbox(cairnd, cairn, tmp)
            elif name == "install":
                test_install(args.build_dir, tmp)
            else:
                globals()[f"test_{name}"](cairnd, tmp)
            print(f"    {time.monotonic() - start:.1f} s")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
