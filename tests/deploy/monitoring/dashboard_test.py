#!/usr/bin/python3
"""Structure of the Grafana dashboard and provisioning files.

Run:
  /usr/bin/python3 tests/deploy/monitoring/dashboard_test.py \
      --monitoring_dir deploy/monitoring

Checks that grafana/cairn-dashboard.json
- is what grafana/make_dashboard.py writes (edit the script, not the JSON);
- is a Grafana dashboard of schemaVersion 36 or later, with a datasource
  variable DS_PROMETHEUS that every panel and query uses, and `job` and
  `instance` query variables;
- has unique integer panel ids and a gridPos on every panel, inside the 24
  columns, with no two panels overlapping;
- has queries on every non-row panel (unique refIds), each one readable by
  promql_refs (known functions only), selecting with job=~"$job" and
  instance=~"$instance";
- covers the topics of the monitoring brief (one metric of each).
The provisioning files must be valid YAML pointing at the right places.
Whether the metrics exist is checked against a live cairnd by
live_metrics_test.py.

Needs python3-yaml. Exits non-zero on failure.
"""

import argparse
import importlib.util
import json
import os
import sys

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import promql_refs  # noqa: E402

DS_UID = "${DS_PROMETHEUS}"

# One metric per topic the dashboard must show.
REQUIRED = [
    "grpc_server_handled_total",                  # RPC rate, errors by code
    "grpc_server_handling_seconds_bucket",        # latency per method
    "cairn_write_stall_active",                   # stalls by reason
    "cairn_write_stalls_total",
    "cairn_write_stall_seconds_total",
    "cairn_delayed_write_rate_bytes_per_second",
    "cairn_flushes_total",                        # flushes
    "cairn_flush_duration_seconds_bucket",
    "cairn_flush_written_bytes_total",
    "cairn_compactions_total",                    # compactions by level
    "cairn_compaction_pending_bytes",
    "cairn_sst_files",                            # levels
    "cairn_sst_bytes",
    "cairn_write_amplification",
    "cairn_wal_written_bytes_total",              # WAL
    "cairn_wal_fsync_duration_seconds_bucket",
    "cairn_wal_group_commit_batches_bucket",
    "cairn_wal_segments",
    "cairn_block_cache_hits_total",               # cache
    "cairn_bloom_useful_total",
    "cairn_server_streams_open",                  # Tail
    "cairn_tail_events_sent_total",
    "cairn_tail_consumer_lag_seconds",
    "cairn_replica_lag_seconds",                  # replicas
    "process_cpu_seconds_total",                  # process
    "process_resident_memory_bytes",
    "process_open_fds",
    "cairn_data_dir_free_bytes",                  # disk
    "cairn_build_info",
]


class Failure(Exception):
    pass


def log(msg):
    sys.stderr.write("dashboard_test: %s\n" % msg)
    sys.stderr.flush()


def check(cond, msg):
    if not cond:
        raise Failure(msg)


def load_generator(path):
    spec = importlib.util.spec_from_file_location("make_dashboard", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def check_layout(panels):
    ids = set()
    rects = []
    for p in panels:
        pid = p.get("id")
        check(isinstance(pid, int) and pid > 0, "panel without an id: %s" %
              p.get("title"))
        check(pid not in ids, "panel id %d used twice" % pid)
        ids.add(pid)
        g = p.get("gridPos")
        check(isinstance(g, dict) and all(
            isinstance(g.get(k), int) for k in ("h", "w", "x", "y")),
            "panel %d %r: gridPos %r" % (pid, p.get("title"), g))
        check(g["w"] > 0 and g["h"] > 0 and g["x"] >= 0 and g["y"] >= 0 and
              g["x"] + g["w"] <= 24,
              "panel %d %r: gridPos %r outside the grid" % (pid, p["title"], g))
        for other_id, o in rects:
            overlap = (g["x"] < o["x"] + o["w"] and o["x"] < g["x"] + g["w"] and
                       g["y"] < o["y"] + o["h"] and o["y"] < g["y"] + g["h"])
            check(not overlap, "panels %d and %d overlap" % (pid, other_id))
        rects.append((pid, g))
    return ids


def check_queries(panels):
    used = set()
    nqueries = 0
    for p in panels:
        if p["type"] == "row":
            check(not p.get("targets"), "row %r has queries" % p["title"])
            continue
        title = "panel %d %r" % (p["id"], p.get("title"))
        check(p.get("title") and p.get("description"),
              "%s: needs a title and a description" % title)
        check(p.get("datasource", {}).get("uid") == DS_UID,
              "%s: datasource %r (want uid %s)" % (title, p.get("datasource"),
                                                    DS_UID))
        targets = p.get("targets") or []
        check(targets, "%s has no queries" % title)
        refids = [t.get("refId") for t in targets]
        check(len(set(refids)) == len(refids) and all(refids),
              "%s: refIds %r" % (title, refids))
        for t in targets:
            nqueries += 1
            check(t.get("datasource", {}).get("uid") == DS_UID,
                  "%s: query datasource %r" % (title, t.get("datasource")))
            expr = t.get("expr", "")
            check(expr.strip(), "%s: empty query" % title)
            try:
                sels, _ = promql_refs.references(expr)
            except promql_refs.PromQLError as e:
                raise Failure("%s: %s" % (title, e))
            check(sels, "%s: query %r selects nothing" % (title, expr))
            for s in sels:
                m = {(l, op, v) for l, op, v in s.matchers}
                check(("job", "=~", "$job") in m and
                      ("instance", "=~", "$instance") in m,
                      "%s: %s in %r does not select by $job and $instance"
                      % (title, s.name, expr))
                used.add(s.name)
    return used, nqueries


def check_templating(doc):
    variables = {v.get("name"): v for v in doc["templating"]["list"]}
    ds = variables.get("DS_PROMETHEUS")
    check(ds and ds["type"] == "datasource" and ds["query"] == "prometheus",
          "no datasource variable DS_PROMETHEUS: %s" % ds)
    for name in ("job", "instance"):
        v = variables.get(name)
        check(v and v["type"] == "query" and
              v["datasource"]["uid"] == DS_UID,
              "no query variable %s: %s" % (name, v))
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        promql_refs.references(q)  # readable
        check(q.startswith("label_values(") and q.rstrip(")").endswith(name),
              "variable %s: query %r" % (name, q))


def check_provisioning(grafana_dir):
    base = os.path.join(grafana_dir, "provisioning")
    with open(os.path.join(base, "datasources", "cairn-prometheus.yml")) as f:
        ds = yaml.safe_load(f)
    check(ds["apiVersion"] == 1 and ds["datasources"][0]["type"] == "prometheus",
          "datasource provisioning: %s" % ds)
    with open(os.path.join(base, "dashboards", "cairn.yml")) as f:
        db = yaml.safe_load(f)
    prov = db["providers"][0]
    check(db["apiVersion"] == 1 and prov["type"] == "file" and
          prov["options"]["path"], "dashboard provisioning: %s" % db)


def run(monitoring_dir):
    grafana = os.path.join(monitoring_dir, "grafana")
    path = os.path.join(grafana, "cairn-dashboard.json")
    with open(path) as f:
        text = f.read()
    doc = json.loads(text)
    gen = load_generator(os.path.join(grafana, "make_dashboard.py"))
    check(gen.render() == text,
          "%s is not what make_dashboard.py writes: edit the script and run "
          "it" % path)
    check(isinstance(doc.get("schemaVersion"), int) and
          doc["schemaVersion"] >= 36, "schemaVersion %r" %
          doc.get("schemaVersion"))
    check(doc.get("uid") and doc.get("title"), "uid and title are required")
    panels = doc["panels"]
    ids = check_layout(panels)
    used, nqueries = check_queries(panels)
    check_templating(doc)
    missing = [m for m in REQUIRED if m not in used]
    check(not missing, "the dashboard shows none of: %s" % ", ".join(missing))
    check_provisioning(grafana)
    log("%d panels (%d rows), %d queries over %d metrics; layout, "
        "datasource, variables and provisioning ok"
        % (len(ids), sum(p["type"] == "row" for p in panels), nqueries,
           len(used)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--monitoring_dir", required=True)
    args = parser.parse_args()
    try:
        run(args.monitoring_dir)
    except (Failure, promql_refs.PromQLError, KeyError, ValueError) as e:
        log("FAILED: %s: %s" % (type(e).__name__, e))
        return 1
    log("PASSED")
    return 0


if __name__ == "__main__":
    sys.exit(main())
