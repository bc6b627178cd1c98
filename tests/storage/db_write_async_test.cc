// DB::WriteAsync: writes completed through a callback, with no thread
// waiting for their commit group. Checks that every callback runs exactly
// once, after its write is visible, with the sequence Write would have
// returned; that refused batches are answered inline and change nothing;
// that callback writers and blocking writers share groups and syncs; and
// that Close answers every queued write. Bounded in operations and time.
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "cairn/wal/log.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::SmallOptions;
using testing::TempDir;

// Collects the results of callbacks and lets a test wait for all of them.
class Results {
 public:
  DB::WriteCallback Callback(int id) {
    {
      std::lock_guard<std::mutex> l(mu_);
      ++expected_;
    }
    return [this, id](absl::StatusOr<uint64_t> r) {
      std::lock_guard<std::mutex> l(mu_);
      if (!results_.emplace(id, r).second) ++duplicates_;
      order_.push_back(id);
      cv_.notify_all();
    };
  }
  // Waits until every callback handed out has run (bounded).
  bool WaitAll(absl::Duration timeout = absl::Seconds(30)) {
    std::unique_lock<std::mutex> l(mu_);
    return cv_.wait_for(l, absl::ToChronoNanoseconds(timeout), [&] {
      return results_.size() + duplicates_ >= expected_;
    });
  }
  std::map<int, absl::StatusOr<uint64_t>> results() {
    std::lock_guard<std::mutex> l(mu_);
    return results_;
  }
  std::vector<int> order() {
    std::lock_guard<std::mutex> l(mu_);
    return order_;
  }
  int duplicates() {
    std::lock_guard<std::mutex> l(mu_);
    return duplicates_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  size_t expected_ = 0;
  int duplicates_ = 0;
  std::map<int, absl::StatusOr<uint64_t>> results_;
  std::vector<int> order_;
};

WriteBatch PutBatch(const std::string& key, const std::string& value) {
  WriteBatch b;
  b.Put(key, value);
  return b;
}

// Queues n durable Puts of keys k0000, k0001, ..., callbacks into results.
void QueueDurablePuts(DB* db, int n, Results* results) {
  WriteOptions wo;
  wo.sync = true;
  for (int i = 0; i < n; ++i) {
    db->WriteAsync(wo, PutBatch(absl::StrFormat("k%04d", i), "v"),
                   results->Callback(i));
  }
}

TEST(DBWriteAsync, CallbackRunsAfterTheWriteIsVisible) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (bool sync : {false, true}) {
    WriteOptions wo;
    wo.sync = sync;
    absl::Notification done;
    absl::StatusOr<uint64_t> seq;
    std::string seen;
    const std::string key = sync ? "sync-key" : "async-key";
    db->WriteAsync(wo, PutBatch(key, "v"), [&](absl::StatusOr<uint64_t> r) {
      seq = r;
      // Visible to readers before the callback runs.
      auto g = db->Get({}, key);
      seen = g.ok() ? g->value : g.status().ToString();
      done.Notify();
    });
    ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    ASSERT_TRUE(seq.ok()) << seq.status();
    EXPECT_EQ(seen, "v");
    EXPECT_LE(*seq, db->LastSequence());
    auto g = db->Get({}, key);
    ASSERT_TRUE(g.ok());
    EXPECT_EQ(g->seq, *seq);
  }
  // The durable one was counted as a synced write.
  EXPECT_EQ(db->statistics().Get(Ticker::kSyncedWrites), 1u);
}

TEST(DBWriteAsync, RefusedBatchesAreAnsweredInlineAndWriteNothing) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  const uint64_t before = db->LastSequence();

  bool called = false;
  absl::Status status;
  WriteBatch bad;
  bad.DeleteRange("z", "a");  // begin after end
  db->WriteAsync({}, std::move(bad), [&](absl::StatusOr<uint64_t> r) {
    called = true;
    status = r.status();
  });
  ASSERT_TRUE(called)
      << "a refused batch is answered before WriteAsync returns";
  EXPECT_TRUE(absl::IsInvalidArgument(status)) << status;

  called = false;
  uint64_t empty_seq = 0;
  db->WriteAsync({}, WriteBatch(), [&](absl::StatusOr<uint64_t> r) {
    called = true;
    ASSERT_TRUE(r.ok());
    empty_seq = *r;
  });
  ASSERT_TRUE(called);
  EXPECT_EQ(empty_seq, before);
  EXPECT_EQ(db->LastSequence(), before);
}

TEST(DBWriteAsync, FailedConditionIsReportedWithItsIndex) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "present", "1").ok());
  const uint64_t before = db->LastSequence();

  Results results;
  WriteBatch failing;
  failing.RequireExists("present");
  failing.RequireAbsent("present");
  failing.Put("x", "never");
  db->WriteAsync({}, std::move(failing), results.Callback(0));
  WriteBatch passing;
  passing.RequireAbsent("x");
  passing.Put("y", "written");
  WriteOptions sync;
  sync.sync = true;
  db->WriteAsync(sync, std::move(passing), results.Callback(1));
  ASSERT_TRUE(results.WaitAll());

  auto r = results.results();
  ASSERT_FALSE(r.at(0).ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(r.at(0).status())) << r.at(0).status();
  EXPECT_EQ(FailedConditionIndex(r.at(0).status()), 1);
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "x").status()));
  ASSERT_TRUE(r.at(1).ok()) << r.at(1).status();
  EXPECT_EQ(*r.at(1), before + 1);
  EXPECT_EQ(db->Get({}, "y")->value, "written");
}

// Callback writers from several threads and blocking writers at once: each
// callback runs once; the sequences of all writes are distinct and leave no
// gap; one submitter's writes commit in its order; durable writes share
// syncs; the final state is every key's last write.
TEST(DBWriteAsync, MixedWithBlockingWritersInManyGroups) {
  TempDir dir;
  Options o = SmallOptions();
  auto db = testing::OpenOrDie(o, dir.path());
  constexpr int kAsyncThreads = 3;
  constexpr int kBlockingThreads = 2;
  constexpr int kWritesPerThread = 400;
  Results results;
  std::vector<std::vector<int>> ids(kAsyncThreads);
  std::mutex seq_mu;
  std::vector<uint64_t> blocking_seqs;
  std::atomic<int> blocking_failures{0};

  std::vector<std::thread> threads;
  for (int t = 0; t < kAsyncThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        const int id = t * kWritesPerThread + i;
        ids[t].push_back(id);
        WriteOptions wo;
        wo.sync = i % 2 == 0;
        db->WriteAsync(wo,
                       PutBatch(absl::StrFormat("a%d-%03d", t, i % 50),
                                absl::StrFormat("%d", i)),
                       results.Callback(id));
      }
    });
  }
  for (int t = 0; t < kBlockingThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kWritesPerThread / 4; ++i) {
        WriteOptions wo;
        wo.sync = i % 3 == 0;
        auto s = db->Put(wo, absl::StrFormat("b%d-%03d", t, i % 50),
                         absl::StrFormat("%d", i));
        if (!s.ok()) {
          ++blocking_failures;
          continue;
        }
        std::lock_guard<std::mutex> l(seq_mu);
        blocking_seqs.push_back(*s);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(results.WaitAll());
  EXPECT_EQ(results.duplicates(), 0);
  EXPECT_EQ(blocking_failures.load(), 0);

  std::set<uint64_t> seqs(blocking_seqs.begin(), blocking_seqs.end());
  auto r = results.results();
  ASSERT_EQ(r.size(), static_cast<size_t>(kAsyncThreads * kWritesPerThread));
  for (const auto& [id, seq] : r) {
    ASSERT_TRUE(seq.ok()) << "write " << id << ": " << seq.status();
    seqs.insert(*seq);
  }
  const size_t total = kAsyncThreads * kWritesPerThread +
                       kBlockingThreads * (kWritesPerThread / 4);
  ASSERT_EQ(seqs.size(), total) << "two writes got the same sequence";
  EXPECT_EQ(*seqs.rbegin() - *seqs.begin() + 1, total) << "a gap";
  EXPECT_EQ(*seqs.rbegin(), db->LastSequence());

  // One thread's writes commit in the order it submitted them.
  for (int t = 0; t < kAsyncThreads; ++t) {
    for (size_t i = 1; i < ids[t].size(); ++i) {
      EXPECT_LT(*r.at(ids[t][i - 1]), *r.at(ids[t][i]));
    }
  }
  // The last write of each key is what a read returns.
  for (int t = 0; t < kAsyncThreads; ++t) {
    for (int k = 0; k < 50; ++k) {
      const int last = kWritesPerThread - 50 + k;
      auto g = db->Get({}, absl::StrFormat("a%d-%03d", t, k));
      ASSERT_TRUE(g.ok()) << g.status();
      EXPECT_EQ(g->value, absl::StrFormat("%d", last));
      EXPECT_EQ(g->seq, *r.at(t * kWritesPerThread + last));
    }
  }
  const Statistics& st = db->statistics();
  EXPECT_EQ(st.Get(Ticker::kWriteBatches), total);
  EXPECT_GT(st.Get(Ticker::kSyncedWrites), 0u);
  // Durable callback writers queued together share one sync: fewer syncs
  // than durable writes (there are 600 of those, from three threads that
  // queue without waiting).
  EXPECT_LT(db->wal()->GetStats().syncs, st.Get(Ticker::kSyncedWrites));
}

// The durable writes are on disk when their callbacks run: after a reopen
// every acknowledged write is there.
TEST(DBWriteAsync, AcknowledgedDurableWritesSurviveReopen) {
  TempDir dir;
  Results results;
  {
    auto db = testing::OpenOrDie(SmallOptions(), dir.path());
    QueueDurablePuts(db.get(), 300, &results);
    ASSERT_TRUE(results.WaitAll());
    db->wal()->SimulateCrashForTesting();  // nothing more is synced
    db.reset();
  }
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (const auto& [id, seq] : results.results()) {
    ASSERT_TRUE(seq.ok()) << seq.status();
    auto g = db->Get({}, absl::StrFormat("k%04d", id));
    ASSERT_TRUE(g.ok()) << "acknowledged write " << id << " lost";
    EXPECT_EQ(g->seq, *seq);
  }
}

// A callback may queue the next write (it runs with no engine lock held),
// and a long chain of them does not nest on one thread's stack.
TEST(DBWriteAsync, CallbackMayQueueAnotherWrite) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  constexpr int kChain = 50000;
  std::atomic<int> completed{0};
  absl::Notification done;
  std::function<void(int)> next = [&](int i) {
    WriteOptions wo;
    wo.sync = i % 5000 == 0;
    db->WriteAsync(wo, PutBatch("chain", absl::StrFormat("%d", i)),
                   [&, i](absl::StatusOr<uint64_t> r) {
                     if (r.ok()) ++completed;
                     if (i + 1 < kChain) {
                       next(i + 1);
                     } else {
                       done.Notify();
                     }
                   });
  };
  next(0);
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(30)));
  EXPECT_EQ(completed.load(), kChain);
  EXPECT_EQ(db->Get({}, "chain")->value, absl::StrFormat("%d", kChain - 1));
}

// Writes refused by the engine's state go through the callback: stopped
// writes get Unavailable; after Close, WriteAsync answers inline.
TEST(DBWriteAsync, StoppedAndClosedEngineAnswerEveryWrite) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  db->StopWrites();
  Results results;
  for (int i = 0; i < 20; ++i) {
    db->WriteAsync({}, PutBatch("k", "v"), results.Callback(i));
  }
  ASSERT_TRUE(results.WaitAll());
  for (const auto& [id, r] : results.results()) {
    EXPECT_TRUE(absl::IsUnavailable(r.status())) << r.status();
  }
  ASSERT_TRUE(db->Close().ok());
  bool called = false;
  db->WriteAsync({}, PutBatch("k", "v"), [&](absl::StatusOr<uint64_t> r) {
    called = true;
    EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  });
  EXPECT_TRUE(called);
}

// Close with writes still queued: each is answered (committed, or refused
// because the engine is closing), none is left hanging, and the committed
// ones are there after a reopen.
TEST(DBWriteAsync, CloseAnswersQueuedWrites) {
  TempDir dir;
  Results results;
  std::map<int, absl::StatusOr<uint64_t>> r;
  {
    auto db = testing::OpenOrDie(SmallOptions(), dir.path());
    QueueDurablePuts(db.get(), 500, &results);
    ASSERT_TRUE(db->Close().ok());
    ASSERT_TRUE(results.WaitAll(absl::Seconds(1)))
        << "Close returned with writes unanswered";
    r = results.results();
  }
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  int committed = 0;
  for (const auto& [id, seq] : r) {
    if (!seq.ok()) {
      EXPECT_TRUE(absl::IsUnavailable(seq.status())) << seq.status();
      continue;
    }
    ++committed;
    EXPECT_TRUE(db->Get({}, absl::StrFormat("k%04d", id)).ok()) << id;
  }
  EXPECT_GT(committed, 0);
}

}  // namespace
}  // namespace cairn::storage
