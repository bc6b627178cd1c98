// DB::ApplyReplicated: a follower copies a primary's batches with their
// sequence numbers and commit times, through its own WAL, and ends with the
// same contents; out-of-order and malformed batches change nothing.
#include <filesystem>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "absl/strings/str_cat.h"
#include "cairn/storage/change_reader.h"
#include "cairn/storage/db.h"
#include "cairn/wal/log.h"
#include "gtest/gtest.h"
#include "storage/db_test_util.h"

namespace cairn::storage {
namespace {

using testing::TempDir;

Options Small() {
  Options o;
  o.write_buffer_size = 64 << 10;
  o.target_file_size = 32 << 10;
  o.max_bytes_for_level_base = 128 << 10;
  o.level0_file_num_compaction_trigger = 2;
  o.wal.segment_size = 256 << 10;
  o.wal.prefault_bytes = 0;
  o.wal.retain_bytes = 64 << 20;
  return o;
}

struct Row {
  std::string value;
  uint64_t seq;
  uint64_t expires;
  bool operator==(const Row&) const = default;
};

std::map<std::string, Row> Dump(DB* db) {
  std::map<std::string, Row> out;
  auto it = db->NewIterator({});
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out[std::string(it->key())] =
        Row{std::string(it->value()), it->seq(), it->expires_at_micros()};
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

// Copies every batch of `from` above `to`'s last sequence into `to`.
void Follow(DB* from, DB* to) {
  auto reader = ChangeReader::Open(from, to->LastSequence() + 1);
  ASSERT_TRUE(reader.ok()) << reader.status();
  while (true) {
    absl::StatusOr<ChangeBatch> b = (*reader)->Next(absl::InfinitePast());
    if (absl::IsDeadlineExceeded(b.status())) return;
    ASSERT_TRUE(b.ok()) << b.status();
    absl::StatusOr<uint64_t> last =
        to->ApplyReplicated({}, b->first_seq, b->payload);
    ASSERT_TRUE(last.ok()) << last.status();
    ASSERT_EQ(*last, b->last_seq());
  }
}

TEST(ApplyReplicatedTest, FollowerConvergesWithSequencesAndCommitTimes) {
  TempDir dir;
  auto primary = DB::Open(Small(), dir.Sub("p"));
  auto replica = DB::Open(Small(), dir.Sub("r"));
  ASSERT_TRUE(primary.ok() && replica.ok());
  std::mt19937_64 rng(7);
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 800; ++i) {
      const std::string key = absl::StrCat("k", rng() % 300);
      switch (rng() % 6) {
        case 0:
          ASSERT_TRUE((*primary)->Delete({}, key).ok());
          break;
        case 1:
          ASSERT_TRUE((*primary)->Merge({}, key + "n", "add", "3").ok());
          break;
        case 2: {
          WriteBatch b;
          b.Put(key, "batch");
          b.PutWithExpiry(key + "t", "ttl", 4'000'000'000'000'000ull);
          b.DeleteRange(key + "x", key + "y");
          ASSERT_TRUE((*primary)->Write({}, b).ok());
          break;
        }
        default:
          ASSERT_TRUE((*primary)
                          ->Put({}, key, std::string(100 + rng() % 400, 'v'))
                          .ok());
      }
    }
    Follow(primary->get(), replica->get());
    if (round == 1) ASSERT_TRUE((*replica)->Flush().ok());
    if (round == 2) {  // the replica restarts and resumes from its own state
      ASSERT_TRUE((*replica)->Close().ok());
      replica->reset();
      replica = DB::Open(Small(), dir.Sub("r"));
      ASSERT_TRUE(replica.ok()) << replica.status();
    }
  }
  EXPECT_EQ((*replica)->LastSequence(), (*primary)->LastSequence());
  EXPECT_EQ(Dump(replica->get()), Dump(primary->get()));

  // The replica's own WAL carries the primary's commit times: a chained
  // follower sees the same stream.
  auto pr = ChangeReader::Open(primary->get(), 1);
  auto rr =
      ChangeReader::Open(replica->get(), (*replica)->wal()->FirstSequence());
  ASSERT_TRUE(pr.ok() && rr.ok());
  absl::StatusOr<ChangeBatch> rb = (*rr)->Next(absl::InfinitePast());
  ASSERT_TRUE(rb.ok()) << rb.status();
  absl::StatusOr<ChangeBatch> pb;
  do {
    pb = (*pr)->Next(absl::InfinitePast());
    ASSERT_TRUE(pb.ok()) << pb.status();
  } while (pb->first_seq < rb->first_seq);
  EXPECT_EQ(pb->first_seq, rb->first_seq);
  EXPECT_EQ(pb->commit_micros, rb->commit_micros);
  EXPECT_EQ(pb->payload, rb->payload);
}

TEST(ApplyReplicatedTest, RefusesGapsDuplicatesAndBadPayloads) {
  TempDir dir;
  auto primary = DB::Open(Small(), dir.Sub("p"));
  auto replica = DB::Open(Small(), dir.Sub("r"));
  ASSERT_TRUE(primary.ok() && replica.ok());
  WriteBatch b;
  b.Put("a", "1");
  b.Put("b", "2");
  ASSERT_TRUE((*primary)->Write({}, b).ok());       // 1..2
  ASSERT_TRUE((*primary)->Put({}, "c", "3").ok());  // 3
  auto reader = ChangeReader::Open(primary->get(), 1);
  ASSERT_TRUE(reader.ok());
  absl::StatusOr<ChangeBatch> b1 = (*reader)->Next(absl::InfinitePast());
  const std::string p1(b1->payload);
  absl::StatusOr<ChangeBatch> b2 = (*reader)->Next(absl::InfinitePast());
  const std::string p2(b2->payload);

  // A gap: batch 3 before 1..2.
  absl::StatusOr<uint64_t> r = (*replica)->ApplyReplicated({}, 3, p2);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ((*replica)->LastSequence(), 0u);
  ASSERT_TRUE((*replica)->ApplyReplicated({}, 1, p1).ok());
  // A duplicate.
  r = (*replica)->ApplyReplicated({}, 1, p1);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  EXPECT_EQ((*replica)->LastSequence(), 2u);
  // Malformed or empty.
  EXPECT_FALSE((*replica)->ApplyReplicated({}, 3, "junk").ok());
  EXPECT_FALSE((*replica)->ApplyReplicated({}, 3, std::string(12, '\0')).ok());
  std::string truncated = p2.substr(0, p2.size() - 1);
  EXPECT_FALSE((*replica)->ApplyReplicated({}, 3, truncated).ok());
  EXPECT_FALSE((*replica)->ApplyReplicated({}, 0, p2).ok());
  EXPECT_EQ((*replica)->LastSequence(), 2u);
  ASSERT_TRUE((*replica)->ApplyReplicated({}, 3, p2).ok());
  EXPECT_EQ(Dump(replica->get()), Dump(primary->get()));
}

}  // namespace
}  // namespace cairn::storage
