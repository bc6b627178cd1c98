// cairn-dbbench: RocksDB db_bench's workloads run against the Cairn engine,
// with db_bench's flag names and result lines, so that the figures of the two
// can be set side by side (tests/bench/compare_rocksdb.sh does that).
//
// Keys are db_bench's (GenerateKeyFromInt): key_size bytes, the key number
// big-endian in the first 8, the rest '0', so numbers sort in key order.
// Values are db_bench's too: slices, at advancing offsets, of a 1 MiB buffer
// made of 100-byte pieces that each hold 50 random printable bytes twice
// (--compression_ratio=0.5 in db_bench terms).
//
// Each benchmark prints db_bench's line
//   fillrandom   :       8.851 micros/op 112983 ops/sec;   12.5 MB/s
// (micros/op: summed thread time per op; ops/sec: all threads over wall time)
// and a line of per-op latency percentiles in microseconds, timed with
// steady_clock and kept in a log-linear histogram (client/bench/
// latency_histogram.h, shared with `cairn bench`).
//
// Read-modify-write benchmarks (Cairn's own where db_bench has none):
//   mergerandom  Merge(key, "add", "1") on random keys among --merge_keys
//                (-1: --num). Like db_bench's mergerandom it runs --reads ops
//                (--num unless --reads is given). Cairn's add takes decimal
//                text, so the operand is the 1-byte "1"; db_bench's uint64add
//                takes 8-byte binary integers (run it with --value_size=8).
//   txnrandom    each op is one optimistic transaction that Gets --txn_keys
//                (default 4) random keys among --txn_keyspace (0: --num) and
//                Puts each back (the value read, or a new value if absent),
//                then commits; a transaction that aborts on a conflict is
//                retried with the same keys until it commits. ops/sec counts
//                committed transactions (latency includes the retries); the
//                result line adds the aborts. Runs --reads transactions per
//                thread, on --threads threads. The key space sets the
//                conflict rate: e.g. --txn_keyspace=100 with 2 threads
//                conflicts often, 1000000 almost never. Fill the keys first
//                (fillseq) for the Gets to find values.
//
// Where it departs from db_bench: --duration caps a benchmark (it stops at
// its op count or after that many seconds, whichever comes first, where
// db_bench's random benchmarks run for the whole duration); fill benchmarks
// with --use_existing_db=1 write into the existing database (db_bench skips
// them); --cache_size defaults to db_bench's 8 MiB, --bloom_bits to 10
// (db_bench: no filter) and --compression_type to none (db_bench: snappy). The
// WAL is always on; --sync=1 makes every write wait for fdatasync.
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <latch>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench_util.h"
#include "cairn/storage/db.h"
#include "cairn/storage/iterator.h"
#include "cairn/storage/options.h"
#include "cairn/storage/statistics.h"
#include "cairn/storage/transaction.h"
#include "latency_histogram.h"

namespace cairn::storage {
namespace {

using bench::EncodeKey;
using bench::Random;

using Clock = std::chrono::steady_clock;

// Integer and 0/1 flags are int64_t so that one table parses them all.
struct Flags {
  std::string benchmarks =
      "fillseq,fillrandom,overwrite,readrandom,seekrandom,readseq,"
      "readwhilewriting";
  std::string compression_type = "none";
  std::string db = "/tmp/cairn-dbbench";
  int64_t num = 1000000;
  int64_t reads = -1;  // -1: num
  int64_t key_size = 16;
  int64_t value_size = 100;
  int64_t threads = 1;
  int64_t sync = 0;
  int64_t use_existing_db = 0;
  int64_t write_buffer_size = static_cast<int64_t>(Options().write_buffer_size);
  int64_t bloom_bits = 10;
  int64_t cache_size = 8ll << 20;
  int64_t seed = 0;       // 0: from the clock, printed
  int64_t histogram = 0;  // accepted for db_bench's sake; always on
  int64_t seek_nexts = 0;
  int64_t duration = 0;  // seconds; 0: no cap
  int64_t stats = 0;
  int64_t merge_keys = -1;   // -1: num
  int64_t txn_keys = 4;      // keys each txnrandom transaction reads, writes
  int64_t txn_keyspace = 0;  // 0: num
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "cairn-dbbench: %s\n", what.c_str());
  std::fflush(stdout);
  std::fflush(stderr);
  std::_Exit(1);  // other threads may still be running: skip destructors
}

[[noreturn]] void DieStatus(const std::string& what, const absl::Status& s) {
  Die(what + ": " + s.ToString());
}

void ParseFlags(int argc, char** argv, Flags* f) {
  struct IntFlag {
    int64_t* value;
    int64_t min, max;
  };
  constexpr int64_t kBig = int64_t{1} << 62;
  const std::map<std::string_view, IntFlag> ints = {
      {"num", {&f->num, 0, kBig}},
      {"reads", {&f->reads, -1, kBig}},
      {"key_size", {&f->key_size, 8, 1024}},
      {"value_size", {&f->value_size, 0, 64 << 20}},
      {"threads", {&f->threads, 1, 1024}},
      {"sync", {&f->sync, 0, 1}},
      {"use_existing_db", {&f->use_existing_db, 0, 1}},
      {"write_buffer_size", {&f->write_buffer_size, 1, kBig}},
      {"bloom_bits", {&f->bloom_bits, 0, 64}},
      {"cache_size", {&f->cache_size, 0, kBig}},
      {"seed", {&f->seed, 0, kBig}},
      {"histogram", {&f->histogram, 0, 1}},
      {"seek_nexts", {&f->seek_nexts, 0, kBig}},
      {"duration", {&f->duration, 0, kBig}},
      {"stats", {&f->stats, 0, 1}},
      {"merge_keys", {&f->merge_keys, -1, kBig}},
      {"txn_keys", {&f->txn_keys, 1, 1 << 20}},
      {"txn_keyspace", {&f->txn_keyspace, 0, kBig}},
  };
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    size_t eq = arg.find('=');
    if (arg.substr(0, 2) != "--" || eq == std::string_view::npos) {
      Die("expected --flag=value, got '" + std::string(arg) +
          "' (flags: see tests/bench/dbbench.cc)");
    }
    std::string name(arg.substr(2, eq - 2)), value(arg.substr(eq + 1));
    if (name == "benchmarks") {
      f->benchmarks = value;
    } else if (name == "compression_type") {
      f->compression_type = value;
    } else if (name == "db") {
      f->db = value;
    } else if (auto it = ints.find(name); it != ints.end()) {
      char* end = nullptr;
      errno = 0;
      const int64_t v = std::strtoll(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || errno != 0 || v < it->second.min ||
          v > it->second.max) {
        Die(absl::StrCat("--", name, " must be an integer in [", it->second.min,
                         ", ", it->second.max, "], not '", value, "'"));
      }
      *it->second.value = v;
    } else {
      Die("unknown flag --" + name);
    }
  }
  if (f->reads < 0) f->reads = f->num;
  if (f->merge_keys < 0) f->merge_keys = f->num;
  if (f->txn_keyspace == 0) f->txn_keyspace = f->num;
}

// db_bench's RandomGenerator with compression_ratio 0.5. The buffer is shared
// (read-only); each thread keeps its own offset.
class ValueSource {
 public:
  explicit ValueSource(int64_t value_size) {
    Random rnd(301);
    size_t size = std::max<size_t>(1 << 20, static_cast<size_t>(value_size));
    while (data_.size() < size) {
      char raw[50];
      for (char& c : raw) c = static_cast<char>(' ' + rnd.Uniform(95));
      data_.append(raw, sizeof(raw)).append(raw, sizeof(raw));
    }
  }
  std::string_view Get(size_t* pos, int64_t value_size) const {
    const size_t len = static_cast<size_t>(value_size);
    if (*pos + len > data_.size()) *pos = 0;
    std::string_view v(data_.data() + *pos, len);
    *pos += len;
    return v;
  }

 private:
  std::string data_;
};

struct ThreadState {
  int id = 0;
  Random rand{0};
  std::string key;
  size_t value_pos = 0;
  uint64_t done = 0;
  uint64_t found = 0;
  uint64_t bytes = 0;
  uint64_t aborts = 0;  // txnrandom: transactions retried after a conflict
  std::vector<uint64_t> txn_keys;
  bench::LatencyHistogram hist;
  Clock::time_point start, finish;
};

class Benchmark {
 public:
  explicit Benchmark(const Flags& flags)
      : flags_(flags), values_(flags.value_size) {}

  void Run() {
    std::vector<std::string> names = Split(flags_.benchmarks);
    for (const std::string& name : names) {
      if (!Known(name)) Die("unknown benchmark '" + name + "'");
    }
    if (flags_.seed == 0) {
      seed_ = static_cast<uint64_t>(
          std::chrono::system_clock::now().time_since_epoch().count() / 1000);
      std::printf("Set seed to %" PRIu64 " because --seed was 0\n", seed_);
    } else {
      seed_ = static_cast<uint64_t>(flags_.seed);
    }
    PrintHeader();
    if (!flags_.use_existing_db) RemoveDb();
    OpenDb();
    for (const std::string& name : names) {
      bool fresh = name == "fillseq" || name == "fillrandom";
      if (fresh && !flags_.use_existing_db) {
        CloseDb();
        RemoveDb();
        OpenDb();
      }
      RunOne(name);
    }
    if (flags_.stats) PrintDbStats();
    CloseDb();
  }

 private:
  using OpFn = std::function<bool(ThreadState*)>;  // false: nothing left

  static std::vector<std::string> Split(const std::string& list) {
    std::vector<std::string> out;
    size_t start = 0;
    while (start <= list.size()) {
      size_t comma = std::min(list.find(',', start), list.size());
      if (comma > start) out.push_back(list.substr(start, comma - start));
      start = comma + 1;
    }
    return out;
  }

  static bool Known(const std::string& name) {
    for (const char* n :
         {"fillseq", "fillrandom", "overwrite", "readrandom", "seekrandom",
          "readseq", "readwhilewriting", "mergerandom", "txnrandom"}) {
      if (name == n) return true;
    }
    return false;
  }

  void RunOne(const std::string& name) {
    const uint64_t num = static_cast<uint64_t>(flags_.num);
    const uint64_t reads = static_cast<uint64_t>(flags_.reads);
    if (name == "fillseq") {
      RunThreads(name, num,
                 [this](ThreadState* t) { return WriteKey(t, t->done); });
    } else if (name == "fillrandom" || name == "overwrite") {
      RunThreads(name, num, [this, num](ThreadState* t) {
        return WriteKey(t, t->rand.Uniform(num));
      });
    } else if (name == "readrandom" || name == "readwhilewriting") {
      RunThreads(name, reads, [this, num](ThreadState* t) {
        return ReadKey(t, t->rand.Uniform(num));
      });
    } else if (name == "seekrandom") {
      RunThreads(name, reads, [this, num](ThreadState* t) {
        return SeekKey(t, t->rand.Uniform(num));
      });
    } else if (name == "readseq") {
      RunThreads(name, reads, [this](ThreadState* t) { return ScanNext(t); });
    } else if (name == "mergerandom") {
      const uint64_t keys = static_cast<uint64_t>(flags_.merge_keys);
      RunThreads(name, reads, [this, keys](ThreadState* t) {
        return MergeKey(t, t->rand.Uniform(keys));
      });
    } else if (name == "txnrandom") {
      RunThreads(name, reads,
                 [this](ThreadState* t) { return RandomTransaction(t); });
    }
  }

  bool WriteKey(ThreadState* t, uint64_t n) {
    EncodeKey(n, &t->key);
    WriteOptions wo;
    wo.sync = flags_.sync != 0;
    auto seq =
        db_->Put(wo, t->key, values_.Get(&t->value_pos, flags_.value_size));
    if (!seq.ok()) DieStatus("Put", seq.status());
    t->bytes += t->key.size() + flags_.value_size;
    return true;
  }

  bool MergeKey(ThreadState* t, uint64_t n) {
    EncodeKey(n, &t->key);
    WriteOptions wo;
    wo.sync = flags_.sync != 0;
    auto seq = db_->Merge(wo, t->key, "add", "1");
    if (!seq.ok()) DieStatus("Merge", seq.status());
    t->bytes += t->key.size() + 1;
    return true;
  }

  // One committed transaction: reads --txn_keys random keys and writes each
  // back, retrying with the same keys while commits abort.
  bool RandomTransaction(ThreadState* t) {
    const uint64_t keyspace = static_cast<uint64_t>(flags_.txn_keyspace);
    t->txn_keys.resize(static_cast<size_t>(flags_.txn_keys));
    for (uint64_t& n : t->txn_keys) n = t->rand.Uniform(keyspace);
    WriteOptions wo;
    wo.sync = flags_.sync != 0;
    for (;;) {
      std::unique_ptr<Transaction> txn = db_->BeginTransaction();
      uint64_t found = 0, bytes = 0;
      for (uint64_t n : t->txn_keys) {
        EncodeKey(n, &t->key);
        absl::StatusOr<GetResult> r = txn->Get(t->key);
        std::string_view value;
        if (r.ok()) {
          ++found;
          value = r->value;
        } else if (absl::IsNotFound(r.status())) {
          value = values_.Get(&t->value_pos, flags_.value_size);
        } else {
          DieStatus("transaction Get", r.status());
        }
        absl::Status s = txn->Put(t->key, value);
        if (!s.ok()) DieStatus("transaction Put", s);
        bytes += t->key.size() + value.size();
      }
      absl::StatusOr<uint64_t> seq = txn->Commit(wo);
      if (seq.ok()) {
        t->found += found;
        t->bytes += bytes;
        return true;
      }
      if (!absl::IsAborted(seq.status())) DieStatus("Commit", seq.status());
      ++t->aborts;
    }
  }

  bool ReadKey(ThreadState* t, uint64_t n) {
    EncodeKey(n, &t->key);
    auto r = db_->Get(ReadOptions(), t->key);
    if (r.ok()) {
      ++t->found;
      t->bytes += t->key.size() + r->value.size();
    } else if (!absl::IsNotFound(r.status())) {
      DieStatus("Get", r.status());
    }
    return true;
  }

  // A new iterator per seek, as db_bench does without tailing iterators.
  bool SeekKey(ThreadState* t, uint64_t n) {
    EncodeKey(n, &t->key);
    std::unique_ptr<Iterator> it = db_->NewIterator(ReadOptions());
    it->Seek(t->key);
    if (it->Valid() && it->key() == t->key) ++t->found;
    for (int64_t j = 0; j < flags_.seek_nexts && it->Valid(); ++j) {
      t->bytes += it->key().size() + it->value().size();
      it->Next();
    }
    if (!it->status().ok()) DieStatus("seek", it->status());
    return true;
  }

  // One iterator per thread for the whole scan.
  bool ScanNext(ThreadState* t) {
    auto& it = scan_iters_[t->id];
    if (it == nullptr) {
      it = db_->NewIterator(ReadOptions());
      it->SeekToFirst();
    } else {
      it->Next();
    }
    if (!it->Valid()) {
      if (!it->status().ok()) DieStatus("scan", it->status());
      return false;
    }
    t->bytes += it->key().size() + it->value().size();
    return true;
  }

  // Runs op up to max_ops times on each of --threads threads (plus, for
  // readwhilewriting, one writer whose figures are reported apart), then
  // prints the result lines.
  void RunThreads(const std::string& name, uint64_t max_ops, const OpFn& op) {
    const int n = static_cast<int>(flags_.threads);
    const bool with_writer = name == "readwhilewriting";
    std::vector<ThreadState> states(n + (with_writer ? 1 : 0));
    for (size_t i = 0; i < states.size(); ++i) {
      states[i].id = static_cast<int>(i);
      // Like db_bench, every thread of every benchmark gets its own seed, so
      // readrandom does not just replay the keys fillrandom drew.
      states[i].rand = Random(seed_ + ++threads_started_);
      states[i].key.assign(flags_.key_size, '\0');
    }
    scan_iters_.clear();
    scan_iters_.resize(n);
    std::atomic<int> readers_left{n};
    std::latch start(static_cast<ptrdiff_t>(states.size()));
    std::vector<std::thread> threads;
    threads.reserve(states.size());
    for (int i = 0; i < n; ++i) {
      threads.emplace_back([&, i] {
        start.arrive_and_wait();
        Loop(&states[i], max_ops, op);
        readers_left.fetch_sub(1);
      });
    }
    if (with_writer) {
      threads.emplace_back([&] {
        start.arrive_and_wait();
        ThreadState* w = &states[n];
        w->start = Clock::now();
        const uint64_t num = static_cast<uint64_t>(flags_.num);
        while (readers_left.load(std::memory_order_relaxed) > 0) {
          WriteKey(w, w->rand.Uniform(num));
          ++w->done;
        }
        w->finish = Clock::now();
      });
    }
    for (std::thread& t : threads) t.join();
    scan_iters_.clear();
    Report(name, std::span<const ThreadState>(states.data(), n));
    if (with_writer) {
      const ThreadState& w = states[n];
      double secs = std::chrono::duration<double>(w.finish - w.start).count();
      std::printf("(writer: %" PRIu64 " puts, %.0f puts/sec)\n", w.done,
                  secs > 0 ? w.done / secs : 0.0);
    }
    std::fflush(stdout);
  }

  // One clock read per op: an op's latency is the time since the previous
  // op ended (db_bench's FinishedOps does the same).
  void Loop(ThreadState* t, uint64_t max_ops, const OpFn& op) {
    const bool capped = flags_.duration > 0;
    t->start = Clock::now();
    const Clock::time_point deadline =
        t->start + std::chrono::seconds(flags_.duration);
    Clock::time_point prev = t->start;
    while (t->done < max_ops) {
      bool more = op(t);
      Clock::time_point now = Clock::now();
      if (!more) break;
      t->hist.Add(static_cast<uint64_t>(
          std::chrono::duration_cast<std::chrono::nanoseconds>(now - prev)
              .count()));
      prev = now;
      ++t->done;
      if (capped && now >= deadline) break;
    }
    t->finish = prev;
  }

  void Report(const std::string& name, std::span<const ThreadState> ts) {
    uint64_t done = 0, found = 0, bytes = 0, aborts = 0;
    double busy = 0;
    bench::LatencyHistogram hist;
    Clock::time_point first = ts[0].start, last = ts[0].finish;
    for (const ThreadState& t : ts) {
      done += t.done;
      found += t.found;
      bytes += t.bytes;
      aborts += t.aborts;
      busy += std::chrono::duration<double>(t.finish - t.start).count();
      hist.Merge(t.hist);
      first = std::min(first, t.start);
      last = std::max(last, t.finish);
    }
    double elapsed = std::chrono::duration<double>(last - first).count();
    if (done == 0) done = 1;
    std::string extra;
    char buf[256];
    if (bytes > 0 && elapsed > 0) {
      std::snprintf(buf, sizeof(buf), " %6.1f MB/s",
                    bytes / 1048576.0 / elapsed);
      extra += buf;
    }
    bool lookups = name == "readrandom" || name == "seekrandom" ||
                   name == "readwhilewriting";
    if (lookups) {
      std::snprintf(buf, sizeof(buf), " (%" PRIu64 " of %" PRIu64 " found)",
                    found, done);
      extra += buf;
    }
    if (name == "txnrandom") {
      std::snprintf(buf, sizeof(buf),
                    " (%" PRIu64 " commits, %" PRIu64
                    " aborts: %.2f%% of attempts; %" PRIu64 " of %" PRIu64
                    " gets found)",
                    done, aborts, 100.0 * aborts / (done + aborts), found,
                    done * static_cast<uint64_t>(flags_.txn_keys));
      extra += buf;
    }
    std::printf("%-12s : %11.3f micros/op %" PRIu64 " ops/sec;%s\n",
                name.c_str(), busy * 1e6 / done,
                static_cast<uint64_t>(elapsed > 0 ? done / elapsed : 0),
                extra.c_str());
    std::printf("Percentiles: P50: %.2f P99: %.2f P99.9: %.2f max: %.1f\n",
                hist.Percentile(50) / 1e3, hist.Percentile(99) / 1e3,
                hist.Percentile(99.9) / 1e3, hist.max() / 1e3);
  }

  // Removes the database directory, refusing one that does not look like a
  // Cairn database, so that a mistyped --db cannot delete unrelated files.
  void RemoveDb() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path dir(flags_.db);
    if (!fs::exists(dir, ec)) return;
    bool empty = fs::is_directory(dir, ec) && fs::is_empty(dir, ec);
    bool cairn = fs::exists(dir / "CURRENT", ec) ||
                 fs::exists(dir / "LOCK", ec) || fs::is_directory(dir / "wal");
    if (!empty && !cairn) {
      Die("refusing to delete " + flags_.db +
          ": not a Cairn database (no CURRENT, LOCK or wal/)");
    }
    fs::remove_all(dir, ec);
    if (ec) Die("cannot delete " + flags_.db + ": " + ec.message());
  }

  void OpenDb() {
    Options o;
    o.create_if_missing = flags_.use_existing_db == 0;
    o.write_buffer_size = static_cast<size_t>(flags_.write_buffer_size);
    o.bloom_bits_per_key = static_cast<int>(flags_.bloom_bits);
    o.block_cache_bytes = static_cast<size_t>(flags_.cache_size);
    o.compression = Compression();
    auto db = DB::Open(o, flags_.db);
    if (!db.ok()) DieStatus("open " + flags_.db, db.status());
    db_ = std::move(*db);
  }

  void CloseDb() {
    if (db_ == nullptr) return;
    absl::Status s = db_->Close();
    if (!s.ok()) DieStatus("close", s);
    db_.reset();
  }

  CompressionType Compression() const {
    if (flags_.compression_type == "none") return CompressionType::kNone;
    if (flags_.compression_type == "lz4") return CompressionType::kLZ4;
    if (flags_.compression_type == "zstd") return CompressionType::kZstd;
    Die("--compression_type must be none, lz4 or zstd, not '" +
        flags_.compression_type + "'");
  }

  static std::string CpuLine() {
    std::ifstream in("/proc/cpuinfo");
    std::string line, model;
    int count = 0;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) != 0) continue;
      ++count;
      size_t colon = line.find(':');
      if (colon != std::string::npos) model = line.substr(colon + 2);
    }
    return std::to_string(count) + " * " + model;
  }

  void PrintHeader() {
    Compression();  // validates the flag before anything runs
    const double mb = 1048576.0;
    const double n = static_cast<double>(flags_.num);
    std::time_t now = std::time(nullptr);
    char date[64];
    std::strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y",
                  std::localtime(&now));
    std::printf("Cairn:      cairn-dbbench (db_bench workloads)\n");
    std::printf("Date:       %s\n", date);
    std::printf("CPU:        %s\n", CpuLine().c_str());
    std::printf("Keys:       %" PRId64 " bytes each\n", flags_.key_size);
    std::printf("Values:     %" PRId64 " bytes each (%" PRId64
                " bytes after compression)\n",
                flags_.value_size, flags_.value_size / 2);
    std::printf("Entries:    %" PRId64 "\n", flags_.num);
    std::printf("RawSize:    %.1f MB (estimated)\n",
                (flags_.key_size + flags_.value_size) * n / mb);
    std::printf("FileSize:   %.1f MB (estimated)\n",
                (flags_.key_size + flags_.value_size * 0.5) * n / mb);
    std::printf("Durability: WAL on, sync=%" PRId64 "\n", flags_.sync);
    std::printf("Compression: %s\n", flags_.compression_type.c_str());
    std::printf("Cache:      %" PRId64 " bytes, bloom %" PRId64
                " bits/key, write buffer %" PRId64 " bytes\n",
                flags_.cache_size, flags_.bloom_bits, flags_.write_buffer_size);
    std::printf("Threads:    %" PRId64 "\n", flags_.threads);
    if (flags_.benchmarks.find("txnrandom") != std::string::npos) {
      std::printf("Txn:        %" PRId64 " keys per transaction of %" PRId64
                  " keys\n",
                  flags_.txn_keys, flags_.txn_keyspace);
    }
    std::printf("DB path:    [%s]\n", flags_.db.c_str());
    std::printf("------------------------------------------------\n");
    std::fflush(stdout);
  }

  // --stats: the engine's view after the last benchmark.
  void PrintDbStats() {
    DBStats s = db_->GetStats();
    std::printf("\n** DB stats **\nLevel  Files      Bytes  Score\n");
    for (size_t i = 0; i < s.levels.size(); ++i) {
      const LevelStats& l = s.levels[i];
      if (l.files > 0 || i == 0) {
        std::printf("L%-5zu %5d %10" PRIu64 " %6.2f\n", i, l.files, l.bytes,
                    l.score);
      }
    }
    std::printf("last_sequence %" PRIu64 " flushed_sequence %" PRIu64
                " memtable_bytes %" PRIu64 " immutable_memtables %" PRIu64
                "\nuser_bytes_written %" PRIu64 " sst_bytes_written %" PRIu64
                " write_amplification %.2f live_sst_bytes %" PRIu64
                "\nwal_bytes %" PRIu64 " block_cache_usage %" PRIu64
                " background_error %s\n",
                s.last_sequence, s.flushed_sequence, s.memtable_bytes,
                s.immutable_memtables, s.user_bytes_written,
                s.sst_bytes_written, s.write_amplification, s.live_sst_bytes,
                s.wal_bytes, s.block_cache_usage,
                s.background_error.ToString().c_str());
    const Statistics& st = db_->statistics();
    for (int i = 0; i < static_cast<int>(Ticker::kCount); ++i) {
      Ticker t = static_cast<Ticker>(i);
      std::printf("%s%s %" PRIu64, i % 5 == 0 ? "\n" : " ",
                  std::string(TickerName(t)).c_str(), st.Get(t));
    }
    for (int i = 0; i < static_cast<int>(StallReason::kCount); ++i) {
      StallReason r = static_cast<StallReason>(i);
      std::printf("\nstall %s: %" PRIu64 " times, %" PRIu64 " micros",
                  std::string(StallReasonName(r)).c_str(), st.StallCount(r),
                  st.StallMicros(r));
    }
    for (int i = 0; i < static_cast<int>(HistogramType::kCount); ++i) {
      HistogramType h = static_cast<HistogramType>(i);
      Histogram::Data d = st.GetHistogram(h);
      std::printf("\n%s: count %" PRIu64 " P50 %.1f P99 %.1f max %" PRIu64,
                  std::string(HistogramName(h)).c_str(), d.count,
                  d.Percentile(50), d.Percentile(99), d.max);
    }
    std::printf("\n");
  }

  const Flags flags_;
  const ValueSource values_;
  uint64_t seed_ = 0;
  uint64_t threads_started_ = 0;
  std::unique_ptr<DB> db_;
  std::vector<std::unique_ptr<Iterator>> scan_iters_;
};

}  // namespace
}  // namespace cairn::storage

int main(int argc, char** argv) {
  cairn::storage::Flags flags;
  cairn::storage::ParseFlags(argc, argv, &flags);
  cairn::storage::Benchmark(flags).Run();
  return 0;
}
