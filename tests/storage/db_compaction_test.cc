// Compaction: data moves down the levels and stays correct; snapshots keep
// the versions they see; tombstones and shadowed versions are dropped only
// when no reader can need them; obsolete files go away.
#include <filesystem>

#include "absl/strings/str_format.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::Contents;
using testing::SmallOptions;
using testing::TempDir;

std::string Key(int i) { return absl::StrFormat("key%06d", i); }

int CountTables(const std::string& dir) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".sst") ++n;
  }
  return n;
}

class CountingListener : public EventListener {
 public:
  void OnCompactionEnd(const CompactionJobInfo& info) override {
    std::lock_guard<std::mutex> l(mu);
    ++compactions;
    dropped += info.entries_dropped;
    deepest = std::max(deepest, info.output_level);
  }
  std::mutex mu;
  int compactions = 0;
  uint64_t dropped = 0;
  int deepest = 0;
};

TEST(DBCompaction, DataMovesDownAndStaysCorrect) {
  TempDir dir;
  CountingListener listener;
  Options o = SmallOptions();
  o.listeners.push_back(&listener);
  auto db = testing::OpenOrDie(o, dir.path());
  std::map<std::string, std::string> model;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 3000; ++i) {
      const int k = (i * 7919 + round * 13) % 5000;
      std::string v = absl::StrFormat("r%d-%s", round, std::string(60, 'x'));
      ASSERT_TRUE(db->Put({}, Key(k), v).ok());
      model[Key(k)] = v;
    }
  }
  ASSERT_TRUE(db->Flush().ok());
  // Let background compactions settle.
  auto busy = [&] {
    DBStats s = db->GetStats();
    if (s.running_compactions > 0) return true;
    for (size_t l = 0; l + 1 < s.levels.size(); ++l) {
      if (s.levels[l].score >= 1) return true;
    }
    return false;
  };
  for (int i = 0; i < 200 && busy(); ++i)
    absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(busy()) << "compaction did not settle";
  DBStats st = db->GetStats();
  int deepest = 0;
  for (int l = 0; l < static_cast<int>(st.levels.size()); ++l) {
    if (st.levels[l].files > 0) deepest = l;
  }
  EXPECT_GE(deepest, 2) << "expected data below L1";
  EXPECT_GT(listener.compactions, 0);
  EXPECT_GT(listener.dropped, 0u);  // overwritten versions went away
  EXPECT_GT(st.write_amplification, 1.0);
  EXPECT_EQ(Contents(db.get()), model);
  // Every file on disk is a live one.
  int live = 0;
  for (const auto& l : st.levels) live += l.files;
  EXPECT_EQ(CountTables(dir.path()), live);
  // And after a restart too, with the same files in the same levels.
  ASSERT_TRUE(db->Close().ok());
  db = testing::OpenOrDie(o, dir.path());
  EXPECT_EQ(Contents(db.get()), model);
  DBStats reopened = db->GetStats();
  ASSERT_EQ(reopened.levels.size(), st.levels.size());
  for (size_t l = 0; l < st.levels.size(); ++l) {
    EXPECT_EQ(reopened.levels[l].files, st.levels[l].files) << "L" << l;
    EXPECT_EQ(reopened.levels[l].bytes, st.levels[l].bytes) << "L" << l;
  }
  EXPECT_EQ(reopened.flushed_sequence, st.flushed_sequence);
}

TEST(DBCompaction, SnapshotsKeepTheirVersions) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(db->Put({}, Key(i), "v1").ok());
  const Snapshot* s1 = db->GetSnapshot();
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(db->Put({}, Key(i), "v2").ok());
  ASSERT_TRUE(db->DeleteRange({}, Key(100), Key(200)).ok());
  for (int i = 0; i < 500; i += 2) ASSERT_TRUE(db->Delete({}, Key(i)).ok());
  const Snapshot* s2 = db->GetSnapshot();
  for (int i = 0; i < 500; ++i) ASSERT_TRUE(db->Put({}, Key(i), "v3").ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());

  ReadOptions r1, r2;
  r1.snapshot = s1;
  r2.snapshot = s2;
  for (int i = 0; i < 500; ++i) {
    EXPECT_EQ(db->Get(r1, Key(i))->value, "v1");
    auto g2 = db->Get(r2, Key(i));
    if (i % 2 == 0 || (i >= 100 && i < 200)) {
      EXPECT_TRUE(absl::IsNotFound(g2.status())) << Key(i);
    } else {
      EXPECT_EQ(g2->value, "v2");
    }
    EXPECT_EQ(db->Get({}, Key(i))->value, "v3");
  }
  EXPECT_EQ(Contents(db.get(), r1).size(), 500u);
  EXPECT_EQ(Contents(db.get(), r2).size(), 200u);
  db->ReleaseSnapshot(s1);
  db->ReleaseSnapshot(s2);
}

TEST(DBCompaction, TombstonesDropOnlyWhenNoSnapshotNeedsThem) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(db->Put({}, Key(i), std::string(50, 'v')).ok());
  }
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  const Snapshot* snap = db->GetSnapshot();
  ASSERT_TRUE(db->DeleteRange({}, Key(0), Key(1000)).ok());
  for (int i = 1000; i < 2000; ++i) ASSERT_TRUE(db->Delete({}, Key(i)).ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  // The snapshot still sees everything, so the data must still be there.
  ReadOptions ro;
  ro.snapshot = snap;
  EXPECT_EQ(Contents(db.get(), ro).size(), 2000u);
  EXPECT_EQ(Contents(db.get()).size(), 0u);
  EXPECT_GT(db->GetStats().live_sst_bytes, 0u);
  db->ReleaseSnapshot(snap);
  // Now nothing needs the old versions or the tombstones.
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(db->GetStats().live_sst_bytes, 0u);
  EXPECT_EQ(CountTables(dir.path()), 0);
  EXPECT_EQ(Contents(db.get()).size(), 0u);
}

TEST(DBCompaction, IteratorPinsFilesThatCompactionReplaces) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(db->Put({}, Key(i), "old").ok());
  ASSERT_TRUE(db->Flush().ok());
  auto it = db->NewIterator({});
  it->SeekToFirst();
  for (int i = 0; i < 1000; ++i) ASSERT_TRUE(db->Put({}, Key(i), "new").ok());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  int n = 0;
  for (; it->Valid(); it->Next(), ++n) ASSERT_EQ(it->value(), "old");
  EXPECT_TRUE(it->status().ok()) << it->status();
  EXPECT_EQ(n, 1000);
}

TEST(DBCompaction, RangeTombstonesAcrossOutputFilesAndLevels) {
  TempDir dir;
  Options o = SmallOptions();
  o.target_file_size = 8 << 10;  // many small output files
  auto db = testing::OpenOrDie(o, dir.path());
  std::map<std::string, std::string> model;
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(db->Put({}, Key(i), std::string(40, 'a')).ok());
    model[Key(i)] = std::string(40, 'a');
  }
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  ASSERT_TRUE(db->DeleteRange({}, Key(500), Key(2500)).ok());
  model.erase(model.lower_bound(Key(500)), model.lower_bound(Key(2500)));
  for (int i = 1000; i < 1100; ++i) {
    ASSERT_TRUE(db->Put({}, Key(i), "back").ok());
    model[Key(i)] = "back";
  }
  ASSERT_TRUE(db->Flush().ok());
  const std::string a = Key(0), b = Key(1500);
  ASSERT_TRUE(db->CompactRange(&a, &b).ok());  // splits the tombstone
  EXPECT_EQ(Contents(db.get()), model);
  ASSERT_TRUE(db->Close().ok());
  db = testing::OpenOrDie(o, dir.path());
  EXPECT_EQ(Contents(db.get()), model);
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_EQ(Contents(db.get()), model);
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, Key(2000)).status()));
}

}  // namespace
}  // namespace cairn::storage
