// Shared pieces of the in-process fault tests (kill points and the fault
// sweep): a temporary directory on tmpfs, the classification of engine file
// paths into kinds, and FaultWorkload, a deterministic mixed workload (puts,
// deletes, range deletes, merges, batches, transactions, flushes,
// compactions, a reopen) over a storage::DB on a FaultInjectionFileSystem
// that keeps a std::map model of every acknowledged write.
//
// Every write of the workload is synced, so every acknowledged write must
// survive a power loss. A write that fails leaves one "pending" effect whose
// outcome is unknown: afterwards the database must hold exactly the model,
// or exactly the model with the whole pending write applied (batches and
// transactions are atomic).
//
// Not thread-safe: one test thread drives a workload.
#ifndef CAIRN_TESTS_FAULTS_FAULT_WORKLOAD_H_
#define CAIRN_TESTS_FAULTS_FAULT_WORKLOAD_H_

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cairn/storage/db.h"
#include "cairn/storage/transaction.h"
#include "cairn/util/fault_injection_file_system.h"
#include "gtest/gtest.h"

namespace cairn::faults {

// A fresh directory on tmpfs (/dev/shm, else /tmp), removed on destruction.
// tmpfs makes the thousands of fdatasyncs of a sweep free.
class FaultTempDir {
 public:
  FaultTempDir() {
    const char* root = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    std::string tmpl = absl::StrCat(root, "/cairn-faults-XXXXXX");
    if (::mkdtemp(tmpl.data()) == nullptr) std::abort();
    path_ = tmpl;
  }
  ~FaultTempDir() { std::filesystem::remove_all(path_); }
  FaultTempDir(const FaultTempDir&) = delete;
  FaultTempDir& operator=(const FaultTempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// The kind of an engine file, from its path under the database directory
// `root`: "wal" (a segment), "wal-tmp" (a segment being created), "wal-spare"
// (a prepared segment), "wal-lock", "sst", "sst-tmp", "manifest", "current",
// "current-tmp", "lock", "dir" (the database directory), "wal-dir", or
// "other".
inline std::string FileKind(std::string_view path, std::string_view root) {
  auto strip = [](std::string_view p) {
    while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
    return p;
  };
  path = strip(path);
  root = strip(root);
  if (path == root) return "dir";
  const std::string wal_dir = std::string(root) + "/wal";
  if (path == wal_dir) return "wal-dir";
  const size_t slash = path.rfind('/');
  const std::string_view name =
      slash == std::string_view::npos ? path : path.substr(slash + 1);
  const bool in_wal = path.substr(0, wal_dir.size() + 1) == wal_dir + "/";
  if (in_wal) {
    if (name.ends_with(".wal.tmp")) return "wal-tmp";
    if (name.ends_with(".spare")) return "wal-spare";
    if (name.ends_with(".wal")) return "wal";
    if (name == "LOCK") return "wal-lock";
    return "other";
  }
  if (name == "CURRENT") return "current";
  if (name == "CURRENT.tmp") return "current-tmp";
  if (name == "LOCK") return "lock";
  if (name.starts_with("MANIFEST-")) return "manifest";
  if (name.ends_with(".sst")) return "sst";
  if (name.ends_with(".tmp")) return "sst-tmp";
  return "other";
}

// The operation of a recorded call as the sweep names it: FsOpName, except
// that opens that may create or truncate are "create".
inline std::string CallOpName(const FsCall& call) {
  if (call.op == FsOp::kOpen && call.creating) return "create";
  return FsOpName(call.op);
}

// Aborts the process, naming `what`, unless disarmed within `limit`: a hang
// fails the test instead of eating the CI's time budget.
class Watchdog {
 public:
  Watchdog(std::string what, std::chrono::seconds limit)
      : what_(std::move(what)), thread_([this, limit] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, limit, [this] { return done_; })) {
            std::fprintf(stderr, "WATCHDOG: %s did not finish in %llds\n",
                         what_.c_str(), static_cast<long long>(limit.count()));
            std::abort();
          }
        }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  const std::string what_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;
  std::thread thread_;
};

// One operation of a write: what it does to the model.
struct ModelOp {
  enum Type { kPut, kDelete, kDeleteRange, kMerge } type;
  std::string key;  // begin of a range
  std::string arg;  // value, operand, or end of a range
};
using ModelState = std::map<std::string, std::string>;

inline void ApplyOps(const std::vector<ModelOp>& ops, ModelState* state) {
  for (const ModelOp& op : ops) {
    switch (op.type) {
      case ModelOp::kPut:
        (*state)[op.key] = op.arg;
        break;
      case ModelOp::kDelete:
        state->erase(op.key);
        break;
      case ModelOp::kDeleteRange:
        state->erase(state->lower_bound(op.key), state->lower_bound(op.arg));
        break;
      case ModelOp::kMerge:
        (*state)[op.key] += op.arg;  // "append" without a delimiter
        break;
    }
  }
}

struct WorkloadConfig {
  int steps = 400;
  int flush_every = 40;     // explicit Flush() every this many steps
  int compact_every = 100;  // CompactRange over everything
  int reopen_at = 200;      // Close and Open again at this step (-1: never)
  int keys = 120;           // key space
  // true: stop at the first failure. false: go on while the database takes
  // writes (the fault sweep), stopping once it is read-only.
  bool stop_at_first_failure = true;
};

// Small settings that make flushes, compactions and WAL rotations happen
// within a few hundred writes.
inline storage::Options FaultOptions(FileSystem* fs) {
  storage::Options o;
  o.fs = fs;
  o.write_buffer_size = 64 << 10;  // the smallest allowed
  o.target_file_size = 16 << 10;
  o.max_bytes_for_level_base = 64 << 10;
  o.max_bytes_for_level_multiplier = 4;
  o.level0_file_num_compaction_trigger = 2;
  o.block_size = 1024;
  o.block_cache_bytes = 1 << 20;
  o.wal.segment_size = 32 << 10;
  o.wal.prefault_bytes = 0;
  return o;
}

class FaultWorkload {
 public:
  FaultWorkload(FaultInjectionFileSystem* fs, std::string dir, uint64_t seed)
      : fs_(fs), dir_(std::move(dir)), options_(FaultOptions(fs)), rng_(seed) {}

  storage::Options& options() { return options_; }
  storage::DB* db() { return db_.get(); }
  const ModelState& model() const { return model_; }
  // True while the workload is inside CompactRange (for kill points "in the
  // middle of a compaction"). Read from engine threads.
  const std::atomic<bool>& compacting() const { return compacting_; }
  // The first failure and where it happened ("put", "flush", "open", ...).
  const absl::Status& failure() const { return failure_; }
  const std::string& failed_step() const { return failed_step_; }
  int acked_writes() const { return acked_; }
  bool has_pending() const { return pending_.has_value(); }

  absl::Status Open() {
    absl::StatusOr<std::unique_ptr<storage::DB>> db =
        storage::DB::Open(options_, dir_);
    if (!db.ok()) return db.status();
    db_ = std::move(*db);
    return absl::OkStatus();
  }

  // Runs the workload until its end, or (see WorkloadConfig) until a
  // failure. Returns the first failure (OK if none).
  absl::Status Run(const WorkloadConfig& config) {
    if (db_ == nullptr) {
      if (absl::Status s = Open(); !s.ok()) {
        Fail("open", s);
        return s;
      }
    }
    for (int step = 0; step < config.steps; ++step) {
      const bool stop = !Step(config, step);
      if (stop) break;
    }
    return failure_;
  }

  // The power goes out: nothing more is written, the DB object goes away,
  // and every unsynced byte is lost. Faults are cleared and power restored.
  void PowerLoss(PowerLossMode mode, uint32_t seed) {
    fs_->SetActive(false);
    db_.reset();
    absl::Status dropped = fs_->DropUnsyncedData(mode, seed);
    EXPECT_TRUE(dropped.ok()) << dropped;
    fs_->ClearFaults();
    fs_->SetActive(true);
  }

  // A clean restart's first half: Close (its status does not matter here:
  // in the read-only state it reports the error) and destroy the DB.
  void CloseCleanly() {
    if (db_ != nullptr) db_->Close().IgnoreError();
    db_.reset();
  }

  // Checks that `db` holds exactly the acknowledged state, or exactly that
  // plus the whole pending write. Adopts the pending write into the model if
  // it is there, so that the workload can go on.
  void VerifyAndAdopt(storage::DB* db, const std::string& where) {
    const ModelState actual = Contents(db);
    if (actual == model_) {
      pending_.reset();
      return;
    }
    if (pending_.has_value()) {
      ModelState with = model_;
      ApplyOps(*pending_, &with);
      if (actual == with) {
        model_ = std::move(with);
        pending_.reset();
        return;
      }
    }
    ADD_FAILURE() << where << ": the database holds neither the acknowledged "
                  << "state nor it plus the failed write. "
                  << Diff(model_, actual);
  }

  // After recovery: the DB reopens, holds what it must (see VerifyAndAdopt),
  // and takes, flushes, compacts and reads writes again.
  void ReopenAndVerify(const std::string& where) {
    absl::Status opened = Open();
    ASSERT_TRUE(opened.ok()) << where << ": reopen failed: " << opened;
    VerifyAndAdopt(db_.get(), where);
    storage::WriteOptions sync;
    sync.sync = true;
    ASSERT_TRUE(db_->Put(sync, "after-recovery", "ok").ok()) << where;
    ASSERT_TRUE(db_->Flush().ok()) << where;
    ASSERT_TRUE(db_->CompactRange(nullptr, nullptr).ok()) << where;
    model_["after-recovery"] = "ok";
    EXPECT_EQ(Contents(db_.get()), model_) << where;
  }

  static ModelState Contents(storage::DB* db) {
    ModelState out;
    std::unique_ptr<storage::Iterator> it = db->NewIterator({});
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      out.emplace(std::string(it->key()), std::string(it->value()));
    }
    EXPECT_TRUE(it->status().ok()) << it->status();
    return out;
  }

  // The first few differences between two states, for messages.
  static std::string Diff(const ModelState& want, const ModelState& got) {
    std::string out;
    int shown = 0;
    for (const auto& [k, v] : want) {
      auto it = got.find(k);
      if (it == got.end()) {
        absl::StrAppend(&out, " missing ", k, ";");
      } else if (it->second != v) {
        absl::StrAppend(&out, " ", k, " differs;");
      } else {
        continue;
      }
      if (++shown == 5) return out;
    }
    for (const auto& [k, v] : got) {
      if (!want.count(k)) {
        absl::StrAppend(&out, " unexpected ", k, ";");
        if (++shown == 5) return out;
      }
    }
    return out;
  }

 private:
  std::string Key(int i) const { return absl::StrFormat("k%05d", i); }
  std::string RandomKey(const WorkloadConfig& c) {
    return Key(static_cast<int>(rng_() % c.keys));
  }
  std::string RandomValue() {
    const size_t n = 40 + rng_() % 500;
    std::string v = absl::StrCat("v", rng_(), "-");
    v.resize(n, static_cast<char>('a' + rng_() % 26));
    return v;
  }

  void Fail(const std::string& where, const absl::Status& s) {
    if (failure_.ok()) {
      failure_ = s;
      failed_step_ = where;
    }
  }

  // One write: ops go to the DB through `write`; on success the model takes
  // them. Returns false when the workload must stop.
  bool Write(const std::string& what, std::vector<ModelOp> ops,
             const std::function<absl::Status()>& write,
             const WorkloadConfig& config) {
    absl::Status s = write();
    if (s.ok()) {
      ApplyOps(ops, &model_);
      ++acked_;
      return true;
    }
    Fail(what, s);
    // The outcome of this write is unknown until a restart shows it.
    pending_ = std::move(ops);
    if (config.stop_at_first_failure) return false;
    // Going on: the DB must say which state it is in. A failed write must
    // not be visible (it was not acknowledged); then it is known lost.
    if (db_->GetStats().background_error.ok()) {
      if (Contents(db_.get()) != model_) {
        ADD_FAILURE() << what << " failed (" << s
                      << ") but its effect is visible";
      }
      pending_.reset();
      return true;
    }
    return false;  // read-only: the caller checks that state
  }

  bool Step(const WorkloadConfig& config, int step) {
    if (step == config.reopen_at) {
      absl::Status s = db_->Close();
      db_.reset();
      if (s.ok()) s = Open();
      if (!s.ok()) {
        Fail("reopen", s);
        return false;
      }
    }
    if (step > 0 && step % config.flush_every == 0) {
      if (absl::Status s = db_->Flush(); !s.ok()) {
        Fail("flush", s);
        if (config.stop_at_first_failure) return false;
        if (!db_->GetStats().background_error.ok()) return false;
      }
    }
    if (step > 0 && step % config.compact_every == 0) {
      compacting_.store(true);
      absl::Status s = db_->CompactRange(nullptr, nullptr);
      compacting_.store(false);
      if (!s.ok()) {
        Fail("compact", s);
        if (config.stop_at_first_failure) return false;
        if (!db_->GetStats().background_error.ok()) return false;
      }
    }
    storage::WriteOptions sync;
    sync.sync = true;
    const uint64_t dice = rng_() % 100;
    if (dice < 45) {
      std::string key = RandomKey(config), value = RandomValue();
      return Write(
          "put", {{ModelOp::kPut, key, value}},
          [&] { return db_->Put(sync, key, value).status(); }, config);
    }
    if (dice < 55) {
      std::string key = RandomKey(config);
      return Write(
          "delete", {{ModelOp::kDelete, key, ""}},
          [&] { return db_->Delete(sync, key).status(); }, config);
    }
    if (dice < 67) {
      std::string key = RandomKey(config);
      std::string operand = absl::StrCat("+", rng_() % 1000);
      return Write(
          "merge", {{ModelOp::kMerge, key, operand}},
          [&] { return db_->Merge(sync, key, "append", operand).status(); },
          config);
    }
    if (dice < 70) {
      const int a = static_cast<int>(rng_() % config.keys);
      std::string begin = Key(a), end = Key(a + 1 + rng_() % 5);
      return Write(
          "delete-range", {{ModelOp::kDeleteRange, begin, end}},
          [&] { return db_->DeleteRange(sync, begin, end).status(); }, config);
    }
    if (dice < 88) {
      std::vector<ModelOp> ops;
      storage::WriteBatch batch;
      const int n = 2 + static_cast<int>(rng_() % 5);
      for (int i = 0; i < n; ++i) {
        std::string key = RandomKey(config);
        if (rng_() % 4 == 0) {
          batch.Delete(key);
          ops.push_back({ModelOp::kDelete, key, ""});
        } else if (rng_() % 3 == 0) {
          batch.Merge(key, "append", "|m");
          ops.push_back({ModelOp::kMerge, key, "|m"});
        } else {
          std::string value = RandomValue();
          batch.Put(key, value);
          ops.push_back({ModelOp::kPut, key, value});
        }
      }
      return Write(
          "batch", std::move(ops),
          [&] { return db_->Write(sync, batch).status(); }, config);
    }
    // A transaction: read a key, write a value derived from it to another,
    // delete a third.
    std::string read_key = RandomKey(config), write_key = RandomKey(config),
                del_key = RandomKey(config);
    std::unique_ptr<storage::Transaction> txn = db_->BeginTransaction();
    absl::StatusOr<storage::GetResult> got = txn->Get(read_key);
    std::string seen = got.ok() ? got->value : "<none>";
    auto m = model_.find(read_key);
    const std::string expected = m == model_.end() ? "<none>" : m->second;
    if (seen != expected && (got.ok() || absl::IsNotFound(got.status()))) {
      ADD_FAILURE() << "txn read of " << read_key << " disagrees with model";
    }
    const std::string value = absl::StrCat("t:", seen.substr(0, 20));
    std::vector<ModelOp> ops = {{ModelOp::kPut, write_key, value},
                                {ModelOp::kDelete, del_key, ""}};
    return Write(
        "txn", std::move(ops),
        [&]() -> absl::Status {
          if (!got.ok() && !absl::IsNotFound(got.status())) {
            return got.status();
          }
          if (absl::Status s = txn->Put(write_key, value); !s.ok()) return s;
          if (absl::Status s = txn->Delete(del_key); !s.ok()) return s;
          return txn->Commit(sync).status();
        },
        config);
  }

  FaultInjectionFileSystem* const fs_;
  const std::string dir_;
  storage::Options options_;
  std::mt19937_64 rng_;
  std::unique_ptr<storage::DB> db_;
  ModelState model_;
  std::optional<std::vector<ModelOp>> pending_;
  std::atomic<bool> compacting_{false};
  absl::Status failure_;
  std::string failed_step_;
  int acked_ = 0;
};

}  // namespace cairn::faults

#endif  // CAIRN_TESTS_FAULTS_FAULT_WORKLOAD_H_
