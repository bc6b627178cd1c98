// Kill points: the storage engine runs a mixed synced workload (puts,
// deletes, range deletes, merges, batches, transactions, flushes,
// compactions, a reopen) over a FaultInjectionFileSystem, and the power goes
// out at a named point: just before or right after the Nth call of one
// operation on one kind of file (WAL sync and rotation, SST write and sync,
// MANIFEST write and sync, CURRENT switch, directory syncs, the middle of a
// compaction). Unsynced data is then dropped (all of it, or a torn prefix),
// the database reopened, and it must hold every acknowledged write (and the
// failed write whole or not at all), and work.
//
// KillPointTest runs each named point at its first, middle and last call in
// the workload, with both power-loss modes. KillPointRandomTest picks a
// random point, call and mode per seed: CAIRN_FAULTS_KILL_SEEDS seeds
// (default 20) from a random base, or just CAIRN_FAULTS_KILL_SEED.
#include <set>

#include "fault_workload.h"

namespace cairn::faults {
namespace {

struct KillPoint {
  const char* name;
  FsOp op;
  const char* kind;  // FileKind of one of the call's paths
  FaultAction action;
  bool creating_only = false;
  bool during_compaction = false;  // only calls made while CompactRange runs
};

void PrintTo(const KillPoint& point, std::ostream* os) { *os << point.name; }

constexpr FaultAction kBefore = FaultAction::kCrashBefore;
constexpr FaultAction kAfter = FaultAction::kCrashAfter;

const KillPoint kKillPoints[] = {
    // The WAL: a commit group's fdatasync (msync) of the mapped log.
    {"wal_sync_before", FsOp::kMapSync, "wal", kBefore},
    {"wal_sync_after", FsOp::kMapSync, "wal", kAfter},
    // WAL rotation: a segment created (tmp file, preallocation), renamed
    // into place, and its directory synced.
    {"wal_segment_create_before", FsOp::kOpen, "wal-tmp", kBefore, true},
    {"wal_segment_allocate_before", FsOp::kAllocate, "wal-tmp", kBefore},
    {"wal_rotate_rename_before", FsOp::kRename, "wal", kBefore},
    {"wal_rotate_rename_after", FsOp::kRename, "wal", kAfter},
    {"wal_dir_sync_before", FsOp::kSyncDir, "wal-dir", kBefore},
    {"wal_dir_sync_after", FsOp::kSyncDir, "wal-dir", kAfter},
    // Flush and compaction output tables.
    {"sst_create_before", FsOp::kOpen, "sst", kBefore, true},
    {"sst_write_before", FsOp::kWrite, "sst", kBefore},
    {"sst_write_after", FsOp::kWrite, "sst", kAfter},
    {"sst_sync_before", FsOp::kSync, "sst", kBefore},
    {"sst_sync_after", FsOp::kSync, "sst", kAfter},
    {"db_dir_sync_before", FsOp::kSyncDir, "dir", kBefore},
    {"db_dir_sync_after", FsOp::kSyncDir, "dir", kAfter},
    // The MANIFEST: version edits appended and synced; a new MANIFEST at
    // open, installed by renaming CURRENT.tmp over CURRENT.
    {"manifest_write_before", FsOp::kWrite, "manifest", kBefore},
    {"manifest_write_after", FsOp::kWrite, "manifest", kAfter},
    {"manifest_sync_before", FsOp::kSync, "manifest", kBefore},
    {"manifest_sync_after", FsOp::kSync, "manifest", kAfter},
    {"current_rename_before", FsOp::kRename, "current", kBefore},
    {"current_rename_after", FsOp::kRename, "current", kAfter},
    // In the middle of a compaction: an output table written, synced (the
    // first of several: target_file_size cuts them small), the edit, the
    // removal of the inputs.
    {"compaction_sst_write_before", FsOp::kWrite, "sst", kBefore, false, true},
    {"compaction_sst_sync_after", FsOp::kSync, "sst", kAfter, false, true},
    {"compaction_manifest_write_before", FsOp::kWrite, "manifest", kBefore,
     false, true},
    {"compaction_input_remove_before", FsOp::kRemove, "sst", kBefore, false,
     true},
    {"compaction_input_remove_after", FsOp::kRemove, "sst", kAfter, false,
     true},
};

// The rule that picks the calls of `point` (counting them in *matches, if
// given: the predicate runs once per matching call).
FaultRule RuleFor(const KillPoint& point, const std::string& root,
                  const std::atomic<bool>* compacting, int skip,
                  std::atomic<int>* matches) {
  FaultRule rule;
  rule.op = point.op;
  rule.creating_only = point.creating_only;
  rule.action = point.action;
  rule.skip = skip;
  rule.times = 1;
  const std::string kind = point.kind;
  const bool during_compaction = point.during_compaction;
  rule.path_matches = [=](std::string_view path) {
    if (during_compaction && !compacting->load()) return false;
    if (FileKind(path, root) != kind) return false;
    if (matches != nullptr) matches->fetch_add(1);
    return true;
  };
  return rule;
}

// How many calls of `point` a fault-free run of the workload makes.
int CountCalls(const KillPoint& point, uint64_t seed,
               const WorkloadConfig& config) {
  FaultTempDir dir;
  FaultInjectionFileSystem fs(FileSystem::Default());
  FaultWorkload w(&fs, dir.path(), seed);
  std::atomic<int> matches{0};
  FaultRule rule = RuleFor(point, dir.path(), &w.compacting(), 0, &matches);
  rule.times = 0;  // count only
  fs.InjectFault(std::move(rule));
  absl::Status s = w.Run(config);
  EXPECT_TRUE(s.ok()) << "fault-free run: " << s;
  return matches.load();
}

// One crash: the workload runs until the power goes out at call `skip` of
// `point`; then power loss in `mode`, reopen, verify, use.
void CrashOnce(const KillPoint& point, int skip, PowerLossMode mode,
               uint64_t seed, const WorkloadConfig& config) {
  const std::string what = absl::StrCat(
      point.name, " call ", skip, " seed ", seed,
      mode == PowerLossMode::kDropAll ? " drop-all" : " torn-prefix");
  SCOPED_TRACE(what);
  Watchdog watchdog(what, std::chrono::seconds(120));
  FaultTempDir dir;
  FaultInjectionFileSystem fs(FileSystem::Default());
  FaultWorkload w(&fs, dir.path(), seed);
  fs.InjectFault(RuleFor(point, dir.path(), &w.compacting(), skip, nullptr));
  absl::Status s = w.Run(config);
  if (!fs.crashed()) {
    // Background work (flushes, compactions, WAL segments prepared ahead)
    // varies a little from run to run: a late call may not come.
    EXPECT_GT(skip, 0) << "the kill point was not reached";
    std::printf("%s: not reached in this run\n", what.c_str());
  }
  // Before the crash everything works; after it, what failed says so.
  if (!s.ok()) {
    EXPECT_FALSE(absl::IsInvalidArgument(s)) << w.failed_step() << ": " << s;
  }
  if (std::getenv("CAIRN_FAULTS_VERBOSE") != nullptr) {
    std::printf("%s: %d writes acknowledged, stopped at %s: %s\n", what.c_str(),
                w.acked_writes(), w.failed_step().c_str(),
                s.ToString().c_str());
  }
  w.PowerLoss(mode, static_cast<uint32_t>(seed));
  w.ReopenAndVerify(what);
}

class KillPointTest : public ::testing::TestWithParam<KillPoint> {};

TEST_P(KillPointTest, AcknowledgedWritesSurvive) {
  const KillPoint& point = GetParam();
  const WorkloadConfig config;
  const uint64_t seed = 1000 + std::hash<std::string>()(point.name) % 1000;
  const int n = CountCalls(point, seed, config);
  ASSERT_GT(n, 0) << point.name << " is not reached by the workload";
  // Up to 8 calls spread over the run, the first and the last included.
  std::set<int> calls;
  for (int i = 0; i < 8; ++i) calls.insert((n - 1) * i / 7);
  for (int skip : calls) {
    for (PowerLossMode mode :
         {PowerLossMode::kDropAll, PowerLossMode::kKeepTornPrefix}) {
      CrashOnce(point, skip, mode, seed, config);
      if (HasFatalFailure()) return;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Points, KillPointTest,
                         ::testing::ValuesIn(kKillPoints),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::strtoull(v, nullptr, 10) : def;
}

TEST(KillPointRandomTest, RandomPointCallAndMode) {
  std::vector<uint64_t> seeds;
  if (std::getenv("CAIRN_FAULTS_KILL_SEED") != nullptr) {
    seeds.push_back(EnvOr("CAIRN_FAULTS_KILL_SEED", 0));
  } else {
    const uint64_t base = std::random_device{}();
    for (uint64_t i = 0; i < EnvOr("CAIRN_FAULTS_KILL_SEEDS", 20); ++i) {
      seeds.push_back(base + i);
    }
  }
  for (uint64_t seed : seeds) {
    SCOPED_TRACE(absl::StrCat("CAIRN_FAULTS_KILL_SEED=", seed));
    std::mt19937_64 rng(seed);
    const KillPoint& point = kKillPoints[rng() % std::size(kKillPoints)];
    WorkloadConfig config;
    config.steps = 150 + static_cast<int>(rng() % 250);
    config.reopen_at = static_cast<int>(rng() % config.steps);
    const int n = CountCalls(point, seed, config);
    if (n == 0) continue;  // this workload never reaches that point
    const int skip = static_cast<int>(rng() % n);
    const PowerLossMode mode = rng() % 2 == 0 ? PowerLossMode::kDropAll
                                              : PowerLossMode::kKeepTornPrefix;
    CrashOnce(point, skip, mode, seed, config);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace cairn::faults
