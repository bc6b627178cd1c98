// TailConsumer against a live cairnd: it follows writes across a SIGKILL
// restart and a SIGTERM restart of the server without a gap or a duplicate;
// a named consumer resumes after its acknowledged sequence in a new
// process-like consumer; filters; Cancel() from another thread unblocks
// Next(); OUT_OF_RANGE carries the earliest available sequence.
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "cairn/v1/admin.pb.h"
#include "client_test_util.h"

namespace cairn::test {
namespace {

using client::ChangeEvent;
using client::ChangeOp;
using client::TailConsumer;
using client::TailOptions;
using client::TailUpdate;

// Reads from `t` until an event with seq >= last arrives (or the deadline),
// appending every event to *events.
absl::Status ReadUntil(TailConsumer* t, uint64_t last,
                       std::vector<ChangeEvent>* events,
                       absl::Duration timeout = absl::Seconds(60)) {
  absl::Time deadline = absl::Now() + timeout;
  while (events->empty() || events->back().seq < last) {
    if (absl::Now() > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("tail did not reach ", last));
    }
    absl::StatusOr<TailUpdate> u = t->Next();
    if (!u.ok()) return u.status();
    for (ChangeEvent& e : u->events) events->push_back(std::move(e));
  }
  return absl::OkStatus();
}

// Every sequence in [first, last] exactly once, in order.
void ExpectContiguous(const std::vector<ChangeEvent>& events, uint64_t first,
                      uint64_t last) {
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front().seq, first);
  EXPECT_EQ(events.back().seq, last);
  for (size_t i = 1; i < events.size(); ++i) {
    ASSERT_EQ(events[i].seq, events[i - 1].seq + 1)
        << "gap or duplicate after " << events[i - 1].seq;
  }
}

class ClientTailTest : public ::testing::Test {
 protected:
  void Start(std::vector<std::string> args) {
    CairndOptions o;
    o.args = std::move(args);
    absl::StatusOr<std::unique_ptr<CairndProcess>> p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = *std::move(p);
    client_ = ConnectTo(*server_, OptionsFor(*server_));
  }
  std::unique_ptr<CairndProcess> server_;
  std::unique_ptr<client::Client> client_;
};

TEST_F(ClientTailTest, FollowsAcrossServerRestartsWithoutGapsOrDuplicates) {
  Start({"--durability=sync", "--tail_progress_interval=100ms"});
  absl::StatusOr<uint64_t> first = client_->Put("w/start", "0");
  ASSERT_TRUE(first.ok());
  TailOptions to;
  to.from_seq = *first;
  to.initial_backoff = absl::Milliseconds(50);
  to.max_backoff = absl::Milliseconds(300);
  std::unique_ptr<TailConsumer> tail = client_->Tail(to);

  // A writer keeps going through both restarts (retrying what the restart
  // refused); the consumer reads concurrently.
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> last_written{*first};
  std::thread writer([&] {
    client::ClientOptions o = OptionsFor(*server_);
    o.retry.max_attempts = 1000;
    o.retry.max_backoff = absl::Milliseconds(100);
    o.retry.retry_idempotent_writes = true;
    std::unique_ptr<client::Client> w = ConnectTo(*server_, o);
    for (int i = 0; !stop.load() && i < 100000; ++i) {
      absl::StatusOr<uint64_t> seq =
          w->Put(absl::StrFormat("w/%06d", i), absl::StrCat(i));
      if (seq.ok()) last_written.store(*seq);
      absl::SleepFor(absl::Milliseconds(1));
    }
  });
  std::vector<ChangeEvent> events;
  ASSERT_TRUE(ReadUntil(tail.get(), *first + 50, &events).ok());

  server_->Kill();
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(ReadUntil(tail.get(), last_written.load() + 20, &events).ok());

  ASSERT_TRUE(server_->StopCleanly().ok());
  ASSERT_TRUE(server_->Restart().ok());
  ASSERT_TRUE(ReadUntil(tail.get(), last_written.load() + 20, &events).ok());
  stop.store(true);
  writer.join();
  uint64_t last = last_written.load();
  ASSERT_TRUE(ReadUntil(tail.get(), last, &events).ok());
  ASSERT_GE(tail->reconnects(), 2);
  // Everything up to the last acknowledged write, each once. (Writes the
  // restarts refused were retried and got new sequences; a write the
  // SIGKILL caught in flight without acknowledging it may or may not have
  // committed: it shows in the stream only if it did.)
  std::vector<ChangeEvent> upto;
  for (const ChangeEvent& e : events) {
    if (e.seq <= last) upto.push_back(e);
  }
  ExpectContiguous(upto, *first, last);
}

TEST_F(ClientTailTest, NamedConsumerResumesAfterItsAck) {
  Start({"--durability=async"});
  uint64_t last = 0;
  for (int i = 0; i < 20; ++i) {
    last = *client_->Put(absl::StrCat("n/", i), "v");
  }
  TailOptions to;
  to.from_seq = last - 19;
  to.consumer = "resumer";
  std::unique_ptr<TailConsumer> t = client_->Tail(to);
  std::vector<ChangeEvent> events;
  ASSERT_TRUE(ReadUntil(t.get(), last - 10, &events).ok());
  uint64_t acked = last - 10;
  ASSERT_TRUE(t->Ack(acked).ok());
  t.reset();

  // A new consumer of the same name, from its acknowledged position.
  TailOptions again;
  again.consumer = "resumer";
  std::unique_ptr<TailConsumer> t2 = client_->Tail(again);
  std::vector<ChangeEvent> rest;
  ASSERT_TRUE(ReadUntil(t2.get(), last, &rest).ok());
  ExpectContiguous(rest, acked + 1, last);
  // Ack without a name is refused by the library.
  std::unique_ptr<TailConsumer> anon = client_->Tail({.from_seq = 1});
  EXPECT_EQ(anon->Ack(1).code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientTailTest, FiltersAndGroups) {
  Start({"--durability=async"});
  client::Batch b;
  b.Put("f/a", "1").Put("g/b", "2").Delete("f/c").Merge("f/n", "add", "3");
  absl::StatusOr<client::BatchResult> r = client_->Write(b);
  ASSERT_TRUE(r.ok() && r->succeeded);
  uint64_t first = r->seq - 3;
  TailOptions to;
  to.from_seq = first;
  to.prefix = "f/";
  to.ops = {ChangeOp::kPut, ChangeOp::kMerge};
  to.keys_only = true;
  std::unique_ptr<TailConsumer> t = client_->Tail(to);
  std::vector<ChangeEvent> events;
  ASSERT_TRUE(ReadUntil(t.get(), r->seq, &events).ok());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].key, "f/a");
  EXPECT_EQ(events[0].op, ChangeOp::kPut);
  EXPECT_TRUE(events[0].value.empty());  // keys only
  EXPECT_EQ(events[1].key, "f/n");
  EXPECT_EQ(events[1].op, ChangeOp::kMerge);
  EXPECT_EQ(events[1].merge_operator, "add");
  EXPECT_EQ(events[1].group_first_seq, first);
  EXPECT_EQ(events[1].group_size, 4u);
  EXPECT_TRUE(events[1].ends_group());
  EXPECT_STREQ(client::ChangeOpName(events[1].op), "merge");
}

TEST_F(ClientTailTest, CancelUnblocksNextAndProgressArrivesWhenIdle) {
  Start({"--durability=async", "--tail_progress_interval=100ms"});
  absl::StatusOr<uint64_t> seq = client_->Put("idle", "v");
  ASSERT_TRUE(seq.ok());
  std::unique_ptr<TailConsumer> t = client_->Tail({.from_now = true});
  absl::StatusOr<TailUpdate> u = t->Next();
  ASSERT_TRUE(u.ok()) << u.status();
  EXPECT_TRUE(u->events.empty());
  EXPECT_GE(u->committed_seq, *seq);
  EXPECT_EQ(t->next_seq(), u->committed_seq + 1);

  absl::Notification cancelled;
  std::thread canceller([&] {
    absl::SleepFor(absl::Milliseconds(300));
    t->Cancel();
    cancelled.Notify();
  });
  absl::Time start = absl::Now();
  absl::Status end;
  for (;;) {  // progress messages until the cancel
    absl::StatusOr<TailUpdate> next = t->Next();
    if (!next.ok()) {
      end = next.status();
      break;
    }
    ASSERT_TRUE(next->events.empty());
    ASSERT_LT(absl::Now() - start, absl::Seconds(30));
  }
  canceller.join();
  EXPECT_EQ(end.code(), absl::StatusCode::kCancelled) << end;
  EXPECT_TRUE(cancelled.HasBeenNotified());
}

TEST_F(ClientTailTest, OutOfRangeCarriesTheEarliestSequence) {
  Start({"--wal_segment_bytes=1MiB", "--tail_retention_bytes=0",
         "--write_buffer_bytes=256KiB", "--durability=async"});
  for (int i = 0; i < 400; ++i) {
    ASSERT_TRUE(
        client_->Put(absl::StrCat("k", i), std::string(10000, 'x')).ok());
  }
  ASSERT_TRUE(client_->Flush().ok());
  absl::StatusOr<cairn::v1::StatsResponse> stats = client_->Stats();
  ASSERT_TRUE(stats.ok());
  ASSERT_GT(stats->wal_first_seq(), 1u) << "retention removed nothing";

  std::unique_ptr<TailConsumer> t = client_->Tail({.from_seq = 1});
  absl::StatusOr<TailUpdate> u = t->Next();
  ASSERT_EQ(u.status().code(), absl::StatusCode::kOutOfRange) << u.status();
  std::optional<uint64_t> earliest = client::TailEarliestSeq(u.status());
  ASSERT_TRUE(earliest.has_value());
  EXPECT_GT(*earliest, 1u);
  EXPECT_EQ(client::TailEarliestSeq(absl::UnavailableError("x")), std::nullopt);

  // Starting at the earliest works.
  std::unique_ptr<TailConsumer> t2 = client_->Tail({.from_seq = *earliest});
  absl::StatusOr<TailUpdate> ok = t2->Next();
  ASSERT_TRUE(ok.ok()) << ok.status();
  ASSERT_FALSE(ok->events.empty());
  EXPECT_EQ(ok->events.front().seq, *earliest);
}

}  // namespace
}  // namespace cairn::test
