"""Helpers for Python integration tests of cairnd.

- generate_stubs(proto_dir, out_dir): runs grpc_tools.protoc on the Cairn and
  health .proto files and makes the generated modules importable.
- LoggedProcess: a child process (cairnd, prometheus, ...) with its output
  in a log file, stopped with SIGTERM and a bounded wait.
- Cairnd: starts the real cairnd binary on free loopback ports with a data
  dir, waits (bounded) until its health service says SERVING, and stops it
  with a signal, waiting (bounded) for the exit.

Only the Debian packages python3-grpcio and python3-grpc-tools are needed.
"""

import importlib
import os
import signal
import socket
import subprocess
import sys
import time

PROTO_FILES = [
    "cairn/v1/types.proto",
    "cairn/v1/kv.proto",
    "cairn/v1/admin.proto",
    "cairn/v1/replication.proto",
    "grpc/health/v1/health.proto",
]

# Clients must accept messages as large as the server's --max_message_bytes.
MAX_MESSAGE_BYTES = 24 << 20
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
    ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
]


def _run_protoc(cmd):
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=120)
    return res.returncode, res.stdout.decode(errors="replace")


def generate_stubs(proto_dir, out_dir, python="/usr/bin/python3"):
    """Generates *_pb2.py and *_pb2_grpc.py into out_dir with
    `python3 -m grpc_tools.protoc` (Debian python3-grpc-tools) and adds
    out_dir to sys.path. Debian 12's grpc_tools bundles protoc 3.5.1, so the
    .proto files keep to what it accepts (no proto3 `optional`).
    Returns a one-line description of the method.
    """
    missing = [p for p in PROTO_FILES
               if not os.path.isfile(os.path.join(proto_dir, p))]
    if missing:
        raise RuntimeError("proto files missing under %s: %s" %
                           (proto_dir, ", ".join(missing)))
    os.makedirs(out_dir, exist_ok=True)
    cmd = [python, "-m", "grpc_tools.protoc", "-I", proto_dir,
           "--python_out=" + out_dir, "--grpc_python_out=" + out_dir]
    rc, out = _run_protoc(cmd + [os.path.join(proto_dir, p)
                                 for p in PROTO_FILES])
    if rc != 0:
        raise RuntimeError("grpc_tools.protoc failed:\n" + out.strip())
    method = "grpc_tools.protoc"
    # Python 3 namespace packages make cairn/v1 importable without
    # __init__.py files. "grpc", though, is also the grpcio package: the
    # generated health modules must not shadow it, so they are loaded by
    # path (load_health_modules) instead of through the "grpc" package.
    if out_dir not in sys.path:
        sys.path.insert(0, out_dir)
    importlib.invalidate_caches()
    return method


def load_health_modules(out_dir):
    """Imports the generated grpc/health/v1 modules without touching grpcio."""
    import importlib.util
    import types
    # health_pb2_grpc does "from grpc.health.v1 import health_pb2": provide
    # the two package levels under grpcio's "grpc" package.
    base = os.path.join(out_dir, "grpc")
    for pkg, path in (("grpc.health", os.path.join(base, "health")),
                      ("grpc.health.v1", os.path.join(base, "health", "v1"))):
        if pkg not in sys.modules:
            m = types.ModuleType(pkg)
            m.__path__ = [path]
            sys.modules[pkg] = m
    mods = {}
    for name in ("health_pb2", "health_pb2_grpc"):
        path = os.path.join(out_dir, "grpc", "health", "v1", name + ".py")
        full = "grpc.health.v1." + name
        if full in sys.modules:
            mods[name] = sys.modules[full]
            continue
        spec = importlib.util.spec_from_file_location(full, path)
        mod = importlib.util.module_from_spec(spec)
        sys.modules[full] = mod
        spec.loader.exec_module(mod)
        setattr(sys.modules["grpc.health.v1"], name, mod)
        mods[name] = mod
    return mods["health_pb2"], mods["health_pb2_grpc"]


def free_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cairnd:
    """One cairnd process on free loopback ports."""

    def __init__(self, binary, data_dir, log_path, extra_args=(),
                 stub_dir=None):
        self.binary = binary
        self.data_dir = data_dir
        self.log_path = log_path
        self.extra_args = list(extra_args)
        self.stub_dir = stub_dir
        self.port = free_port()
        self.metrics_port = free_port()
        while self.metrics_port == self.port:
            self.metrics_port = free_port()
        self.address = "127.0.0.1:%d" % self.port
        self.proc = None
        self._log_file = None

    def args(self):
        return [self.binary,
                "--listen=" + self.address,
                "--metrics_listen=127.0.0.1:%d" % self.metrics_port,
                "--data_dir=" + self.data_dir] + self.extra_args

    def start(self, timeout=60.0):
        """Starts the process and waits until Health.Check says SERVING."""
        import grpc
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        health_pb2, health_pb2_grpc = load_health_modules(self.stub_dir)
        deadline = time.monotonic() + timeout
        last_error = "no answer"
        channel = grpc.insecure_channel(self.address)
        try:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        "cairnd exited with %d while starting; log:\n%s" %
                        (self.proc.returncode, self.log_tail()))
                try:
                    resp = stub.Check(health_pb2.HealthCheckRequest(),
                                      timeout=2)
                    if resp.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                    last_error = "status %d" % resp.status
                except grpc.RpcError as e:
                    last_error = "%s %s" % (e.code(), e.details())
                time.sleep(0.1)
        finally:
            channel.close()
        self.kill()
        raise RuntimeError("cairnd not SERVING within %.0f s (%s); log:\n%s" %
                           (timeout, last_error, self.log_tail()))

    def stop(self, sig=signal.SIGTERM, timeout=30.0):
        """Sends sig and waits for the exit; returns the exit code.

        Raises subprocess.TimeoutExpired (after killing it) if the process
        does not exit within timeout seconds.
        """
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise
        self._close_log()
        return self.proc.returncode

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self._close_log()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _close_log(self):
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def log_tail(self, max_bytes=8000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no log)"
        return data[-max_bytes:].decode(errors="replace")


class LoggedProcess:
    """A child process with its output in a log file."""

    def __init__(self, name, args, log_path):
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.proc = subprocess.Popen(args, stdin=subprocess.DEVNULL,
                                     stdout=self._log, stderr=subprocess.STDOUT)

    def running(self):
        return self.proc.poll() is None

    def log_text(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code (None if it had to be
        killed)."""
        if self.proc.poll() is not None:
            self._log.close()
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=30)
            code = None
        self._log.close()
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
        self._log.close()
