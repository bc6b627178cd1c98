// Helpers shared by the DB-level storage tests: temporary directories and
// small-option presets that make flushes and compactions happen quickly.
#ifndef CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_
#define CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "cairn/storage/db.h"
#include "gtest/gtest.h"

namespace cairn::storage::testing {

// A fresh directory under /tmp, removed with its contents on destruction.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/cairn-storage-XXXXXX";
    path_ = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// Options that flush every ~64 KiB and compact early, with a small WAL.
inline Options SmallOptions() {
  Options o;
  o.write_buffer_size = 64 << 10;
  o.target_file_size = 32 << 10;
  o.max_bytes_for_level_base = 128 << 10;
  o.max_bytes_for_level_multiplier = 4;
  o.level0_file_num_compaction_trigger = 2;
  o.block_size = 1024;
  o.block_cache_bytes = 1 << 20;
  o.wal.segment_size = 1 << 20;
  o.wal.prefault_bytes = 0;
  return o;
}

inline std::unique_ptr<DB> OpenOrDie(const Options& o, const std::string& p) {
  auto db = DB::Open(o, p);
  EXPECT_TRUE(db.ok()) << db.status();
  return db.ok() ? std::move(*db) : nullptr;
}

// Everything an iterator yields, forward.
inline std::map<std::string, std::string> Contents(DB* db,
                                                   const ReadOptions& ro = {}) {
  std::map<std::string, std::string> out;
  auto it = db->NewIterator(ro);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out.emplace(std::string(it->key()), std::string(it->value()));
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// An unsigned number from the environment, or def.
inline uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

// How long and with which seeds a randomized model test runs:
// <prefix>_OPS operations per seed (default default_ops); the one seed
// <prefix>_SEED if set, else <prefix>_SEEDS seeds (default 3) counting up
// from first_seed (0: from a random one).
struct ModelSettings {
  uint64_t ops = 0;
  std::vector<uint64_t> seeds;
};
inline ModelSettings ModelSettingsFromEnv(const std::string& prefix,
                                          uint64_t default_ops,
                                          uint64_t first_seed) {
  ModelSettings m;
  m.ops = EnvOr((prefix + "_OPS").c_str(), default_ops);
  const std::string one = prefix + "_SEED";
  if (std::getenv(one.c_str()) != nullptr) {
    m.seeds.push_back(EnvOr(one.c_str(), 0));
    return m;
  }
  const uint64_t n = EnvOr((prefix + "_SEEDS").c_str(), 3);
  const uint64_t base =
      first_seed != 0 ? first_seed : uint64_t{std::random_device{}()};
  for (uint64_t i = 0; i < n; ++i) m.seeds.push_back(base + i);
  return m;
}

// Runs a randomized model test: for each seed of the settings read from
// `<prefix>_*` (see ModelSettingsFromEnv), a fresh `Run(seed, dir)` takes
// m.ops Steps, is Checked every `check_every` steps and at the end. Stops at
// the first failure, naming the seed to replay it with.
template <typename Run>
void RunModel(const std::string& prefix, uint64_t default_ops,
              uint64_t first_seed, uint64_t check_every) {
  const ModelSettings m = ModelSettingsFromEnv(prefix, default_ops, first_seed);
  for (uint64_t seed : m.seeds) {
    SCOPED_TRACE(prefix + "_SEED=" + std::to_string(seed));
    TempDir dir;
    Run run(seed, dir.path());
    for (uint64_t i = 0; i < m.ops; ++i) {
      SCOPED_TRACE("operation " + std::to_string(i));
      run.Step();
      if (i % check_every == check_every - 1) run.Check();
      if (::testing::Test::HasFailure()) return;
    }
    run.Check();
  }
}

}  // namespace cairn::storage::testing

#endif  // CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_
