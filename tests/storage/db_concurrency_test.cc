// Writers, readers, iterators, flushes and compactions at the same time. Run
// under TSan in CI. Bounded in operations and time.
#include <atomic>
#include <mutex>
#include <thread>

#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::SmallOptions;
using testing::TempDir;

// Each writer owns its keys and writes increasing versions; readers check
// that what they see of a key never goes back in time and that iterators
// are sorted and bounded.
TEST(DBConcurrency, WritersReadersIteratorsFlushesAndCompactions) {
  TempDir dir;
  Options o = SmallOptions();
  o.max_background_compactions = 2;
  auto db = testing::OpenOrDie(o, dir.path());
  constexpr int kWriters = 4;
  constexpr int kKeysPerWriter = 50;
  constexpr int kRounds = 60;
  const absl::Time stop_by = absl::Now() + absl::Seconds(20);
  std::atomic<bool> writers_done{false};
  std::atomic<int> failures{0};
  std::mutex why_mu;
  std::vector<std::string> why;  // the first few failures, for the report
  auto fail = [&](std::string what) {
    ++failures;
    std::lock_guard<std::mutex> lock(why_mu);
    if (why.size() < 10) why.push_back(std::move(what));
  };

  auto key = [](int w, int k) { return absl::StrFormat("w%d-k%03d", w, k); };
  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      for (int round = 0; round < kRounds && absl::Now() < stop_by; ++round) {
        WriteBatch batch;
        for (int k = 0; k < kKeysPerWriter; ++k) {
          batch.Put(key(w, k),
                    absl::StrFormat("%06d%s", round, std::string(40, 'a' + w)));
        }
        WriteOptions wo;
        wo.sync = (round % 10 == 0);
        if (auto s = db->Write(wo, batch); !s.ok()) {
          fail("write: " + s.status().ToString());
        }
        if (round % 7 == 0) {
          db->DeleteRange({}, key(w, 40), key(w, 45)).IgnoreError();
        }
      }
    });
  }
  // Point readers: versions of one key only move forward.
  for (int r = 0; r < 2; ++r) {
    threads.emplace_back([&, r] {
      std::vector<std::string> last(kWriters * kKeysPerWriter);
      while (!writers_done && absl::Now() < stop_by) {
        for (int w = 0; w < kWriters; ++w) {
          for (int k = r; k < 40; k += 7) {
            auto g = db->Get({}, key(w, k));
            if (!g.ok()) {
              if (!absl::IsNotFound(g.status())) {
                fail("get: " + g.status().ToString());
              }
              continue;
            }
            std::string round = g->value.substr(0, 6);
            std::string& prev = last[w * kKeysPerWriter + k];
            if (round < prev) {
              fail(absl::StrFormat("get %s: round %s after %s", key(w, k),
                                   round, prev));
            }
            prev = round;
          }
        }
      }
    });
  }
  // Iterators at snapshots: sorted, and stable while reading.
  threads.emplace_back([&] {
    while (!writers_done && absl::Now() < stop_by) {
      const Snapshot* snap = db->GetSnapshot();
      ReadOptions ro;
      ro.snapshot = snap;
      auto first = testing::Contents(db.get(), ro);
      auto it = db->NewIterator(ro);
      std::string prev;
      size_t n = 0;
      for (it->SeekToLast(); it->Valid(); it->Prev(), ++n) {
        if (!prev.empty() && !(it->key() < std::string_view(prev))) {
          fail("reverse iteration out of order");
        }
        prev.assign(it->key());
      }
      if (!it->status().ok() || n != first.size()) {
        fail(absl::StrFormat("reverse iteration: %s, %d keys vs %d forward",
                             it->status().ToString(), n, first.size()));
      }
      db->ReleaseSnapshot(snap);
    }
  });
  // Flushes and compactions on demand, besides the automatic ones.
  threads.emplace_back([&] {
    int i = 0;
    while (!writers_done && absl::Now() < stop_by) {
      if (i++ % 2) {
        if (auto s = db->Flush(); !s.ok()) fail("flush: " + s.ToString());
      } else {
        std::string a = key(1, 0), b = key(2, 49);
        if (auto s = db->CompactRange(&a, &b); !s.ok()) {
          fail("compact: " + s.ToString());
        }
      }
      absl::SleepFor(absl::Milliseconds(20));
    }
  });
  for (int w = 0; w < kWriters; ++w) threads[w].join();
  writers_done = true;
  for (size_t i = kWriters; i < threads.size(); ++i) threads[i].join();
  EXPECT_EQ(failures.load(), 0) << absl::StrJoin(why, "\n");

  // The final state: each writer's last round, minus the last range delete.
  auto contents = testing::Contents(db.get());
  for (int w = 0; w < kWriters; ++w) {
    for (int k = 0; k < 40; ++k) {
      auto it = contents.find(key(w, k));
      ASSERT_NE(it, contents.end()) << key(w, k);
    }
  }
  EXPECT_TRUE(db->GetStats().background_error.ok());
}

TEST(DBConcurrency, ConcurrentCompactRangeCallsTakeTurns) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  const absl::Time stop_by = absl::Now() + absl::Seconds(3);
  std::thread writer([&] {
    for (int i = 0; !stop && absl::Now() < stop_by; ++i) {
      if (!db->Put({}, absl::StrFormat("k%05d", i % 5000),
                   std::string(100, 'x'))
               .ok()) {
        ++failures;
      }
    }
  });
  std::vector<std::thread> compactors;
  for (int t = 0; t < 2; ++t) {
    compactors.emplace_back([&] {
      for (int r = 0; r < 50 && absl::Now() < stop_by; ++r) {
        if (!db->CompactRange(nullptr, nullptr).ok()) ++failures;
      }
    });
  }
  for (auto& t : compactors) t.join();
  stop = true;
  writer.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_TRUE(db->GetStats().background_error.ok())
      << db->GetStats().background_error;
}

TEST(DBConcurrency, GroupCommitSharesSyncs) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::thread> threads;
  WriteOptions wo;
  wo.sync = true;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        EXPECT_TRUE(db->Put(wo, absl::StrFormat("t%d-%d", t, i), "v").ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  auto h = db->statistics().GetHistogram(HistogramType::kGroupCommitSize);
  EXPECT_EQ(db->statistics().Get(Ticker::kWriteBatches),
            uint64_t{kThreads * kPerThread});
  // Fewer groups than writes: some syncs were shared.
  EXPECT_LT(h.count, uint64_t{kThreads * kPerThread});
  EXPECT_EQ(db->LastSequence(), uint64_t{kThreads * kPerThread});
  // Each group's sync is timed (WAL sync histogram), fewer than the writes.
  auto syncs = db->statistics().GetHistogram(HistogramType::kWalSyncMicros);
  EXPECT_GT(syncs.count, 0u);
  EXPECT_LE(syncs.count, h.count + 2);
}

}  // namespace
}  // namespace cairn::storage
