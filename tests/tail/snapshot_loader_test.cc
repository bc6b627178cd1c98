// SnapshotLoader: a database built from another's snapshot (key order,
// revisions, expiries) holds the same state with the same revisions, has
// the snapshot's sequence as its last one, and follows the source from
// there with ApplyReplicated. Bad input and unsuitable directories are
// refused; an interrupted load leaves no database and is redone.
#include "cairn/storage/snapshot_loader.h"

#include <map>
#include <memory>
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

struct Row {
  std::string value;
  uint64_t seq;
  uint64_t expires;
  bool operator==(const Row&) const = default;
};

std::map<std::string, Row> Dump(DB* db, const ReadOptions& ro = {}) {
  std::map<std::string, Row> out;
  auto it = db->NewIterator(ro);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    out[std::string(it->key())] =
        Row{std::string(it->value()), it->seq(), it->expires_at_micros()};
  }
  EXPECT_TRUE(it->status().ok()) << it->status();
  return out;
}

Options Small() {
  Options o = testing::SmallOptions();
  o.wal.retain_bytes = 64 << 20;
  return o;
}

// Loads `rows` (the state at `seq`) into dir.
absl::Status Load(const std::string& dir, uint64_t seq,
                  const std::map<std::string, Row>& rows) {
  auto loader = SnapshotLoader::Create(Small(), dir, seq);
  if (!loader.ok()) return loader.status();
  for (const auto& [k, r] : rows) {
    if (absl::Status s = (*loader)->Add(k, r.value, r.seq, r.expires); !s.ok())
      return s;
  }
  return (*loader)->Finish();
}

TEST(SnapshotLoaderTest, LoadedCopyMatchesAndFollows) {
  TempDir dir;
  auto primary = DB::Open(Small(), dir.Sub("p"));
  ASSERT_TRUE(primary.ok()) << primary.status();
  for (int i = 0; i < 3000; ++i) {
    const std::string key = absl::StrCat("k", i % 1200);
    if (i % 9 == 0) {
      ASSERT_TRUE((*primary)->Delete({}, key).ok());
    } else if (i % 7 == 0) {
      ASSERT_TRUE((*primary)->Merge({}, key + "n", "add", "2").ok());
    } else if (i % 5 == 0) {
      ASSERT_TRUE((*primary)->PutWithTtl({}, key, "ttl", absl::Hours(2)).ok());
    } else {
      ASSERT_TRUE(
          (*primary)->Put({}, key, std::string(200, 'a' + i % 26)).ok());
    }
  }
  const Snapshot* snap = (*primary)->GetSnapshot();
  const uint64_t s = snap->sequence();
  ReadOptions at;
  at.snapshot = snap;
  // Writes after the snapshot, which the copy must get through the stream.
  for (int i = 0; i < 500; ++i) {
    ASSERT_TRUE((*primary)->Put({}, absl::StrCat("k", i * 3), "later").ok());
  }
  const std::map<std::string, Row> state = Dump(primary->get(), at);
  (*primary)->ReleaseSnapshot(snap);
  ASSERT_TRUE(Load(dir.Sub("r"), s, state).ok());

  auto replica = DB::Open(Small(), dir.Sub("r"));
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ((*replica)->LastSequence(), s);
  EXPECT_EQ(Dump(replica->get()), state);
  EXPECT_GT((*replica)->GetStats().live_sst_bytes, 0u);

  auto reader = ChangeReader::Open(primary->get(), s + 1);
  ASSERT_TRUE(reader.ok()) << reader.status();
  while (true) {
    absl::StatusOr<ChangeBatch> b = (*reader)->Next(absl::InfinitePast());
    if (absl::IsDeadlineExceeded(b.status())) break;
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_TRUE((*replica)->ApplyReplicated({}, b->first_seq, b->payload).ok());
  }
  EXPECT_EQ(Dump(replica->get()), Dump(primary->get()));
  // It survives a reopen and compacts like any database.
  ASSERT_TRUE((*replica)->CompactRange(nullptr, nullptr).ok());
  ASSERT_TRUE((*replica)->Close().ok());
  replica->reset();
  replica = DB::Open(Small(), dir.Sub("r"));
  ASSERT_TRUE(replica.ok()) << replica.status();
  EXPECT_EQ(Dump(replica->get()), Dump(primary->get()));
}

TEST(SnapshotLoaderTest, RefusesBadInputAndUnsuitableDirectories) {
  TempDir dir;
  auto loader = SnapshotLoader::Create(Small(), dir.Sub("a"), 10);
  ASSERT_TRUE(loader.ok()) << loader.status();
  EXPECT_TRUE(absl::IsInvalidArgument((*loader)->Add("", "v", 1)));
  ASSERT_TRUE((*loader)->Add("b", "v", 3).ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*loader)->Add("b", "v", 3)));
  EXPECT_TRUE(absl::IsInvalidArgument((*loader)->Add("a", "v", 3)));
  EXPECT_TRUE(absl::IsInvalidArgument((*loader)->Add("c", "v", 11)));
  EXPECT_TRUE(absl::IsInvalidArgument((*loader)->Add("c", "v", 0)));
  ASSERT_TRUE((*loader)->Finish().ok());
  loader->reset();
  EXPECT_TRUE(absl::IsInvalidArgument(
      SnapshotLoader::Create(Small(), dir.Sub("z"), 0).status()));

  // A directory with a database, or with something else, is refused.
  EXPECT_TRUE(absl::IsFailedPrecondition(
      SnapshotLoader::Create(Small(), dir.Sub("a"), 10).status()));
  auto db = DB::Open(Small(), dir.Sub("a"));
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->LastSequence(), 10u);
  auto got = (*db)->Get({}, "b");
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->seq, 3u);
  // Locked while the database is open.
  EXPECT_FALSE(SnapshotLoader::Create(Small(), dir.Sub("a"), 10).ok());
  testing::TempDir other;
  {
    std::unique_ptr<File> f = *FileSystem::Default()->Open(
        other.Sub("notes.txt"), OpenOptions{.create = true});
  }
  EXPECT_TRUE(absl::IsFailedPrecondition(
      SnapshotLoader::Create(Small(), other.path(), 10).status()));
}

// The root of a freshly made ext4 volume holds lost+found: a replica whose
// data dir is a volume's root must still be able to load its first copy.
TEST(SnapshotLoaderTest, LostAndFoundIsNotData) {
  TempDir dir;
  ASSERT_TRUE(FileSystem::Default()->CreateDir(dir.Sub("lost+found")).ok());
  auto loader = SnapshotLoader::Create(Small(), dir.path(), 5);
  ASSERT_TRUE(loader.ok()) << loader.status();
  ASSERT_TRUE((*loader)->Add("k", "v", 5).ok());
  ASSERT_TRUE((*loader)->Finish().ok());
  loader->reset();
  auto db = DB::Open(Small(), dir.path());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->LastSequence(), 5u);
  EXPECT_TRUE(FileSystem::Default()->Exists(dir.Sub("lost+found")));
}

TEST(SnapshotLoaderTest, AnInterruptedLoadIsRedone) {
  TempDir dir;
  {
    auto loader = SnapshotLoader::Create(Small(), dir.Sub("r"), 5);
    ASSERT_TRUE(loader.ok());
    for (int i = 0; i < 2000; ++i) {  // several tables
      ASSERT_TRUE(
          (*loader)
              ->Add(absl::StrCat("k", 100000 + i), std::string(100, 'x'), 4)
              .ok());
    }
    // Abandoned without Finish: no database.
  }
  auto nodb = DB::Open(
      [] {
        Options o = Small();
        o.create_if_missing = false;
        return o;
      }(),
      dir.Sub("r"));
  EXPECT_TRUE(absl::IsNotFound(nodb.status())) << nodb.status();
  std::map<std::string, Row> rows = {{"x", {"1", 2, 0}}, {"y", {"2", 5, 0}}};
  ASSERT_TRUE(Load(dir.Sub("r"), 5, rows).ok());
  auto db = DB::Open(Small(), dir.Sub("r"));
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ(Dump(db->get()), rows);
}

}  // namespace
}  // namespace cairn::storage
