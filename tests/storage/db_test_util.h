// Helpers shared by the DB-level storage tests: temporary directories and
// small-option presets that make flushes and compactions happen quickly.
#ifndef CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_
#define CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_

#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

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

}  // namespace cairn::storage::testing

#endif  // CAIRN_TESTS_STORAGE_DB_TEST_UTIL_H_
