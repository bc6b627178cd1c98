#!/usr/bin/python3
"""The alert rules and the dashboard against a live cairnd and Prometheus.

Run:
  /usr/bin/python3 tests/deploy/monitoring/live_metrics_test.py \
      --cairnd build/release/server/cairnd --proto_dir proto \
      --monitoring_dir deploy/monitoring [--k8s_dir deploy/k8s]
      [--no_prometheus] [--keep]

1. Starts a real cairnd primary and a read replica following it
   (--replica_of), on free loopback ports with temporary data dirs.
2. Drives every kind of RPC on the primary (Put, Get found / not found /
   invalid, MultiGet, Scan, Batch, Delete, DeleteRange, Merge, Txn, Flush,
   Compact, Stats, snapshots, a Tail stream with a named consumer that
   acknowledges), and reads on the replica, so that every label set
   appears; waits until the replica has caught up.
3. Scrapes /metrics of both and checks that every metric used in
   cairn-alerts.yml and in every query of the dashboard (panels and
   variables) is in the primary's or the replica's exposition (histograms
   by their _bucket/_sum/_count sample names), that every label a matcher
   or a by()/without()/on() list uses exists on that metric, and that every
   `=`/`=~` matcher matches at least one series (except grpc_code, whose
   values appear only when they happen). Allowed without cairnd: `up`
   (made by Prometheus) and the target labels job, instance, namespace,
   pod, role.
4. Unless --no_prometheus: runs /usr/bin/prometheus with the jobs of
   prometheus.yml and prometheus-kubernetes.yml (1 s intervals; the static
   job pointed at the primary;
   the Kubernetes job, which Debian's build cannot run, fed through
   file_sd_configs with the pods Kubernetes discovery would present: the
   primary and replica pods with the labels and prometheus.io/* annotations
   of deploy/k8s's StatefulSet pod templates, plus pods the relabelling
   must drop) and the rules file, then checks through its API: the static
   target and exactly the two cairn pods are scraped, at the annotated port
   and path, with namespace/pod/role labels, all up; every rule loaded and
   evaluates with health "ok"; no alert is pending or firing on the healthy
   pair (a disk alert is accepted when the test machine's disk is that
   full); every dashboard query evaluates and returns data.
Finally both cairnd stop with SIGTERM and must exit 0.

Only the standard library, python3-grpcio, python3-grpc-tools and
python3-yaml. Every wait is bounded. Exits non-zero on failure.
"""

import argparse
import calendar
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "server", "python"))
import cairnd_harness  # noqa: E402
import promql_refs  # noqa: E402

import yaml  # noqa: E402

PROMETHEUS = "/usr/bin/prometheus"
RPC_TIMEOUT = 30
WAIT_TIMEOUT = 60
HTTP_TIMEOUT = 5

SYNTHETIC_METRICS = {"up"}
TARGET_LABELS = {"job", "instance", "namespace", "pod", "role"}
# Labels whose values appear only when they happen (a status code).
EVENT_VALUED_LABELS = {"grpc_code"}

CONSUMER = "monitoring-test"


class Failure(Exception):
    pass


T0 = time.monotonic()


def log(msg):
    sys.stderr.write("live_metrics_test [%5.1fs]: %s\n" %
                     (time.monotonic() - T0, msg))
    sys.stderr.flush()


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def http_get(url):
    try:
        with urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return 0, str(e)


def wait_for(what, fn, timeout=WAIT_TIMEOUT, interval=0.2):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise Failure("timed out after %ss waiting for %s" % (timeout, what))
        time.sleep(interval)


# --- The exposition ---------------------------------------------------------

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_exposition(text):
    """{sample name: [labels dict, ...]} of a text-format scrape."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if not m:
            raise Failure("unreadable exposition line %r" % line)
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.setdefault(m.group(1), []).append(labels)
    return out


def scrape(cairnd):
    code, text = http_get("http://127.0.0.1:%d/metrics" % cairnd.metrics_port)
    check(code == 200, "/metrics of %s: HTTP %s %s" % (cairnd.address, code,
                                                       text[:300]))
    return parse_exposition(text)


def value_of(cairnd, name):
    code, text = http_get("http://127.0.0.1:%d/metrics" % cairnd.metrics_port)
    if code != 200:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


class Cairnd(cairnd_harness.Cairnd):
    """cairnd_harness.Cairnd whose start() first waits for /healthz.

    The harness polls Health.Check on a channel opened while the server is
    still starting; the channel's reconnect backoff then makes it see
    SERVING about 5 s late. Polling the HTTP /healthz first (ready in
    ~0.1 s) and then asking Health.Check with wait_for_ready once avoids
    that.
    """

    def start(self, timeout=60.0):
        import grpc
        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args(), stdin=subprocess.DEVNULL,
                                     stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        url = "http://127.0.0.1:%d/healthz" % self.metrics_port

        def healthy():
            if self.proc.poll() is not None:
                raise Failure("cairnd exited with %d while starting; log:\n%s"
                              % (self.proc.returncode, self.log_tail()))
            return http_get(url)[0] == 200
        wait_for("%s /healthz" % self.address, healthy, timeout, 0.05)
        health_pb2, health_grpc = cairnd_harness.load_health_modules(
            self.stub_dir)
        with grpc.insecure_channel(self.address) as ch:
            resp = health_grpc.HealthStub(ch).Check(
                health_pb2.HealthCheckRequest(), timeout=timeout,
                wait_for_ready=True)
        check(resp.status == health_pb2.HealthCheckResponse.SERVING,
              "%s health status %d" % (self.address, resp.status))


# --- Driving RPCs -----------------------------------------------------------

def drive_rpcs(primary, replica, stubs):
    import grpc
    kv_pb2, kv_grpc, admin_pb2, admin_grpc, repl_pb2, repl_grpc, types_pb2 = stubs
    ch = grpc.insecure_channel(primary.address,
                               options=cairnd_harness.CHANNEL_OPTIONS)
    kv = kv_grpc.KVStub(ch)
    admin = admin_grpc.AdminStub(ch)
    repl = repl_grpc.ReplicationStub(ch)
    t = RPC_TIMEOUT

    # A named consumer: its Tail registers it; it reads the first changes
    # and acknowledges them below.
    tail = repl.Tail(repl_pb2.TailRequest(consumer=CONSUMER), timeout=t)

    for i in range(50):
        kv.Put(kv_pb2.PutRequest(key=b"k%03d" % i, value=b"v" * 100),
               timeout=t)
    kv.Put(kv_pb2.PutRequest(key=b"async", value=b"x",
                             durability=types_pb2.DURABILITY_ASYNC), timeout=t)
    check(kv.Get(kv_pb2.GetRequest(key=b"k001"), timeout=t).found,
          "Get k001 not found")
    check(not kv.Get(kv_pb2.GetRequest(key=b"absent"), timeout=t).found,
          "Get absent found")
    try:
        kv.Get(kv_pb2.GetRequest(key=b""), timeout=t)
        raise Failure("Get with an empty key succeeded")
    except grpc.RpcError as e:
        check(e.code() == grpc.StatusCode.INVALID_ARGUMENT,
              "Get empty key: %s" % e.code())
    kv.MultiGet(kv_pb2.MultiGetRequest(keys=[b"k001", b"k002", b"nope"]),
                timeout=t)
    n = sum(len(r.kvs) for r in kv.Scan(kv_pb2.ScanRequest(prefix=b"k"),
                                        timeout=t))
    check(n == 50, "Scan returned %d keys" % n)
    kv.Batch(kv_pb2.BatchRequest(ops=[
        kv_pb2.BatchOp(put=types_pb2.PutOp(key=b"b1", value=b"1")),
        kv_pb2.BatchOp(delete=types_pb2.DeleteOp(key=b"k000")),
    ]), timeout=t)
    kv.Delete(kv_pb2.DeleteRequest(key=b"k001"), timeout=t)
    kv.DeleteRange(kv_pb2.DeleteRangeRequest(start=b"k040", end=b"k045"),
                   timeout=t)
    kv.Merge(kv_pb2.MergeRequest(key=b"ctr", operator="add", operand=b"5"),
             timeout=t)

    def txn_requests():
        yield kv_pb2.TxnRequest(begin=kv_pb2.TxnBegin())
        yield kv_pb2.TxnRequest(get=kv_pb2.TxnGet(key=b"k002"))
        yield kv_pb2.TxnRequest(put=types_pb2.PutOp(key=b"t1", value=b"1"))
        yield kv_pb2.TxnRequest(commit=kv_pb2.TxnCommit())
    responses = list(kv.Txn(txn_requests(), timeout=t))
    check(responses and responses[-1].HasField("committed"),
          "Txn did not commit: %s" % responses)

    snap = admin.AcquireSnapshot(admin_pb2.AcquireSnapshotRequest(), timeout=t)
    kv.Get(kv_pb2.GetRequest(key=b"k002", snapshot_seq=snap.seq), timeout=t)
    admin.ReleaseSnapshot(admin_pb2.ReleaseSnapshotRequest(seq=snap.seq),
                          timeout=t)
    admin.Flush(admin_pb2.FlushRequest(), timeout=t)
    for i in range(20):
        last_put = kv.Put(kv_pb2.PutRequest(key=b"k%03d" % i,
                                            value=b"w" * 100), timeout=t).seq
    admin.Flush(admin_pb2.FlushRequest(), timeout=t)
    admin.Compact(admin_pb2.CompactRequest(), timeout=t)
    admin.Stats(admin_pb2.StatsRequest(), timeout=t)

    # The consumer reads every change and acknowledges the last one, so
    # that it is caught up (a lagging consumer that stopped acknowledging
    # would rightly make CairnTailConsumerStuck pending).
    last = 0
    for resp in tail:
        for ev in resp.events:
            last = ev.seq
        if last >= last_put:
            break
    tail.cancel()
    check(last == last_put, "Tail delivered up to %d, not %d" % (last, last_put))
    repl.Ack(repl_pb2.AckRequest(consumer=CONSUMER, seq=last), timeout=t)
    names = [c.name for c in repl.ListConsumers(
        repl_pb2.ListConsumersRequest(), timeout=t).consumers]
    check(CONSUMER in names, "consumer not listed: %s" % names)
    ch.close()

    # Reads on the replica, once it has caught up.
    def caught_up():
        applied = value_of(replica, "cairn_replica_applied_sequence")
        last_seq = value_of(primary, "cairn_last_sequence")
        connected = value_of(replica, "cairn_replica_connected")
        return (connected == 1 and applied is not None and
                applied == last_seq)
    wait_for("the replica to apply every change", caught_up)
    rch = grpc.insecure_channel(replica.address,
                                options=cairnd_harness.CHANNEL_OPTIONS)
    rkv = kv_grpc.KVStub(rch)
    check(rkv.Get(kv_pb2.GetRequest(key=b"k002"), timeout=t).found,
          "replica Get k002 not found")
    list(rkv.Scan(kv_pb2.ScanRequest(prefix=b"k"), timeout=t))
    rch.close()


# --- Checking names and labels ---------------------------------------------

def _matches(series, matchers):
    for label, op, value in matchers:
        have = series.get(label, "")
        if op == "=" and have != value:
            return False
        if op == "!=" and have == value:
            return False
        if op == "=~" and not re.fullmatch(value, have):
            return False
        if op == "!~" and re.fullmatch(value, have):
            return False
    return True


def check_expr(where, expr, expo, problems):
    """Appends to problems what `expr` uses that the exposition lacks."""
    try:
        selectors, join_labels = promql_refs.references(expr)
    except promql_refs.PromQLError as e:
        problems.append("%s: %s" % (where, e))
        return 0
    all_labels = set()
    for s in selectors:
        for series in expo.get(s.name, []):
            all_labels.update(series)
    for s in selectors:
        if s.name in SYNTHETIC_METRICS:
            continue
        series = expo.get(s.name)
        if series is None:
            problems.append("%s: metric %s is not in cairnd's /metrics" %
                            (where, s.name))
            continue
        labels = set()
        for x in series:
            labels.update(x)
        for label, op, value in s.matchers:
            if label in TARGET_LABELS:
                continue
            if label not in labels:
                problems.append("%s: %s has no label %s (has %s)" %
                                (where, s.name, label, sorted(labels)))
        valued = [(l, op, v) for l, op, v in s.matchers
                  if l not in TARGET_LABELS and l not in EVENT_VALUED_LABELS
                  and "$" not in v]
        if valued and not any(_matches(x, valued) for x in series):
            problems.append("%s: no series of %s matches %s" %
                            (where, s.name, valued))
        for label in s.grouping:
            if label in TARGET_LABELS:
                continue
            if label not in all_labels:
                problems.append("%s: grouping label %s is on none of %s" %
                                (where, label,
                                 sorted({x.name for x in selectors})))
    for label in join_labels - TARGET_LABELS:
        if label not in all_labels:
            problems.append("%s: join label %s is on none of the metrics" %
                            (where, label))
    return len(selectors)


def rule_exprs(rules_path):
    with open(rules_path) as f:
        doc = yaml.safe_load(f)
    for group in doc["groups"]:
        for rule in group["rules"]:
            yield "rule %s" % (rule.get("alert") or rule.get("record")), \
                rule["expr"]


def dashboard_exprs(dashboard_path):
    with open(dashboard_path) as f:
        doc = json.load(f)
    for p in doc["panels"]:
        for t in p.get("targets", []):
            yield "panel %d %r %s" % (p["id"], p["title"], t["refId"]), \
                t["expr"]
    for v in doc["templating"]["list"]:
        if v["type"] == "query":
            q = v["query"]["query"] if isinstance(v["query"], dict) \
                else v["query"]
            yield "variable %s" % v["name"], q


def check_names(monitoring_dir, expo):
    problems = []
    nsel = 0
    sources = list(rule_exprs(os.path.join(monitoring_dir, "cairn-alerts.yml")))
    sources += list(dashboard_exprs(
        os.path.join(monitoring_dir, "grafana", "cairn-dashboard.json")))
    for where, expr in sources:
        nsel += check_expr(where, expr, expo, problems)
    if problems:
        raise Failure("%d problem(s):\n  %s" % (len(problems),
                                                "\n  ".join(problems)))
    log("%d expressions (%d selectors) of the rules and the dashboard: every "
        "metric, label and matcher found in the live scrapes"
        % (len(sources), nsel))
    return sources


# --- Prometheus -------------------------------------------------------------

def prom_query(base, expr):
    url = "%s/api/v1/query?%s" % (base, urllib.parse.urlencode({"query": expr}))
    code, body = http_get(url)
    if code == 0:
        return None
    doc = json.loads(body)
    if doc.get("status") != "success":
        raise Failure("query %r: %s" % (expr, body[:500]))
    return doc["data"]["result"]


def prom_scalar(base, expr):
    url = "%s/api/v1/query?%s" % (base, urllib.parse.urlencode({"query": expr}))
    code, body = http_get(url)
    check(code == 200, "query %r: HTTP %s %s" % (expr, code, body[:300]))
    return float(json.loads(body)["data"]["result"][1])


def rfc3339(text):
    """Seconds since the epoch of Prometheus's 2006-01-02T15:04:05.999Z."""
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)",
                     text)
    check(m, "unreadable time %r" % text)
    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    frac = float("0" + m.group(2)) if m.group(2) else 0.0
    tz = m.group(3)
    offset = 0
    if tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60)
    return base + frac - offset


def disk_alert_explained(base, alert):
    """The data dirs are on the test machine's disk: a disk alert is right
    if that disk is as full as the alert says. Returns why, or None."""
    name = alert["alertname"]
    if alert["alertstate"] != "pending" or not name.startswith("CairnDisk"):
        return None
    sel = '{instance="%s"}' % alert["instance"]
    r = prom_query(base, "cairn_data_dir_free_bytes%s / "
                   "cairn_data_dir_size_bytes%s" % (sel, sel))
    if not r:
        return None
    ratio = float(r[0]["value"][1])
    limits = {"CairnDiskFillingUp": 0.40, "CairnDiskAlmostFull": 0.10}
    if name in limits and ratio < limits[name]:
        return "the test machine's disk has %.1f %% free" % (100 * ratio)
    return None


def sanitize(name):
    """A Kubernetes label or annotation name as a Prometheus label name."""
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def pod_template(path):
    """metadata of the pod template of the StatefulSet in `path`."""
    check(os.path.isfile(path), "%s missing: the Kubernetes job is checked "
          "against deploy/k8s's pod templates" % path)
    with open(path) as f:
        for doc in yaml.safe_load_all(f):
            if doc and doc.get("kind") == "StatefulSet":
                return doc["spec"]["template"]["metadata"]
    raise Failure("%s holds no StatefulSet" % path)


def prom_config(monitoring_dir, k8s_dir, tmp, primary, replica):
    # One Prometheus with the jobs of both shipped files.
    with open(os.path.join(monitoring_dir, "prometheus.yml")) as f:
        doc = yaml.safe_load(f)
    with open(os.path.join(monitoring_dir, "prometheus-kubernetes.yml")) as f:
        kdoc = yaml.safe_load(f)
    check(doc["rule_files"] == kdoc["rule_files"] and
          doc["global"] == kdoc["global"],
          "prometheus.yml and prometheus-kubernetes.yml differ in global or "
          "rule_files")
    doc["scrape_configs"] += kdoc["scrape_configs"]
    doc["global"].update({"scrape_interval": "1s", "scrape_timeout": "1s",
                          "evaluation_interval": "1s"})
    jobs = {j["job_name"]: j for j in doc["scrape_configs"]}
    check(len(jobs) == 2 and set(jobs) == {"cairn", "cairn-kubernetes"},
          "scrape jobs %s" % [j["job_name"] for j in doc["scrape_configs"]])
    static = jobs["cairn"]["static_configs"]
    check(static[0]["targets"] == ["127.0.0.1:7071"],
          "static target %s (want cairnd's default 127.0.0.1:7071)" % static)
    static[0]["targets"] = ["127.0.0.1:%d" % primary.metrics_port]

    k8s = jobs["cairn-kubernetes"]
    check(k8s.pop("kubernetes_sd_configs") == [{"role": "pod"}],
          "the Kubernetes job must discover pods")
    pod = "__meta_kubernetes_pod_"
    ann = pod + "annotation_prometheus_io_"

    def target(addr, **labels):
        base = {pod + "phase": "Running",
                "__meta_kubernetes_namespace": "cairn"}
        base.update(labels)
        return {"targets": [addr], "labels": base}

    # The two pods deploy/k8s runs, with the labels and annotations of their
    # StatefulSets' pod templates, as Kubernetes discovery presents them:
    # __address__ is podIP:containerPort of a declared port (here the gRPC
    # port); the prometheus.io/port annotation must move it to the metrics
    # port, which is the test's instead of the manifests' 7071.
    pods = []
    for manifest, name, server in (
            ("statefulset.yaml", "cairn-0", primary),
            ("replica-statefulset.yaml", "cairn-replica-0", replica)):
        meta = pod_template(os.path.join(k8s_dir, manifest))
        annotations = dict(meta.get("annotations", {}))
        for key in ("prometheus.io/scrape", "prometheus.io/port",
                    "prometheus.io/path"):
            check(key in annotations, "%s: the pod template has no %s "
                  "annotation" % (manifest, key))
        annotations["prometheus.io/port"] = str(server.metrics_port)
        labels = {pod + "name": name}
        for k, v in meta.get("labels", {}).items():
            labels[pod + "label_" + sanitize(k)] = v
            labels[pod + "labelpresent_" + sanitize(k)] = "true"
        for k, v in annotations.items():
            labels[pod + "annotation_" + sanitize(k)] = v
            labels[pod + "annotationpresent_" + sanitize(k)] = "true"
        pods.append(target(server.address, **labels))
    dropped = [
        # Not annotated.
        target("127.0.0.1:1", **{pod + "name": "cairn-plain",
                                 pod + "label_app_kubernetes_io_name": "cairn"}),
        # Another application's annotated pod.
        target("127.0.0.1:2", **{ann + "scrape": "true", ann + "port": "2",
                                 pod + "name": "redis-0",
                                 pod + "label_app": "redis"}),
        # A cairn pod still pending.
        target("127.0.0.1:3", **{ann + "scrape": "true", ann + "port": "3",
                                 pod + "name": "cairn-pending",
                                 pod + "label_app": "cairnd",
                                 pod + "phase": "Pending"}),
    ]
    sd_file = os.path.join(tmp, "k8s-pods.json")
    with open(sd_file, "w") as f:
        json.dump(pods + dropped, f)
    k8s["file_sd_configs"] = [{"files": [sd_file]}]

    for rf in doc["rule_files"]:
        shutil.copy(os.path.join(monitoring_dir, rf), os.path.join(tmp, rf))
    path = os.path.join(tmp, "prometheus.yml")
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False)
    return path, len(dropped)


def run_prometheus(args, tmp, primary, replica, sources):
    config, ndropped = prom_config(args.monitoring_dir, args.k8s_dir, tmp,
                                   primary, replica)
    port = cairnd_harness.free_port()
    prom = cairnd_harness.LoggedProcess("prometheus", [
        PROMETHEUS, "--config.file=" + config,
        "--storage.tsdb.path=" + os.path.join(tmp, "tsdb"),
        "--web.listen-address=127.0.0.1:%d" % port,
    ], os.path.join(tmp, "prometheus.log"))
    base = "http://127.0.0.1:%d" % port
    try:
        def ready():
            check(prom.running(), "prometheus exited:\n" + prom.log_text()[-4000:])
            return http_get(base + "/-/ready")[0] == 200
        wait_for("prometheus ready", ready)

        def targets():
            code, body = http_get(base + "/api/v1/targets")
            return json.loads(body)["data"] if code == 200 else None

        def all_up():
            data = targets()
            if not data:
                return None
            active = data["activeTargets"]
            if len(active) == 3 and all(t["health"] == "up" for t in active):
                return data
            return None
        try:
            data = wait_for("3 targets up", all_up)
        except Failure as e:
            raise Failure("%s: %s" % (e, json.dumps(targets(), indent=1)[:4000]))
        static = [t for t in data["activeTargets"]
                  if t["labels"]["job"] == "cairn"]
        check(len(static) == 1 and static[0]["scrapeUrl"] ==
              "http://127.0.0.1:%d/metrics" % primary.metrics_port,
              "static target: %s" % static)
        pods = {t["labels"].get("pod"): t for t in data["activeTargets"]
                if t["labels"]["job"] == "cairn-kubernetes"}
        check(set(pods) == {"cairn-0", "cairn-replica-0"},
              "pod targets: %s" % sorted(pods))
        for name, server, role in (("cairn-0", primary, "primary"),
                                   ("cairn-replica-0", replica, "replica")):
            k = pods[name]
            want = "127.0.0.1:%d" % server.metrics_port
            check(k["scrapeUrl"] == "http://%s/metrics" % want,
                  "pod %s scraped at %s" % (name, k["scrapeUrl"]))
            for label, value in (("namespace", "cairn"), ("role", role),
                                 ("instance", want)):
                check(k["labels"].get(label) == value,
                      "pod %s label %s: %s" % (name, label, k["labels"]))
        dropped = [t for t in data["droppedTargets"]
                   if t["discoveredLabels"].get("job") == "cairn-kubernetes"]
        check(len(dropped) == ndropped, "dropped pods: %s" % dropped)
        log("targets: the static primary, and deploy/k8s's primary and "
            "replica pods by their annotations, up; %d other pods dropped by "
            "the relabelling" % ndropped)

        # Rules: loaded, evaluated, healthy.
        with open(os.path.join(args.monitoring_dir, "cairn-alerts.yml")) as f:
            nrules = sum(len(g["rules"]) for g in yaml.safe_load(f)["groups"])

        def rules_evaluated():
            code, body = http_get(base + "/api/v1/rules")
            if code != 200:
                return None
            rules = [r for g in json.loads(body)["data"]["groups"]
                     for r in g["rules"]]
            if len(rules) != nrules:
                return None
            if any(r["lastEvaluation"].startswith("0001") for r in rules):
                return None
            return rules
        rules = wait_for("%d rules evaluated" % nrules, rules_evaluated)
        bad = [(r["name"], r["health"], r.get("lastError")) for r in rules
               if r["health"] != "ok"]
        check(not bad, "rules not healthy: %s" % bad)

        # Dashboard queries: each evaluates and returns data once a few
        # scrapes are in.
        def subst(expr):
            return (expr.replace('"$job"', '".*"')
                    .replace('"$instance"', '".*"')
                    .replace("$__rate_interval", "10s"))
        queries = [(w, subst(e)) for w, e in sources
                   if w.startswith("panel ")]
        empty = list(queries)

        def all_have_data():
            remaining = []
            for w, e in empty:
                r = prom_query(base, e)
                if not r:
                    remaining.append((w, e))
            empty[:] = remaining
            return not remaining
        try:
            wait_for("data for every dashboard query", all_have_data,
                     timeout=30, interval=1)
        except Failure:
            raise Failure("dashboard queries without data: %s" % empty)
        for name in ("job", "instance"):
            code, body = http_get(base + "/api/v1/label/%s/values?%s" % (
                name, urllib.parse.urlencode({"match[]": "cairn_build_info"})))
            values = json.loads(body)["data"] if code == 200 else []
            check(len(values) == 2, "variable %s would offer %s" % (name, values))
        log("%d dashboard queries return data; variables offer both targets"
            % len(queries))

        # A healthy pair: nothing pending or firing, after rules evaluated a
        # few more times on the scraped data.
        # Let every rule evaluate twice more on the scraped data.
        now = prom_scalar(base, "time()")

        def evaluated_since():
            code, body = http_get(base + "/api/v1/rules")
            if code != 200:
                return False
            return all(rfc3339(r["lastEvaluation"]) > now + 2
                       for g in json.loads(body)["data"]["groups"]
                       for r in g["rules"])
        wait_for("two more rule evaluations", evaluated_since, timeout=30)
        alerts = prom_query(base, "ALERTS")
        unexpected = []
        for a in alerts:
            m = a["metric"]
            why = disk_alert_explained(base, m)
            if why:
                log("%s %s on %s: expected here, %s" % (
                    m["alertname"], m["alertstate"], m["instance"], why))
            else:
                unexpected.append(m)
        check(not unexpected, "alerts on a healthy primary and replica: %s" %
              unexpected)
        log("%d rules healthy, no unexplained alert pending or firing"
            % nrules)
        code = prom.stop()
        check(code == 0, "prometheus exited %s" % code)
    finally:
        prom.kill()


# --- Main -------------------------------------------------------------------

def load_stubs(proto_dir, out_dir):
    cairnd_harness.generate_stubs(proto_dir, out_dir)
    from cairn.v1 import kv_pb2, kv_pb2_grpc, admin_pb2, admin_pb2_grpc
    from cairn.v1 import replication_pb2, replication_pb2_grpc, types_pb2
    return (kv_pb2, kv_pb2_grpc, admin_pb2, admin_pb2_grpc, replication_pb2,
            replication_pb2_grpc, types_pb2)


def run(args, tmp):
    stub_dir = os.path.join(tmp, "stubs")
    stubs = load_stubs(args.proto_dir, stub_dir)
    primary = Cairnd(
        os.path.abspath(args.cairnd), os.path.join(tmp, "primary"),
        os.path.join(tmp, "primary.log"), stub_dir=stub_dir)
    replica = None
    started = []
    try:
        primary.start()
        started.append(primary)
        replica = Cairnd(
            os.path.abspath(args.cairnd), os.path.join(tmp, "replica"),
            os.path.join(tmp, "replica.log"),
            extra_args=["--replica_of=" + primary.address], stub_dir=stub_dir)
        replica.start()
        started.append(replica)
        t0 = time.monotonic()
        drive_rpcs(primary, replica, stubs)
        log("RPCs driven and replica caught up in %.1f s" %
            (time.monotonic() - t0))

        expo = {}
        for name, series in scrape(primary).items():
            expo.setdefault(name, []).extend(series)
        replica_expo = scrape(replica)
        check("cairn_replica_connected" in replica_expo,
              "the replica exports no cairn_replica_* family")
        for name, series in replica_expo.items():
            expo.setdefault(name, []).extend(series)
        check(any(s.get("consumer") == CONSUMER for s in
                  expo.get("cairn_tail_consumer_lag_seconds", [])),
              "no consumer series for %s" % CONSUMER)
        sources = check_names(os.path.abspath(args.monitoring_dir), expo)

        if not args.no_prometheus:
            if not os.access(PROMETHEUS, os.X_OK):
                raise Failure("%s missing (Debian package 'prometheus'); "
                              "--no_prometheus skips that part" % PROMETHEUS)
            run_prometheus(args, tmp, primary, replica, sources)

        for c in (replica, primary):
            code = c.stop()
            check(code == 0, "cairnd %s exited %s; log:\n%s" %
                  (c.address, code, c.log_tail()))
    finally:
        for c in started:
            c.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cairnd", required=True)
    parser.add_argument("--proto_dir", required=True)
    parser.add_argument("--monitoring_dir", required=True)
    parser.add_argument("--k8s_dir", help="deploy/k8s (default: next to "
                        "--monitoring_dir)")
    parser.add_argument("--no_prometheus", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="keep the temporary dir")
    args = parser.parse_args()
    args.monitoring_dir = os.path.abspath(args.monitoring_dir)
    if not args.k8s_dir:
        args.k8s_dir = os.path.join(os.path.dirname(args.monitoring_dir), "k8s")
    tmp = tempfile.mkdtemp(prefix="cairn-monitoring-test-")
    t0 = time.monotonic()
    try:
        run(args, tmp)
    except Exception as e:  # grpc.RpcError, OSError, ... too
        log("FAILED: %s: %s" % (type(e).__name__, e))
        if args.keep:
            log("temporary dir kept: %s" % tmp)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    log("PASSED in %.1f s" % (time.monotonic() - t0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
