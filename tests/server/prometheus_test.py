#!/usr/bin/python3
"""A real Prometheus server scrapes cairnd's /metrics.

Run:
  /usr/bin/python3 tests/server/prometheus_test.py --cairnd PATH_TO_CAIRND

Starts cairnd on free loopback ports with a temporary data dir, and Debian's
`prometheus` (/usr/bin/prometheus, package `prometheus`; installed with
apt-get when missing and running as root) with a 1 s scrape of cairnd's
metrics port as job "cairn", its TSDB in a temporary dir and its web API on
a free loopback port. Through the query API it checks that the target is up,
that the exposition was ingested (cairn_build_info 1, process_start_time_seconds
> 0, cairn_wal_segments >= 1, every LSM level of cairn_sst_files, repeated
samples, a histogram usable by histogram_quantile), and runs
`promtool check metrics` over a raw scrape of /metrics when /usr/bin/promtool
exists. Finally it stops both with SIGTERM; cairnd must exit 0.

Only the Python standard library is used. Every wait is bounded; temporary
dirs are removed. Exits non-zero with a message on failure.
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "python"))
import cairnd_harness  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
PROMTOOL = "/usr/bin/promtool"
START_TIMEOUT = 60     # cairnd /healthz, prometheus /-/ready
UP_TIMEOUT = 60        # up{job="cairn"} == 1
QUERY_TIMEOUT = 30     # each further query until it holds
HTTP_TIMEOUT = 5       # one HTTP request


class Failure(Exception):
    pass


def log(msg):
    sys.stderr.write("prometheus_test: %s\n" % msg)
    sys.stderr.flush()


def free_port(taken=()):
    """A loopback TCP port that was free a moment ago (not in `taken`)."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in taken:
            return port
    raise Failure("no free port")


def http_get(url):
    """(status, body) of a GET; (0, error) when there is no HTTP answer."""
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def ensure_prometheus():
    if os.access(PROMETHEUS, os.X_OK):
        return
    if os.geteuid() != 0:
        raise Failure("%s is missing (Debian package 'prometheus'; install it "
                      "with apt-get as root)" % PROMETHEUS)
    log("installing the Debian package 'prometheus'")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    for cmd in (["apt-get", "update"],
                ["apt-get", "install", "-y", "--no-install-recommends",
                 "prometheus"]):
        try:
            r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=600)
        except subprocess.TimeoutExpired:
            raise Failure("%s timed out" % " ".join(cmd))
        if r.returncode != 0:
            raise Failure("%s failed:\n%s" % (
                " ".join(cmd), r.stdout.decode("utf-8", "replace")[-4000:]))
    # The package starts a prometheus service where an init system runs; this
    # test runs its own instance on its own ports, so that does not matter.
    if not os.access(PROMETHEUS, os.X_OK):
        raise Failure("%s still missing after apt-get install" % PROMETHEUS)


Process = cairnd_harness.LoggedProcess


def wait_for(what, fn, timeout, proc=None, interval=0.2):
    """Calls fn() until it returns a true value (bounded); returns it.
    Fails early if `proc` exits."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if proc is not None and not proc.running():
            raise Failure("%s exited (code %s) while waiting for %s\n--- %s log:\n%s"
                          % (proc.name, proc.proc.returncode, what, proc.name,
                             proc.log_text()[-8000:]))
        if time.monotonic() >= deadline:
            raise Failure("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


class PromApi:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port

    def query(self, expr):
        """The result vector of an instant query (list of (labels, value))."""
        url = "%s/api/v1/query?%s" % (self.base,
                                      urllib.parse.urlencode({"query": expr}))
        code, body = http_get(url)
        if code != 200:
            return None
        doc = json.loads(body)
        if doc.get("status") != "success":
            raise Failure("query %r failed: %s" % (expr, body))
        data = doc["data"]
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        if data["resultType"] != "vector":
            raise Failure("query %r: unexpected result type %s" %
                          (expr, data["resultType"]))
        return [(r["metric"], float(r["value"][1])) for r in data["result"]]

    def value(self, expr):
        """The single value of `expr`, or None when it has no result yet."""
        r = self.query(expr)
        if not r:
            return None
        if len(r) != 1:
            raise Failure("query %r: expected one series, got %d: %s" %
                          (expr, len(r), r))
        return r[0][1]

    def targets(self):
        code, body = http_get(self.base + "/api/v1/targets")
        if code != 200:
            return []
        return json.loads(body)["data"]["activeTargets"]


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def run(args, tmp):
    ensure_prometheus()
    cairnd_bin = os.path.abspath(args.cairnd)
    check(os.access(cairnd_bin, os.X_OK), "cairnd not executable: %s" % cairnd_bin)

    grpc_port = free_port()
    metrics_port = free_port({grpc_port})
    prom_port = free_port({grpc_port, metrics_port})
    data_dir = os.path.join(tmp, "cairnd-data")
    tsdb_dir = os.path.join(tmp, "tsdb")
    os.makedirs(data_dir)
    os.makedirs(tsdb_dir)
    metrics_base = "http://127.0.0.1:%d" % metrics_port

    procs = []
    cairnd = None
    try:
        cairnd = Process("cairnd", [
            cairnd_bin,
            "--listen=127.0.0.1:%d" % grpc_port,
            "--metrics_listen=127.0.0.1:%d" % metrics_port,
            "--data_dir=" + data_dir,
        ], os.path.join(tmp, "cairnd.log"))
        procs.append(cairnd)
        wait_for("cairnd /healthz 200",
                 lambda: http_get(metrics_base + "/healthz")[0] == 200,
                 START_TIMEOUT, proc=cairnd)
        code, body = http_get(metrics_base + "/healthz")
        check(code == 200 and body == "ok\n",
              "/healthz: %s %r (want 200 'ok\\n')" % (code, body))

        # promtool over a raw scrape.
        code, text = http_get(metrics_base + "/metrics")
        check(code == 200, "/metrics: HTTP %s: %s" % (code, text[:500]))
        check("# TYPE cairn_build_info gauge" in text,
              "/metrics lacks cairn_build_info:\n" + text[:2000])
        if os.access(PROMTOOL, os.X_OK):
            r = subprocess.run([PROMTOOL, "check", "metrics"],
                               input=text.encode(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            report = r.stdout.decode("utf-8", "replace")
            check(r.returncode == 0 and report.strip() == "",
                  "promtool check metrics (exit %d):\n%s" % (r.returncode, report))
            log("promtool check metrics: clean")
        else:
            log("%s not installed: skipping promtool check metrics" % PROMTOOL)

        config = os.path.join(tmp, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n"
                    "  scrape_interval: 1s\n"
                    "  scrape_timeout: 1s\n"
                    "  evaluation_interval: 1s\n"
                    "scrape_configs:\n"
                    "  - job_name: cairn\n"
                    "    scrape_interval: 1s\n"
                    "    scrape_timeout: 1s\n"
                    "    metrics_path: /metrics\n"
                    "    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % metrics_port)
        if os.access(PROMTOOL, os.X_OK):
            r = subprocess.run([PROMTOOL, "check", "config", config],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=60)
            check(r.returncode == 0, "promtool check config:\n" +
                  r.stdout.decode("utf-8", "replace"))

        prom = Process("prometheus", [
            PROMETHEUS,
            "--config.file=" + config,
            "--storage.tsdb.path=" + tsdb_dir,
            "--web.listen-address=127.0.0.1:%d" % prom_port,
        ], os.path.join(tmp, "prometheus.log"))
        procs.append(prom)
        api = PromApi(prom_port)
        wait_for("prometheus /-/ready",
                 lambda: http_get(api.base + "/-/ready")[0] == 200,
                 START_TIMEOUT, proc=prom)

        def target_up():
            v = api.value('up{job="cairn"}')
            return v == 1
        try:
            wait_for('up{job="cairn"} == 1', target_up, UP_TIMEOUT, proc=prom)
        except Failure as e:
            raise Failure("%s\ntargets: %s" % (e, json.dumps(api.targets(), indent=1)))

        targets = [t for t in api.targets() if t["labels"].get("job") == "cairn"]
        check(len(targets) == 1, "expected one cairn target: %s" % targets)
        check(targets[0]["health"] == "up" and targets[0]["lastError"] == "",
              "target not healthy: %s" % targets[0])
        check(targets[0]["scrapeUrl"] == metrics_base + "/metrics",
              "scrape URL %s" % targets[0]["scrapeUrl"])

        def holds(what, expr, pred):
            def probe():
                v = api.value(expr)
                return v is not None and pred(v)
            wait_for("%s (%s)" % (what, expr), probe, QUERY_TIMEOUT, proc=prom)
            log("ok: %s = %s" % (expr, api.value(expr)))

        holds("build info", 'cairn_build_info{job="cairn"}', lambda v: v == 1)
        r = api.query('cairn_build_info{job="cairn"}')
        check(r and r[0][0].get("version"),
              "cairn_build_info has no version label: %s" % r)
        holds("start time", 'process_start_time_seconds{job="cairn"}',
              lambda v: v > 0)
        holds("start time is recent",
              'time() - process_start_time_seconds{job="cairn"}',
              lambda v: -5 < v < 3600)
        holds("WAL segments", 'cairn_wal_segments{job="cairn"}', lambda v: v >= 1)
        holds("open fds", 'process_open_fds{job="cairn"}', lambda v: v > 0)
        holds("every level", 'count(cairn_sst_files{job="cairn"})',
              lambda v: v == 7)
        holds("every stall reason",
              'count(cairn_write_stalls_total{job="cairn"})', lambda v: v == 5)
        holds("many families ingested",
              'count(count by (__name__) ({job="cairn",__name__=~"cairn_.+"}))',
              lambda v: v >= 45)
        holds("histogram buckets", 'count(cairn_wal_fsync_duration_seconds_bucket'
              '{job="cairn"})', lambda v: v >= 2)
        holds("histogram_quantile evaluates",
              'count(histogram_quantile(0.99, cairn_flush_duration_seconds_bucket'
              '{job="cairn"}))', lambda v: v == 1)
        holds("repeated scrapes",
              'count_over_time(cairn_build_info{job="cairn"}[1m])',
              lambda v: v >= 3)
        holds("no engine error", 'cairn_engine_background_error{job="cairn"}',
              lambda v: v == 0)
        # Prometheus's view agrees with a direct scrape on a steady gauge.
        code, text = http_get(metrics_base + "/metrics")
        direct = None
        for line in text.splitlines():
            if line.startswith("cairn_wal_segments "):
                direct = float(line.split()[1])
        check(direct is not None, "no cairn_wal_segments in a direct scrape")
        holds("same as scraped", 'cairn_wal_segments{job="cairn"}',
              lambda v: v == direct)

        code = prom.stop()
        check(code == 0, "prometheus exited with %s\n--- log:\n%s"
              % (code, prom.log_text()[-4000:]))
        code = cairnd.stop()
        check(code == 0, "cairnd exited with %s (want 0)\n--- log:\n%s"
              % (code, cairnd.log_text()[-8000:]))
        log("cairnd and prometheus stopped cleanly")
    finally:
        for p in procs:
            p.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cairnd", required=True, help="path of cairnd")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary dir (for debugging)")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="cairn-prometheus-test-")
    try:
        run(args, tmp)
    except Failure as e:
        log("FAILED: %s" % e)
        if args.keep:
            log("temporary dir kept: %s" % tmp)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
