#include "metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <limits>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cairn/storage/statistics.h"
#include "cairn/wal/log.h"
#include "prometheus/client_metric.h"
#include "prometheus/text_serializer.h"
#include "version.h"

namespace cairn::server {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;
using storage::HistogramType;
using storage::StallReason;
using storage::Ticker;

namespace {

constexpr int kStallReasons = static_cast<int>(StallReason::kCount);
// Levels always exported by the per-level families (Options::num_levels'
// default); a DB with more levels adds series for them.
constexpr int kDefaultLevels = 7;
// Distinct (service, method, type) series at most; see ForMethod.
constexpr size_t kMaxMethodSeries = 256;
constexpr std::string_view kOverflowLabel = "other";
// Engine durations are in microseconds. Dividing (not multiplying by 1e-6)
// keeps bounds like 0.1 exact in the text: le="0.1", not "0.09999999999999999".
constexpr double kMicrosPerSecond = 1e6;

// gRPC latencies span sub-millisecond point reads to minutes-long streams;
// a stream open longer than the last bound lands in +Inf.
const prometheus::Histogram::BucketBoundaries& RpcLatencyBuckets() {
  static const auto* const buckets =
      new prometheus::Histogram::BucketBoundaries{
          0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
          0.25,   0.5,     1,      2.5,   5,      10,    30,   60,    300};
  return *buckets;
}

// Compaction durations: the engine's histogram limits (1, 2, 5 x 10^n
// microseconds) from 1 ms up, so that compaction and flush histograms line
// up bucket for bucket.
const prometheus::Histogram::BucketBoundaries& CompactionBuckets() {
  static const auto* const buckets = [] {
    auto* b = new prometheus::Histogram::BucketBoundaries;
    for (uint64_t limit : storage::Histogram::BucketLimits()) {
      if (limit >= 1000) b->push_back(static_cast<double>(limit) / 1e6);
    }
    return b;
  }();
  return *buckets;
}

std::string LevelName(int level) { return std::to_string(level); }

ClientMetric::Label MakeLabel(std::string name, std::string_view value) {
  return ClientMetric::Label{std::move(name), std::string(value)};
}

// One sample of a counter or gauge family.
ClientMetric Sample(MetricType type, double value,
                    std::vector<ClientMetric::Label> labels = {}) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return m;
}

MetricFamily MakeFamily(std::string name, std::string help, MetricType type,
                        std::vector<ClientMetric> samples) {
  return MetricFamily{std::move(name), std::move(help), type,
                      std::move(samples)};
}

MetricFamily Single(std::string name, std::string help, MetricType type,
                    double value) {
  return MakeFamily(std::move(name), std::move(help), type,
                    {Sample(type, value)});
}

// A family with one sample per stall reason.
template <typename Fn>
MetricFamily PerReason(std::string name, std::string help, MetricType type,
                       Fn value_of) {
  std::vector<ClientMetric> samples;
  for (int r = 0; r < kStallReasons; ++r) {
    const auto reason = static_cast<StallReason>(r);
    samples.push_back(Sample(type, value_of(reason),
                             {MakeLabel("reason", StallReasonName(reason))}));
  }
  return MakeFamily(std::move(name), std::move(help), type, std::move(samples));
}

// A family with one sample per level of the DB.
template <typename Fn>
MetricFamily PerLevel(std::string name, std::string help, MetricType type,
                      const std::vector<storage::LevelStats>& levels,
                      Fn value_of) {
  std::vector<ClientMetric> samples;
  for (size_t l = 0; l < levels.size(); ++l) {
    samples.push_back(
        Sample(type, value_of(levels[l]),
               {MakeLabel("level", LevelName(static_cast<int>(l)))}));
  }
  return MakeFamily(std::move(name), std::move(help), type, std::move(samples));
}

// An engine histogram as a Prometheus one: the engine's buckets hold the
// values in (limit[i-1], limit[i]], which is what `le` means once they are
// summed up; the overflow bucket becomes +Inf. Values are divided by `unit`
// (kMicrosPerSecond: microseconds to seconds; 1: counts as they are).
ClientMetric EngineHistogram(const storage::Histogram::Data& data,
                             double unit) {
  ClientMetric m;
  const auto& limits = storage::Histogram::BucketLimits();
  uint64_t cumulative = 0;
  for (size_t i = 0; i < limits.size(); ++i) {
    cumulative += data.counts[i];
    m.histogram.bucket.push_back(
        {cumulative, static_cast<double>(limits[i]) / unit});
  }
  cumulative += data.counts[limits.size()];
  m.histogram.bucket.push_back(
      {cumulative, std::numeric_limits<double>::infinity()});
  // Snapshot's count is the sum of its buckets, so +Inf == count holds.
  m.histogram.sample_count = cumulative;
  m.histogram.sample_sum = static_cast<double>(data.sum) / unit;
  return m;
}

MetricFamily EngineHistogramFamily(std::string name, std::string help,
                                   const storage::Statistics& stats,
                                   HistogramType type, double unit) {
  return MakeFamily(std::move(name), std::move(help), MetricType::Histogram,
                    {EngineHistogram(stats.GetHistogram(type), unit)});
}

// --- Process metrics, from /proc/self ---

std::string ReadFile(const char* path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Seconds since the epoch at which the machine booted (/proc/stat btime).
double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "btime") {
      double btime = 0;
      in >> btime;
      return btime;
    }
    in.ignore(std::numeric_limits<std::streamsize>::max(), '\n');
  }
  return 0;
}

int CountOpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return -1;
  int n = 0;
  const std::string own = std::to_string(dirfd(dir));
  while (const dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    if (own == e->d_name) continue;  // the listing itself
    ++n;
  }
  closedir(dir);
  return n;
}

std::vector<MetricFamily> CollectProcess() {
  std::vector<MetricFamily> out;
  // /proc/self/stat: "pid (comm) state ..."; comm may hold spaces and
  // parentheses, so the fields are counted from the last ')'.
  const std::string stat = ReadFile("/proc/self/stat");
  const size_t paren = stat.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream fields(stat.substr(paren + 1));
    std::vector<std::string> f(std::istream_iterator<std::string>(fields), {});
    // f[0] is field 3 (state); proc(5) numbers the fields from 1.
    if (f.size() > 21) {
      const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
      auto field = [&](int n) {
        return std::strtod(f[n - 3].c_str(), nullptr);
      };
      const double utime = field(14);
      const double stime = field(15);
      const double start_ticks = field(22);
      const double vsize = field(23);
      const double rss_pages = field(24);
      out.push_back(Single("process_cpu_seconds_total",
                           "User and system CPU time spent, in seconds.",
                           MetricType::Counter, (utime + stime) / ticks));
      out.push_back(Single("process_virtual_memory_bytes",
                           "Virtual memory size in bytes.", MetricType::Gauge,
                           vsize));
      out.push_back(Single("process_resident_memory_bytes",
                           "Resident memory size in bytes.", MetricType::Gauge,
                           rss_pages * page));
      static const double boot = BootTimeSeconds();
      if (boot > 0) {
        out.push_back(Single(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch, in seconds.",
            MetricType::Gauge, boot + start_ticks / ticks));
      }
    }
  }
  if (int fds = CountOpenFds(); fds >= 0) {
    out.push_back(Single("process_open_fds", "Open file descriptors.",
                         MetricType::Gauge, fds));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.push_back(Single("process_max_fds",
                         "Maximum open file descriptors (soft limit).",
                         MetricType::Gauge,
                         limit.rlim_cur == RLIM_INFINITY
                             ? std::numeric_limits<double>::infinity()
                             : static_cast<double>(limit.rlim_cur)));
  }
  return out;
}

// What one scrape reads from the engine, under Metrics::db_mu_ (which keeps
// `stats` valid).
struct EngineFigures {
  storage::DBStats db;
  const storage::Statistics* stats = nullptr;
  wal::LogStats wal;
  std::array<int64_t, kStallReasons> stalled_writers{};
  std::map<int, ClientMetric> compactions;  // duration histogram by level
  bool read_only = false;                   // as the server reported it

  double Count(storage::Ticker t) const {
    return static_cast<double>(stats->Get(t));
  }
  bool Stalled() const { return db.write_slowdown || db.write_stopped; }
};

void AppendStallFamilies(const EngineFigures& f,
                         std::vector<MetricFamily>* out) {
  out->push_back(
      PerReason("cairn_write_stalls_total",
                "Writes that waited (were delayed or stopped), by reason.",
                MetricType::Counter,
                [&](StallReason r) { return f.stats->StallCount(r); }));
  out->push_back(
      PerReason("cairn_write_stall_seconds_total",
                "Time writes spent waiting in stalls, by reason, in seconds.",
                MetricType::Counter, [&](StallReason r) {
                  return f.stats->StallMicros(r) / kMicrosPerSecond;
                }));
  out->push_back(PerReason(
      "cairn_write_stall_active",
      "1 for the reason writes are currently slowed down or stopped for.",
      MetricType::Gauge, [&](StallReason r) {
        return f.Stalled() && f.db.stall_reason == r ? 1.0 : 0.0;
      }));
  out->push_back(PerReason(
      "cairn_write_stalled_writers",
      "Writers waiting in a stall right now, by reason.", MetricType::Gauge,
      [&](StallReason r) { return f.stalled_writers[static_cast<int>(r)]; }));
  out->push_back(Single("cairn_write_stopped",
                        "1 while writes are stopped (not merely slowed down).",
                        MetricType::Gauge, f.db.write_stopped ? 1 : 0));
  out->push_back(Single(
      "cairn_delayed_write_rate_bytes_per_second",
      "Rate writes are held to while slowed down; 0 when not slowed down.",
      MetricType::Gauge, f.db.delayed_write_rate));
  out->push_back(
      Single("cairn_writes_rejected_total",
             "Writes refused with RESOURCE_EXHAUSTED (stall past the deadline, "
             "no_slowdown, or too little free disk).",
             MetricType::Counter, f.Count(Ticker::kWritesRejected)));
}

void AppendReadWriteFamilies(const EngineFigures& f,
                             std::vector<MetricFamily>* out) {
  out->push_back(Single("cairn_keys_written_total",
                        "Operations (puts, deletes, merges) in committed "
                        "write batches.",
                        MetricType::Counter, f.Count(Ticker::kKeysWritten)));
  out->push_back(Single("cairn_written_bytes_total",
                        "User key and value bytes of committed writes.",
                        MetricType::Counter, f.Count(Ticker::kBytesWritten)));
  out->push_back(Single("cairn_write_batches_total",
                        "Write batches committed (one per write call).",
                        MetricType::Counter, f.Count(Ticker::kWriteBatches)));
  out->push_back(Single("cairn_synced_writes_total",
                        "Write batches committed with a WAL sync.",
                        MetricType::Counter, f.Count(Ticker::kSyncedWrites)));
  out->push_back(Single("cairn_keys_read_total",
                        "Point lookups (Get and each key of a MultiGet).",
                        MetricType::Counter, f.Count(Ticker::kKeysRead)));
  out->push_back(Single("cairn_keys_found_total",
                        "Point lookups that found a live value.",
                        MetricType::Counter, f.Count(Ticker::kKeysFound)));
  // The engine's kIterSeeks counts iterators created, not Seek calls.
  out->push_back(Single("cairn_iterators_created_total",
                        "Iterators created on the engine (scans, transaction "
                        "reads).",
                        MetricType::Counter, f.Count(Ticker::kIterSeeks)));
}

void AppendFlushFamilies(const EngineFigures& f,
                         std::vector<MetricFamily>* out) {
  out->push_back(Single("cairn_flushes_total",
                        "Memtable flushes completed successfully.",
                        MetricType::Counter, f.Count(Ticker::kFlushes)));
  out->push_back(EngineHistogramFamily(
      "cairn_flush_duration_seconds",
      "Duration of memtable flush jobs (failed ones included), in seconds.",
      *f.stats, HistogramType::kFlushMicros, kMicrosPerSecond));
  out->push_back(Single("cairn_flush_written_bytes_total",
                        "SSTable bytes written by flushes.",
                        MetricType::Counter, f.Count(Ticker::kFlushBytes)));
  out->push_back(Single("cairn_flushes_running", "Flushes running now.",
                        MetricType::Gauge, f.db.running_flushes));
  out->push_back(Single("cairn_memtable_bytes",
                        "Memory used by the active memtable, in bytes.",
                        MetricType::Gauge, f.db.memtable_bytes));
  out->push_back(Single("cairn_immutable_memtables",
                        "Sealed memtables waiting for or being flushed.",
                        MetricType::Gauge, f.db.immutable_memtables));
  out->push_back(Single("cairn_immutable_memtable_bytes",
                        "Memory used by the sealed memtables, in bytes.",
                        MetricType::Gauge, f.db.immutable_bytes));
}

void AppendCompactionFamilies(const EngineFigures& f,
                              std::vector<MetricFamily>* out) {
  // Both from the listener's per-level histograms: the count of one is the
  // other.
  std::vector<ClientMetric> counts;
  std::vector<ClientMetric> durations;
  for (const auto& [level, histogram] : f.compactions) {
    const std::vector<ClientMetric::Label> labels = {
        MakeLabel("level", LevelName(level))};
    counts.push_back(
        Sample(MetricType::Counter, histogram.histogram.sample_count, labels));
    durations.push_back(histogram);
    durations.back().label = labels;
  }
  out->push_back(
      MakeFamily("cairn_compactions_total",
                 "Compactions completed successfully, by input level "
                 "(trivial moves included).",
                 MetricType::Counter, std::move(counts)));
  out->push_back(
      MakeFamily("cairn_compaction_duration_seconds",
                 "Duration of successful compactions, by input level, "
                 "in seconds.",
                 MetricType::Histogram, std::move(durations)));
  out->push_back(Single(
      "cairn_compaction_read_bytes_total", "SSTable bytes read by compactions.",
      MetricType::Counter, f.Count(Ticker::kCompactReadBytes)));
  out->push_back(Single("cairn_compaction_written_bytes_total",
                        "SSTable bytes written by compactions.",
                        MetricType::Counter,
                        f.Count(Ticker::kCompactWriteBytes)));
  out->push_back(Single(
      "cairn_compaction_pending_bytes",
      "Estimated bytes compaction must rewrite to bring every level under "
      "its target size.",
      MetricType::Gauge, f.db.pending_compaction_bytes));
  out->push_back(Single("cairn_compactions_running", "Compactions running now.",
                        MetricType::Gauge, f.db.running_compactions));

  out->push_back(PerLevel(
      "cairn_sst_files", "Live SSTable files, by level.", MetricType::Gauge,
      f.db.levels, [](const storage::LevelStats& l) { return l.files; }));
  out->push_back(PerLevel(
      "cairn_sst_bytes", "Size of the live SSTables, by level, in bytes.",
      MetricType::Gauge, f.db.levels,
      [](const storage::LevelStats& l) { return l.bytes; }));
  out->push_back(
      Single("cairn_write_amplification",
             "SSTable bytes written by flushes and compactions per user byte "
             "written, since the DB was opened.",
             MetricType::Gauge, f.db.write_amplification));
}

void AppendWalFamilies(const EngineFigures& f, std::vector<MetricFamily>* out) {
  out->push_back(Single("cairn_wal_bytes",
                        "Size of the WAL segment files on disk, in bytes.",
                        MetricType::Gauge, f.wal.live_bytes));
  out->push_back(Single("cairn_wal_written_bytes_total",
                        "Frame bytes appended to the WAL.", MetricType::Counter,
                        f.wal.bytes_appended));
  out->push_back(Single("cairn_wal_segments", "WAL segment files on disk.",
                        MetricType::Gauge, f.wal.live_segments));
  out->push_back(Single("cairn_wal_rotations_total",
                        "WAL segments that became the active segment (one per "
                        "rotation, plus the first one at open).",
                        MetricType::Counter, f.wal.segments_created));
  out->push_back(Single("cairn_wal_syncs_total", "WAL syncs (fdatasync).",
                        MetricType::Counter, f.wal.syncs));
  out->push_back(Single("cairn_wal_sync_failures_total",
                        "WAL syncs that failed.", MetricType::Counter,
                        f.wal.sync_failures));
  out->push_back(EngineHistogramFamily(
      "cairn_wal_fsync_duration_seconds", "Duration of WAL syncs, in seconds.",
      *f.stats, HistogramType::kWalSyncMicros, kMicrosPerSecond));
  out->push_back(EngineHistogramFamily(
      "cairn_wal_group_commit_batches",
      "Write batches per WAL commit group (group-commit size).", *f.stats,
      HistogramType::kGroupCommitSize, 1.0));
}

void AppendCacheFamilies(const EngineFigures& f,
                         std::vector<MetricFamily>* out) {
  out->push_back(Single("cairn_block_cache_hits_total", "Block cache hits.",
                        MetricType::Counter, f.Count(Ticker::kBlockCacheHit)));
  out->push_back(Single("cairn_block_cache_misses_total", "Block cache misses.",
                        MetricType::Counter, f.Count(Ticker::kBlockCacheMiss)));
  out->push_back(Single("cairn_block_cache_inserts_total",
                        "Blocks inserted into the block cache.",
                        MetricType::Counter,
                        f.Count(Ticker::kBlockCacheInsert)));
  out->push_back(Single("cairn_block_cache_usage_bytes",
                        "Bytes held by the block cache.", MetricType::Gauge,
                        f.db.block_cache_usage));
  out->push_back(Single("cairn_block_cache_capacity_bytes",
                        "Capacity of the block cache, in bytes.",
                        MetricType::Gauge, f.db.block_cache_capacity));
  out->push_back(Single("cairn_bloom_checked_total",
                        "Bloom filter checks for point lookups.",
                        MetricType::Counter, f.Count(Ticker::kBloomChecked)));
  out->push_back(Single("cairn_bloom_useful_total",
                        "Bloom filter checks that ruled a table out, saving "
                        "a block read.",
                        MetricType::Counter, f.Count(Ticker::kBloomUseful)));
}

void AppendStateFamilies(const EngineFigures& f,
                         std::vector<MetricFamily>* out) {
  out->push_back(Single("cairn_last_sequence",
                        "Last committed (visible) sequence number.",
                        MetricType::Gauge, f.db.last_sequence));
  out->push_back(Single("cairn_flushed_sequence",
                        "Every sequence up to this one is in SSTables.",
                        MetricType::Gauge, f.db.flushed_sequence));
  out->push_back(Single("cairn_snapshots",
                        "Snapshots registered with the engine and not yet "
                        "released.",
                        MetricType::Gauge, f.db.snapshots));
  out->push_back(Single(
      "cairn_engine_background_error",
      "1 while the engine is read-only after a background or WAL error.",
      MetricType::Gauge, !f.db.background_error.ok() || f.read_only ? 1 : 0));
}

std::string_view RpcTypeName(grpc::experimental::ServerRpcInfo::Type type) {
  using Type = grpc::experimental::ServerRpcInfo::Type;
  switch (type) {
    case Type::UNARY:
      return "unary";
    case Type::CLIENT_STREAMING:
      return "client_stream";
    case Type::SERVER_STREAMING:
      return "server_stream";
    case Type::BIDI_STREAMING:
      return "bidi_stream";
  }
  return "unknown";
}

std::string MethodKey(std::string_view service, std::string_view method,
                      std::string_view type) {
  return absl::StrCat(absl::string_view(service.data(), service.size()), "/",
                      absl::string_view(method.data(), method.size()), "/",
                      absl::string_view(type.data(), type.size()));
}

}  // namespace

std::string_view GrpcCodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::OK:
      return "OK";
    case grpc::StatusCode::CANCELLED:
      return "CANCELLED";
    case grpc::StatusCode::UNKNOWN:
      return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT:
      return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND:
      return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS:
      return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED:
      return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION:
      return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED:
      return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE:
      return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED:
      return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL:
      return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE:
      return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS:
      return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED:
      return "UNAUTHENTICATED";
    default:
      return "UNKNOWN";
  }
}

// Metrics::EngineListener: what the engine reports only as events. Compaction
// ends are rare (a mutex is fine); stall begin/end are on the write path, so
// they touch one relaxed atomic each.
class Metrics::EngineListener final : public storage::EventListener {
 public:
  EngineListener() {
    std::lock_guard<std::mutex> lock(mu_);
    for (int l = 0; l < kDefaultLevels; ++l) CompactionHistogramLocked(l);
  }

  void OnCompactionEnd(const storage::CompactionJobInfo& info) override {
    if (!info.status.ok()) return;  // the background error reports it
    std::lock_guard<std::mutex> lock(mu_);
    CompactionHistogramLocked(info.level)
        .Observe(absl::ToDoubleSeconds(info.duration));
  }
  void OnStallBegin(StallReason reason) override {
    stalled_[Index(reason)].fetch_add(1, std::memory_order_relaxed);
  }
  void OnStallEnd(StallReason reason, absl::Duration waited) override {
    stalled_[Index(reason)].fetch_sub(1, std::memory_order_relaxed);
  }

  // Per input level: the compaction duration histogram (its count is the
  // number of compactions).
  std::map<int, ClientMetric> Compactions() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::map<int, ClientMetric> out;
    for (const auto& [level, h] : compactions_) out[level] = h->Collect();
    return out;
  }
  int64_t StalledWriters(StallReason reason) const {
    return stalled_[Index(reason)].load(std::memory_order_relaxed);
  }

 private:
  static int Index(StallReason reason) {
    const int r = static_cast<int>(reason);
    return r >= 0 && r < kStallReasons ? r : 0;
  }

  prometheus::Histogram& CompactionHistogramLocked(int level)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    auto& h = compactions_[level];
    if (!h) h = std::make_unique<prometheus::Histogram>(CompactionBuckets());
    return *h;
  }

  mutable std::mutex mu_;
  std::map<int, std::unique_ptr<prometheus::Histogram>> compactions_
      ABSL_GUARDED_BY(mu_);
  std::array<std::atomic<int64_t>, kStallReasons> stalled_{};
};

// RpcMetricsInterceptor: one per call. The series are looked up once, when
// the call arrives; the latency runs from then to the status.
class RpcMetricsInterceptor final : public grpc::experimental::Interceptor {
 public:
  RpcMetricsInterceptor(Metrics* metrics,
                        grpc::experimental::ServerRpcInfo* info)
      : metrics_(metrics), start_(absl::Now()) {
    // "/pkg.Service/Method"
    std::string_view full = info->method() ? info->method() : "";
    std::string_view service = "unknown";
    std::string_view method = full;
    if (full.size() > 1 && full[0] == '/') {
      const size_t slash = full.find('/', 1);
      if (slash != std::string_view::npos) {
        service = full.substr(1, slash - 1);
        method = full.substr(slash + 1);
      }
    }
    series_ = metrics_->ForMethod(service, method, RpcTypeName(info->type()));
    series_->started->Increment();
  }

  // A call torn down without a status (client gone, server shutting down)
  // still counts as handled, so that started - handled is what is in
  // flight.
  ~RpcMetricsInterceptor() override {
    if (!reported_) {
      metrics_->CountHandled(series_, grpc::StatusCode::CANCELLED,
                             absl::Now() - start_);
    }
  }

  void Intercept(
      grpc::experimental::InterceptorBatchMethods* methods) override {
    // Batches of one call may run on different threads, but there is one
    // status batch, and the destructor runs after every batch: reported_
    // needs no lock as long as only this branch touches it.
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      reported_ = true;
      metrics_->CountHandled(series_, methods->GetSendStatus().error_code(),
                             absl::Now() - start_);
    }
    methods->Proceed();
  }

 private:
  Metrics* const metrics_;
  const absl::Time start_;
  Metrics::MethodMetrics* series_ = nullptr;
  bool reported_ = false;
};

namespace {

class RpcMetricsInterceptorFactory final
    : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcMetricsInterceptorFactory(Metrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new RpcMetricsInterceptor(metrics_, info);
  }

 private:
  Metrics* const metrics_;
};

}  // namespace

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcMetricsInterceptorFactory(Metrics* metrics) {
  return std::make_unique<RpcMetricsInterceptorFactory>(metrics);
}

Metrics::Metrics(std::string version)
    : registry_(std::make_unique<prometheus::Registry>()),
      listener_(std::make_unique<EngineListener>()) {
  started_family_ = &prometheus::BuildCounter()
                         .Name("grpc_server_started_total")
                         .Help("RPCs started on the server.")
                         .Register(*registry_);
  handled_family_ = &prometheus::BuildCounter()
                         .Name("grpc_server_handled_total")
                         .Help("RPCs completed on the server, by status code.")
                         .Register(*registry_);
  handling_family_ =
      &prometheus::BuildHistogram()
           .Name("grpc_server_handling_seconds")
           .Help("Time from the arrival of an RPC to its status, in seconds.")
           .Register(*registry_);
  streams_family_ = &prometheus::BuildGauge()
                         .Name("cairn_server_streams_open")
                         .Help("Streaming RPCs currently open, by kind.")
                         .Register(*registry_);
  for (const char* kind : {"scan", "txn", "tail"}) StreamGauge(kind);

  if (version.empty()) version = kCairnVersion;
  prometheus::BuildGauge()
      .Name("cairn_build_info")
      .Help("Always 1; the version label says which cairnd is running.")
      .Register(*registry_)
      .Add({{"version", version}})
      .Set(1);
}

Metrics::~Metrics() = default;

storage::EventListener* Metrics::listener() { return listener_.get(); }

void Metrics::AttachDb(storage::DB* db) {
  std::lock_guard<std::mutex> lock(db_mu_);
  db_ = db;
  // A new DB starts writable; the server reports its errors anew.
  engine_read_only_.store(false, std::memory_order_relaxed);
  std::lock_guard<std::mutex> reason_lock(read_only_mu_);
  read_only_reason_.clear();
}

void Metrics::SetEngineReadOnly(bool read_only, std::string reason) {
  {
    std::lock_guard<std::mutex> lock(read_only_mu_);
    read_only_reason_ = read_only ? std::move(reason) : std::string();
  }
  engine_read_only_.store(read_only, std::memory_order_relaxed);
}

bool Metrics::engine_read_only() const {
  return engine_read_only_.load(std::memory_order_relaxed);
}

std::string Metrics::engine_read_only_reason() const {
  std::lock_guard<std::mutex> lock(read_only_mu_);
  return read_only_reason_;
}

Metrics::MethodMetrics* Metrics::ForMethod(std::string_view service,
                                           std::string_view method,
                                           std::string_view type) {
  std::string key = MethodKey(service, method, type);
  {
    std::shared_lock<std::shared_mutex> lock(methods_mu_);
    auto it = methods_.find(key);
    if (it != methods_.end()) return it->second.get();
  }
  std::unique_lock<std::shared_mutex> lock(methods_mu_);
  if (methods_.size() >= kMaxMethodSeries && methods_.count(key) == 0) {
    // The method name comes from the client, and gRPC runs interceptors for
    // methods the server does not have: past the cap, pool the rest.
    service = method = kOverflowLabel;
    key = MethodKey(service, method, type);
  }
  auto& m = methods_[key];
  if (!m) {
    m = std::make_unique<MethodMetrics>();
    m->labels = {{"grpc_service", std::string(service)},
                 {"grpc_method", std::string(method)},
                 {"grpc_type", std::string(type)}};
    m->started = &started_family_->Add(m->labels);
    m->handling_seconds =
        &handling_family_->Add(m->labels, RpcLatencyBuckets());
  }
  return m.get();
}

void Metrics::CountHandled(MethodMetrics* m, grpc::StatusCode code,
                           absl::Duration latency) {
  const int c = static_cast<int>(code);
  prometheus::Counter* handled = nullptr;
  if (c >= 0 && c < static_cast<int>(m->handled.size())) {
    handled = m->handled[c].load(std::memory_order_acquire);
  }
  if (handled == nullptr) {
    // Family::Add returns the existing series for the same labels, so a
    // race between two first uses creates one series.
    prometheus::Labels labels = m->labels;
    labels["grpc_code"] = std::string(GrpcCodeName(code));
    handled = &handled_family_->Add(labels);
    if (c >= 0 && c < static_cast<int>(m->handled.size())) {
      m->handled[c].store(handled, std::memory_order_release);
    }
  }
  handled->Increment();
  m->handling_seconds->Observe(absl::ToDoubleSeconds(latency));
}

void Metrics::RpcStarted(std::string_view service, std::string_view method,
                         std::string_view type) {
  ForMethod(service, method, type)->started->Increment();
}

void Metrics::RpcHandled(std::string_view service, std::string_view method,
                         std::string_view type, grpc::StatusCode code,
                         absl::Duration latency) {
  CountHandled(ForMethod(service, method, type), code, latency);
}

prometheus::Gauge* Metrics::StreamGauge(std::string_view kind) {
  const std::string key(kind);
  {
    std::shared_lock<std::shared_mutex> lock(methods_mu_);
    auto it = streams_.find(key);
    if (it != streams_.end()) return it->second;
  }
  std::unique_lock<std::shared_mutex> lock(methods_mu_);
  auto& g = streams_[key];
  if (g == nullptr) g = &streams_family_->Add({{"kind", key}});
  return g;
}

void Metrics::StreamOpened(std::string_view kind) {
  StreamGauge(kind)->Increment();
}

void Metrics::StreamClosed(std::string_view kind) {
  StreamGauge(kind)->Decrement();
}

std::vector<MetricFamily> Metrics::CollectEngine() const {
  std::lock_guard<std::mutex> lock(db_mu_);
  if (db_ == nullptr) return {};
  EngineFigures f;
  f.db = db_->GetStats();
  f.stats = &db_->statistics();
  if (wal::Log* log = db_->wal(); log != nullptr) f.wal = log->GetStats();
  for (int r = 0; r < kStallReasons; ++r) {
    f.stalled_writers[r] =
        listener_->StalledWriters(static_cast<StallReason>(r));
  }
  f.compactions = listener_->Compactions();
  f.read_only = engine_read_only_.load(std::memory_order_relaxed);

  std::vector<MetricFamily> out;
  AppendStallFamilies(f, &out);
  AppendReadWriteFamilies(f, &out);
  AppendFlushFamilies(f, &out);
  AppendCompactionFamilies(f, &out);
  AppendWalFamilies(f, &out);
  AppendCacheFamilies(f, &out);
  AppendStateFamilies(f, &out);
  return out;
}

std::vector<MetricFamily> Metrics::Collect() const {
  std::vector<MetricFamily> out = registry_->Collect();
  std::vector<MetricFamily> engine = CollectEngine();
  std::vector<MetricFamily> process = CollectProcess();
  std::move(engine.begin(), engine.end(), std::back_inserter(out));
  std::move(process.begin(), process.end(), std::back_inserter(out));
  {
    std::lock_guard<std::mutex> lock(collectors_mu_);
    for (const auto& [id, collect] : collectors_) {
      std::vector<MetricFamily> more = collect();
      std::move(more.begin(), more.end(), std::back_inserter(out));
    }
  }
  std::stable_sort(out.begin(), out.end(),
                   [](const MetricFamily& a, const MetricFamily& b) {
                     return a.name < b.name;
                   });
  return out;
}

int Metrics::AddCollector(Collector collector) {
  std::lock_guard<std::mutex> lock(collectors_mu_);
  const int id = next_collector_++;
  collectors_[id] = std::move(collector);
  return id;
}

void Metrics::RemoveCollector(int id) {
  std::lock_guard<std::mutex> lock(collectors_mu_);
  collectors_.erase(id);
}

std::string Metrics::RenderText() const {
  return prometheus::TextSerializer().Serialize(Collect());
}

}  // namespace cairn::server
