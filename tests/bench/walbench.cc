// cairn-walbench: micro-benchmarks of the write-ahead log, each next to the
// physical limit it should be judged against (MISSION.md, "Quality bars"):
//
//   BM_Append/N          Log::Append of N-byte records, no sync
//   BM_Memcpy/N          memcpy of N bytes into a pre-faulted 64 MiB buffer:
//                        what an append does without the file
//   BM_GroupCommit       durable (fdatasync) appends of 128-byte records from
//                        1..64 threads; commits_per_sync shows the sharing
//   BM_SequentialRead/N  a Reader scanning ~64 MiB of N-byte records
//   BM_FillFile/M/N      what it costs to put a 64 MiB segment's bytes into
//                        the page cache, N bytes at a time, by method M:
//                        0 stores through a fresh shared mapping (what an
//                        append does today: a page fault per new page),
//                        1 the same after MADV_POPULATE_WRITE (populating
//                        timed too), 2 pwrite, 3 stores after a user-space
//                        read of each page (populate and reads timed): the
//                        candidate write paths of the WAL, side by side
//                        (docs/benchmarks.md)
//
// Logs live in fresh directories under $CAIRN_BENCH_DIR (default /tmp), which
// are removed afterwards. Numbers depend on that file system: the header line
// names it. docs/benchmarks.md records results with the command used.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/wal/format.h"
#include "cairn/wal/log.h"
#include "cairn/wal/options.h"
#include "cairn/wal/reader.h"

namespace cairn::wal {
namespace {

constexpr uint64_t kSegmentSize = 64ull << 20;
constexpr size_t kGroupCommitRecordSize = 128;

std::string BenchRoot() {
  const char* dir = std::getenv("CAIRN_BENCH_DIR");
  return dir != nullptr && *dir != '\0' ? dir : "/tmp";
}

// A fresh directory under BenchRoot(), removed with its contents when
// destroyed.
class TempDir {
 public:
  TempDir() {
    std::string path = BenchRoot() + "/cairn-walbench-XXXXXX";
    if (mkdtemp(path.data()) != nullptr) path_ = std::move(path);
  }
  ~TempDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  std::string LogDir() const { return path_ + "/log"; }

 private:
  std::string path_;
};

// Payload bytes that do not compress and are not all zeros, so nothing on the
// way (page cache, device) can take a shortcut.
std::string MakePayload(size_t size) {
  std::string payload(size, '\0');
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (char& c : payload) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c = static_cast<char>(x);
  }
  return payload;
}

absl::StatusOr<std::unique_ptr<Log>> OpenLog(const TempDir& dir,
                                             SyncMode sync_mode) {
  if (!dir.ok()) {
    return absl::InternalError("cannot create a directory under " +
                               BenchRoot());
  }
  Options options;
  options.segment_size = kSegmentSize;
  options.sync_mode = sync_mode;
  return Log::Open(options, dir.LogDir());
}

void SkipWithStatus(benchmark::State& state, const absl::Status& status) {
  state.SkipWithError(status.ToString().c_str());
}

// ---------------------------------------------------------------------------

void BM_Append(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  TempDir dir;
  auto log_or = OpenLog(dir, SyncMode::kNone);
  if (!log_or.ok()) return SkipWithStatus(state, log_or.status());
  std::unique_ptr<Log> log = std::move(*log_or);
  const std::string payload = MakePayload(size);

  // Let retention delete sealed segments every segment's worth of appends so
  // the disk does not fill. Retention runs off the append path in the engine
  // (after a flush), so it is kept out of the timing.
  const uint64_t frame_size = FrameSize(size);
  uint64_t since_retention = 0;
  for (auto _ : state) {
    absl::StatusOr<AppendResult> result = log->Append(payload);
    if (!result.ok()) {
      SkipWithStatus(state, result.status());
      break;
    }
    since_retention += frame_size;
    if (since_retention >= kSegmentSize) {
      since_retention = 0;
      state.PauseTiming();
      log->SetDeletableBelow(log->LastSequence() + 1);
      state.ResumeTiming();
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  absl::Status closed = log->Close();
  if (!closed.ok() && !state.error_occurred()) SkipWithStatus(state, closed);
}

// The physical limit of BM_Append: sequential stores of the same sizes into a
// segment-sized region of memory that is already mapped and faulted in.
void BM_Memcpy(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  void* region = mmap(nullptr, kSegmentSize, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) {
    state.SkipWithError("mmap of the destination buffer failed");
    return;
  }
  char* buffer = static_cast<char*>(region);
  const long page_size = sysconf(_SC_PAGESIZE);
  for (uint64_t offset = 0; offset < kSegmentSize; offset += page_size) {
    buffer[offset] = 1;  // fault every page in before timing
  }
  const std::string payload = MakePayload(size);
  // Advance like frames do: 8-byte aligned.
  const size_t stride = (size + kFrameAlignment - 1) & ~(kFrameAlignment - 1);

  size_t offset = 0;
  for (auto _ : state) {
    if (offset + size > kSegmentSize) offset = 0;
    std::memcpy(buffer + offset, payload.data(), size);
    benchmark::DoNotOptimize(buffer + offset);
    benchmark::ClobberMemory();
    offset += stride;
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * size));
  munmap(region, kSegmentSize);
}

// ---------------------------------------------------------------------------
// The candidate ways of getting a segment's bytes into the page cache.

enum FillMethod : int64_t {
  kMappedStores = 0,
  kPopulatedStores = 1,
  kPwrite = 2,
  kTouchedStores = 3,
};

void BM_FillFile(benchmark::State& state) {
  const auto method = static_cast<FillMethod>(state.range(0));
  const size_t chunk = static_cast<size_t>(state.range(1));
  TempDir dir;
  if (!dir.ok()) return state.SkipWithError("cannot create a directory");
  const std::string path = dir.LogDir();
  const std::string payload = MakePayload(chunk);
  const size_t stride = (chunk + kFrameAlignment - 1) & ~(kFrameAlignment - 1);
  // Split of the timed work: populating or touching the pages first (methods
  // 1 and 3), then the writes.
  absl::Duration prepare_time, write_time;
  for (auto _ : state) {
    // A fresh preallocated file per iteration, as a new segment is.
    state.PauseTiming();
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || fallocate(fd, 0, 0, kSegmentSize) != 0) {
      state.SkipWithError("cannot create the file");
      if (fd >= 0) close(fd);
      break;
    }
    char* map = nullptr;
    if (method != kPwrite) {
      void* m = mmap(nullptr, kSegmentSize, PROT_READ | PROT_WRITE, MAP_SHARED,
                     fd, 0);
      if (m == MAP_FAILED) {
        state.SkipWithError("mmap failed");
        close(fd);
        break;
      }
      map = static_cast<char*>(m);
    }
    state.ResumeTiming();
    const absl::Time prepare_start = absl::Now();
#ifdef MADV_POPULATE_WRITE
    if (method == kPopulatedStores || method == kTouchedStores) {
      madvise(map, kSegmentSize, MADV_POPULATE_WRITE);
    }
#endif
    if (method == kTouchedStores) {
      // Under shadow paging the first user-space access to each page
      // costs a hypervisor exit, whatever the kernel populated before.
      for (uint64_t off = 0; off < kSegmentSize; off += 4096) {
        benchmark::DoNotOptimize(*static_cast<volatile char*>(map + off));
      }
    }
    const absl::Time write_start = absl::Now();
    prepare_time += write_start - prepare_start;
    for (uint64_t off = 0; off + chunk <= kSegmentSize; off += stride) {
      if (method == kPwrite) {
        if (pwrite(fd, payload.data(), chunk, static_cast<off_t>(off)) !=
            static_cast<ssize_t>(chunk)) {
          state.SkipWithError("pwrite failed");
          break;
        }
      } else {
        std::memcpy(map + off, payload.data(), chunk);
      }
    }
    benchmark::ClobberMemory();
    write_time += absl::Now() - write_start;
    state.PauseTiming();
    if (map != nullptr) munmap(map, kSegmentSize);
    close(fd);
    unlink(path.c_str());
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<int64_t>(
      state.iterations() * (kSegmentSize / stride) * chunk));
  const double pages =
      static_cast<double>(state.iterations()) * (kSegmentSize / 4096);
  state.counters["prepare_ns_per_page"] =
      absl::ToDoubleNanoseconds(prepare_time) / pages;
  state.counters["write_ns_per_page"] =
      absl::ToDoubleNanoseconds(write_time) / pages;
}

// ---------------------------------------------------------------------------
// Group commit. The shared Log is opened by the Setup callback, which
// benchmark runs once per run before starting any of its threads, and closed
// by Teardown after all of them have finished: no hand-made synchronization.

struct GroupCommitFixture {
  TempDir dir;
  std::unique_ptr<Log> log;
  absl::Status open_status;
  LogStats at_start;
};
GroupCommitFixture* group_commit = nullptr;

void GroupCommitSetup(const benchmark::State&) {
  group_commit = new GroupCommitFixture;
  auto log_or = OpenLog(group_commit->dir, SyncMode::kEveryCommit);
  if (log_or.ok()) {
    group_commit->log = std::move(*log_or);
    group_commit->at_start = group_commit->log->GetStats();
  } else {
    group_commit->open_status = log_or.status();
  }
}

void GroupCommitTeardown(const benchmark::State&) {
  if (group_commit->log != nullptr) {
    absl::Status closed = group_commit->log->Close();
    if (!closed.ok()) {
      std::fprintf(stderr, "BM_GroupCommit: Close: %s\n",
                   closed.ToString().c_str());
    }
  }
  delete group_commit;
  group_commit = nullptr;
}

void BM_GroupCommit(benchmark::State& state) {
  GroupCommitFixture& fixture = *group_commit;
  if (fixture.log == nullptr) return SkipWithStatus(state, fixture.open_status);
  const std::string payload = MakePayload(kGroupCommitRecordSize);

  // A thread that fails keeps iterating without work: leaving the loop early
  // would skip the barrier the other threads wait at.
  bool failed = false;
  for (auto _ : state) {
    if (failed) continue;
    absl::StatusOr<AppendResult> result = fixture.log->Append(payload);
    if (!result.ok()) {
      failed = true;
      SkipWithStatus(state, result.status());
    }
  }
  // Counters of all threads are summed; the rate divides by real time.
  state.counters["commits/s"] = benchmark::Counter(
      static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
  if (state.thread_index() == 0) {
    // Every thread has left the loop: the stats cover exactly this run.
    LogStats now = fixture.log->GetStats();
    uint64_t records = now.records_appended - fixture.at_start.records_appended;
    uint64_t syncs = now.syncs - fixture.at_start.syncs;
    state.counters["commits_per_sync"] =
        syncs == 0 ? 0.0
                   : static_cast<double>(records) / static_cast<double>(syncs);
  }
}

// ---------------------------------------------------------------------------
// Sequential read. The log is written once, on first use, and shared by every
// run; main() removes it after the benchmarks.

struct ReadFixture {
  TempDir dir;
  std::unique_ptr<Log> log;
  absl::Status status;
  size_t record_size = 0;
};
ReadFixture* read_fixture = nullptr;

ReadFixture& GetReadFixture(size_t record_size) {
  if (read_fixture != nullptr && read_fixture->record_size == record_size) {
    return *read_fixture;
  }
  delete read_fixture;
  read_fixture = new ReadFixture;
  read_fixture->record_size = record_size;
  auto log_or = OpenLog(read_fixture->dir, SyncMode::kNone);
  if (!log_or.ok()) {
    read_fixture->status = log_or.status();
    return *read_fixture;
  }
  read_fixture->log = std::move(*log_or);
  const std::string payload = MakePayload(record_size);
  const uint64_t records = kSegmentSize / record_size;
  for (uint64_t i = 0; i < records; ++i) {
    absl::StatusOr<AppendResult> result = read_fixture->log->Append(payload);
    if (!result.ok()) {
      read_fixture->status = result.status();
      break;
    }
  }
  if (read_fixture->status.ok()) {
    read_fixture->status = read_fixture->log->Sync();
  }
  return *read_fixture;
}

void DestroyReadFixture() {
  if (read_fixture != nullptr && read_fixture->log != nullptr) {
    (void)read_fixture->log->Close();
  }
  delete read_fixture;
  read_fixture = nullptr;
}

void BM_SequentialRead(benchmark::State& state) {
  ReadFixture& fixture = GetReadFixture(static_cast<size_t>(state.range(0)));
  if (!fixture.status.ok()) return SkipWithStatus(state, fixture.status);
  Log& log = *fixture.log;
  const uint64_t first = log.FirstSequence();
  const uint64_t last = log.LastSequence();

  std::unique_ptr<Reader> reader;
  uint64_t expected = 0;  // next sequence the reader must return
  uint64_t bytes = 0;
  absl::Status error;
  for (auto _ : state) {
    if (reader == nullptr || expected > last) {
      reader.reset();  // release its segments before taking new ones
      auto reader_or = log.NewReader(first);
      if (!reader_or.ok()) {
        error = reader_or.status();
        break;
      }
      reader = std::move(*reader_or);
      expected = first;
    }
    absl::StatusOr<Record> record = reader->Next(absl::InfinitePast());
    if (!record.ok()) {
      error = record.status();
      break;
    }
    if (record->first_seq != expected) {
      error = absl::InternalError("reader skipped or repeated a sequence");
      break;
    }
    expected += record->seq_count;
    bytes += record->payload.size();
    benchmark::DoNotOptimize(record->payload.data());
  }
  if (!error.ok()) SkipWithStatus(state, error);
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
}

// Wall-clock time throughout: an append that waits for the disk (the sync
// when a segment is sealed) or for a page fault is slower, even though it
// does not use the CPU meanwhile. Benchmark adds "/real_time" to the names.
BENCHMARK(BM_Append)
    ->Arg(16)
    ->Arg(1024)
    ->Arg(32768)
    ->Arg(524288)
    ->UseRealTime();
BENCHMARK(BM_Memcpy)
    ->Arg(16)
    ->Arg(1024)
    ->Arg(32768)
    ->Arg(524288)
    ->UseRealTime();
BENCHMARK(BM_GroupCommit)
    ->Setup(GroupCommitSetup)
    ->Teardown(GroupCommitTeardown)
    ->Threads(1)
    ->Threads(4)
    ->Threads(16)
    ->Threads(64)
    ->UseRealTime();
BENCHMARK(BM_SequentialRead)->Arg(1024)->UseRealTime();
BENCHMARK(BM_FillFile)
    ->Args({kMappedStores, 1024})
    ->Args({kPopulatedStores, 1024})
    ->Args({kTouchedStores, 1024})
    ->Args({kPwrite, 1024})
    ->Args({kPwrite, 65536})
    ->Args({kPwrite, 1 << 20})
    ->Iterations(8)
    ->UseRealTime();

// ---------------------------------------------------------------------------
// The machine line printed before the results.

std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line;
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) {
        size_t start = line.find_first_not_of(" \t", colon + 1);
        return start == std::string::npos ? "" : line.substr(start);
      }
    }
  }
  return "unknown CPU";
}

// /proc/mounts escapes blanks in paths as octal (\040).
std::string UnescapeMountPath(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int value = 0;
      bool octal = true;
      for (size_t j = i + 1; j <= i + 3; ++j) {
        if (s[j] < '0' || s[j] > '7') octal = false;
        value = value * 8 + (s[j] - '0');
      }
      if (octal) {
        out.push_back(static_cast<char>(value));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// "type (device mounted on mount point)" of the file system holding dir.
std::string FileSystemOf(const std::string& dir) {
  std::error_code ec;
  std::string path = std::filesystem::canonical(dir, ec).string();
  if (ec) return "unknown file system (" + ec.message() + ")";
  std::ifstream mounts("/proc/mounts");
  std::string line, best_type, best_device, best_point;
  while (std::getline(mounts, line)) {
    std::istringstream fields(line);
    std::string device, point, type;
    if (!(fields >> device >> point >> type)) continue;
    point = UnescapeMountPath(point);
    bool covers =
        point == "/" || path == point || path.rfind(point + "/", 0) == 0;
    if (covers && point.size() >= best_point.size()) {
      best_type = type;
      best_device = device;
      best_point = point;
    }
  }
  if (!best_type.empty()) {
    return best_type + " (" + best_device + " on " + best_point + ")";
  }
  struct statfs info;
  if (statfs(path.c_str(), &info) != 0) return "unknown file system";
  char magic[32];
  std::snprintf(magic, sizeof(magic), "statfs type 0x%lx",
                static_cast<unsigned long>(info.f_type));
  return magic;
}

void PrintMachineHeader() {
  const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  const std::string model = CpuModel();
  const std::string dir = BenchRoot();
  const std::string fs = FileSystemOf(dir);
  // stderr, like benchmark's own context, so that --benchmark_format=json on
  // stdout stays parseable; the same facts go into the JSON context.
  std::fprintf(stderr, "cairn-walbench: %ld CPUs, %s; data dir %s on %s\n",
               cpus, model.c_str(), dir.c_str(), fs.c_str());
  benchmark::AddCustomContext("cpu_model", model);
  benchmark::AddCustomContext("data_dir", dir);
  benchmark::AddCustomContext("data_dir_fs", fs);
}

}  // namespace
}  // namespace cairn::wal

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  cairn::wal::PrintMachineHeader();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  cairn::wal::DestroyReadFixture();
  return 0;
}
