// Metrics and MetricsHttpServer: engine families follow a real DB (flushes,
// compactions by level, stalls by reason), RPC families carry the
// go-grpc-prometheus labels (through the interceptor on a real gRPC server
// too), histograms are well formed, the text passes promtool, and the HTTP
// endpoint serves /metrics and /healthz.
#include "metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/storage/db.h"
#include "cairnd_process.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "metrics_http.h"

namespace cairn::server {
namespace {

// --- Reading the text format ---

struct Series {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the samples of a text-format exposition (enough of the grammar for
// what prometheus-cpp writes: no escaped quotes in our label values).
std::vector<Series> Parse(const std::string& text) {
  std::vector<Series> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    Series s;
    size_t pos = line.find_first_of("{ ");
    s.name = line.substr(0, pos);
    if (line[pos] == '{') {
      const size_t end = line.find('}', pos);
      std::string body = line.substr(pos + 1, end - pos - 1);
      size_t i = 0;
      while (i < body.size()) {
        const size_t eq = body.find('=', i);
        const size_t q1 = body.find('"', eq);
        const size_t q2 = body.find('"', q1 + 1);
        s.labels[body.substr(i, eq - i)] = body.substr(q1 + 1, q2 - q1 - 1);
        i = q2 + 1;
        if (i < body.size() && body[i] == ',') ++i;
      }
      pos = end + 1;
    }
    const std::string value = line.substr(line.find_first_not_of(' ', pos));
    s.value = value == "+Inf" ? INFINITY : std::stod(value);
    out.push_back(std::move(s));
  }
  return out;
}

// The value of the series `name` whose labels include `labels`; -1 if none.
double Value(const std::string& text, const std::string& name,
             const std::map<std::string, std::string>& labels = {}) {
  for (const Series& s : Parse(text)) {
    if (s.name != name) continue;
    bool match = true;
    for (const auto& [k, v] : labels) {
      auto it = s.labels.find(k);
      if (it == s.labels.end() || it->second != v) match = false;
    }
    if (match) return s.value;
  }
  return -1;
}

bool HasFamily(const std::string& text, const std::string& name) {
  return text.find("# TYPE " + name + " ") != std::string::npos;
}

// --- A DB with the metrics listener ---

class MetricsDbTest : public ::testing::Test {
 protected:
  void TearDown() override { CloseDb(); }

  storage::Options BaseOptions() {
    storage::Options o;
    o.write_buffer_size = 64 << 10;
    o.target_file_size = 32 << 10;
    o.block_size = 1024;
    o.block_cache_bytes = 1 << 20;
    o.wal.segment_size = 1 << 20;
    o.wal.prefault_bytes = 0;
    o.disable_auto_compactions = true;
    return o;
  }

  void OpenDb(storage::Options o) {
    dir_ = test::MakeTempDir("metrics_test");
    ASSERT_FALSE(dir_.empty());
    o.listeners.push_back(metrics_.listener());
    auto db = storage::DB::Open(o, dir_ + "/db");
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    metrics_.AttachDb(db_.get());
  }

  void CloseDb() {
    if (db_ != nullptr) {
      metrics_.AttachDb(nullptr);
      EXPECT_TRUE(db_->Close().ok());
      db_.reset();
    }
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
    dir_.clear();
  }

  void Put(const std::string& key, const std::string& value) {
    auto r = db_->Put({}, key, value);
    ASSERT_TRUE(r.ok()) << r.status();
  }

  // Waits for a listener-fed value (listeners run after the engine call
  // they report on has returned to its caller).
  double WaitForAtLeast(const std::string& name,
                        const std::map<std::string, std::string>& labels,
                        double want) {
    double v = -1;
    for (int i = 0; i < 500; ++i) {
      v = Value(metrics_.RenderText(), name, labels);
      if (v >= want) break;
      absl::SleepFor(absl::Milliseconds(10));
    }
    return v;
  }

  Metrics metrics_{"9.9.9-test"};
  std::string dir_;
  std::unique_ptr<storage::DB> db_;
};

TEST_F(MetricsDbTest, EveryRequiredFamilyIsPresent) {
  OpenDb(BaseOptions());
  metrics_.RpcStarted("cairn.v1.KV", "Put", "unary");
  metrics_.RpcHandled("cairn.v1.KV", "Put", "unary", grpc::StatusCode::OK,
                      absl::Milliseconds(1));
  const std::string text = metrics_.RenderText();
  for (const char* name : {
           "cairn_write_stalls_total",
           "cairn_write_stall_seconds_total",
           "cairn_write_stall_active",
           "cairn_write_stalled_writers",
           "cairn_write_stopped",
           "cairn_delayed_write_rate_bytes_per_second",
           "cairn_writes_rejected_total",
           "cairn_flushes_total",
           "cairn_flush_duration_seconds",
           "cairn_flush_written_bytes_total",
           "cairn_flushes_running",
           "cairn_immutable_memtables",
           "cairn_immutable_memtable_bytes",
           "cairn_memtable_bytes",
           "cairn_compactions_total",
           "cairn_compaction_duration_seconds",
           "cairn_compaction_read_bytes_total",
           "cairn_compaction_written_bytes_total",
           "cairn_compaction_pending_bytes",
           "cairn_compactions_running",
           "cairn_sst_files",
           "cairn_sst_bytes",
           "cairn_wal_bytes",
           "cairn_wal_written_bytes_total",
           "cairn_wal_fsync_duration_seconds",
           "cairn_wal_group_commit_batches",
           "cairn_wal_segments",
           "cairn_wal_rotations_total",
           "cairn_wal_syncs_total",
           "cairn_wal_sync_failures_total",
           "cairn_block_cache_hits_total",
           "cairn_block_cache_misses_total",
           "cairn_block_cache_inserts_total",
           "cairn_block_cache_usage_bytes",
           "cairn_block_cache_capacity_bytes",
           "cairn_bloom_useful_total",
           "cairn_bloom_checked_total",
           "cairn_write_amplification",
           "cairn_last_sequence",
           "cairn_flushed_sequence",
           "cairn_snapshots",
           "cairn_engine_background_error",
           "cairn_keys_written_total",
           "cairn_keys_read_total",
           "cairn_keys_found_total",
           "cairn_written_bytes_total",
           "cairn_write_batches_total",
           "cairn_synced_writes_total",
           "cairn_iterators_created_total",
           "grpc_server_started_total",
           "grpc_server_handled_total",
           "grpc_server_handling_seconds",
           "cairn_server_streams_open",
           "process_cpu_seconds_total",
           "process_resident_memory_bytes",
           "process_virtual_memory_bytes",
           "process_open_fds",
           "process_max_fds",
           "process_start_time_seconds",
           "cairn_build_info",
       }) {
    EXPECT_TRUE(HasFamily(text, name)) << name;
  }
  // Per-level and per-reason families have every level and reason.
  for (int l = 0; l < 7; ++l) {
    const std::string level = std::to_string(l);
    EXPECT_EQ(Value(text, "cairn_sst_files", {{"level", level}}), 0) << l;
    EXPECT_EQ(Value(text, "cairn_compactions_total", {{"level", level}}), 0)
        << l;
  }
  for (const char* reason : {"l0_slowdown", "l0_stop", "memtable_limit",
                             "pending_compaction", "memory"}) {
    EXPECT_EQ(Value(text, "cairn_write_stalls_total", {{"reason", reason}}), 0)
        << reason;
    EXPECT_EQ(Value(text, "cairn_write_stall_active", {{"reason", reason}}), 0)
        << reason;
  }
  EXPECT_EQ(Value(text, "cairn_build_info", {{"version", "9.9.9-test"}}), 1);
  EXPECT_EQ(Value(text, "cairn_engine_background_error"), 0);
}

TEST_F(MetricsDbTest, WritesAndReadsAreCounted) {
  OpenDb(BaseOptions());
  Put("a", "1");
  Put("b", "22");
  EXPECT_TRUE(db_->Get({}, "a").ok());
  EXPECT_FALSE(db_->Get({}, "zz").ok());
  const std::string text = metrics_.RenderText();
  EXPECT_EQ(Value(text, "cairn_keys_written_total"), 2);
  EXPECT_EQ(Value(text, "cairn_written_bytes_total"), 5);
  EXPECT_EQ(Value(text, "cairn_keys_read_total"), 2);
  EXPECT_EQ(Value(text, "cairn_keys_found_total"), 1);
  EXPECT_EQ(Value(text, "cairn_last_sequence"), 2);
  EXPECT_GT(Value(text, "cairn_wal_written_bytes_total"), 0);
  EXPECT_GE(Value(text, "cairn_wal_segments"), 1);
  EXPECT_GE(Value(text, "cairn_wal_group_commit_batches_count"), 2);
  EXPECT_GT(Value(text, "cairn_memtable_bytes"), 0);
}

TEST_F(MetricsDbTest, FlushMovesFlushCounters) {
  OpenDb(BaseOptions());
  std::string text = metrics_.RenderText();
  EXPECT_EQ(Value(text, "cairn_flushes_total"), 0);
  EXPECT_EQ(Value(text, "cairn_flush_written_bytes_total"), 0);
  for (int i = 0; i < 100; ++i) Put("key" + std::to_string(i), "value");
  ASSERT_TRUE(db_->Flush().ok());
  text = metrics_.RenderText();
  EXPECT_EQ(Value(text, "cairn_flushes_total"), 1);
  EXPECT_GT(Value(text, "cairn_flush_written_bytes_total"), 0);
  EXPECT_GE(Value(text, "cairn_flush_duration_seconds_count"), 1);
  EXPECT_EQ(Value(text, "cairn_sst_files", {{"level", "0"}}), 1);
  EXPECT_EQ(Value(text, "cairn_sst_bytes", {{"level", "0"}}),
            Value(text, "cairn_flush_written_bytes_total"));
  EXPECT_EQ(Value(text, "cairn_flushed_sequence"), 100);
  EXPECT_EQ(Value(text, "cairn_flushes_running"), 0);
  EXPECT_GT(Value(text, "cairn_write_amplification"), 0);
}

TEST_F(MetricsDbTest, CompactionIsCountedForItsLevel) {
  OpenDb(BaseOptions());
  for (int round = 0; round < 2; ++round) {
    for (int i = 0; i < 100; ++i) {
      Put("key" + std::to_string(i), "value" + std::to_string(round));
    }
    ASSERT_TRUE(db_->Flush().ok());
  }
  EXPECT_EQ(Value(metrics_.RenderText(), "cairn_sst_files", {{"level", "0"}}),
            2);
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(WaitForAtLeast("cairn_compactions_total", {{"level", "0"}}, 1), 1);
  const std::string text = metrics_.RenderText();
  EXPECT_EQ(
      Value(text, "cairn_compaction_duration_seconds_count", {{"level", "0"}}),
      1);
  EXPECT_EQ(Value(text, "cairn_compactions_total", {{"level", "1"}}), 0);
  EXPECT_GT(Value(text, "cairn_compaction_read_bytes_total"), 0);
  EXPECT_GT(Value(text, "cairn_compaction_written_bytes_total"), 0);
  EXPECT_EQ(Value(text, "cairn_sst_files", {{"level", "0"}}), 0);
  EXPECT_EQ(Value(text, "cairn_compactions_running"), 0);
}

TEST_F(MetricsDbTest, L0SlowdownStallIsCountedByReason) {
  storage::Options o = BaseOptions();
  o.level0_file_num_compaction_trigger = 1;
  o.level0_slowdown_writes_trigger = 2;
  o.level0_stop_writes_trigger = 100;
  o.delayed_write_rate = 1 << 20;
  OpenDb(o);
  for (int i = 0; i < 2; ++i) {
    Put("k" + std::to_string(i), "v");
    ASSERT_TRUE(db_->Flush().ok());
  }
  // L0 is at the slowdown trigger: this write is delayed about 10 ms.
  Put("slow", std::string(10000, 'x'));
  const std::string text = metrics_.RenderText();
  EXPECT_GE(
      Value(text, "cairn_write_stalls_total", {{"reason", "l0_slowdown"}}), 1);
  EXPECT_GT(Value(text, "cairn_write_stall_seconds_total",
                  {{"reason", "l0_slowdown"}}),
            0);
  EXPECT_EQ(Value(text, "cairn_write_stalls_total", {{"reason", "l0_stop"}}),
            0);
  EXPECT_EQ(
      Value(text, "cairn_write_stall_active", {{"reason", "l0_slowdown"}}), 1);
  EXPECT_EQ(Value(text, "cairn_write_stall_active", {{"reason", "memory"}}), 0);
  EXPECT_EQ(
      Value(text, "cairn_write_stalled_writers", {{"reason", "l0_slowdown"}}),
      0);
  EXPECT_EQ(Value(text, "cairn_write_stopped"), 0);
  EXPECT_EQ(Value(text, "cairn_delayed_write_rate_bytes_per_second"), 1 << 20);
}

TEST_F(MetricsDbTest, L0StopRejectionIsCounted) {
  storage::Options o = BaseOptions();
  o.level0_file_num_compaction_trigger = 1;
  o.level0_slowdown_writes_trigger = 2;
  o.level0_stop_writes_trigger = 3;
  OpenDb(o);
  for (int i = 0; i < 3; ++i) {
    Put("k" + std::to_string(i), "v");
    ASSERT_TRUE(db_->Flush().ok());
  }
  storage::WriteOptions wo;
  wo.deadline = absl::Now() + absl::Milliseconds(50);
  EXPECT_FALSE(db_->Put(wo, "blocked", "v").ok());
  const std::string text = metrics_.RenderText();
  EXPECT_GE(Value(text, "cairn_write_stalls_total", {{"reason", "l0_stop"}}),
            1);
  EXPECT_GE(Value(text, "cairn_writes_rejected_total"), 1);
  EXPECT_EQ(Value(text, "cairn_write_stopped"), 1);
  EXPECT_EQ(Value(text, "cairn_write_stall_active", {{"reason", "l0_stop"}}),
            1);
}

TEST_F(MetricsDbTest, DetachedDbShowsNoEngineSeries) {
  OpenDb(BaseOptions());
  Put("a", "b");
  EXPECT_TRUE(HasFamily(metrics_.RenderText(), "cairn_flushes_total"));
  metrics_.AttachDb(nullptr);
  const std::string text = metrics_.RenderText();
  EXPECT_FALSE(HasFamily(text, "cairn_flushes_total"));
  EXPECT_FALSE(HasFamily(text, "cairn_compactions_total"));
  EXPECT_FALSE(HasFamily(text, "cairn_last_sequence"));
  EXPECT_TRUE(HasFamily(text, "cairn_build_info"));
  EXPECT_TRUE(HasFamily(text, "process_open_fds"));
  metrics_.AttachDb(db_.get());  // for TearDown
}

TEST_F(MetricsDbTest, ServerReadOnlyStateShowsAsBackgroundError) {
  OpenDb(BaseOptions());
  metrics_.SetEngineReadOnly(true);
  EXPECT_EQ(Value(metrics_.RenderText(), "cairn_engine_background_error"), 1);
  metrics_.SetEngineReadOnly(false);
  EXPECT_EQ(Value(metrics_.RenderText(), "cairn_engine_background_error"), 0);
}

TEST_F(MetricsDbTest, ScrapesRaceWithWritesAndDetach) {
  OpenDb(BaseOptions());
  std::atomic<bool> stop{false};
  std::thread scraper([&] {
    while (!stop.load()) {
      EXPECT_TRUE(HasFamily(metrics_.RenderText(), "cairn_build_info"));
    }
  });
  for (int i = 0; i < 2000; ++i) {
    Put("key" + std::to_string(i % 300), std::string(100, 'v'));
    if (i % 500 == 499) {
      ASSERT_TRUE(db_->Flush().ok());
    }
  }
  CloseDb();  // detaches while the scraper runs
  absl::SleepFor(absl::Milliseconds(20));
  stop = true;
  scraper.join();
}

// Every histogram series: buckets cumulative in increasing `le`, ending at
// +Inf, and +Inf == _count.
void ExpectWellFormedHistograms(const std::string& text) {
  struct Seen {
    double last_le = -INFINITY;
    double last_count = 0;
    double inf = -1;
  };
  std::map<std::string, Seen> seen;  // family + labels without le
  std::map<std::string, double> counts;
  int buckets = 0;
  for (const Series& s : Parse(text)) {
    auto labels = s.labels;
    const auto key_of = [&](const std::string& family) {
      labels.erase("le");
      std::string key = family;
      for (const auto& [k, v] : labels) absl::StrAppend(&key, ",", k, "=", v);
      return key;
    };
    const auto ends = [&](const std::string& suffix) {
      return s.name.size() > suffix.size() &&
             s.name.compare(s.name.size() - suffix.size(), suffix.size(),
                            suffix) == 0;
    };
    if (ends("_bucket")) {
      ++buckets;
      const std::string key = key_of(s.name.substr(0, s.name.size() - 7));
      const double le =
          s.labels.at("le") == "+Inf" ? INFINITY : std::stod(s.labels.at("le"));
      Seen& h = seen[key];
      EXPECT_GT(le, h.last_le) << key;
      EXPECT_GE(s.value, h.last_count) << key << " le=" << le;
      h.last_le = le;
      h.last_count = s.value;
      if (le == INFINITY) h.inf = s.value;
    } else if (ends("_count")) {
      counts[key_of(s.name.substr(0, s.name.size() - 6))] = s.value;
    }
  }
  EXPECT_GT(buckets, 0);
  for (const auto& [key, h] : seen) {
    EXPECT_EQ(h.last_le, INFINITY) << key;
    ASSERT_TRUE(counts.count(key)) << key;
    EXPECT_EQ(h.inf, counts[key]) << key;
  }
}

TEST_F(MetricsDbTest, HistogramBucketsAreCumulative) {
  OpenDb(BaseOptions());
  for (int i = 0; i < 200; ++i) {
    storage::WriteOptions wo;
    wo.sync = i % 10 == 0;
    ASSERT_TRUE(db_->Put(wo, "k" + std::to_string(i), "v").ok());
    if (i % 50 == 49) {
      ASSERT_TRUE(db_->Flush().ok());
    }
  }
  ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok());
  for (int i = 0; i < 20; ++i) {
    metrics_.RpcHandled("cairn.v1.KV", "Get", "unary", grpc::StatusCode::OK,
                        absl::Microseconds(50 << (i % 16)));
  }
  const std::string text = metrics_.RenderText();
  ExpectWellFormedHistograms(text);
  EXPECT_GE(Value(text, "cairn_wal_fsync_duration_seconds_count"), 20);
  EXPECT_EQ(
      Value(text, "cairn_flush_duration_seconds_bucket", {{"le", "+Inf"}}),
      Value(text, "cairn_flush_duration_seconds_count"));
  // Engine durations are exported in seconds, with the engine's bounds
  // written exactly: the first is 1 us.
  for (const Series& s : Parse(text)) {
    if (s.labels.count("le")) {
      EXPECT_EQ(s.labels.at("le").find("9999"), std::string::npos)
          << s.name << " le=" << s.labels.at("le");
    }
  }
  EXPECT_GE(Value(text, "cairn_flush_duration_seconds_bucket", {{"le", "0.1"}}),
            0);
  EXPECT_NE(text.find("cairn_flush_duration_seconds_bucket{le=\"1e-06\"}"),
            std::string::npos)
      << text.substr(text.find("cairn_flush_duration_seconds_bucket"), 200);
}

TEST(MetricsTest, RpcHandledShowsUpWithItsLabels) {
  Metrics metrics;
  metrics.RpcStarted("cairn.v1.KV", "Put", "unary");
  metrics.RpcHandled("cairn.v1.KV", "Put", "unary",
                     grpc::StatusCode::INVALID_ARGUMENT, absl::Milliseconds(3));
  metrics.RpcStarted("cairn.v1.KV", "Scan", "server_stream");
  metrics.RpcHandled("cairn.v1.KV", "Scan", "server_stream",
                     grpc::StatusCode::OK, absl::Seconds(2));
  const std::string text = metrics.RenderText();
  const std::map<std::string, std::string> put = {
      {"grpc_service", "cairn.v1.KV"},
      {"grpc_method", "Put"},
      {"grpc_type", "unary"}};
  auto with = [](std::map<std::string, std::string> l, const std::string& k,
                 const std::string& v) {
    l[k] = v;
    return l;
  };
  EXPECT_EQ(Value(text, "grpc_server_started_total", put), 1);
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  with(put, "grpc_code", "INVALID_ARGUMENT")),
            1);
  EXPECT_EQ(
      Value(text, "grpc_server_handled_total", with(put, "grpc_code", "OK")),
      -1);
  EXPECT_EQ(Value(text, "grpc_server_handling_seconds_count", put), 1);
  EXPECT_EQ(Value(text, "grpc_server_handling_seconds_bucket",
                  with(put, "le", "0.0025")),
            0);
  EXPECT_EQ(Value(text, "grpc_server_handling_seconds_bucket",
                  with(put, "le", "0.005")),
            1);
  EXPECT_NEAR(Value(text, "grpc_server_handling_seconds_sum", put), 0.003,
              1e-9);
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  {{"grpc_method", "Scan"},
                   {"grpc_type", "server_stream"},
                   {"grpc_code", "OK"}}),
            1);
  ExpectWellFormedHistograms(text);
}

TEST(MetricsTest, MadeUpMethodNamesCannotGrowTheSeriesWithoutBound) {
  Metrics metrics;
  for (int i = 0; i < 1000; ++i) {
    const std::string method = "M" + std::to_string(i);
    metrics.RpcStarted("x.Junk", method, "bidi_stream");
    metrics.RpcHandled("x.Junk", method, "bidi_stream",
                       grpc::StatusCode::UNIMPLEMENTED, absl::Microseconds(5));
  }
  const std::string text = metrics.RenderText();
  int series = 0;
  for (const Series& s : Parse(text)) {
    if (s.name == "grpc_server_started_total") ++series;
  }
  EXPECT_LE(series, 257);
  EXPECT_EQ(Value(text, "grpc_server_started_total", {{"grpc_method", "M0"}}),
            1);
  EXPECT_EQ(Value(text, "grpc_server_started_total",
                  {{"grpc_service", "other"}, {"grpc_method", "other"}}),
            1000 - 256);
}

TEST(MetricsTest, GrpcCodeNamesAreTheEnumNames) {
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::OK), "OK");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::INVALID_ARGUMENT),
            "INVALID_ARGUMENT");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::RESOURCE_EXHAUSTED),
            "RESOURCE_EXHAUSTED");
  EXPECT_EQ(GrpcCodeName(grpc::StatusCode::UNAUTHENTICATED), "UNAUTHENTICATED");
}

TEST(MetricsTest, StreamsOpenByKind) {
  Metrics metrics;
  std::string text = metrics.RenderText();
  for (const char* kind : {"scan", "txn", "tail"}) {
    EXPECT_EQ(Value(text, "cairn_server_streams_open", {{"kind", kind}}), 0);
  }
  metrics.StreamOpened("scan");
  metrics.StreamOpened("scan");
  metrics.StreamOpened("txn");
  metrics.StreamClosed("scan");
  text = metrics.RenderText();
  EXPECT_EQ(Value(text, "cairn_server_streams_open", {{"kind", "scan"}}), 1);
  EXPECT_EQ(Value(text, "cairn_server_streams_open", {{"kind", "txn"}}), 1);
  EXPECT_EQ(Value(text, "cairn_server_streams_open", {{"kind", "tail"}}), 0);
}

TEST(MetricsTest, ProcessMetricsComeFromProc) {
  Metrics metrics;
  const std::string text = metrics.RenderText();
  EXPECT_GT(Value(text, "process_open_fds"), 2);
  EXPECT_GE(Value(text, "process_max_fds"), Value(text, "process_open_fds"));
  EXPECT_GT(Value(text, "process_resident_memory_bytes"), 1 << 20);
  EXPECT_GT(Value(text, "process_virtual_memory_bytes"),
            Value(text, "process_resident_memory_bytes"));
  EXPECT_GE(Value(text, "process_cpu_seconds_total"), 0);
  const double now = absl::ToDoubleSeconds(absl::Now() - absl::UnixEpoch());
  const double start = Value(text, "process_start_time_seconds");
  EXPECT_LE(start, now + 1);
  EXPECT_GT(start, now - 3600);
}

TEST(MetricsTest, BuildInfoDefaultsToTheBuiltVersion) {
  Metrics metrics;
  const std::vector<Series> all = Parse(metrics.RenderText());
  int found = 0;
  for (const Series& s : all) {
    if (s.name != "cairn_build_info") continue;
    ++found;
    EXPECT_EQ(s.value, 1);
    EXPECT_FALSE(s.labels.at("version").empty());
  }
  EXPECT_EQ(found, 1);
}

// --- The interceptor on a real gRPC server ---

// A health service whose Check knows only the service "" and whose Watch
// sends one SERVING and ends.
class FakeHealth final : public grpc::health::v1::Health::CallbackService {
  grpc::ServerUnaryReactor* Check(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* req,
      grpc::health::v1::HealthCheckResponse* resp) override {
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    if (!req->service().empty()) {
      reactor->Finish(grpc::Status(grpc::StatusCode::NOT_FOUND, "unknown"));
    } else {
      resp->set_status(grpc::health::v1::HealthCheckResponse::SERVING);
      reactor->Finish(grpc::Status::OK);
    }
    return reactor;
  }

  grpc::ServerWriteReactor<grpc::health::v1::HealthCheckResponse>* Watch(
      grpc::CallbackServerContext* ctx,
      const grpc::health::v1::HealthCheckRequest* req) override {
    class OneShot final : public grpc::ServerWriteReactor<
                              grpc::health::v1::HealthCheckResponse> {
     public:
      OneShot() {
        resp_.set_status(grpc::health::v1::HealthCheckResponse::SERVING);
        StartWriteAndFinish(&resp_, grpc::WriteOptions(), grpc::Status::OK);
      }
      void OnDone() override { delete this; }

     private:
      grpc::health::v1::HealthCheckResponse resp_;
    };
    return new OneShot;
  }
};

TEST(MetricsTest, InterceptorCountsEveryRpc) {
  Metrics metrics;
  FakeHealth health;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(),
                           &port);
  builder.RegisterService(&health);
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(NewRpcMetricsInterceptorFactory(&metrics));
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  ASSERT_GT(port, 0);

  auto channel = grpc::CreateChannel(absl::StrCat("127.0.0.1:", port),
                                     grpc::InsecureChannelCredentials());
  auto stub = grpc::health::v1::Health::NewStub(channel);
  const auto deadline = [] {
    return std::chrono::system_clock::now() + std::chrono::seconds(10);
  };
  for (const char* service : {"", "", "no.such.Service"}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    grpc::health::v1::HealthCheckRequest req;
    req.set_service(service);
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    EXPECT_EQ(s.error_code(),
              *service ? grpc::StatusCode::NOT_FOUND : grpc::StatusCode::OK)
        << s.error_message();
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    auto reader = stub->Watch(&ctx, grpc::health::v1::HealthCheckRequest());
    grpc::health::v1::HealthCheckResponse resp;
    while (reader->Read(&resp)) {
    }
    EXPECT_TRUE(reader->Finish().ok());
  }
  {
    // A method the server does not have.
    grpc::GenericStub generic(channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(deadline());
    grpc::Slice empty("");
    grpc::ByteBuffer req(&empty, 1);
    grpc::ByteBuffer resp;
    std::promise<grpc::Status> done;
    generic.UnaryCall(&ctx, "/no.such.Service/Nope", grpc::StubOptions(), &req,
                      &resp, [&](const grpc::Status& s) { done.set_value(s); });
    EXPECT_EQ(done.get_future().get().error_code(),
              grpc::StatusCode::UNIMPLEMENTED);
  }
  // Counted at PRE_SEND_STATUS, before the status leaves the server.
  const std::string text = metrics.RenderText();
  const std::map<std::string, std::string> check = {
      {"grpc_service", "grpc.health.v1.Health"},
      {"grpc_method", "Check"},
      {"grpc_type", "unary"}};
  auto with_code = [](std::map<std::string, std::string> l, const char* code) {
    l["grpc_code"] = code;
    return l;
  };
  EXPECT_EQ(Value(text, "grpc_server_started_total", check), 3) << text;
  EXPECT_EQ(Value(text, "grpc_server_handled_total", with_code(check, "OK")),
            2);
  EXPECT_EQ(
      Value(text, "grpc_server_handled_total", with_code(check, "NOT_FOUND")),
      1);
  EXPECT_EQ(Value(text, "grpc_server_handling_seconds_count", check), 3);
  const std::map<std::string, std::string> watch = {
      {"grpc_service", "grpc.health.v1.Health"},
      {"grpc_method", "Watch"},
      {"grpc_type", "server_stream"}};
  EXPECT_EQ(Value(text, "grpc_server_started_total", watch), 1);
  EXPECT_EQ(Value(text, "grpc_server_handled_total", with_code(watch, "OK")),
            1);
  // gRPC runs interceptors for unknown methods too (as bidi streams).
  EXPECT_EQ(Value(text, "grpc_server_handled_total",
                  {{"grpc_service", "no.such.Service"},
                   {"grpc_method", "Nope"},
                   {"grpc_code", "UNIMPLEMENTED"}}),
            1);
  server->Shutdown();
}

// --- promtool ---

TEST_F(MetricsDbTest, PromtoolAcceptsTheText) {
  if (access("/usr/bin/promtool", X_OK) != 0) {
    GTEST_SKIP() << "/usr/bin/promtool not installed";
  }
  OpenDb(BaseOptions());
  Put("a", "b");
  ASSERT_TRUE(db_->Flush().ok());
  metrics_.RpcHandled("cairn.v1.KV", "Put", "unary", grpc::StatusCode::OK,
                      absl::Milliseconds(1));
  metrics_.StreamOpened("scan");
  const std::string path = dir_ + "/metrics.txt";
  const std::string out = dir_ + "/promtool.out";
  test::WriteFile(path, metrics_.RenderText());
  const int rc = test::RunShell(absl::StrCat(
      "/usr/bin/promtool check metrics < ", path, " > ", out, " 2>&1"));
  std::ifstream in(out);
  const std::string report((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(rc, 0) << report;
  EXPECT_EQ(report, "") << report;
}

// --- HTTP ---

struct HttpResponse {
  int code = 0;
  std::string headers;
  std::string body;
};

HttpResponse HttpGet(int port, const std::string& path,
                     const std::string& method = "GET") {
  HttpResponse r;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return r;
  }
  const std::string req = absl::StrCat(method, " ", path,
                                       " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                                       "Connection: close\r\n\r\n");
  EXPECT_EQ(write(fd, req.data(), req.size()),
            static_cast<ssize_t>(req.size()));
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, n);
  close(fd);
  const size_t end = resp.find("\r\n\r\n");
  if (resp.size() < 12 || end == std::string::npos) return r;
  r.code = std::stoi(resp.substr(9, 3));
  r.headers = resp.substr(0, end);
  r.body = resp.substr(end + 4);
  return r;
}

TEST(MetricsHttpTest, ServesMetricsHealthAndNotFound) {
  Metrics metrics;
  std::atomic<bool> healthy{true};
  const int port = test::FreePort();
  ASSERT_GT(port, 0);
  auto server =
      MetricsHttpServer::Start(absl::StrCat("127.0.0.1:", port), &metrics,
                               [&]() -> std::pair<bool, std::string> {
                                 if (healthy) return {true, ""};
                                 return {false, "read-only: background error"};
                               });
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ((*server)->port(), port);

  HttpResponse r = HttpGet(port, "/metrics");
  EXPECT_EQ(r.code, 200);
  EXPECT_NE(r.headers.find("Content-Type: text/plain; version=0.0.4"),
            std::string::npos)
      << r.headers;
  EXPECT_NE(r.body.find("cairn_build_info{"), std::string::npos) << r.body;
  EXPECT_NE(r.body.find("process_open_fds "), std::string::npos);

  r = HttpGet(port, "/healthz");
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "ok\n");
  healthy = false;
  r = HttpGet(port, "/healthz");
  EXPECT_EQ(r.code, 503);
  EXPECT_EQ(r.body, "read-only: background error\n");
  healthy = true;
  EXPECT_EQ(HttpGet(port, "/healthz").code, 200);

  EXPECT_EQ(HttpGet(port, "/").code, 404);
  EXPECT_EQ(HttpGet(port, "/metricsx").code, 404);
  EXPECT_EQ(HttpGet(port, "/metrics/x").code, 404);
  EXPECT_EQ(HttpGet(port, "/metrics", "POST").code, 405);

  server->reset();  // stops serving
  EXPECT_EQ(HttpGet(port, "/healthz").code, 0);
}

TEST(MetricsHttpTest, PortZeroPicksAFreePort) {
  Metrics metrics;
  auto server = MetricsHttpServer::Start("127.0.0.1:0", &metrics, nullptr);
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  EXPECT_EQ(HttpGet((*server)->port(), "/healthz").code, 200);
}

TEST(MetricsHttpTest, BadOrBusyAddressFailsClearly) {
  Metrics metrics;
  auto bad = MetricsHttpServer::Start("127.0.0.1", &metrics, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  bad = MetricsHttpServer::Start("127.0.0.1:http", &metrics, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  bad = MetricsHttpServer::Start("::1:7071", &metrics, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status())) << bad.status();
  // A bracketed IPv6 address serves where civetweb has IPv6, and is refused
  // with a message that says so where it has not (Debian 12's).
  auto v6 = MetricsHttpServer::Start("[::1]:0", &metrics, nullptr);
  if (MetricsHttpServer::SupportsIpv6()) {
    EXPECT_TRUE(v6.ok()) << v6.status();
  } else {
    EXPECT_TRUE(absl::IsInvalidArgument(v6.status())) << v6.status();
    EXPECT_TRUE(absl::StrContains(v6.status().message(), "no IPv6"))
        << v6.status();
  }

  auto first = MetricsHttpServer::Start("127.0.0.1:0", &metrics, nullptr);
  ASSERT_TRUE(first.ok()) << first.status();
  const std::string busy = absl::StrCat("127.0.0.1:", (*first)->port());
  auto second = MetricsHttpServer::Start(busy, &metrics, nullptr);
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  EXPECT_NE(second.status().message().find(busy), std::string::npos)
      << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos)
      << second.status();
}

}  // namespace
}  // namespace cairn::server
