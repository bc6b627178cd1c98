// Concurrent appends (group commit) and readers tailing concurrent writers.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "wal_test_util.h"

namespace cairn::wal {
namespace {

using test_util::OwnedRecord;
using test_util::ReadLog;
using test_util::ReadResult;

// Payload "T<thread> C<counter> " padded with a letter derived from both to
// a size that varies with the counter.
std::string ThreadPayload(int thread, int counter) {
  char head[32];
  std::snprintf(head, sizeof(head), "T%02d C%06d ", thread, counter);
  std::string p = head;
  p.append(static_cast<size_t>((counter * 7 + thread * 13) % 180),
           static_cast<char>('a' + (thread * 5 + counter) % 26));
  return p;
}

bool ParsePayload(std::string_view p, int* thread, int* counter) {
  if (p.size() < 12) return false;
  return std::sscanf(std::string(p.substr(0, 12)).c_str(), "T%d C%d", thread,
                     counter) == 2;
}

uint32_t SeqCount(int thread, int counter) {
  return thread % 2 == 0 ? 1 : static_cast<uint32_t>(1 + counter % 3);
}

// What one writer thread did.
struct WriterLog {
  std::vector<AppendResult> results;  // by counter
  absl::Status error;
};

void RunWriter(Log* log, int thread, int appends, int sync_every,
               WriterLog* out) {
  out->results.reserve(appends);
  for (int c = 0; c < appends; ++c) {
    AppendOptions ao;
    ao.sync = sync_every > 0 && c % sync_every == sync_every - 1;
    absl::StatusOr<AppendResult> r =
        log->Append(ThreadPayload(thread, c), SeqCount(thread, c), ao);
    if (!r.ok()) {
      out->error = r.status();
      return;
    }
    out->results.push_back(*r);
  }
}

// Checks a full read of the log against what the writers were told.
void CheckRecords(const std::vector<OwnedRecord>& records,
                  const std::vector<WriterLog>& writers, uint64_t total_seqs) {
  size_t total_records = 0;
  for (const WriterLog& w : writers) total_records += w.results.size();
  ASSERT_EQ(records.size(), total_records);
  std::vector<int> next_counter(writers.size(), 0);
  uint64_t expected_seq = 1;
  for (const OwnedRecord& r : records) {
    ASSERT_EQ(r.first_seq, expected_seq);
    int t = -1;
    int c = -1;
    ASSERT_TRUE(ParsePayload(r.payload, &t, &c)) << r.payload;
    ASSERT_GE(t, 0);
    ASSERT_LT(static_cast<size_t>(t), writers.size());
    // Each thread's records appear in its own order, each exactly once.
    ASSERT_EQ(c, next_counter[t]) << "thread " << t;
    ++next_counter[t];
    EXPECT_EQ(r.payload, ThreadPayload(t, c));
    EXPECT_EQ(r.seq_count, SeqCount(t, c));
    const AppendResult& told = writers[t].results[c];
    EXPECT_EQ(told.first_seq, r.first_seq) << "thread " << t << " #" << c;
    EXPECT_EQ(told.seq_count, r.seq_count);
    EXPECT_EQ(told.position, r.position);
    expected_seq += r.seq_count;
  }
  EXPECT_EQ(expected_seq - 1, total_seqs);
}

// The sequence ranges handed out are disjoint and cover [1, total].
uint64_t CheckCoverage(const std::vector<WriterLog>& writers) {
  std::vector<std::pair<uint64_t, uint32_t>> ranges;
  for (const WriterLog& w : writers) {
    uint64_t prev = 0;
    for (const AppendResult& r : w.results) {
      EXPECT_GT(r.first_seq, prev);  // per-thread increasing
      prev = r.first_seq;
      ranges.emplace_back(r.first_seq, r.seq_count);
    }
  }
  std::sort(ranges.begin(), ranges.end());
  uint64_t next = 1;
  for (const auto& [first, count] : ranges) {
    EXPECT_EQ(first, next);
    if (first != next) break;
    next += count;
  }
  return next - 1;
}

class ConcurrencyTest : public test_util::WalTest {};

TEST_F(ConcurrencyTest, ConcurrentAppendsWithoutSyncMode) {
  constexpr int kThreads = 8;
  constexpr int kAppends = 2000;
  const Options options = SmallOptions(64 << 10, SyncMode::kNone);
  std::vector<WriterLog> writers(kThreads);
  uint64_t total = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      // Odd threads ask for a durable append now and then.
      threads.emplace_back(RunWriter, log.get(), t, kAppends,
                           t % 2 == 1 ? 97 : 0, &writers[t]);
    }
    for (std::thread& th : threads) th.join();
    for (const WriterLog& w : writers) ASSERT_OK(w.error);
    total = CheckCoverage(writers);
    EXPECT_EQ(log->LastSequence(), total);
    const LogStats stats = log->GetStats();
    EXPECT_EQ(stats.records_appended, uint64_t{kThreads} * kAppends);
    EXPECT_LE(stats.commit_groups, stats.records_appended);
    EXPECT_GT(stats.commit_groups, 0u);
    ReadResult r = ReadLog(*log);
    EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
    CheckRecords(r.records, writers, total);
    ASSERT_OK(log->Close());
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  EXPECT_EQ(log->LastSequence(), total);
  ReadResult r = ReadLog(*log);
  CheckRecords(r.records, writers, total);
}

TEST_F(ConcurrencyTest, ConcurrentDurableAppends) {
  constexpr int kThreads = 8;
  constexpr int kAppends = 100;
  const Options options = SmallOptions(16 << 10, SyncMode::kEveryCommit);
  std::vector<WriterLog> writers(kThreads);
  uint64_t total = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back(RunWriter, log.get(), t, kAppends, 0, &writers[t]);
    }
    for (std::thread& th : threads) th.join();
    for (const WriterLog& w : writers) ASSERT_OK(w.error);
    total = CheckCoverage(writers);
    const LogStats stats = log->GetStats();
    EXPECT_EQ(stats.records_appended, uint64_t{kThreads} * kAppends);
    EXPECT_LE(stats.commit_groups, stats.records_appended);
    // Every commit group is synced in this mode.
    EXPECT_GE(stats.syncs, stats.commit_groups);
    ReadResult r = ReadLog(*log);
    CheckRecords(r.records, writers, total);
    // Simulated crash: durable acks mean nothing can be missing.
    log->SimulateCrashForTesting();
  }
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  ReadResult r = ReadLog(*log);
  CheckRecords(r.records, writers, total);
}

// Readers follow writers live: each sees every record once, in order, and
// never a record beyond what has been appended.
TEST_F(ConcurrencyTest, ReadersTailConcurrentWriters) {
  constexpr int kWriters = 4;
  constexpr int kAppends = 2000;
  constexpr int kReaders = 3;
  const Options options = SmallOptions(32 << 10, SyncMode::kNone);
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  std::vector<WriterLog> writers(kWriters);

  struct ReaderLog {
    std::vector<OwnedRecord> records;
    absl::Status error;
  };
  std::vector<ReaderLog> readers(kReaders);
  constexpr size_t kTotal = size_t{kWriters} * kAppends;
  std::vector<std::thread> threads;
  for (int i = 0; i < kReaders; ++i) {
    absl::StatusOr<std::unique_ptr<Reader>> reader = log->NewReader(1);
    ASSERT_OK(reader);
    threads.emplace_back([&, i, rd = *std::move(reader)]() mutable {
      ReaderLog& out = readers[i];
      while (out.records.size() < kTotal) {
        // Bounded: a lost wake-up shows as DeadlineExceeded, not a hang.
        absl::StatusOr<Record> r = rd->Next(absl::Now() + absl::Seconds(5));
        if (!r.ok()) {
          out.error = r.status();
          return;
        }
        // Visible only once appended: never beyond the published end.
        if (r->last_seq() > log->LastSequence()) {
          out.error = absl::InternalError("read past LastSequence()");
          return;
        }
        out.records.push_back(OwnedRecord{
            r->first_seq, r->seq_count, std::string(r->payload), r->position});
      }
    });
  }
  std::vector<std::thread> writer_threads;
  for (int t = 0; t < kWriters; ++t) {
    writer_threads.emplace_back(RunWriter, log.get(), t, kAppends, 0,
                                &writers[t]);
  }
  for (std::thread& th : writer_threads) th.join();
  for (std::thread& th : threads) th.join();
  for (const WriterLog& w : writers) ASSERT_OK(w.error);
  const uint64_t total = CheckCoverage(writers);
  for (int i = 0; i < kReaders; ++i) {
    SCOPED_TRACE("reader " + std::to_string(i));
    EXPECT_OK(readers[i].error);
    CheckRecords(readers[i].records, writers, total);
  }
}

// TruncateAfter waits for in-flight appends, and appends after it continue
// from the cut without gaps.
TEST_F(ConcurrencyTest, TruncateWhileAppending) {
  const Options options = SmallOptions(32 << 10, SyncMode::kNone);
  ASSERT_OK_AND_ASSIGN(auto log, OpenLog(options));
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; !stop; ++c) {
        if (!log->Append(ThreadPayload(t, c)).ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 20; ++i) {
    absl::SleepFor(absl::Milliseconds(2));
    // Cut at a record boundary: every record here covers one sequence.
    const uint64_t last = log->LastSequence();
    if (last > 10) {
      EXPECT_OK(log->TruncateAfter(last - 5));
    }
  }
  stop = true;
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures, 0);
  ReadResult r = ReadLog(*log);
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
  ASSERT_EQ(r.records.size(), log->LastSequence());
  for (size_t i = 0; i < r.records.size(); ++i) {
    ASSERT_EQ(r.records[i].first_seq, i + 1);
  }
}

}  // namespace
}  // namespace cairn::wal
