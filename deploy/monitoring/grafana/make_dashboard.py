#!/usr/bin/python3
"""Writes cairn-dashboard.json, the Grafana dashboard of cairnd.

Run from anywhere after editing the panels below:
  /usr/bin/python3 deploy/monitoring/grafana/make_dashboard.py

The JSON is committed; tests/deploy/monitoring checks that it is what this
script writes, that it is a valid dashboard (unique panel ids, gridPos on
every panel) and that every metric and label its queries use exists in a
live cairnd's /metrics (docs/metrics.md describes them all).

Panels select with `job=~"$job",instance=~"$instance"`; the data source is
the dashboard variable DS_PROMETHEUS, so the same file works when imported
in the UI and when provisioned from disk (grafana/provisioning/).
"""

import json
import os
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                   "cairn-dashboard.json")

DS = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
S = 'job=~"$job",instance=~"$instance"'  # the selector of every query
RI = "$__rate_interval"


def sel(labels=""):
    return "{" + S + ("," + labels if labels else "") + "}"


def rate(metric, labels=""):
    return "rate(%s%s[%s])" % (metric, sel(labels), RI)


def quantile(q, metric, by, labels=""):
    return "histogram_quantile(%s, sum by (%s, le) (%s))" % (
        q, by, rate(metric + "_bucket", labels))


class Dashboard:
    def __init__(self):
        self.panels = []
        self.next_id = 1
        self.y = 0
        self.x = 0
        self.row_h = 0

    def _id(self):
        i = self.next_id
        self.next_id += 1
        return i

    def row(self, title):
        self._newline()
        self.panels.append({
            "id": self._id(), "type": "row", "title": title,
            "collapsed": False, "panels": [],
            "gridPos": {"h": 1, "w": 24, "x": 0, "y": self.y},
        })
        self.y += 1

    def _newline(self):
        if self.x:
            self.y += self.row_h
            self.x = 0
            self.row_h = 0

    def _place(self, w, h):
        if self.x + w > 24:
            self._newline()
        pos = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.x += w
        self.row_h = max(self.row_h, h)
        return pos

    def graph(self, title, description, targets, unit="short", w=12, h=8,
              stack=False, min_zero=True, max_value=None, right=None,
              right_unit="short"):
        """targets: list of (expr, legendFormat). Series whose name matches
        the regex `right` go on a right-hand axis in `right_unit`."""
        defaults = {
            "unit": unit,
            "custom": {
                "drawStyle": "line", "lineWidth": 1, "fillOpacity": 10,
                "showPoints": "never", "spanNulls": False,
                "stacking": {"mode": "normal" if stack else "none",
                             "group": "A"},
            },
        }
        if min_zero:
            defaults["min"] = 0
        if max_value is not None:
            defaults["max"] = max_value
        self.panels.append({
            "id": self._id(), "type": "timeseries", "title": title,
            "description": description, "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": defaults,
                            "overrides": self._right(right, right_unit)},
            "options": {
                "legend": {"displayMode": "list", "placement": "bottom",
                           "showLegend": True},
                "tooltip": {"mode": "multi", "sort": "desc"},
            },
            "targets": self._targets(targets),
        })

    def stat(self, title, description, targets, unit="short", w=4, h=4,
             text_mode="auto", thresholds=None, mappings=None):
        steps = thresholds or [{"color": "green", "value": None}]
        self.panels.append({
            "id": self._id(), "type": "stat", "title": title,
            "description": description, "datasource": DS,
            "gridPos": self._place(w, h),
            "fieldConfig": {"defaults": {
                "unit": unit,
                "thresholds": {"mode": "absolute", "steps": steps},
                "mappings": mappings or [],
            }, "overrides": []},
            "options": {
                "reduceOptions": {"calcs": ["lastNotNull"], "fields": "",
                                  "values": False},
                "colorMode": "background", "graphMode": "none",
                "textMode": text_mode, "justifyMode": "auto",
                "orientation": "auto",
            },
            "targets": self._targets(targets),
        })

    @staticmethod
    def _right(regex, unit):
        if not regex:
            return []
        return [{"matcher": {"id": "byRegexp", "options": regex},
                 "properties": [
                     {"id": "custom.axisPlacement", "value": "right"},
                     {"id": "unit", "value": unit}]}]

    def _targets(self, targets):
        out = []
        for i, (expr, legend) in enumerate(targets):
            out.append({"refId": chr(ord("A") + i), "datasource": DS,
                        "expr": expr, "legendFormat": legend,
                        "range": True, "instant": False,
                        "editorMode": "code"})
        return out


RED_IF_ONE = [{"color": "green", "value": None}, {"color": "red", "value": 1}]


def build():
    d = Dashboard()

    # --- Overview ------------------------------------------------------
    d.row("Overview")
    d.stat("Targets up", "up: 1 when Prometheus scraped the target.",
           [("up" + sel(), "{{instance}}")],
           thresholds=[{"color": "red", "value": None},
                       {"color": "green", "value": 1}],
           mappings=[{"type": "value", "options": {
               "0": {"text": "down"}, "1": {"text": "up"}}}])
    d.stat("Version", "cairn_build_info: the cairnd version of each target.",
           [("cairn_build_info" + sel(), "{{instance}} {{version}}")],
           text_mode="name")
    d.stat("Uptime", "Time since the process started.",
           [("time() - process_start_time_seconds" + sel(), "{{instance}}")],
           unit="s")
    d.stat("Engine error", "cairn_engine_background_error: 1 while the "
           "engine is read-only after a failed flush, compaction or WAL "
           "write (restart after fixing the cause).",
           [("cairn_engine_background_error" + sel(), "{{instance}}")],
           thresholds=RED_IF_ONE)
    d.stat("Writes stopped", "cairn_write_stopped: 1 while writes are "
           "stopped, not merely slowed down.",
           [("cairn_write_stopped" + sel(), "{{instance}}")],
           thresholds=RED_IF_ONE)
    d.stat("Last sequence", "cairn_last_sequence: last committed sequence.",
           [("cairn_last_sequence" + sel(), "{{instance}}")], unit="none")

    # --- RPCs ----------------------------------------------------------
    d.row("RPCs")
    d.graph("RPC rate by method and code",
            "Completed RPCs per second (grpc_server_handled_total), by "
            "method and status code.",
            [("sum by (instance, grpc_method, grpc_code) (%s)"
              % rate("grpc_server_handled_total"),
              "{{instance}} {{grpc_method}} {{grpc_code}}")], unit="reqps")
    d.graph("RPC errors by code",
            "RPCs per second that ended with a status other than OK. "
            "INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION are the "
            "client's; INTERNAL, UNAVAILABLE, DATA_LOSS the server's; "
            "RESOURCE_EXHAUSTED means stalls or limits.",
            [("sum by (instance, grpc_method, grpc_code) (%s)"
              % rate("grpc_server_handled_total", 'grpc_code!="OK"'),
              "{{instance}} {{grpc_method}} {{grpc_code}}")], unit="reqps")
    d.graph("Latency p50 per method (unary)",
            "Median time from the arrival of the call to its status.",
            [(quantile(0.5, "grpc_server_handling_seconds",
                       "instance, grpc_method", 'grpc_type="unary"'),
              "{{instance}} {{grpc_method}}")], unit="s")
    d.graph("Latency p99 per method (unary)",
            "99th percentile time from the arrival of the call to its "
            "status.",
            [(quantile(0.99, "grpc_server_handling_seconds",
                       "instance, grpc_method", 'grpc_type="unary"'),
              "{{instance}} {{grpc_method}}")], unit="s")
    d.graph("Stream duration p99 (streaming RPCs)",
            "99th percentile duration of Scan, Txn and Tail calls; long "
            "Tail streams are in the +Inf bucket (300 s and more).",
            [(quantile(0.99, "grpc_server_handling_seconds",
                       "instance, grpc_method", 'grpc_type!="unary"'),
              "{{instance}} {{grpc_method}}")], unit="s")
    d.graph("Open streams and in-flight RPCs",
            "cairn_server_streams_open by kind, and RPCs started but not "
            "yet handled.",
            [("cairn_server_streams_open" + sel(), "{{instance}} {{kind}}"),
             ("sum by (instance) (grpc_server_started_total%s) - "
              "sum by (instance) (grpc_server_handled_total%s)"
              % (sel(), sel()), "{{instance}} in flight")])

    # --- Writes and reads ----------------------------------------------
    d.row("Writes and reads")
    d.graph("Write operations",
            "Operations in committed write batches, batches, and batches "
            "synced to the WAL, per second.",
            [(rate("cairn_keys_written_total"), "{{instance}} ops"),
             (rate("cairn_write_batches_total"), "{{instance}} batches"),
             (rate("cairn_synced_writes_total"), "{{instance}} synced")],
            unit="ops", w=8)
    d.graph("Write bytes",
            "User key and value bytes committed, and frame bytes appended "
            "to the WAL, per second.",
            [(rate("cairn_written_bytes_total"), "{{instance}} user"),
             (rate("cairn_wal_written_bytes_total"), "{{instance}} WAL")],
            unit="Bps", w=8)
    d.graph("Reads",
            "Point lookups, those that found a value, and iterators "
            "created, per second.",
            [(rate("cairn_keys_read_total"), "{{instance}} lookups"),
             (rate("cairn_keys_found_total"), "{{instance}} found"),
             (rate("cairn_iterators_created_total"), "{{instance}} iterators")],
            unit="ops", w=8)

    # --- Write stalls --------------------------------------------------
    d.row("Write stalls")
    d.graph("Stall active by reason",
            "cairn_write_stall_active: 1 for the reason writes are slowed "
            "down or stopped for; cairn_write_stopped: 1 during a stop.",
            [("cairn_write_stall_active" + sel(), "{{instance}} {{reason}}"),
             ("cairn_write_stopped" + sel(), "{{instance}} stopped")],
            w=8, max_value=1)
    d.graph("Stalls per second by reason",
            "Writes that had to wait (delayed or stopped), per second.",
            [("sum by (instance, reason) (%s)"
              % rate("cairn_write_stalls_total"), "{{instance}} {{reason}}")],
            unit="ops", w=8)
    d.graph("Stall seconds per second by reason",
            "Time writes spent waiting in stalls per second: the average "
            "number of writes waiting.",
            [("sum by (instance, reason) (%s)"
              % rate("cairn_write_stall_seconds_total"),
              "{{instance}} {{reason}}")], w=8)
    d.graph("Stalled writers",
            "cairn_write_stalled_writers: writers waiting in a stall now.",
            [("cairn_write_stalled_writers" + sel(),
              "{{instance}} {{reason}}")], w=8)
    d.graph("Delayed write rate",
            "Rate writes are held to while slowed down (0 when they are "
            "not).",
            [("cairn_delayed_write_rate_bytes_per_second" + sel(),
              "{{instance}}")], unit="Bps", w=8)
    d.graph("Rejected writes",
            "Writes refused with RESOURCE_EXHAUSTED (stalled past their "
            "deadline, no_slowdown, or too little free disk), per second.",
            [(rate("cairn_writes_rejected_total"), "{{instance}}")],
            unit="ops", w=8)

    # --- Flushes and memtables -----------------------------------------
    d.row("Flushes and memtables")
    d.graph("Flushes",
            "Flushes completed per second, and flushes running now.",
            [(rate("cairn_flushes_total"), "{{instance}} per second"),
             ("cairn_flushes_running" + sel(), "{{instance}} running")],
            w=6)
    d.graph("Flush duration",
            "p50 and p99 of flush jobs (failed ones included).",
            [(quantile(0.5, "cairn_flush_duration_seconds", "instance"),
              "{{instance}} p50"),
             (quantile(0.99, "cairn_flush_duration_seconds", "instance"),
              "{{instance}} p99")], unit="s", w=6)
    d.graph("Flush bytes",
            "SSTable bytes written by flushes per second.",
            [(rate("cairn_flush_written_bytes_total"), "{{instance}}")],
            unit="Bps", w=6)
    d.graph("Memtables",
            "Active memtable bytes, sealed (immutable) memtable bytes, and "
            "the number of sealed memtables (right axis).",
            [("cairn_memtable_bytes" + sel(), "{{instance}} active"),
             ("cairn_immutable_memtable_bytes" + sel(),
              "{{instance}} immutable"),
             ("cairn_immutable_memtables" + sel(),
              "{{instance}} immutable count")], unit="bytes", w=6,
            right=".* immutable count$")

    # --- Compactions and levels ----------------------------------------
    d.row("Compactions and levels")
    d.graph("Compactions by level",
            "Compactions completed per second by input level (trivial "
            "moves included).",
            [("sum by (instance, level) (%s)"
              % rate("cairn_compactions_total"), "{{instance}} L{{level}}")],
            unit="ops", w=8)
    d.graph("Compaction duration p99 by level",
            "99th percentile duration of compactions, by input level.",
            [(quantile(0.99, "cairn_compaction_duration_seconds",
                       "instance, level"), "{{instance}} L{{level}}")],
            unit="s", w=8)
    d.graph("Compaction I/O",
            "SSTable bytes read and written by compactions per second.",
            [(rate("cairn_compaction_read_bytes_total"), "{{instance}} read"),
             (rate("cairn_compaction_written_bytes_total"),
              "{{instance}} written")], unit="Bps", w=8)
    d.graph("Pending compaction bytes",
            "Estimated bytes compaction must rewrite to bring every level "
            "under its target (writes slow down at 64 GiB and stop at "
            "256 GiB, engine defaults), and compactions running now (right "
            "axis).",
            [("cairn_compaction_pending_bytes" + sel(), "{{instance}}"),
             ("cairn_compactions_running" + sel(), "{{instance}} running")],
            unit="bytes", w=8, right=".* running$")
    d.graph("SST files per level",
            "Live SSTable files in each level.",
            [("sum by (instance, level) (cairn_sst_files%s)" % sel(),
              "{{instance}} L{{level}}")], w=8, stack=True)
    d.graph("SST bytes per level",
            "Size of the live SSTables in each level.",
            [("sum by (instance, level) (cairn_sst_bytes%s)" % sel(),
              "{{instance}} L{{level}}")], unit="bytes", w=8, stack=True)
    d.graph("Write amplification",
            "SSTable bytes written by flushes and compactions per user "
            "byte written, since the DB was opened.",
            [("cairn_write_amplification" + sel(), "{{instance}}")],
            unit="none", w=12)
    d.graph("Snapshots and replay backlog",
            "Snapshots held, and sequences a restart would replay from "
            "the WAL (last minus flushed sequence).",
            [("cairn_snapshots" + sel(), "{{instance}} snapshots"),
             ("cairn_last_sequence%s - cairn_flushed_sequence%s"
              % (sel(), sel()), "{{instance}} replay backlog")], w=12)

    # --- WAL -----------------------------------------------------------
    d.row("Write-ahead log")
    d.graph("WAL size and writes",
            "Bytes of WAL segment files on disk, and WAL bytes appended "
            "per second (right axis).",
            [("cairn_wal_bytes" + sel(), "{{instance}} on disk"),
             (rate("cairn_wal_written_bytes_total"),
              "{{instance}} written/s")], unit="bytes", w=8,
            right=".* written/s$", right_unit="Bps")
    d.graph("WAL fsync latency",
            "p50 and p99 of WAL syncs (fdatasync).",
            [(quantile(0.5, "cairn_wal_fsync_duration_seconds", "instance"),
              "{{instance}} p50"),
             (quantile(0.99, "cairn_wal_fsync_duration_seconds", "instance"),
              "{{instance}} p99")], unit="s", w=8)
    d.graph("WAL syncs",
            "WAL syncs and failed syncs per second.",
            [(rate("cairn_wal_syncs_total"), "{{instance}} syncs"),
             (rate("cairn_wal_sync_failures_total"), "{{instance}} failures")],
            unit="ops", w=8)
    d.graph("Group commit size",
            "Write batches per WAL commit group: average and p99.",
            [("%s / %s" % (rate("cairn_wal_group_commit_batches_sum"),
                           rate("cairn_wal_group_commit_batches_count")),
              "{{instance}} average"),
             (quantile(0.99, "cairn_wal_group_commit_batches", "instance"),
              "{{instance}} p99")], w=12)
    d.graph("WAL segments",
            "Segment files on disk, and rotations per minute.",
            [("cairn_wal_segments" + sel(), "{{instance}} segments"),
             ("60 * " + rate("cairn_wal_rotations_total"),
              "{{instance}} rotations/min")], w=12)

    # --- Cache and bloom -----------------------------------------------
    d.row("Block cache and bloom filters")
    d.graph("Block cache hit ratio",
            "Hits / (hits + misses). With mmap reads, uncompressed blocks "
            "bypass the cache, so only compressed-block reads count.",
            [("sum by (instance) (%s) / (sum by (instance) (%s) + "
              "sum by (instance) (%s))"
              % (rate("cairn_block_cache_hits_total"),
                 rate("cairn_block_cache_hits_total"),
                 rate("cairn_block_cache_misses_total")), "{{instance}}")],
            unit="percentunit", w=8, max_value=1)
    d.graph("Block cache usage",
            "Bytes held by the block cache and its capacity; inserts per "
            "second (right axis).",
            [("cairn_block_cache_usage_bytes" + sel(), "{{instance}} used"),
             ("cairn_block_cache_capacity_bytes" + sel(),
              "{{instance}} capacity"),
             (rate("cairn_block_cache_inserts_total"),
              "{{instance}} inserts/s")], unit="bytes", w=8,
            right=".* inserts/s$", right_unit="ops")
    d.graph("Bloom filter useful ratio",
            "Share of bloom checks that ruled a table out (saved a block "
            "read).",
            [("sum by (instance) (%s) / sum by (instance) (%s)"
              % (rate("cairn_bloom_useful_total"),
                 rate("cairn_bloom_checked_total")), "{{instance}}")],
            unit="percentunit", w=8, max_value=1)

    # --- Tail ----------------------------------------------------------
    d.row("Tail (change data capture)")
    d.graph("Tail streams and consumers",
            "Open Tail streams, and named consumers registered.",
            [("cairn_server_streams_open" + sel('kind="tail"'),
              "{{instance}} streams"),
             ("cairn_tail_consumers" + sel(), "{{instance}} consumers")],
            w=8)
    d.graph("Tail events",
            "Change events sent per second, and progress messages per "
            "second on idle streams.",
            [(rate("cairn_tail_events_sent_total"), "{{instance}} events"),
             (rate("cairn_tail_progress_sent_total"),
              "{{instance}} progress")], unit="ops", w=8)
    d.graph("Tail bytes and refused starts",
            "Bytes sent on Tail streams per second, and Tail starts "
            "refused with OUT_OF_RANGE per second (right axis).",
            [(rate("cairn_tail_bytes_sent_total"), "{{instance}} bytes/s"),
             (rate("cairn_tail_out_of_range_total"),
              "{{instance}} out of range/s")], unit="Bps", w=8,
            right=".* out of range/s$", right_unit="ops")
    d.graph("Consumer lag (time)",
            "Age of the oldest commit each named consumer has not "
            "acknowledged.",
            [("cairn_tail_consumer_lag_seconds" + sel(),
              "{{instance}} {{consumer}}")], unit="s", w=8)
    d.graph("Consumer lag (sequences)",
            "Committed sequences each named consumer has not acknowledged.",
            [("cairn_tail_consumer_lag_sequences" + sel(),
              "{{instance}} {{consumer}}")], unit="none", w=8)
    d.graph("Tail retention window",
            "Sequences a Tail can still start at: last sequence minus the "
            "first available one.",
            [("cairn_last_sequence%s - cairn_tail_first_available_sequence%s"
              % (sel(), sel()), "{{instance}}")], unit="none", w=8)

    # --- Replicas ------------------------------------------------------
    d.row("Read replicas")
    d.graph("Replica lag (time)",
            "While behind: age of the newest commit the replica applied; "
            "0 when caught up.",
            [("cairn_replica_lag_seconds" + sel(), "{{instance}}")],
            unit="s", w=8)
    d.graph("Replica lag (sequences)",
            "Sequences the primary committed that the replica has not "
            "applied.",
            [("cairn_replica_lag_sequences" + sel(), "{{instance}}")],
            unit="none", w=8)
    d.graph("Replica stream",
            "Connected (1) or not, out of range (1: must be bootstrapped "
            "again), reconnects and applied batches per second.",
            [("cairn_replica_connected" + sel(), "{{instance}} connected"),
             ("cairn_replica_out_of_range" + sel(),
              "{{instance}} out of range"),
             (rate("cairn_replica_reconnects_total"),
              "{{instance}} reconnects/s"),
             (rate("cairn_replica_applied_batches_total"),
              "{{instance}} batches/s")], w=8)

    # --- Process -------------------------------------------------------
    d.row("Process and disk")
    d.graph("CPU", "CPU seconds per second (1 = one core busy).",
            [(rate("process_cpu_seconds_total"), "{{instance}}")],
            unit="none", w=6)
    d.graph("Memory", "Resident and virtual memory size.",
            [("process_resident_memory_bytes" + sel(), "{{instance}} RSS"),
             ("process_virtual_memory_bytes" + sel(),
              "{{instance}} virtual")], unit="bytes", w=6)
    d.graph("File descriptors", "Open file descriptors and the limit.",
            [("process_open_fds" + sel(), "{{instance}} open"),
             ("process_max_fds" + sel(), "{{instance}} limit")], w=6)
    d.graph("Data dir disk space",
            "Space available to cairnd on the data dir's file system, the "
            "file system's size, and --min_free_disk_bytes (writes are "
            "refused below it; 0 = never).",
            [("cairn_data_dir_free_bytes" + sel(), "{{instance}} free"),
             ("cairn_data_dir_size_bytes" + sel(), "{{instance}} size"),
             ("cairn_min_free_disk_bytes" + sel(),
              "{{instance}} min free")], unit="bytes", w=6)

    var_ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    return {
        "title": "Cairn",
        "uid": "cairn-overview",
        "description": "cairnd: RPCs, write stalls, flushes, compactions, "
                       "levels, WAL, cache, Tail, replicas, process, disk. "
                       "Metrics: docs/metrics.md.",
        "tags": ["cairn"],
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": 38,
        "version": 1,
        "refresh": "30s",
        "time": {"from": "now-3h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "links": [],
        "annotations": {"list": [{
            "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
            "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
            "name": "Annotations & Alerts", "type": "dashboard"}]},
        "templating": {"list": [
            {"name": "DS_PROMETHEUS", "label": "Data source",
             "type": "datasource", "query": "prometheus", "regex": "",
             "hide": 0, "refresh": 1, "current": {}, "options": [],
             "includeAll": False, "multi": False},
            {"name": "job", "label": "Job", "type": "query",
             "datasource": var_ds,
             "definition": "label_values(cairn_build_info, job)",
             "query": {"query": "label_values(cairn_build_info, job)",
                       "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             "refresh": 2, "sort": 1, "regex": "", "hide": 0,
             "includeAll": True, "multi": True, "allValue": ".*",
             "current": {}, "options": []},
            {"name": "instance", "label": "Instance", "type": "query",
             "datasource": var_ds,
             "definition":
                 'label_values(cairn_build_info{job=~"$job"}, instance)',
             "query": {"query":
                       'label_values(cairn_build_info{job=~"$job"}, instance)',
                       "refId": "PrometheusVariableQueryEditor-VariableQuery"},
             "refresh": 2, "sort": 1, "regex": "", "hide": 0,
             "includeAll": True, "multi": True, "allValue": ".*",
             "current": {}, "options": []},
        ]},
        "panels": d.panels,
    }


def render():
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main():
    text = render()
    with open(OUT, "w") as f:
        f.write(text)
    sys.stderr.write("wrote %s (%d panels)\n"
                     % (OUT, len(json.loads(text)["panels"])))


if __name__ == "__main__":
    main()
