// Checkpoints: a consistent copy taken while writes continue opens as a
// database holding every write acknowledged before the checkpoint started.
#include <atomic>
#include <thread>

#include "absl/strings/str_format.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::Contents;
using testing::SmallOptions;
using testing::TempDir;

TEST(DBCheckpoint, OpensAsADatabaseWithEverythingAcknowledged) {
  TempDir dir;
  auto db = testing::OpenOrDie(SmallOptions(), dir.path());
  for (int i = 0; i < 3000; ++i) {
    ASSERT_TRUE(
        db->Put({}, absl::StrFormat("k%05d", i), std::string(50, 'c')).ok());
  }
  ASSERT_TRUE(db->DeleteRange({}, "k00100", "k00200").ok());
  std::atomic<bool> stop{false};
  std::atomic<int> written{0};
  std::thread writer([&] {
    for (int i = 0; !stop && i < 100000; ++i) {
      if (db->Put({}, absl::StrFormat("w%06d", i), "x").ok()) written = i + 1;
    }
  });
  absl::SleepFor(absl::Milliseconds(20));
  const int before = written.load();
  const uint64_t seq_before = db->LastSequence();
  const std::string cp = dir.Sub("checkpoint");
  absl::StatusOr<uint64_t> cp_seq = db->Checkpoint(cp);
  ASSERT_TRUE(cp_seq.ok()) << cp_seq.status();
  stop = true;
  writer.join();
  EXPECT_TRUE(absl::IsAlreadyExists(db->Checkpoint(cp).status()));

  Options o = SmallOptions();
  o.create_if_missing = false;
  auto copy = testing::OpenOrDie(o, cp);
  ASSERT_NE(copy, nullptr);
  EXPECT_GE(copy->LastSequence(), seq_before);
  // The returned sequence is exactly where the copy ends.
  EXPECT_EQ(copy->LastSequence(), *cp_seq);
  auto contents = Contents(copy.get());
  for (int i = 0; i < 3000; ++i) {
    const bool deleted = i >= 100 && i < 200;
    EXPECT_EQ(contents.count(absl::StrFormat("k%05d", i)), deleted ? 0u : 1u);
  }
  // A prefix of the concurrent writes: all before the checkpoint began, and
  // no gap after.
  int present = 0;
  while (contents.count(absl::StrFormat("w%06d", present))) ++present;
  EXPECT_GE(present, before);
  EXPECT_EQ(contents.count(absl::StrFormat("w%06d", present + 1)), 0u);
  // The copy is independent of the original.
  ASSERT_TRUE(copy->Put({}, "only-in-copy", "1").ok());
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "only-in-copy").status()));
}

}  // namespace
}  // namespace cairn::storage
