// Write stalls: writes slow down, stop, resume, and fail with
// ResourceExhausted when their deadline passes; every stall is counted by
// reason.
#include <atomic>
#include <thread>

#include "absl/synchronization/notification.h"
#include "db_test_util.h"

namespace cairn::storage {
namespace {

using testing::SmallOptions;
using testing::TempDir;

Options StallOptions() {
  Options o = SmallOptions();
  o.disable_auto_compactions = true;
  o.level0_file_num_compaction_trigger = 1;
  o.level0_slowdown_writes_trigger = 2;
  o.level0_stop_writes_trigger = 3;
  o.delayed_write_rate = 1 << 20;
  return o;
}

// Tells when a writer has begun waiting on a stop (not a slowdown).
class StallBeginListener : public EventListener {
 public:
  void OnStallBegin(StallReason reason) override {
    if (reason == StallReason::kL0Stop && !began_.HasBeenNotified()) {
      began_.Notify();
    }
  }
  bool WaitForStall() {
    return began_.WaitForNotificationWithTimeout(absl::Seconds(10));
  }

 private:
  absl::Notification began_;
};

void MakeL0Files(DB* db, int n) {
  for (int i = 0; i < n; ++i) {
    ASSERT_TRUE(db->Put({}, "k" + std::to_string(i), "v").ok());
    ASSERT_TRUE(db->Flush().ok());
  }
}

TEST(DBStall, StopFailsAtTheDeadlineAndResumesAfterCompaction) {
  TempDir dir;
  auto db = testing::OpenOrDie(StallOptions(), dir.path());
  MakeL0Files(db.get(), 3);
  EXPECT_EQ(db->GetStats().levels[0].files, 3);

  WriteOptions wo;
  wo.deadline = absl::Now() + absl::Milliseconds(100);
  auto r = db->Put(wo, "blocked", "v");
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_NE(r.status().message().find("l0_stop"), std::string::npos);
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "blocked").status()));
  EXPECT_GE(db->statistics().StallCount(StallReason::kL0Stop), 1u);
  EXPECT_TRUE(db->GetStats().write_stopped);

  // no_slowdown fails at once.
  WriteOptions fast;
  fast.no_slowdown = true;
  EXPECT_TRUE(absl::IsResourceExhausted(db->Put(fast, "x", "y").status()));

  // A writer waiting without deadline resumes once compaction clears L0.
  std::atomic<bool> done{false};
  std::thread writer([&] {
    EXPECT_TRUE(db->Put({}, "waited", "v").ok());
    done = true;
  });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(done.load());
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  writer.join();
  EXPECT_TRUE(done.load());
  EXPECT_EQ(db->Get({}, "waited")->value, "v");
  EXPECT_EQ(db->GetStats().levels[0].files, 0);
}

TEST(DBStall, CloseWakesAStalledWriter) {
  TempDir dir;
  StallBeginListener listener;
  Options options = StallOptions();
  options.listeners.push_back(&listener);
  auto db = testing::OpenOrDie(options, dir.path());
  MakeL0Files(db.get(), 3);
  EXPECT_TRUE(db->GetStats().write_stopped);  // from the shape, before a write
  absl::Status stalled;
  std::thread writer([&] { stalled = db->Put({}, "never", "v").status(); });
  ASSERT_TRUE(listener.WaitForStall());
  ASSERT_TRUE(db->Close().ok());
  writer.join();
  EXPECT_TRUE(absl::IsUnavailable(stalled)) << stalled;
}

TEST(DBStall, StopWritesFailsStalledAndNewWritersButKeepsReads) {
  TempDir dir;
  StallBeginListener listener;
  Options options = StallOptions();
  options.listeners.push_back(&listener);
  auto db = testing::OpenOrDie(options, dir.path());
  MakeL0Files(db.get(), 3);
  EXPECT_TRUE(db->GetStats().write_stopped);  // from the shape, before a write
  absl::Status stalled;
  std::thread writer([&] { stalled = db->Put({}, "never", "v").status(); });
  ASSERT_TRUE(listener.WaitForStall());
  db->StopWrites();
  writer.join();
  EXPECT_TRUE(absl::IsUnavailable(stalled)) << stalled;
  // Compaction would clear the stall, but writes stay refused.
  ASSERT_TRUE(db->CompactRange(nullptr, nullptr).ok());
  EXPECT_TRUE(absl::IsUnavailable(db->Put({}, "later", "v").status()));
  EXPECT_EQ(db->Get({}, "k1")->value, "v");
  EXPECT_TRUE(absl::IsNotFound(db->Get({}, "never").status()));
  ASSERT_TRUE(db->Close().ok());
  // Nothing refused came back after a reopen.
  auto again = testing::OpenOrDie(StallOptions(), dir.path());
  EXPECT_TRUE(absl::IsNotFound(again->Get({}, "later").status()));
  EXPECT_EQ(again->Get({}, "k2")->value, "v");
}

TEST(DBStall, SlowdownDelaysWritesToTheConfiguredRate) {
  TempDir dir;
  Options o = StallOptions();
  o.delayed_write_rate = 200 << 10;  // 200 KiB/s
  auto db = testing::OpenOrDie(o, dir.path());
  MakeL0Files(db.get(), 2);
  const std::string value(1000, 'v');
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(db->Put({}, "slow" + std::to_string(i), value).ok());
  }
  // 40 KB at 200 KiB/s books about 0.2 s of delay, all counted as
  // l0_slowdown stalls.
  EXPECT_EQ(db->statistics().StallCount(StallReason::kL0Slowdown), 40u);
  EXPECT_GT(db->statistics().StallMicros(StallReason::kL0Slowdown), 100000u);
  EXPECT_TRUE(db->GetStats().write_slowdown);
  EXPECT_EQ(db->statistics().StallCount(StallReason::kL0Stop), 0u);
}

// Holds flushes in OnFlushBegin until released, to pile up memtables.
class FlushGate : public EventListener {
 public:
  void OnFlushBegin(const FlushJobInfo&) override {
    std::unique_lock<std::mutex> l(mu_);
    cv_.wait(l, [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> l(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

TEST(DBStall, MemtableLimitStallsUntilFlushCatchesUp) {
  TempDir dir;
  FlushGate gate;
  Options o = SmallOptions();
  o.max_write_buffer_number = 2;
  o.listeners.push_back(&gate);
  auto db = testing::OpenOrDie(o, dir.path());
  const std::string value(4000, 'm');
  WriteOptions wo;
  wo.deadline = absl::Now() + absl::Seconds(2);
  absl::Status blocked;
  // Fill the active memtable and one immutable; the next switch must wait.
  for (int i = 0; i < 200 && blocked.ok(); ++i) {
    wo.deadline = absl::Now() + absl::Milliseconds(200);
    blocked = db->Put(wo, "m" + std::to_string(i), value).status();
  }
  EXPECT_TRUE(absl::IsResourceExhausted(blocked)) << blocked;
  EXPECT_NE(blocked.message().find("memtable_limit"), std::string::npos);
  EXPECT_GE(db->statistics().StallCount(StallReason::kMemtableLimit), 1u);
  gate.Open();
  wo.deadline = absl::Now() + absl::Seconds(30);
  EXPECT_TRUE(db->Put(wo, "after", value).ok());
}

}  // namespace
}  // namespace cairn::storage

namespace cairn::storage {
namespace {

TEST(DBStall, MemoryBudgetFlushesEarly) {
  testing::TempDir dir;
  Options o = testing::SmallOptions();
  o.write_buffer_size = 4 << 20;  // never full in this test
  o.block_cache_bytes = 1 << 20;
  o.memory_budget_bytes = (1 << 20) + (256 << 10);  // 256 KiB of memtables
  auto db = testing::OpenOrDie(o, dir.path());
  const std::string value(1000, 'b');
  for (int i = 0; i < 2000; ++i) {
    ASSERT_TRUE(db->Put({}, "b" + std::to_string(i), value).ok());
  }
  // 2 MB written with a 256 KiB memtable allowance: flushed early, often.
  EXPECT_GE(db->statistics().Get(Ticker::kFlushes), 4u);
  EXPECT_LE(db->GetStats().memtable_bytes, 512u << 10);
  for (int i = 0; i < 2000; i += 97) {
    EXPECT_EQ(db->Get({}, "b" + std::to_string(i))->value, value);
  }
}

TEST(DBStall, MemoryBudgetStallsWhileAFlushIsFreeingMemory) {
  testing::TempDir dir;
  FlushGate gate;
  Options o = testing::SmallOptions();
  o.write_buffer_size = 4 << 20;
  o.block_cache_bytes = 1 << 20;
  o.memory_budget_bytes = (1 << 20) + (256 << 10);
  o.listeners.push_back(&gate);
  auto db = testing::OpenOrDie(o, dir.path());
  const std::string value(1000, 'b');
  absl::Status blocked;
  for (int i = 0; i < 2000 && blocked.ok(); ++i) {
    WriteOptions wo;
    wo.deadline = absl::Now() + absl::Milliseconds(100);
    blocked = db->Put(wo, "b" + std::to_string(i), value).status();
  }
  EXPECT_TRUE(absl::IsResourceExhausted(blocked)) << blocked;
  EXPECT_NE(blocked.message().find("memory"), std::string::npos) << blocked;
  EXPECT_GE(db->statistics().StallCount(StallReason::kMemory), 1u);
  gate.Open();
  EXPECT_TRUE(db->Put({}, "after", value).ok());
}

TEST(DBStall, MemoryBudgetMustExceedTheBlockCache) {
  testing::TempDir dir;
  Options o = testing::SmallOptions();
  o.memory_budget_bytes = o.block_cache_bytes;
  auto db = DB::Open(o, dir.path());
  EXPECT_TRUE(absl::IsInvalidArgument(db.status())) << db.status();
}

}  // namespace
}  // namespace cairn::storage
