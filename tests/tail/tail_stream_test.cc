// Replication.Tail against the real cairnd: gapless, duplicate-free
// delivery under concurrent writers with rotation and flushes, every field
// of an event, group markers, from_now and progress messages, a future
// start, filters, keys_only, bad requests, OUT_OF_RANGE after retention,
// resuming at every kind of boundary and across server restarts.
#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairnd_process.h"
#include "google/rpc/status.pb.h"
#include "server_test_util.h"
#include "tail/tail_test_util.h"

namespace cairn::test {
namespace {

class TailStreamTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    // Small segments: rotation every few hundred writes. Progress often.
    o.args = {"--wal_segment_bytes=1MiB", "--tail_progress_interval=50ms",
              "--write_buffer_bytes=256KiB", "--tail_chunk_bytes=16KiB"};
    StartSuiteServer(o);
  }
  void SetUp() override {
    CairndSuite::SetUp();
    if (HasFatalFailure()) return;  // no server
    kv_ = v1::KV::NewStub(server_->Channel());
    admin_ = v1::Admin::NewStub(server_->Channel());
  }
  uint64_t LastSeq() {
    v1::StatsResponse r;
    EXPECT_TRUE(admin_->Stats(Ctx().get(), {}, &r).ok());
    return r.last_seq();
  }
  std::unique_ptr<v1::KV::Stub> kv_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

TEST_F(TailStreamTest, EveryFieldOfEveryOperation) {
  const uint64_t start = LastSeq() + 1;
  const uint64_t before = absl::ToUnixMicros(absl::Now());
  Put(kv_.get(), "f/put", "value");
  v1::BatchRequest batch;
  auto* p = batch.add_ops()->mutable_put();
  p->set_key("f/ttl");
  p->set_value("tv");
  p->set_ttl_millis(3'600'000);
  batch.add_ops()->mutable_delete_()->set_key("f/put");
  auto* dr = batch.add_ops()->mutable_delete_range();
  dr->set_start("f/a");
  dr->set_end("f/b");
  auto* m = batch.add_ops()->mutable_merge();
  m->set_key("f/list");
  m->set_operator_("append");
  m->set_operand("x");
  m->set_argument(",");
  v1::BatchResponse br;
  ASSERT_TRUE(kv_->Batch(Ctx().get(), batch, &br).ok());
  ASSERT_TRUE(br.succeeded());

  TailStream tail(server_->Channel(), TailFrom(start));
  ASSERT_TRUE(tail.ReadUntil(start + 4));
  const auto& ev = tail.events();
  ASSERT_EQ(ev.size(), 5u);
  EXPECT_EQ(ev[0].seq(), start);
  EXPECT_EQ(ev[0].op(), v1::CHANGE_OP_PUT);
  EXPECT_EQ(ev[0].key(), "f/put");
  EXPECT_EQ(ev[0].value(), "value");
  EXPECT_EQ(ev[0].group_first_seq(), start);
  EXPECT_EQ(ev[0].group_size(), 1u);
  EXPECT_GE(ev[0].commit_time_unix_micros(), before);
  for (int i = 1; i <= 4; ++i) {
    EXPECT_EQ(ev[i].seq(), start + i);
    EXPECT_EQ(ev[i].group_first_seq(), start + 1);
    EXPECT_EQ(ev[i].group_size(), 4u);
    EXPECT_EQ(ev[i].commit_time_unix_micros(), ev[1].commit_time_unix_micros());
  }
  EXPECT_EQ(ev[1].op(), v1::CHANGE_OP_PUT);
  EXPECT_EQ(ev[1].value(), "tv");
  EXPECT_GE(ev[1].expires_at_unix_micros(), before + 3'600'000'000ull);
  EXPECT_EQ(ev[2].op(), v1::CHANGE_OP_DELETE);
  EXPECT_EQ(ev[2].key(), "f/put");
  EXPECT_EQ(ev[3].op(), v1::CHANGE_OP_DELETE_RANGE);
  EXPECT_EQ(ev[3].key(), "f/a");
  EXPECT_EQ(ev[3].range_end(), "f/b");
  EXPECT_EQ(ev[4].op(), v1::CHANGE_OP_MERGE);
  EXPECT_EQ(ev[4].merge_operator(), "append");
  EXPECT_EQ(ev[4].merge_argument(), ",");
  EXPECT_EQ(ev[4].value(), "x");
}

// Writers in parallel (single puts and batches), rotation and flushes while
// a stream follows live: each sequence once, in order, batches whole.
TEST_F(TailStreamTest, ConcurrentWritersGaplessNoDuplicates) {
  const uint64_t start = LastSeq() + 1;
  TailStream tail(server_->Channel(), TailFrom(start));
  constexpr int kWriters = 4, kPerWriter = 400;
  std::vector<std::thread> writers;
  std::atomic<uint64_t> max_seq{0};
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      auto kv = v1::KV::NewStub(server_->Channel());
      for (int i = 0; i < kPerWriter; ++i) {
        uint64_t seq = 0;
        if (i % 7 == 0) {
          v1::BatchRequest b;
          for (int j = 0; j < 3; ++j) {
            auto* put = b.add_ops()->mutable_put();
            put->set_key(absl::StrCat("c/", w, "/", i, "/", j));
            put->set_value(std::string(500, 'b'));
          }
          v1::BatchResponse r;
          ASSERT_TRUE(kv->Batch(Ctx().get(), b, &r).ok());
          seq = r.seq();
        } else {
          seq = Put(kv.get(), absl::StrCat("c/", w, "/", i),
                    std::string(700, 'v'));
        }
        uint64_t prev = max_seq.load();
        while (seq > prev && !max_seq.compare_exchange_weak(prev, seq)) {
        }
        if (w == 0 && i % 100 == 99) {
          v1::FlushResponse fr;
          ASSERT_TRUE(admin_->Flush(Ctx().get(), {}, &fr).ok());
        }
      }
    });
  }
  for (auto& t : writers) t.join();
  const uint64_t end = max_seq.load();
  ASSERT_TRUE(tail.ReadUntil(end));
  uint64_t expect = start;
  std::map<uint64_t, uint32_t> groups;
  for (const v1::ChangeEvent& e : tail.events()) {
    if (e.seq() > end) break;
    ASSERT_EQ(e.seq(), expect) << "gap or duplicate";
    ++expect;
    groups[e.group_first_seq()] = e.group_size();
  }
  EXPECT_EQ(expect, end + 1);
  for (const auto& [first, size] : groups) {
    EXPECT_TRUE(size == 1 || size == 3) << size;
  }
}

TEST_F(TailStreamTest, FromNowProgressAndFutureStart) {
  const uint64_t last = LastSeq();
  v1::TailRequest now;
  now.set_from_now(true);
  TailStream tail(server_->Channel(), now);
  v1::TailResponse r;
  // At once: progress at the current end, then more while idle.
  ASSERT_TRUE(tail.Read(&r));
  ASSERT_TRUE(r.has_progress());
  EXPECT_GE(r.progress().committed_seq(), last);
  int progress = 0;
  const absl::Time until = absl::Now() + absl::Milliseconds(400);
  while (absl::Now() < until && tail.Read(&r)) {
    if (r.has_progress()) ++progress;
  }
  EXPECT_GE(progress, 3);  // every 50 ms while idle
  const uint64_t seq = Put(kv_.get(), "now/1", "x");
  ASSERT_TRUE(tail.ReadUntil(seq));
  ASSERT_FALSE(tail.events().empty());
  EXPECT_EQ(tail.events().front().seq(), seq);

  // A start in the future waits for it.
  const uint64_t future = LastSeq() + 3;
  TailStream later(server_->Channel(), TailFrom(future));
  for (int i = 0; i < 5; ++i) Put(kv_.get(), absl::StrCat("fut/", i), "v");
  ASSERT_TRUE(later.ReadUntil(future + 2));
  ASSERT_FALSE(later.events().empty());
  EXPECT_EQ(later.events().front().seq(), future);
}

TEST_F(TailStreamTest, FiltersAndKeysOnly) {
  const uint64_t start = LastSeq() + 1;
  Put(kv_.get(), "a/1", "va");
  Put(kv_.get(), "b/1", "vb");
  Put(kv_.get(), "b/2", "vb2");
  Put(kv_.get(), "c/1", "vc");
  v1::DeleteRequest del;
  del.set_key("b/1");
  v1::DeleteResponse dresp;
  ASSERT_TRUE(kv_->Delete(Ctx().get(), del, &dresp).ok());
  v1::DeleteRangeRequest dr;
  dr.set_start("a/");
  dr.set_end("b/5");  // overlaps both a/ and b/
  v1::DeleteRangeResponse drr;
  ASSERT_TRUE(kv_->DeleteRange(Ctx().get(), dr, &drr).ok());
  const uint64_t end = drr.seq();

  auto keys_of = [&](const v1::TailRequest& req) {
    TailStream t(server_->Channel(), req);
    EXPECT_TRUE(t.ReadUntil(end));
    std::vector<std::string> keys;
    for (const auto& e : t.events()) {
      if (e.seq() <= end) keys.push_back(absl::StrCat(e.op(), ":", e.key()));
    }
    return keys;
  };
  v1::TailRequest prefix = TailFrom(start);
  prefix.mutable_filter()->set_prefix("b/");
  EXPECT_EQ(keys_of(prefix),
            (std::vector<std::string>{"1:b/1", "1:b/2", "2:b/1", "3:a/"}));
  v1::TailRequest range = TailFrom(start);
  range.mutable_filter()->set_start("b/2");
  range.mutable_filter()->set_end("c/2");
  EXPECT_EQ(keys_of(range),
            (std::vector<std::string>{"1:b/2", "1:c/1", "3:a/"}));
  v1::TailRequest ops = TailFrom(start);
  ops.mutable_filter()->add_ops(v1::CHANGE_OP_DELETE);
  ops.mutable_filter()->add_ops(v1::CHANGE_OP_DELETE_RANGE);
  EXPECT_EQ(keys_of(ops), (std::vector<std::string>{"2:b/1", "3:a/"}));

  v1::TailRequest keys_only = TailFrom(start);
  keys_only.set_keys_only(true);
  TailStream t(server_->Channel(), keys_only);
  ASSERT_TRUE(t.ReadUntil(end));
  ASSERT_GE(t.events().size(), 4u);
  EXPECT_EQ(t.events()[0].key(), "a/1");
  for (const auto& e : t.events()) EXPECT_TRUE(e.value().empty());
}

TEST_F(TailStreamTest, BadRequestsNameTheField) {
  auto status_of = [&](const v1::TailRequest& req) {
    TailStream t(server_->Channel(), req);
    v1::TailResponse r;
    EXPECT_FALSE(t.Read(&r));
    return t.Finish();
  };
  EXPECT_TRUE(IsError(status_of(TailFrom(0)),
                      grpc::StatusCode::INVALID_ARGUMENT, "from_seq"));
  v1::TailRequest both = TailFrom(5);
  both.set_from_now(true);
  EXPECT_TRUE(
      IsError(status_of(both), grpc::StatusCode::INVALID_ARGUMENT, "from_seq"));
  v1::TailRequest mixed = TailFrom(1);
  mixed.mutable_filter()->set_prefix("p");
  mixed.mutable_filter()->set_start("a");
  EXPECT_TRUE(IsError(status_of(mixed), grpc::StatusCode::INVALID_ARGUMENT,
                      "filter.start"));
  v1::TailRequest backwards = TailFrom(1);
  backwards.mutable_filter()->set_start("b");
  backwards.mutable_filter()->set_end("a");
  EXPECT_TRUE(IsError(status_of(backwards), grpc::StatusCode::INVALID_ARGUMENT,
                      "filter.end"));
  v1::TailRequest bad_op = TailFrom(1);
  bad_op.mutable_filter()->add_ops(static_cast<v1::ChangeOp>(42));
  EXPECT_TRUE(IsError(status_of(bad_op), grpc::StatusCode::INVALID_ARGUMENT,
                      "filter.ops[0]"));
  v1::TailRequest bad_name = TailFrom(1);
  bad_name.set_consumer("no spaces");
  EXPECT_TRUE(IsError(status_of(bad_name), grpc::StatusCode::INVALID_ARGUMENT,
                      "consumer"));
}

// Resume from every position of a stream, including inside a batch and at a
// segment boundary: the events from there are exactly the suffix.
TEST_F(TailStreamTest, ResumeAtEveryBoundary) {
  const uint64_t start = LastSeq() + 1;
  for (int i = 0; i < 60; ++i) {
    if (i % 5 == 0) {
      v1::BatchRequest b;
      for (int j = 0; j < 4; ++j) {
        auto* put = b.add_ops()->mutable_put();
        put->set_key(absl::StrCat("r/", i, "/", j));
        put->set_value(std::string(30000, 'r'));  // crosses segments
      }
      v1::BatchResponse r;
      ASSERT_TRUE(kv_->Batch(Ctx().get(), b, &r).ok());
    } else {
      Put(kv_.get(), absl::StrCat("r/", i), std::string(20000, 's'));
    }
  }
  const uint64_t end = LastSeq();
  TailStream all(server_->Channel(), TailFrom(start));
  ASSERT_TRUE(all.ReadUntil(end));
  std::vector<v1::ChangeEvent> full(all.events().begin(), all.events().end());
  while (!full.empty() && full.back().seq() > end) full.pop_back();
  ASSERT_EQ(full.size(), end - start + 1);
  for (uint64_t from = start; from <= end; from += 3) {
    TailStream t(server_->Channel(), TailFrom(from));
    ASSERT_TRUE(t.ReadUntil(end));
    ASSERT_EQ(t.events().front().seq(), from);
    for (size_t i = 0; i < t.events().size() && t.events()[i].seq() <= end;
         ++i) {
      ASSERT_EQ(t.events()[i].SerializeAsString(),
                full[from - start + i].SerializeAsString());
    }
  }
}

// A server restarted under a stream ends it with UNAVAILABLE; the client
// resumes after the last event it got and misses nothing.
TEST(TailRestartTest, StreamResumesAcrossRestarts) {
  CairndOptions o;
  o.args = {"--wal_segment_bytes=1MiB", "--tail_retention_bytes=64MiB"};
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto kv = v1::KV::NewStub((*server)->Channel());
  std::vector<uint64_t> written;
  for (int i = 0; i < 50; ++i) {
    written.push_back(
        Put(kv.get(), absl::StrCat("k", i), "v", v1::DURABILITY_SYNC));
  }
  std::vector<uint64_t> seen;
  {
    TailStream t((*server)->Channel(), TailFrom(1));
    ASSERT_TRUE(t.ReadUntil(written.back()));
    for (const auto& e : t.events()) seen.push_back(e.seq());
    ASSERT_TRUE((*server)->StopCleanly().ok());
    v1::TailResponse r;
    while (t.Read(&r)) {
      for (const auto& e : r.events()) seen.push_back(e.seq());
    }
    EXPECT_EQ(t.Finish().error_code(), grpc::StatusCode::UNAVAILABLE);
  }
  for (int round = 0; round < 2; ++round) {
    ASSERT_TRUE((*server)->Restart().ok());
    kv = v1::KV::NewStub((*server)->Channel());
    for (int i = 0; i < 50; ++i) {
      written.push_back(Put(kv.get(), absl::StrCat("k", round, "/", i), "v",
                            v1::DURABILITY_SYNC));
    }
    TailStream t((*server)->Channel(), TailFrom(seen.back() + 1));
    ASSERT_TRUE(t.ReadUntil(written.back()));
    for (const auto& e : t.events()) seen.push_back(e.seq());
    if (round == 0) {
      (*server)->Kill();  // no goodbye: the stream just breaks
    } else {
      ASSERT_TRUE((*server)->StopCleanly().ok());
    }
  }
  ASSERT_EQ(seen.size(), written.size());
  for (size_t i = 0; i < seen.size(); ++i) ASSERT_EQ(seen[i], i + 1);
}

TEST(TailRetentionTest, OutOfRangeNamesTheEarliestSequence) {
  auto server = CairndProcess::Start(NoTailRetention());
  ASSERT_TRUE(server.ok()) << server.status();
  FillAndFlush((*server)->Channel());
  // Retention runs after the flush; the first segments go.
  grpc::Status st;
  uint64_t earliest = 0;
  for (int attempt = 0; attempt < 50 && earliest == 0; ++attempt) {
    TailStream t((*server)->Channel(), TailFrom(1));
    v1::TailResponse r;
    if (t.Read(&r)) {
      absl::SleepFor(absl::Milliseconds(100));  // not yet deleted
      continue;
    }
    st = t.Finish();
    ASSERT_EQ(st.error_code(), grpc::StatusCode::OUT_OF_RANGE)
        << st.error_message();
    google::rpc::Status rich;
    ASSERT_TRUE(rich.ParseFromString(st.error_details()));
    ASSERT_EQ(rich.details_size(), 1);
    v1::TailOutOfRange detail;
    ASSERT_TRUE(rich.details(0).UnpackTo(&detail));
    EXPECT_EQ(detail.requested_seq(), 1u);
    earliest = detail.earliest_seq();
    EXPECT_NE(st.error_message().find(absl::StrCat(earliest)),
              std::string::npos);
  }
  ASSERT_GT(earliest, 1u);
  // From the earliest sequence on, the stream works, without a gap.
  TailStream t((*server)->Channel(), TailFrom(earliest));
  ASSERT_TRUE(t.ReadUntil(400));
  EXPECT_EQ(t.events().front().seq(), earliest);
  EXPECT_EQ(t.events().back().seq(), 400u);
  auto m = (*server)->HttpGet("/metrics");
  ASSERT_TRUE(m.ok());
  EXPECT_NE(m->second.find("cairn_tail_out_of_range_total"), std::string::npos);
  EXPECT_NE(m->second.find("cairn_tail_events_sent_total"), std::string::npos);
}

}  // namespace
}  // namespace cairn::test
