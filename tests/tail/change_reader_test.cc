// ChangeReader: the DB's committed writes as changes, read from the WAL in
// place: every operation type, batch grouping, starting inside a batch,
// waiting for commits, retention, concurrency with rotation and flushes.
#include "cairn/storage/change_reader.h"

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/storage/db.h"
#include "cairn/storage/transaction.h"
#include "cairn/util/fault_injection_file_system.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "storage/db_test_util.h"

namespace cairn::storage {
namespace {

using testing::TempDir;

// An owned copy of a Change, for comparisons.
struct Event {
  uint64_t seq = 0;
  ChangeType type = ChangeType::kPut;
  std::string key, value, range_end, op, arg;
  uint64_t expires = 0;
  uint64_t group_first = 0;
  uint32_t group_size = 0;
  uint64_t commit_micros = 0;
};

Options SmallWal() {
  Options o;
  o.write_buffer_size = 64 << 10;
  o.wal.segment_size = 64 << 10;
  o.wal.prefault_bytes = 0;
  return o;
}

// Reads every change from from_seq until the reader has nothing more.
std::vector<Event> ReadAll(DB* db, uint64_t from_seq) {
  std::vector<Event> out;
  auto reader = ChangeReader::Open(db, from_seq);
  EXPECT_TRUE(reader.ok()) << reader.status();
  if (!reader.ok()) return out;
  while (true) {
    absl::StatusOr<ChangeBatch> b = (*reader)->Next(absl::InfinitePast());
    if (absl::IsDeadlineExceeded(b.status())) break;
    EXPECT_TRUE(b.ok()) << b.status();
    if (!b.ok()) break;
    absl::Status s = b->ForEach([&](const Change& c) {
      if (c.seq < from_seq) return absl::OkStatus();
      Event e;
      e.seq = c.seq;
      e.type = c.type;
      e.key = c.key;
      e.value = c.value;
      e.range_end = c.range_end;
      e.op = c.merge_operator;
      e.arg = c.merge_argument;
      e.expires = c.expires_at_micros;
      e.group_first = b->first_seq;
      e.group_size = b->count;
      e.commit_micros = b->commit_micros;
      out.push_back(e);
      return absl::OkStatus();
    });
    EXPECT_TRUE(s.ok()) << s;
  }
  return out;
}

TEST(ChangeReaderTest, EveryOperationTypeWithItsFields) {
  TempDir dir;
  auto db = DB::Open(SmallWal(), dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  WriteOptions wo;
  const uint64_t before = absl::ToUnixMicros(absl::Now());
  ASSERT_TRUE((*db)->Put(wo, "a", "1").ok());
  ASSERT_TRUE((*db)->PutWithTtl(wo, "b", "2", absl::Hours(1)).ok());
  ASSERT_TRUE((*db)->Delete(wo, "a").ok());
  ASSERT_TRUE((*db)->DeleteRange(wo, "c", "f").ok());
  ASSERT_TRUE((*db)->Merge(wo, "n", "add", "5").ok());
  ASSERT_TRUE((*db)->Merge(wo, "s", "append", "x", ",").ok());
  const uint64_t after = absl::ToUnixMicros(absl::Now());

  std::vector<Event> ev = ReadAll(db->get(), 1);
  ASSERT_EQ(ev.size(), 6u);
  for (size_t i = 0; i < ev.size(); ++i) {
    EXPECT_EQ(ev[i].seq, i + 1);
    EXPECT_EQ(ev[i].group_first, i + 1);  // each its own batch
    EXPECT_EQ(ev[i].group_size, 1u);
    EXPECT_GE(ev[i].commit_micros, before);
    EXPECT_LE(ev[i].commit_micros, after);
  }
  EXPECT_EQ(ev[0].type, ChangeType::kPut);
  EXPECT_EQ(ev[0].key, "a");
  EXPECT_EQ(ev[0].value, "1");
  EXPECT_EQ(ev[0].expires, 0u);
  EXPECT_EQ(ev[1].type, ChangeType::kPut);
  EXPECT_EQ(ev[1].value, "2");
  EXPECT_GE(ev[1].expires, before + 3'600'000'000ull);
  EXPECT_LE(ev[1].expires, after + 3'600'000'000ull);
  EXPECT_EQ(ev[2].type, ChangeType::kDelete);
  EXPECT_EQ(ev[2].key, "a");
  EXPECT_EQ(ev[2].value, "");
  EXPECT_EQ(ev[3].type, ChangeType::kDeleteRange);
  EXPECT_EQ(ev[3].key, "c");
  EXPECT_EQ(ev[3].range_end, "f");
  EXPECT_EQ(ev[4].type, ChangeType::kMerge);
  EXPECT_EQ(ev[4].op, "add");
  EXPECT_EQ(ev[4].value, "5");
  EXPECT_EQ(ev[4].arg, "");
  EXPECT_EQ(ev[5].op, "append");
  EXPECT_EQ(ev[5].arg, ",");
  EXPECT_EQ(ev[5].value, "x");
}

TEST(ChangeReaderTest, BatchesAndTransactionsAreGroups) {
  TempDir dir;
  auto db = DB::Open(SmallWal(), dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Put({}, "x", "0").ok());  // seq 1
  WriteBatch batch;
  batch.Put("k1", "v1");
  batch.Delete("k2");
  batch.Merge("k3", "add", "1");
  ASSERT_TRUE((*db)->Write({}, batch).ok());  // seqs 2..4
  auto txn = (*db)->BeginTransaction();
  ASSERT_TRUE(txn->Put("t1", "a").ok());
  ASSERT_TRUE(txn->Put("t2", "b").ok());
  ASSERT_TRUE(txn->Commit({}).ok());  // seqs 5..6

  std::vector<Event> ev = ReadAll(db->get(), 1);
  ASSERT_EQ(ev.size(), 6u);
  EXPECT_EQ(ev[0].group_first, 1u);
  for (int i = 1; i <= 3; ++i) {
    EXPECT_EQ(ev[i].group_first, 2u);
    EXPECT_EQ(ev[i].group_size, 3u);
    EXPECT_EQ(ev[i].commit_micros, ev[1].commit_micros);
  }
  EXPECT_EQ(ev[1].key, "k1");
  EXPECT_EQ(ev[2].type, ChangeType::kDelete);
  EXPECT_EQ(ev[3].type, ChangeType::kMerge);
  EXPECT_EQ(ev[4].group_first, 5u);
  EXPECT_EQ(ev[5].group_size, 2u);

  // Starting inside a batch returns the whole batch (callers skip what is
  // below from_seq).
  auto reader = ChangeReader::Open(db->get(), 3);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<ChangeBatch> b = (*reader)->Next(absl::InfinitePast());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->first_seq, 2u);
  EXPECT_EQ(b->count, 3u);
  EXPECT_EQ((*reader)->next_seq(), 5u);
  std::vector<Event> from3 = ReadAll(db->get(), 3);
  ASSERT_EQ(from3.size(), 4u);
  EXPECT_EQ(from3[0].seq, 3u);
}

TEST(ChangeReaderTest, WaitsForTheNextCommitAndFailsForTheFuture) {
  TempDir dir;
  auto db = DB::Open(SmallWal(), dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Put({}, "a", "1").ok());
  // Two ahead of the log: refused.
  auto future = ChangeReader::Open(db->get(), 3);
  EXPECT_TRUE(absl::IsOutOfRange(future.status())) << future.status();
  // One ahead: waits.
  auto reader = ChangeReader::Open(db->get(), 2);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_TRUE(absl::IsDeadlineExceeded(
      (*reader)->Next(absl::Now() + absl::Milliseconds(20)).status()));
  std::thread writer([&] {
    absl::SleepFor(absl::Milliseconds(50));
    ASSERT_TRUE((*db)->Put({}, "b", "2").ok());
  });
  absl::StatusOr<ChangeBatch> b =
      (*reader)->Next(absl::Now() + absl::Seconds(30));
  writer.join();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->first_seq, 2u);
  // Cancel wakes a waiting reader.
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(30));
    (*reader)->Cancel();
  });
  EXPECT_TRUE(absl::IsCancelled((*reader)->Next().status()));
  canceller.join();
}

TEST(ChangeReaderTest, RetentionRemovesFlushedHistoryUnlessRetained) {
  TempDir dir;
  Options o = SmallWal();
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  const std::string value(1000, 'v');
  for (int i = 0; i < 300; ++i) {  // about 5 segments
    ASSERT_TRUE((*db)->Put({}, absl::StrCat("k", i), value).ok());
  }
  ASSERT_TRUE((*db)->Flush().ok());
  ASSERT_TRUE((*db)->wal()->EnforceRetention().ok());
  const uint64_t first = (*db)->wal()->FirstSequence();
  EXPECT_GT(first, 1u);
  auto gone = ChangeReader::Open(db->get(), 1);
  ASSERT_TRUE(absl::IsOutOfRange(gone.status())) << gone.status();
  EXPECT_NE(gone.status().message().find(absl::StrCat(first)),
            std::string::npos)
      << gone.status();
  // What is left reads without a gap.
  std::vector<Event> ev = ReadAll(db->get(), first);
  ASSERT_FALSE(ev.empty());
  EXPECT_EQ(ev.front().seq, first);
  EXPECT_EQ(ev.back().seq, 300u);
  ASSERT_TRUE((*db)->Close().ok());

  // With retain_bytes the flushed history stays.
  TempDir dir2;
  o.wal.retain_bytes = 1 << 20;
  auto db2 = DB::Open(o, dir2.path());
  ASSERT_TRUE(db2.ok()) << db2.status();
  for (int i = 0; i < 300; ++i) {
    ASSERT_TRUE((*db2)->Put({}, absl::StrCat("k", i), value).ok());
  }
  ASSERT_TRUE((*db2)->Flush().ok());
  ASSERT_TRUE((*db2)->wal()->EnforceRetention().ok());
  EXPECT_EQ((*db2)->wal()->FirstSequence(), 1u);
  EXPECT_EQ(ReadAll(db2->get(), 1).size(), 300u);
}

TEST(ChangeReaderTest, SurvivesReopen) {
  TempDir dir;
  Options o = SmallWal();
  o.wal.retain_bytes = 16 << 20;
  {
    auto db = DB::Open(o, dir.path());
    ASSERT_TRUE(db.ok()) << db.status();
    for (int i = 0; i < 100; ++i) {
      ASSERT_TRUE((*db)->Put({}, absl::StrCat("k", i), "v").ok());
    }
  }
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  for (int i = 100; i < 200; ++i) {
    ASSERT_TRUE((*db)->Put({}, absl::StrCat("k", i), "v").ok());
  }
  std::vector<Event> ev = ReadAll(db->get(), 1);
  ASSERT_EQ(ev.size(), 200u);
  for (size_t i = 0; i < ev.size(); ++i) {
    ASSERT_EQ(ev[i].seq, i + 1);
    ASSERT_EQ(ev[i].key, absl::StrCat("k", i));
  }
}

// Concurrent writers (single puts and batches) with rotation, flushes and
// compactions, and a reader following live: every sequence exactly once,
// in order, each batch whole.
TEST(ChangeReaderTest, ConcurrentWritersGaplessInOrder) {
  TempDir dir;
  Options o = SmallWal();
  o.wal.retain_bytes = 64 << 20;  // the reader may lag; keep its history
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 1500;
  std::atomic<bool> writers_done{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const std::string key = absl::StrCat("w", w, "-", i);
        if (i % 10 == 0) {
          WriteBatch b;
          b.Put(key + "a", std::string(200, 'a'));
          b.Put(key + "b", std::string(200, 'b'));
          b.Delete(key + "c");
          ASSERT_TRUE((*db)->Write({}, b).ok());
        } else {
          ASSERT_TRUE((*db)->Put({}, key, std::string(300, 'x')).ok());
        }
        if (w == 0 && i % 500 == 499) ASSERT_TRUE((*db)->Flush().ok());
      }
    });
  }
  auto reader = ChangeReader::Open(db->get(), 1);
  ASSERT_TRUE(reader.ok()) << reader.status();
  uint64_t expect = 1;
  const uint64_t total = kWriters * (kPerWriter + kPerWriter / 10 * 2);
  const absl::Time deadline = absl::Now() + absl::Seconds(120);
  while (expect <= total && absl::Now() < deadline) {
    absl::StatusOr<ChangeBatch> b =
        (*reader)->Next(absl::Now() + absl::Seconds(5));
    if (absl::IsDeadlineExceeded(b.status())) continue;
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(b->first_seq, expect);
    ASSERT_TRUE(b->count == 1 || b->count == 3) << b->count;
    uint64_t seen = 0;
    ASSERT_TRUE(b->ForEach([&](const Change& c) {
                   EXPECT_EQ(c.seq, expect + seen);
                   ++seen;
                   return absl::OkStatus();
                 }).ok());
    ASSERT_EQ(seen, b->count);
    expect += b->count;
  }
  for (auto& t : writers) t.join();
  EXPECT_EQ(expect, total + 1);
  EXPECT_EQ((*db)->LastSequence(), total);
  EXPECT_GT((*db)->wal()->GetStats().segments_created, 3u);
}

// A write whose group sync fails is in the WAL but was never acknowledged
// (its writer got the error): no reader may see it.
TEST(ChangeReaderTest, UnacknowledgedWritesAreNeverReturned) {
  TempDir dir;
  FaultInjectionFileSystem fs(FileSystem::Default());
  Options o = SmallWal();
  o.fs = &fs;
  auto db = DB::Open(o, dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  ASSERT_TRUE((*db)->Put({}, "a", "1").ok());
  for (FsOp op : {FsOp::kMapSync, FsOp::kSync}) {
    FaultRule rule;
    rule.op = op;
    rule.path_contains = "/wal/";
    rule.times = -1;
    fs.InjectFault(rule);
  }
  WriteOptions sync;
  sync.sync = true;
  EXPECT_FALSE((*db)->Put(sync, "b", "2").ok());
  EXPECT_EQ((*db)->LastSequence(), 1u);
  EXPECT_EQ((*db)->wal()->LastSequence(), 2u);  // the record is there

  auto reader = ChangeReader::Open(db->get(), 1);
  ASSERT_TRUE(reader.ok()) << reader.status();
  absl::StatusOr<ChangeBatch> b = (*reader)->Next(absl::InfinitePast());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(b->first_seq, 1u);
  b = (*reader)->Next(absl::Now() + absl::Milliseconds(100));
  EXPECT_TRUE(absl::IsDeadlineExceeded(b.status())) << b.status();
  EXPECT_EQ((*reader)->next_seq(), 2u);
  // Cancel still ends the wait for an acknowledgement that will not come.
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(30));
    (*reader)->Cancel();
  });
  EXPECT_TRUE(absl::IsCancelled((*reader)->Next().status()));
  canceller.join();
  fs.ClearFaults();
}

TEST(ChangeReaderTest, MalformedPayloadIsDataLoss) {
  EXPECT_TRUE(absl::IsDataLoss(ParseChangeBatch(1, "short").status()));
  std::string empty(12, '\0');  // count 0
  EXPECT_TRUE(absl::IsDataLoss(ParseChangeBatch(1, empty).status()));
  std::string wrong(12, '\0');
  wrong[0] = 2;  // says two operations, has none
  absl::StatusOr<ChangeBatch> b = ParseChangeBatch(1, wrong);
  ASSERT_TRUE(b.ok());
  EXPECT_TRUE(absl::IsDataLoss(
      b->ForEach([](const Change&) { return absl::OkStatus(); })));
}

}  // namespace
}  // namespace cairn::storage
