// The metrics endpoint of the real cairnd, scraped over HTTP: every family
// in docs/metrics.md is exported with its documented type, and RPCs, writes,
// flushes, compactions, a forced write stop and a Txn stream move the series
// they should. /healthz answers 200 "ok" while serving and 503 during the
// shutdown drain; any other path is 404.
//
// Two cairnd starts, both with options that stop writes once two L0 files
// exist (as in shutdown_test.cc).
#include <signal.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"
#include "txn_stream.h"

namespace cairn::test {
namespace {

using Labels = std::map<std::string, std::string>;

// --- The text format ---

struct Sample {
  std::string name;
  Labels labels;
  double value = 0;
};

struct Scrape {
  std::map<std::string, std::string> types;  // "# TYPE name type"
  std::vector<Sample> samples;

  // The value of the series with exactly these labels; NaN if absent.
  double Get(const std::string& name, const Labels& labels = {}) const {
    for (const Sample& s : samples) {
      if (s.name == name && s.labels == labels) return s.value;
    }
    return std::nan("");
  }
  // Like Get, but an absent series counts as 0 (series of the gRPC families
  // appear on a method's first call).
  double GetOr0(const std::string& name, const Labels& labels = {}) const {
    const double v = Get(name, labels);
    return std::isnan(v) ? 0 : v;
  }
  // Samples of `name` whose labels include `subset`.
  std::vector<Sample> Find(const std::string& name,
                           const Labels& subset = {}) const {
    std::vector<Sample> out;
    for (const Sample& s : samples) {
      if (s.name != name) continue;
      bool match = true;
      for (const auto& [k, v] : subset) {
        auto it = s.labels.find(k);
        if (it == s.labels.end() || it->second != v) match = false;
      }
      if (match) out.push_back(s);
    }
    return out;
  }
};

// Parses text format 0.0.4 (label values may hold \\, \" and \n escapes).
Scrape ParseText(const std::string& text) {
  Scrape out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream ls(line);
      std::string hash, kw, name, type;
      ls >> hash >> kw >> name >> type;
      if (kw == "TYPE") out.types[name] = type;
      continue;
    }
    Sample s;
    size_t pos = line.find_first_of("{ ");
    if (pos == std::string::npos) continue;
    s.name = line.substr(0, pos);
    if (line[pos] == '{') {
      ++pos;
      while (pos < line.size() && line[pos] != '}') {
        const size_t eq = line.find('=', pos);
        if (eq == std::string::npos) break;
        std::string key = line.substr(pos, eq - pos);
        pos = eq + 2;  // past ="
        std::string value;
        while (pos < line.size() && line[pos] != '"') {
          if (line[pos] == '\\' && pos + 1 < line.size()) {
            ++pos;
            value += line[pos] == 'n' ? '\n' : line[pos];
          } else {
            value += line[pos];
          }
          ++pos;
        }
        ++pos;  // past the closing quote
        if (pos < line.size() && line[pos] == ',') ++pos;
        s.labels[key] = value;
      }
      ++pos;  // past }
    }
    s.value = std::strtod(line.c_str() + pos, nullptr);
    out.samples.push_back(std::move(s));
  }
  return out;
}

// --- The families of docs/metrics.md ---

// Every table row of docs/metrics.md, as name -> type. The list is written
// out here; when the document is found next to this file (the build passes
// an absolute __FILE__), its rows are read too, so that a family added to the
// document is checked without editing this list.
std::map<std::string, std::string> DocumentedFamilies() {
  std::map<std::string, std::string> f = {
      {"cairn_write_stalls_total", "counter"},
      {"cairn_write_stall_seconds_total", "counter"},
      {"cairn_write_stall_active", "gauge"},
      {"cairn_write_stalled_writers", "gauge"},
      {"cairn_write_stopped", "gauge"},
      {"cairn_delayed_write_rate_bytes_per_second", "gauge"},
      {"cairn_writes_rejected_total", "counter"},
      {"cairn_keys_written_total", "counter"},
      {"cairn_written_bytes_total", "counter"},
      {"cairn_write_batches_total", "counter"},
      {"cairn_synced_writes_total", "counter"},
      {"cairn_keys_read_total", "counter"},
      {"cairn_keys_found_total", "counter"},
      {"cairn_iterators_created_total", "counter"},
      {"cairn_flushes_total", "counter"},
      {"cairn_flush_duration_seconds", "histogram"},
      {"cairn_flush_written_bytes_total", "counter"},
      {"cairn_flushes_running", "gauge"},
      {"cairn_memtable_bytes", "gauge"},
      {"cairn_immutable_memtables", "gauge"},
      {"cairn_immutable_memtable_bytes", "gauge"},
      {"cairn_compactions_total", "counter"},
      {"cairn_compaction_duration_seconds", "histogram"},
      {"cairn_compaction_read_bytes_total", "counter"},
      {"cairn_compaction_written_bytes_total", "counter"},
      {"cairn_compaction_pending_bytes", "gauge"},
      {"cairn_compactions_running", "gauge"},
      {"cairn_sst_files", "gauge"},
      {"cairn_sst_bytes", "gauge"},
      {"cairn_write_amplification", "gauge"},
      {"cairn_wal_bytes", "gauge"},
      {"cairn_wal_written_bytes_total", "counter"},
      {"cairn_wal_segments", "gauge"},
      {"cairn_wal_rotations_total", "counter"},
      {"cairn_wal_syncs_total", "counter"},
      {"cairn_wal_sync_failures_total", "counter"},
      {"cairn_wal_fsync_duration_seconds", "histogram"},
      {"cairn_wal_group_commit_batches", "histogram"},
      {"cairn_block_cache_hits_total", "counter"},
      {"cairn_block_cache_misses_total", "counter"},
      {"cairn_block_cache_inserts_total", "counter"},
      {"cairn_block_cache_usage_bytes", "gauge"},
      {"cairn_block_cache_capacity_bytes", "gauge"},
      {"cairn_bloom_checked_total", "counter"},
      {"cairn_bloom_useful_total", "counter"},
      {"cairn_last_sequence", "gauge"},
      {"cairn_flushed_sequence", "gauge"},
      {"cairn_snapshots", "gauge"},
      {"cairn_engine_background_error", "gauge"},
      {"cairn_data_dir_free_bytes", "gauge"},
      {"cairn_data_dir_size_bytes", "gauge"},
      {"cairn_min_free_disk_bytes", "gauge"},
      {"grpc_server_started_total", "counter"},
      {"grpc_server_handled_total", "counter"},
      {"grpc_server_handling_seconds", "histogram"},
      {"cairn_server_streams_open", "gauge"},
      {"process_cpu_seconds_total", "counter"},
      {"process_resident_memory_bytes", "gauge"},
      {"process_virtual_memory_bytes", "gauge"},
      {"process_open_fds", "gauge"},
      {"process_max_fds", "gauge"},
      {"process_start_time_seconds", "gauge"},
      {"cairn_build_info", "gauge"},
  };
  const std::filesystem::path doc =
      std::filesystem::path(__FILE__).parent_path() / "../../docs/metrics.md";
  std::ifstream in(doc);
  std::string line;
  while (std::getline(in, line)) {
    // | `name` | type | labels | unit | meaning |
    if (line.rfind("| `", 0) != 0) continue;
    const size_t end = line.find('`', 3);
    if (end == std::string::npos) continue;
    const std::string name = line.substr(3, end - 3);
    const size_t bar = line.find('|', end);
    const size_t next = line.find('|', bar + 1);
    if (bar == std::string::npos || next == std::string::npos) continue;
    std::string type = line.substr(bar + 1, next - bar - 1);
    type.erase(0, type.find_first_not_of(' '));
    type.erase(type.find_last_not_of(' ') + 1);
    f[name] = type;
  }
  return f;
}

// --- Helpers ---

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return c;
}

// Flags that stop writes once two L0 files exist (slowdown from one).
std::vector<std::string> StallArgs() {
  return {"--disable_auto_compactions", "--l0_compaction_trigger=1",
          "--l0_slowdown_trigger=1", "--l0_stop_trigger=2",
          "--durability=async"};
}

Scrape ScrapeOrDie(const CairndProcess& p) {
  absl::StatusOr<std::pair<int, std::string>> r = p.HttpGet("/metrics");
  EXPECT_TRUE(r.ok()) << r.status();
  if (!r.ok()) return {};
  EXPECT_EQ(r->first, 200) << r->second;
  return ParseText(r->second);
}

// Scrapes until `pred` holds (bounded); returns the last scrape.
Scrape ScrapeUntil(const CairndProcess& p,
                   const std::function<bool(const Scrape&)>& pred,
                   absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  Scrape s = ScrapeOrDie(p);
  while (!pred(s) && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(20));
    s = ScrapeOrDie(p);
  }
  return s;
}

Labels Rpc(const std::string& service, const std::string& method,
           const std::string& type = "unary") {
  return {
      {"grpc_service", service}, {"grpc_method", method}, {"grpc_type", type}};
}
Labels WithCode(Labels l, const std::string& code) {
  l["grpc_code"] = code;
  return l;
}

grpc::Status Put(v1::KV::Stub* kv, const std::string& key,
                 absl::Duration timeout = absl::Seconds(30)) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value("value-of-" + key);
  v1::PutResponse resp;
  return kv->Put(Ctx(timeout).get(), req, &resp);
}

void Flush(v1::Admin::Stub* admin) {
  v1::FlushResponse fr;
  grpc::Status s =
      admin->Flush(Ctx(absl::Seconds(30)).get(), v1::FlushRequest(), &fr);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// Two Put + Flush: two L0 files, which stops writes with StallArgs().
void StopWritesWithTwoL0Files(v1::KV::Stub* kv, v1::Admin::Stub* admin) {
  for (int i = 0; i < 2; ++i) {
    grpc::Status s = Put(kv, absl::StrCat("l0-", i));
    ASSERT_TRUE(s.ok()) << s.error_message();
    Flush(admin);
  }
  v1::StatsResponse st;
  ASSERT_TRUE(
      admin->Stats(Ctx(absl::Seconds(30)).get(), v1::StatsRequest(), &st).ok());
  ASSERT_EQ(st.levels(0).files(), 2);
}

const char kKv[] = "cairn.v1.KV";
const char kAdmin[] = "cairn.v1.Admin";

// --- One cairnd: families, then the series that should move ---

TEST(MetricsIntegration, EveryDocumentedFamilyIsExportedAndMovesWithTheServer) {
  CairndOptions o;
  o.args = StallArgs();
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  auto kv = v1::KV::NewStub(p.Channel());
  auto admin = v1::Admin::NewStub(p.Channel());

  // Every documented family, with its type. Per-level and per-reason
  // families export every level and reason; streams_open every kind.
  {
    absl::StatusOr<std::pair<int, std::string>> r = p.HttpGet("/metrics");
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->first, 200);
    const Scrape s = ParseText(r->second);
    const std::map<std::string, std::string> documented = DocumentedFamilies();
    EXPECT_GE(documented.size(), 60u);
    for (const auto& [name, type] : documented) {
      // Read-replica families exist on replicas only (tests/tail checks
      // them there).
      if (absl::StartsWith(name, "cairn_replica_")) continue;
      auto it = s.types.find(name);
      if (it == s.types.end()) {
        ADD_FAILURE() << "family " << name << " (" << type
                      << ") is documented but has no # TYPE line";
        continue;
      }
      EXPECT_EQ(it->second, type) << name;
      // gRPC series appear on a method's first call; the harness's health
      // check has made one, so every family has a sample by now.
      const std::string sample_name =
          type == "histogram" ? name + "_count" : name;
      // Per-consumer series exist once a named consumer does (the Tail
      // tests check them).
      if (absl::StartsWith(name, "cairn_tail_consumer_")) continue;
      EXPECT_FALSE(s.Find(sample_name).empty()) << "no sample of " << name;
    }
    for (int level = 0; level <= 6; ++level) {
      const Labels l = {{"level", absl::StrCat(level)}};
      EXPECT_FALSE(std::isnan(s.Get("cairn_sst_files", l))) << level;
      EXPECT_FALSE(std::isnan(s.Get("cairn_sst_bytes", l))) << level;
      EXPECT_FALSE(std::isnan(s.Get("cairn_compactions_total", l))) << level;
      EXPECT_FALSE(
          std::isnan(s.Get("cairn_compaction_duration_seconds_count", l)))
          << level;
    }
    for (const char* reason : {"l0_slowdown", "l0_stop", "memtable_limit",
                               "pending_compaction", "memory"}) {
      const Labels l = {{"reason", reason}};
      EXPECT_EQ(s.Get("cairn_write_stalls_total", l), 0) << reason;
      EXPECT_EQ(s.Get("cairn_write_stall_seconds_total", l), 0) << reason;
      EXPECT_EQ(s.Get("cairn_write_stall_active", l), 0) << reason;
      EXPECT_EQ(s.Get("cairn_write_stalled_writers", l), 0) << reason;
    }
    for (const char* kind : {"scan", "txn", "tail"}) {
      EXPECT_EQ(s.Get("cairn_server_streams_open", {{"kind", kind}}), 0)
          << kind;
    }
    EXPECT_EQ(s.Get("cairn_write_stopped"), 0);
    EXPECT_EQ(s.Get("cairn_writes_rejected_total"), 0);
    EXPECT_EQ(s.Get("cairn_engine_background_error"), 0);
    // The data dir's file system, as statvfs sees it from here.
    EXPECT_GT(s.Get("cairn_data_dir_size_bytes"), 0);
    EXPECT_GT(s.Get("cairn_data_dir_free_bytes"), 0);
    EXPECT_LE(s.Get("cairn_data_dir_free_bytes"),
              s.Get("cairn_data_dir_size_bytes"));
    EXPECT_EQ(s.Get("cairn_min_free_disk_bytes"), 0);
    EXPECT_GT(s.Get("process_open_fds"), 0);
    EXPECT_GT(s.Get("process_max_fds"), 0);
    EXPECT_GT(s.Get("process_start_time_seconds"), 0);
    EXPECT_GT(s.Get("process_resident_memory_bytes"), 0);
    EXPECT_GE(s.Get("cairn_wal_segments"), 1);

    // cairn_build_info{version="..."} 1, the version Admin.Stats reports.
    v1::StatsResponse st;
    ASSERT_TRUE(
        admin->Stats(Ctx(absl::Seconds(30)).get(), v1::StatsRequest(), &st)
            .ok());
    const std::vector<Sample> info = s.Find("cairn_build_info");
    ASSERT_EQ(info.size(), 1u);
    EXPECT_EQ(info[0].value, 1);
    ASSERT_EQ(info[0].labels.count("version"), 1u);
    EXPECT_FALSE(info[0].labels.at("version").empty());
    EXPECT_EQ(info[0].labels.at("version"), st.version());
  }

  // Puts: handled{code="OK"}, started and the handling histogram's count
  // move by exactly the number of calls; so do the engine's write counters.
  const Labels put = Rpc(kKv, "Put");
  {
    const Scrape before = ScrapeOrDie(p);
    constexpr int kPuts = 7;
    for (int i = 0; i < kPuts; ++i) {
      grpc::Status s = Put(kv.get(), absl::StrCat("k", i));
      ASSERT_TRUE(s.ok()) << s.error_message();
    }
    // The handled counter moves as the status is sent: it may trail the
    // client by a moment.
    const Scrape after = ScrapeUntil(p, [&](const Scrape& s) {
      return s.GetOr0("grpc_server_handled_total", WithCode(put, "OK")) >=
                 before.GetOr0("grpc_server_handled_total",
                               WithCode(put, "OK")) +
                     kPuts &&
             s.GetOr0("grpc_server_handling_seconds_count", put) >=
                 before.GetOr0("grpc_server_handling_seconds_count", put) +
                     kPuts;
    });
    EXPECT_EQ(
        after.GetOr0("grpc_server_handled_total", WithCode(put, "OK")) -
            before.GetOr0("grpc_server_handled_total", WithCode(put, "OK")),
        kPuts);
    EXPECT_EQ(after.GetOr0("grpc_server_started_total", put) -
                  before.GetOr0("grpc_server_started_total", put),
              kPuts);
    EXPECT_EQ(after.GetOr0("grpc_server_handling_seconds_count", put) -
                  before.GetOr0("grpc_server_handling_seconds_count", put),
              kPuts);
    EXPECT_EQ(after.GetOr0("grpc_server_handling_seconds_bucket",
                           [&] {
                             Labels l = put;
                             l["le"] = "+Inf";
                             return l;
                           }()),
              after.GetOr0("grpc_server_handling_seconds_count", put));
    EXPECT_EQ(after.Get("cairn_keys_written_total") -
                  before.Get("cairn_keys_written_total"),
              kPuts);
    EXPECT_EQ(after.Get("cairn_write_batches_total") -
                  before.Get("cairn_write_batches_total"),
              kPuts);
    EXPECT_GT(after.Get("cairn_written_bytes_total"),
              before.Get("cairn_written_bytes_total"));
    EXPECT_GT(after.Get("cairn_wal_written_bytes_total"),
              before.Get("cairn_wal_written_bytes_total"));
    EXPECT_EQ(
        after.Get("cairn_last_sequence") - before.Get("cairn_last_sequence"),
        kPuts);
    EXPECT_GT(after.Get("cairn_memtable_bytes"), 0);
    // Nothing was refused.
    EXPECT_EQ(after.Find("grpc_server_handled_total", put).size(), 1u);
  }

  // A refused call (empty key) shows under its code, not under OK.
  {
    const Scrape before = ScrapeOrDie(p);
    v1::PutRequest req;  // empty key
    req.set_value("v");
    v1::PutResponse resp;
    grpc::Status s = kv->Put(Ctx(absl::Seconds(30)).get(), req, &resp);
    ASSERT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT)
        << s.error_message();
    const Labels invalid = WithCode(put, "INVALID_ARGUMENT");
    const Scrape after = ScrapeUntil(p, [&](const Scrape& sc) {
      return sc.GetOr0("grpc_server_handled_total", invalid) >= 1;
    });
    EXPECT_EQ(after.GetOr0("grpc_server_handled_total", invalid) -
                  before.GetOr0("grpc_server_handled_total", invalid),
              1);
    EXPECT_EQ(after.GetOr0("grpc_server_handled_total", WithCode(put, "OK")),
              before.GetOr0("grpc_server_handled_total", WithCode(put, "OK")));
    EXPECT_EQ(after.GetOr0("grpc_server_handling_seconds_count", put) -
                  before.GetOr0("grpc_server_handling_seconds_count", put),
              1);
    EXPECT_EQ(after.Get("cairn_keys_written_total"),
              before.Get("cairn_keys_written_total"));
  }

  // Reads: Get counts a lookup, found or not.
  {
    const Scrape before = ScrapeOrDie(p);
    for (const char* key : {"k0", "missing"}) {
      v1::GetRequest req;
      req.set_key(key);
      v1::GetResponse resp;
      ASSERT_TRUE(kv->Get(Ctx(absl::Seconds(30)).get(), req, &resp).ok());
    }
    const Scrape after = ScrapeOrDie(p);
    EXPECT_EQ(after.Get("cairn_keys_read_total") -
                  before.Get("cairn_keys_read_total"),
              2);
    EXPECT_EQ(after.Get("cairn_keys_found_total") -
                  before.Get("cairn_keys_found_total"),
              1);
  }

  // A Txn stream is counted open while it is, and not after.
  {
    TxnStream txn(kv.get());
    v1::TxnResponse begun;
    ASSERT_TRUE(txn.Send(TBegin(), &begun));
    const Scrape open = ScrapeUntil(p, [](const Scrape& s) {
      return s.Get("cairn_server_streams_open", {{"kind", "txn"}}) == 1;
    });
    EXPECT_EQ(open.Get("cairn_server_streams_open", {{"kind", "txn"}}), 1);
    EXPECT_EQ(open.Get("cairn_server_streams_open", {{"kind", "scan"}}), 0);
    const Labels txn_rpc = Rpc(kKv, "Txn", "bidi_stream");
    const double started = open.GetOr0("grpc_server_started_total", txn_rpc);
    EXPECT_GE(started, 1);
    ASSERT_TRUE(txn.Send(TPut("txn-key", "v")));
    ASSERT_TRUE(txn.Send(TCommit()));
    grpc::Status fs = txn.Finish();
    EXPECT_TRUE(fs.ok()) << fs.error_message();
    const Scrape closed = ScrapeUntil(p, [&](const Scrape& s) {
      return s.Get("cairn_server_streams_open", {{"kind", "txn"}}) == 0 &&
             s.GetOr0("grpc_server_handled_total", WithCode(txn_rpc, "OK")) >=
                 1;
    });
    EXPECT_EQ(closed.Get("cairn_server_streams_open", {{"kind", "txn"}}), 0);
    EXPECT_EQ(
        closed.GetOr0("grpc_server_handled_total", WithCode(txn_rpc, "OK")), 1);
    EXPECT_EQ(closed.GetOr0("grpc_server_handling_seconds_count", txn_rpc), 1);
  }

  // Admin.Flush: one flush, its bytes, one L0 file; the memtable is empty.
  {
    const Scrape before = ScrapeOrDie(p);
    ASSERT_EQ(before.Get("cairn_sst_files", {{"level", "0"}}), 0);
    Flush(admin.get());
    const Scrape after = ScrapeUntil(
        p, [](const Scrape& s) { return s.Get("cairn_flushes_total") >= 1; });
    EXPECT_EQ(
        after.Get("cairn_flushes_total") - before.Get("cairn_flushes_total"),
        1);
    EXPECT_EQ(after.Get("cairn_flush_duration_seconds_count") -
                  before.Get("cairn_flush_duration_seconds_count"),
              1);
    EXPECT_GT(after.Get("cairn_flush_written_bytes_total"),
              before.Get("cairn_flush_written_bytes_total"));
    EXPECT_EQ(after.Get("cairn_sst_files", {{"level", "0"}}), 1);
    EXPECT_GT(after.Get("cairn_sst_bytes", {{"level", "0"}}), 0);
    EXPECT_EQ(after.Get("cairn_flushed_sequence"),
              after.Get("cairn_last_sequence"));
    EXPECT_EQ(after.Get("cairn_flushes_running"), 0);
    EXPECT_EQ(after.Get("cairn_immutable_memtables"), 0);
    EXPECT_EQ(after.GetOr0("grpc_server_handled_total",
                           WithCode(Rpc(kAdmin, "Flush"), "OK")),
              1);
    EXPECT_GT(after.Get("cairn_write_amplification"), 0);
  }

  // Admin.Compact over everything: the L0 file is compacted (or moved) down,
  // counted under its input level 0.
  {
    const Scrape before = ScrapeOrDie(p);
    const Labels l0 = {{"level", "0"}};
    v1::CompactResponse cr;
    grpc::Status s =
        admin->Compact(Ctx(absl::Seconds(60)).get(), v1::CompactRequest(), &cr);
    ASSERT_TRUE(s.ok()) << s.error_message();
    const Scrape after = ScrapeUntil(p, [&](const Scrape& sc) {
      return sc.Get("cairn_compactions_total", l0) >
             before.Get("cairn_compactions_total", l0);
    });
    EXPECT_GE(after.Get("cairn_compactions_total", l0) -
                  before.Get("cairn_compactions_total", l0),
              1);
    EXPECT_EQ(after.Get("cairn_compaction_duration_seconds_count", l0),
              after.Get("cairn_compactions_total", l0));
    EXPECT_EQ(after.Get("cairn_sst_files", l0), 0);
    double below = 0;
    for (int level = 1; level <= 6; ++level) {
      below += after.Get("cairn_sst_files", {{"level", absl::StrCat(level)}});
    }
    EXPECT_GE(below, 1);
    EXPECT_EQ(after.Get("cairn_compactions_running"), 0);
  }

  // A forced stop: a write with a short deadline waits in the l0_stop stall
  // and is refused; both the stall and the rejection are counted.
  {
    StopWritesWithTwoL0Files(kv.get(), admin.get());
    // (Whether the gauges show the stop before a write meets it is checked
    // in StallGaugesFollowTheLsmShapeWithoutAWrite.)
    const Scrape before = ScrapeOrDie(p);
    EXPECT_EQ(before.Get("cairn_sst_files", {{"level", "0"}}), 2);
    const Labels stop = {{"reason", "l0_stop"}};
    grpc::Status s = Put(kv.get(), "stalled", absl::Milliseconds(300));
    EXPECT_TRUE(s.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED ||
                s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED)
        << s.error_code() << " " << s.error_message();
    const Scrape after = ScrapeUntil(p, [&](const Scrape& sc) {
      return sc.Get("cairn_write_stalls_total", stop) >
                 before.Get("cairn_write_stalls_total", stop) &&
             sc.Get("cairn_writes_rejected_total") >
                 before.Get("cairn_writes_rejected_total") &&
             sc.Get("cairn_write_stalled_writers", stop) == 0;
    });
    EXPECT_EQ(after.Get("cairn_write_stalls_total", stop) -
                  before.Get("cairn_write_stalls_total", stop),
              1);
    EXPECT_GT(after.Get("cairn_write_stall_seconds_total", stop),
              before.Get("cairn_write_stall_seconds_total", stop));
    EXPECT_EQ(after.Get("cairn_writes_rejected_total") -
                  before.Get("cairn_writes_rejected_total"),
              1);
    EXPECT_EQ(after.Get("cairn_write_stalled_writers", stop), 0);
    // Writes are still stopped (two L0 files), and a write has met the stop.
    EXPECT_EQ(after.Get("cairn_write_stopped"), 1);
    EXPECT_EQ(after.Get("cairn_write_stall_active", stop), 1);
    EXPECT_EQ(
        after.Get("cairn_write_stall_active", {{"reason", "l0_slowdown"}}), 0);
    // The refused write was not written.
    EXPECT_EQ(after.Get("cairn_last_sequence"),
              before.Get("cairn_last_sequence"));
    // Whichever side answered, the server counted one Put that was not OK
    // (and not INVALID_ARGUMENT).
    auto refused = [&](const Scrape& sc) {
      double n = 0;
      for (const Sample& x : sc.Find("grpc_server_handled_total", put)) {
        const std::string& code = x.labels.at("grpc_code");
        if (code != "OK" && code != "INVALID_ARGUMENT") n += x.value;
      }
      return n;
    };
    const Scrape handled = ScrapeUntil(
        p, [&](const Scrape& sc) { return refused(sc) > refused(before); });
    EXPECT_EQ(refused(handled) - refused(before), 1);
    EXPECT_EQ(handled.GetOr0("grpc_server_handled_total", WithCode(put, "OK")),
              before.GetOr0("grpc_server_handled_total", WithCode(put, "OK")));
  }

  // The other endpoints.
  {
    absl::StatusOr<std::pair<int, std::string>> h = p.HttpGet("/healthz");
    ASSERT_TRUE(h.ok()) << h.status();
    EXPECT_EQ(h->first, 200);
    EXPECT_EQ(h->second, "ok\n");
    absl::StatusOr<std::pair<int, std::string>> nf = p.HttpGet("/no/such/path");
    ASSERT_TRUE(nf.ok()) << nf.status();
    EXPECT_EQ(nf->first, 404);
    nf = p.HttpGet("/metrics/extra");
    ASSERT_TRUE(nf.ok()) << nf.status();
    EXPECT_EQ(nf->first, 404);
  }

  absl::Status st = p.StopCleanly();
  EXPECT_TRUE(st.ok()) << st;
}

// --- A second cairnd: /healthz through a shutdown drain ---

TEST(MetricsIntegration, HealthzIs503DuringTheShutdownDrain) {
  CairndOptions o;
  o.args = StallArgs();
  o.args.push_back("--shutdown_grace=3s");
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  auto kv = v1::KV::NewStub(p.Channel());
  auto admin = v1::Admin::NewStub(p.Channel());

  absl::StatusOr<std::pair<int, std::string>> h = p.HttpGet("/healthz");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->first, 200);
  EXPECT_EQ(h->second, "ok\n");
  absl::StatusOr<std::pair<int, std::string>> nf = p.HttpGet("/nope");
  ASSERT_TRUE(nf.ok()) << nf.status();
  EXPECT_EQ(nf->first, 404);

  ASSERT_NO_FATAL_FAILURE(StopWritesWithTwoL0Files(kv.get(), admin.get()));
  // A writer stalled with a long deadline keeps the drain waiting (up to the
  // 3 s grace).
  grpc::Status long_wait;
  std::thread writer(
      [&] { long_wait = Put(kv.get(), "stalled", absl::Seconds(60)); });
  const Labels stop = {{"reason", "l0_stop"}};
  const Scrape stalled = ScrapeUntil(p, [&](const Scrape& s) {
    return s.Get("cairn_write_stalled_writers", stop) == 1;
  });
  EXPECT_EQ(stalled.Get("cairn_write_stalled_writers", stop), 1);
  EXPECT_EQ(stalled.Get("cairn_write_stall_active", stop), 1);
  EXPECT_EQ(stalled.Get("cairn_write_stopped"), 1);
  EXPECT_EQ(stalled.Get("cairn_server_streams_open", {{"kind", "txn"}}), 0);
  // Healthy while merely stalled.
  h = p.HttpGet("/healthz");
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->first, 200);

  ASSERT_EQ(kill(p.pid(), SIGTERM), 0);
  const absl::Time sent = absl::Now();
  int code = 0;
  std::string body;
  while (absl::Now() - sent < absl::Seconds(2)) {
    h = p.HttpGet("/healthz");
    if (h.ok()) {
      code = h->first;
      body = h->second;
      if (code == 503) break;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(code, 503) << "/healthz during the drain: " << code << " " << body;
  EXPECT_FALSE(body.empty());  // the reason
  // /metrics is still served during the drain.
  absl::StatusOr<std::pair<int, std::string>> m = p.HttpGet("/metrics");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->first, 200);
  EXPECT_NE(m->second.find("cairn_build_info"), std::string::npos);

  // Signal 0: only wait for the exit that the SIGTERM began (a second
  // SIGTERM would force it).
  absl::StatusOr<int> st = p.Stop(0, absl::Seconds(30));
  writer.join();
  ASSERT_TRUE(st.ok()) << st.status() << "\n" << p.Log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << *st << "\n"
                                                       << p.Log();
  EXPECT_FALSE(long_wait.ok());
}

// --- A third cairnd: the stall gauges follow the LSM shape ---

// cairn_write_stall_active, cairn_write_stopped and
// cairn_delayed_write_rate_bytes_per_second describe whether writes are slowed
// down or stopped now (docs/metrics.md), so they change when a flush or a
// compaction changes the number of L0 files, not only when a write next
// arrives.
TEST(MetricsIntegration, StallGaugesFollowTheLsmShapeWithoutAWrite) {
  CairndOptions o;
  o.args = StallArgs();
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  CairndProcess& p = **server;
  auto kv = v1::KV::NewStub(p.Channel());
  auto admin = v1::Admin::NewStub(p.Channel());
  const Labels slowdown = {{"reason", "l0_slowdown"}};
  const Labels stop = {{"reason", "l0_stop"}};

  // One L0 file: at --l0_slowdown_trigger=1, writes are slowed down.
  ASSERT_TRUE(Put(kv.get(), "a").ok());
  Flush(admin.get());
  Scrape s = ScrapeUntil(
      p,
      [&](const Scrape& sc) {
        return sc.Get("cairn_write_stall_active", slowdown) == 1;
      },
      absl::Seconds(2));
  EXPECT_EQ(s.Get("cairn_sst_files", {{"level", "0"}}), 1);
  EXPECT_EQ(s.Get("cairn_write_stall_active", slowdown), 1)
      << "one L0 file (slowdown trigger 1), no write since the flush";
  EXPECT_GT(s.Get("cairn_delayed_write_rate_bytes_per_second"), 0);
  EXPECT_EQ(s.Get("cairn_write_stopped"), 0);

  // Two L0 files: at --l0_stop_trigger=2, writes are stopped.
  ASSERT_TRUE(Put(kv.get(), "b").ok());
  Flush(admin.get());
  s = ScrapeUntil(
      p, [&](const Scrape& sc) { return sc.Get("cairn_write_stopped") == 1; },
      absl::Seconds(2));
  EXPECT_EQ(s.Get("cairn_sst_files", {{"level", "0"}}), 2);
  EXPECT_EQ(s.Get("cairn_write_stopped"), 1)
      << "two L0 files (stop trigger 2), no write since the flush";
  EXPECT_EQ(s.Get("cairn_write_stall_active", stop), 1);
  EXPECT_EQ(s.Get("cairn_write_stall_active", slowdown), 0)
      << "at most one reason is 1";

  // Compacted away: no stall at all.
  v1::CompactResponse cr;
  ASSERT_TRUE(
      admin->Compact(Ctx(absl::Seconds(60)).get(), v1::CompactRequest(), &cr)
          .ok());
  s = ScrapeUntil(
      p,
      [&](const Scrape& sc) {
        return sc.Get("cairn_write_stall_active", slowdown) == 0 &&
               sc.Get("cairn_write_stall_active", stop) == 0 &&
               sc.Get("cairn_write_stopped") == 0;
      },
      absl::Seconds(2));
  EXPECT_EQ(s.Get("cairn_sst_files", {{"level", "0"}}), 0);
  EXPECT_EQ(s.Get("cairn_write_stopped"), 0) << "no L0 file left";
  EXPECT_EQ(s.Get("cairn_write_stall_active", stop), 0) << "no L0 file left";
  EXPECT_EQ(s.Get("cairn_write_stall_active", slowdown), 0)
      << "no L0 file left";
  EXPECT_EQ(s.Get("cairn_delayed_write_rate_bytes_per_second"), 0);

  absl::Status st = p.StopCleanly();
  EXPECT_TRUE(st.ok()) << st;
}

}  // namespace
}  // namespace cairn::test
