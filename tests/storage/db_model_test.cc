// Randomized model test: the DB against a std::map, through puts, deletes,
// range deletes, batches, snapshots, iterators in both directions, flushes,
// compactions, and close/reopen. Every check prints the seed on failure.
//
// Environment: CAIRN_STORAGE_MODEL_OPS (operations per seed, default 3000),
// CAIRN_STORAGE_MODEL_SEEDS (how many seeds, default 3),
// CAIRN_STORAGE_MODEL_SEED (run just this seed).
#include <cstdlib>
#include <map>
#include <random>

#include "absl/strings/str_format.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using Model = std::map<std::string, std::string>;

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

class ModelRun {
 public:
  ModelRun(uint64_t seed, const std::string& dir) : rng_(seed), dir_(dir) {
    options_ = testing::SmallOptions();
    options_.write_buffer_size = 64 << 10;
    Reopen();
  }
  ~ModelRun() { ReleaseAll(); }

  std::string Key() {
    return absl::StrFormat("k%04d", static_cast<int>(rng_() % 400));
  }
  std::string Value() {
    std::string v(rng_() % 200, 'a');
    for (char& c : v) c = static_cast<char>('a' + rng_() % 26);
    return v;
  }

  void Reopen() {
    ReleaseAll();
    db_.reset();
    auto db = DB::Open(options_, dir_);
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  void ReleaseAll() {
    for (auto& [snap, model] : snapshots_) db_->ReleaseSnapshot(snap);
    snapshots_.clear();
  }

  void Step() {
    const int op = rng_() % 100;
    if (op < 40) {
      std::string k = Key(), v = Value();
      ASSERT_TRUE(db_->Put({}, k, v).ok());
      model_[k] = v;
    } else if (op < 50) {
      std::string k = Key();
      ASSERT_TRUE(db_->Delete({}, k).ok());
      model_.erase(k);
    } else if (op < 54) {
      std::string a = Key(), b = Key();
      if (a == b) return;
      if (b < a) std::swap(a, b);
      ASSERT_TRUE(db_->DeleteRange({}, a, b).ok());
      model_.erase(model_.lower_bound(a), model_.lower_bound(b));
    } else if (op < 60) {
      WriteBatch batch;
      Model next = model_;
      const int n = 1 + rng_() % 8;
      for (int i = 0; i < n; ++i) {
        std::string k = Key();
        if (rng_() % 3 == 0) {
          batch.Delete(k);
          next.erase(k);
        } else {
          std::string v = Value();
          batch.Put(k, v);
          next[k] = v;
        }
      }
      ASSERT_TRUE(db_->Write({}, batch).ok());
      model_ = std::move(next);
    } else if (op < 63) {
      snapshots_.emplace_back(db_->GetSnapshot(), model_);
    } else if (op < 65 && !snapshots_.empty()) {
      size_t i = rng_() % snapshots_.size();
      db_->ReleaseSnapshot(snapshots_[i].first);
      snapshots_.erase(snapshots_.begin() + i);
    } else if (op < 80) {
      CheckGets();
    } else if (op < 90) {
      CheckIterator();
    } else if (op < 94) {
      ASSERT_TRUE(db_->Flush().ok());
    } else if (op < 96) {
      std::string a = Key(), b = Key();
      if (b < a) std::swap(a, b);
      ASSERT_TRUE(db_->CompactRange(&a, &b).ok());
    } else if (op < 97) {
      Reopen();
    }
  }

  void CheckGets() {
    for (int i = 0; i < 5; ++i) {
      const std::string k = Key();
      const Model* m = &model_;
      ReadOptions ro;
      if (!snapshots_.empty() && rng_() % 2) {
        auto& s = snapshots_[rng_() % snapshots_.size()];
        ro.snapshot = s.first;
        m = &s.second;
      }
      auto g = db_->Get(ro, k);
      auto it = m->find(k);
      if (it == m->end()) {
        ASSERT_TRUE(absl::IsNotFound(g.status())) << k << " " << g.status();
      } else {
        ASSERT_TRUE(g.ok()) << k << " " << g.status();
        ASSERT_EQ(g->value, it->second) << k;
      }
    }
  }

  void CheckIterator() {
    const Model* m = &model_;
    ReadOptions ro;
    if (!snapshots_.empty() && rng_() % 2) {
      auto& s = snapshots_[rng_() % snapshots_.size()];
      ro.snapshot = s.first;
      m = &s.second;
    }
    Model bounded;
    std::string lo, hi;
    if (rng_() % 3 == 0) {
      lo = Key();
      hi = Key();
      if (hi < lo) std::swap(lo, hi);
      ro.lower_bound = lo;
      ro.upper_bound = hi;
      bounded.insert(m->lower_bound(lo), m->lower_bound(hi));
      m = &bounded;
    }
    auto it = db_->NewIterator(ro);
    if (rng_() % 2) {
      auto mit = m->begin();
      for (it->SeekToFirst(); it->Valid(); it->Next(), ++mit) {
        ASSERT_NE(mit, m->end()) << "extra key " << it->key();
        ASSERT_EQ(it->key(), mit->first);
        ASSERT_EQ(it->value(), mit->second);
      }
      ASSERT_TRUE(it->status().ok()) << it->status();
      ASSERT_EQ(mit, m->end()) << "missing key " << mit->first;
    } else {
      auto mit = m->rbegin();
      for (it->SeekToLast(); it->Valid(); it->Prev(), ++mit) {
        ASSERT_NE(mit, m->rend()) << "extra key " << it->key();
        ASSERT_EQ(it->key(), mit->first);
      }
      ASSERT_TRUE(it->status().ok()) << it->status();
      ASSERT_EQ(mit, m->rend());
    }
    // Random seeks with a few steps either way.
    for (int i = 0; i < 4; ++i) {
      const std::string target = Key();
      bool forward = rng_() % 2;
      Model::const_iterator mit;
      if (forward) {
        it->Seek(target);
        mit = m->lower_bound(target);
      } else {
        it->SeekForPrev(target);
        mit = m->upper_bound(target);
        mit = mit == m->begin() ? m->end() : std::prev(mit);
      }
      for (int step = 0; step < 6; ++step) {
        if (mit == m->end()) {
          ASSERT_FALSE(it->Valid()) << "at " << it->key();
          break;
        }
        ASSERT_TRUE(it->Valid()) << "expected " << mit->first;
        ASSERT_EQ(it->key(), mit->first);
        ASSERT_EQ(it->value(), mit->second);
        if (rng_() % 2) {
          it->Next();
          ++mit;
        } else {
          it->Prev();
          mit = mit == m->begin() ? m->end() : std::prev(mit);
        }
      }
    }
  }

 private:
  std::mt19937_64 rng_;
  std::string dir_;
  Options options_;
  std::unique_ptr<DB> db_;
  Model model_;
  std::vector<std::pair<const Snapshot*, Model>> snapshots_;
};

TEST(DBModel, RandomOperationsMatchStdMap) {
  const uint64_t ops = EnvOr("CAIRN_STORAGE_MODEL_OPS", 3000);
  std::vector<uint64_t> seeds;
  if (std::getenv("CAIRN_STORAGE_MODEL_SEED")) {
    seeds.push_back(EnvOr("CAIRN_STORAGE_MODEL_SEED", 0));
  } else {
    const uint64_t n = EnvOr("CAIRN_STORAGE_MODEL_SEEDS", 3);
    const uint64_t base = std::random_device{}();
    for (uint64_t i = 0; i < n; ++i) seeds.push_back(base + i);
  }
  for (uint64_t seed : seeds) {
    SCOPED_TRACE(absl::StrFormat("CAIRN_STORAGE_MODEL_SEED=%d", seed));
    testing::TempDir dir;
    ModelRun run(seed, dir.path());
    for (uint64_t i = 0; i < ops; ++i) {
      SCOPED_TRACE(absl::StrFormat("operation %d", i));
      run.Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
  }
}

}  // namespace
}  // namespace cairn::storage
