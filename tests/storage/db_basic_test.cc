// Basic behaviour of the DB: writes, reads, deletes, range deletes, batches,
// flush, reopen, lock file, bad input.
#include "absl/strings/str_format.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::Contents;
using testing::OpenOrDie;
using testing::SmallOptions;
using testing::TempDir;

TEST(DBBasic, PutGetDelete) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  auto s1 = db->Put({}, "a", "1");
  ASSERT_TRUE(s1.ok()) << s1.status();
  auto s2 = db->Put({}, "b", "2");
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ(*s2, *s1 + 1);
  auto g = db->Get({}, "a");
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_EQ(g->value, "1");
  EXPECT_EQ(g->seq, *s1);
  ASSERT_TRUE(db->Delete({}, "a").ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "a").status()));
  EXPECT_EQ(db->Get({}, "b")->value, "2");
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "zz").status()));
}

TEST(DBBasic, MultiGetReadsAtOneSequence) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  ASSERT_TRUE(db->Put({}, "b", "2").ok());
  ASSERT_TRUE(db->Flush().ok());
  const Snapshot* snap = db->GetSnapshot();
  ASSERT_TRUE(db->Put({}, "a", "changed").ok());
  ASSERT_TRUE(db->Delete({}, "b").ok());
  ReadOptions ro;
  ro.snapshot = snap;
  auto at_snap = db->MultiGet(ro, {"a", "b", "c"});
  ASSERT_EQ(at_snap.size(), 3u);
  EXPECT_EQ(at_snap[0]->value, "1");
  EXPECT_EQ(at_snap[1]->value, "2");
  EXPECT_TRUE(absl::IsNotFound(at_snap[2].status()));
  auto latest = db->MultiGet({}, {"a", "b"});
  EXPECT_EQ(latest[0]->value, "changed");
  EXPECT_TRUE(absl::IsNotFound(latest[1].status()));
  db->ReleaseSnapshot(snap);
}

TEST(DBBasic, BatchUsesConsecutiveSequences) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  WriteBatch b;
  b.Put("k", "v1");
  b.Put("k", "v2");
  b.Delete("x");
  auto seq = db->Write({}, b);
  ASSERT_TRUE(seq.ok());
  EXPECT_EQ(*seq, 3u);
  EXPECT_EQ(db->Get({}, "k")->value, "v2");
  EXPECT_EQ(db->Get({}, "k")->seq, 2u);
  WriteBatch empty;
  EXPECT_EQ(*db->Write({}, empty), 3u);
}

TEST(DBBasic, DeleteRangeHidesKeysEverywhere) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE(db->Put({}, absl::StrFormat("k%03d", i), "v").ok());
  }
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->DeleteRange({}, "k010", "k020").ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "k015").status()));
  EXPECT_TRUE(db->Get({}, "k020").ok());
  EXPECT_EQ(Contents(db.get()).size(), 90u);
  ASSERT_TRUE(db->Put({}, "k012", "again").ok());
  EXPECT_EQ(db->Get({}, "k012")->value, "again");
  ASSERT_TRUE(db->Flush().ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "k015").status()));
  EXPECT_EQ(Contents(db.get()).size(), 91u);
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "k015").status()));
  EXPECT_EQ(db->Get({}, "k012")->value, "again");
  EXPECT_EQ(Contents(db.get()).size(), 91u);
}

TEST(DBBasic, BadDeleteRangeChangesNothing) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "1").ok());
  auto r = db->DeleteRange({}, "b", "a");
  EXPECT_TRUE(absl::IsInvalidArgument(r.status()));
  EXPECT_NE(r.status().message().find("begin"), std::string::npos);
  EXPECT_EQ(db->LastSequence(), 1u);
}

TEST(DBBasic, SurvivesReopenWithAndWithoutFlush) {
  TempDir dir;
  {
    auto db = OpenOrDie(SmallOptions(), dir.path());
    for (int i = 0; i < 2000; ++i) {
      ASSERT_TRUE(db->Put({}, absl::StrFormat("key%06d", i),
                          std::string(100, 'a' + i % 26))
                      .ok());
    }
    ASSERT_TRUE(db->DeleteRange({}, "key000100", "key000200").ok());
    ASSERT_TRUE(db->Close().ok());
  }
  auto db = OpenOrDie(SmallOptions(), dir.path());
  EXPECT_EQ(db->LastSequence(), 2001u);
  EXPECT_EQ(db->Get({}, "key001999")->value, std::string(100, 'a' + 1999 % 26));
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "key000150").status()));
  EXPECT_EQ(Contents(db.get()).size(), 1900u);
  auto stats = db->GetStats();
  EXPECT_GT(stats.flushed_sequence, 0u);
}

TEST(DBBasic, SecondOpenFailsWhileOpen) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  auto second = DB::Open(SmallOptions(), dir.path());
  ASSERT_FALSE(second.ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();
  EXPECT_NE(second.status().message().find("in use"), std::string::npos);
}

TEST(DBBasic, OpenWithoutCreateNeedsADatabase) {
  TempDir dir;
  Options o = SmallOptions();
  o.create_if_missing = false;
  auto db = DB::Open(o, dir.Sub("nothing"));
  ASSERT_FALSE(db.ok());
  EXPECT_TRUE(absl::IsNotFound(db.status())) << db.status();
  EXPECT_NE(db.status().message().find("no database"), std::string::npos);
  { auto created = OpenOrDie(SmallOptions(), dir.path()); }
  o.error_if_exists = true;
  o.create_if_missing = true;
  EXPECT_TRUE(absl::IsAlreadyExists(DB::Open(o, dir.path()).status()));
}

TEST(DBBasic, CallsAfterCloseFailCleanly) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "a", "b").ok());
  ASSERT_TRUE(db->Close().ok());
  EXPECT_TRUE(absl::IsFailedPrecondition(db->Get({}, "a").status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(db->Put({}, "a", "c").status()));
  auto many = db->MultiGet({}, {"a", "b"});
  ASSERT_EQ(many.size(), 2u);
  EXPECT_TRUE(absl::IsFailedPrecondition(many[1].status()));
  auto it = db->NewIterator({});
  it->SeekToFirst();
  EXPECT_FALSE(it->Valid());
  EXPECT_TRUE(absl::IsFailedPrecondition(it->status()));
  EXPECT_TRUE(absl::IsFailedPrecondition(db->Flush()));
  EXPECT_TRUE(db->Close().ok());
}

TEST(DBBasic, SnapshotsSeeOldValues) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  ASSERT_TRUE(db->Put({}, "k", "old").ok());
  const Snapshot* s1 = db->GetSnapshot();
  const Snapshot* s2 = db->GetSnapshot();
  ASSERT_TRUE(db->Put({}, "k", "new").ok());
  ASSERT_TRUE(db->Delete({}, "gone").ok());
  ReadOptions ro;
  ro.snapshot = s1;
  EXPECT_EQ(db->Get(ro, "k")->value, "old");
  db->ReleaseSnapshot(s1);
  ASSERT_TRUE(db->Flush().ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  ro.snapshot = s2;  // a second registration at the same sequence
  EXPECT_EQ(db->Get(ro, "k")->value, "old");
  EXPECT_EQ(db->Get({}, "k")->value, "new");
  db->ReleaseSnapshot(s2);
}

TEST(DBBasic, IteratorBoundsPrefixAndReverse) {
  TempDir dir;
  auto db = OpenOrDie(SmallOptions(), dir.path());
  for (const char* k : {"a1", "a2", "b1", "b2", "b3", "c1"}) {
    ASSERT_TRUE(db->Put({}, k, std::string("v") + k).ok());
  }
  ReadOptions ro;
  ro.prefix = "b";
  auto it = db->NewIterator(ro);
  std::vector<std::string> keys;
  for (it->SeekToLast(); it->Valid(); it->Prev()) keys.emplace_back(it->key());
  EXPECT_EQ(keys, (std::vector<std::string>{"b3", "b2", "b1"}));
  it->SeekForPrev("b25");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b2");
  it->Next();
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b3");
  it->Seek("a");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "b1");
}

}  // namespace
}  // namespace cairn::storage
