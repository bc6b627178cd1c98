// Transactions through the client library: read-your-writes, commit,
// rollback (explicit and by destruction), a conflict ending in ABORTED, and
// RunTransaction's retry loop, both forced (one conflict on purpose) and
// under real contention from several threads.
#include <atomic>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "client_test_util.h"

namespace cairn::test {
namespace {

using client::Transaction;

class ClientTxnTest : public ClientSuite {
 protected:
  static void SetUpTestSuite() { StartServer({"--durability=async"}); }
  static void TearDownTestSuite() { StopServer(); }
};

TEST_F(ClientTxnTest, ReadYourWritesThenCommit) {
  ASSERT_TRUE(client_->Put("t/a", "1").ok());
  absl::StatusOr<std::unique_ptr<Transaction>> txn =
      client_->BeginTransaction();
  ASSERT_TRUE(txn.ok()) << txn.status();
  Transaction& t = **txn;
  EXPECT_GT(t.snapshot_seq(), 0u);
  EXPECT_EQ(t.Get("t/a")->value, "1");
  ASSERT_TRUE(t.Put("t/a", "2").ok());
  ASSERT_TRUE(t.Put("t/b", "x").ok());
  ASSERT_TRUE(t.Merge("t/n", "add", "7").ok());
  EXPECT_EQ(t.Get("t/a")->value, "2");
  absl::StatusOr<client::TransactionScanResult> scan = t.Scan({.prefix = "t/"});
  ASSERT_TRUE(scan.ok()) << scan.status();
  EXPECT_EQ(scan->kvs.size(), 3u);
  // Nothing is visible outside before the commit.
  EXPECT_EQ(client_->Get("t/a")->value, "1");
  absl::StatusOr<uint64_t> seq = t.Commit();
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_TRUE(t.finished());
  EXPECT_EQ(client_->Get("t/a")->value, "2");
  EXPECT_EQ(client_->Get("t/n")->value, "7");
  EXPECT_EQ(client_->Get("t/b")->revision, *seq - 1);
  // A finished transaction refuses further calls.
  EXPECT_EQ(t.Get("t/a").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientTxnTest, RollbackAndDestructorDiscardWrites) {
  {
    absl::StatusOr<std::unique_ptr<Transaction>> txn =
        client_->BeginTransaction();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Put("rb/a", "x").ok());
    ASSERT_TRUE((*txn)->Rollback().ok());
  }
  EXPECT_FALSE(client_->Get("rb/a")->found);
  {
    absl::StatusOr<std::unique_ptr<Transaction>> txn =
        client_->BeginTransaction();
    ASSERT_TRUE(txn.ok());
    ASSERT_TRUE((*txn)->Put("rb/b", "x").ok());
  }  // destroyed without commit
  EXPECT_FALSE(client_->Get("rb/b")->found);
}

TEST_F(ClientTxnTest, ConflictAborts) {
  ASSERT_TRUE(client_->Put("c/k", "0").ok());
  absl::StatusOr<std::unique_ptr<Transaction>> txn =
      client_->BeginTransaction();
  ASSERT_TRUE(txn.ok());
  EXPECT_EQ((*txn)->Get("c/k")->value, "0");
  ASSERT_TRUE(client_->Put("c/k", "other").ok());
  ASSERT_TRUE((*txn)->Put("c/k", "mine").ok());
  absl::StatusOr<uint64_t> seq = (*txn)->Commit();
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kAborted) << seq.status();
  EXPECT_EQ(client_->Get("c/k")->value, "other");
}

TEST_F(ClientTxnTest, RunTransactionRetriesAConflict) {
  ASSERT_TRUE(client_->Put("r/k", "10").ok());
  int calls = 0;
  absl::StatusOr<uint64_t> seq =
      client_->RunTransaction([&](Transaction& t) -> absl::Status {
        ++calls;
        absl::StatusOr<client::GetResult> r = t.Get("r/k");
        if (!r.ok()) return r.status();
        int64_t n = 0;
        if (!absl::SimpleAtoi(r->value, &n)) {
          return absl::InternalError("not a number");
        }
        // The first attempt is overtaken by another writer: it must abort.
        if (calls == 1) {
          absl::StatusOr<uint64_t> s = client_->Put("r/k", "100");
          if (!s.ok()) return s.status();
        }
        return t.Put("r/k", absl::StrCat(n + 1));
      });
  ASSERT_TRUE(seq.ok()) << seq.status();
  EXPECT_EQ(calls, 2);
  EXPECT_EQ(client_->Get("r/k")->value, "101");
}

TEST_F(ClientTxnTest, RunTransactionStopsOnTheBodysError) {
  int calls = 0;
  absl::StatusOr<uint64_t> seq =
      client_->RunTransaction([&](Transaction& t) -> absl::Status {
        ++calls;
        if (absl::Status s = t.Put("e/k", "v"); !s.ok()) return s;
        return absl::NotFoundError("precondition of the application");
      });
  EXPECT_EQ(seq.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(calls, 1);
  EXPECT_FALSE(client_->Get("e/k")->found);
}

TEST_F(ClientTxnTest, ContendedCountersAddUp) {
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  ASSERT_TRUE(client_->Put("ctr", "0").ok());
  std::atomic<int> attempts{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&] {
      std::unique_ptr<client::Client> c =
          ConnectTo(*server_, OptionsFor(*server_));
      for (int j = 0; j < kIncrements; ++j) {
        absl::StatusOr<uint64_t> seq = c->RunTransaction(
            [&](Transaction& t) -> absl::Status {
              attempts.fetch_add(1);
              absl::StatusOr<client::GetResult> r = t.Get("ctr");
              if (!r.ok()) return r.status();
              int64_t n = 0;
              if (!absl::SimpleAtoi(r->value, &n)) {
                return absl::InternalError("not a number");
              }
              return t.Put("ctr", absl::StrCat(n + 1));
            },
            /*max_attempts=*/1000);
        if (!seq.ok()) failures.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(client_->Get("ctr")->value, absl::StrCat(kThreads * kIncrements));
  EXPECT_GE(attempts.load(), kThreads * kIncrements);
}

}  // namespace
}  // namespace cairn::test
