// Helpers for the Tail tests that run cairnd: a Tail stream reader that
// collects events and progress messages, small KV write helpers, and what
// the replica tests compare (Dump).
#ifndef CAIRN_TESTS_TAIL_TAIL_TEST_UTIL_H_
#define CAIRN_TESTS_TAIL_TAIL_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "cairnd_process.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "server_test_util.h"

namespace cairn::test {

// One Tail stream. Every Read blocks; the stream's deadline bounds the whole
// test (a server that stops sending fails the test instead of hanging it).
class TailStream {
 public:
  TailStream(const std::shared_ptr<grpc::Channel>& channel,
             const v1::TailRequest& request,
             absl::Duration deadline = absl::Seconds(120))
      : stub_(v1::Replication::NewStub(channel)) {
    context_.set_deadline(absl::ToChronoTime(absl::Now() + deadline));
    reader_ = stub_->Tail(&context_, request);
  }
  ~TailStream() {
    if (!finished_) {
      context_.TryCancel();
      v1::TailResponse r;
      while (reader_->Read(&r)) {
      }
      reader_->Finish().IgnoreError();
    }
  }

  // Reads one response; false at the end of the stream (then Finish).
  bool Read(v1::TailResponse* response) { return reader_->Read(response); }

  // Reads until an event or a progress message reaches `seq`; appends the
  // events to events_. False if the stream ended first.
  bool ReadUntil(uint64_t seq) {
    v1::TailResponse r;
    while (reader_->Read(&r)) {
      for (const v1::ChangeEvent& e : r.events()) events_.push_back(e);
      if (r.has_progress()) progress_.push_back(r.progress().committed_seq());
      if (!r.events().empty() && r.events().rbegin()->seq() >= seq) return true;
      if (r.has_progress() && r.progress().committed_seq() >= seq) return true;
    }
    return false;
  }

  grpc::Status Finish() {
    finished_ = true;
    return reader_->Finish();
  }
  void Cancel() { context_.TryCancel(); }

  std::vector<v1::ChangeEvent>& events() { return events_; }
  const std::vector<uint64_t>& progress() const { return progress_; }

 private:
  std::unique_ptr<v1::Replication::Stub> stub_;
  grpc::ClientContext context_;
  std::unique_ptr<grpc::ClientReader<v1::TailResponse>> reader_;
  std::vector<v1::ChangeEvent> events_;
  std::vector<uint64_t> progress_;
  bool finished_ = false;
};

inline v1::TailRequest TailFrom(uint64_t seq) {
  v1::TailRequest r;
  r.set_from_seq(seq);
  return r;
}

// A cairnd that keeps no WAL for Tail beyond what flushes need, with 1 MiB
// segments and small memtables: retention shows quickly.
inline CairndOptions NoTailRetention() {
  CairndOptions o;
  o.args = {"--wal_segment_bytes=1MiB", "--tail_retention_bytes=0",
            "--write_buffer_bytes=256KiB"};
  return o;
}

// Puts keys k0..k<n-1> with 10 KB values (about 4 MiB of WAL for 400), then
// flushes, so that retention may delete the first segments.
inline void FillAndFlush(const std::shared_ptr<grpc::Channel>& channel,
                         int n = 400) {
  auto kv = v1::KV::NewStub(channel);
  for (int i = 0; i < n; ++i) {
    Put(kv.get(), absl::StrCat("k", i), std::string(10000, 'x'));
  }
  auto admin = v1::Admin::NewStub(channel);
  v1::FlushResponse fr;
  grpc::Status s = admin->Flush(Ctx().get(), {}, &fr);
  ASSERT_TRUE(s.ok()) << s.error_message();
}

// n writes of a mixed kind from `tag`: puts (some with a TTL, values of up
// to 300 bytes), deletes, `add` merges, and batches with a delete-range,
// over about 400 keys. Returns the sequence of the last write, or 0 (and a
// test failure) if one failed.
inline uint64_t MixedLoad(const std::shared_ptr<grpc::Channel>& channel,
                          const std::string& tag, int n,
                          v1::Durability durability = v1::DURABILITY_DEFAULT) {
  auto kv = v1::KV::NewStub(channel);
  uint64_t last = 0;
  for (int i = 0; i < n; ++i) {
    const std::string key = absl::StrCat("k/", (i * 13) % 400);
    grpc::Status s;
    switch (i % 6) {
      case 0: {
        v1::DeleteRequest r;
        r.set_key(key);
        r.set_durability(durability);
        v1::DeleteResponse resp;
        s = kv->Delete(Ctx().get(), r, &resp);
        last = resp.seq();
        break;
      }
      case 1: {
        v1::MergeRequest r;
        r.set_key(absl::StrCat("n/", i % 17));
        r.set_operator_("add");
        r.set_operand("5");
        r.set_durability(durability);
        v1::MergeResponse resp;
        s = kv->Merge(Ctx().get(), r, &resp);
        last = resp.seq();
        break;
      }
      case 2: {
        v1::BatchRequest b;
        b.set_durability(durability);
        auto* p = b.add_ops()->mutable_put();
        p->set_key(key + "/ttl");
        p->set_value(tag);
        p->set_ttl_millis(3'600'000);
        auto* d = b.add_ops()->mutable_delete_range();
        d->set_start(absl::StrCat("k/", i % 40));
        d->set_end(absl::StrCat("k/", i % 40, "0"));
        v1::BatchResponse resp;
        s = kv->Batch(Ctx().get(), b, &resp);
        last = resp.seq();
        break;
      }
      default: {
        v1::PutRequest r;
        r.set_key(key);
        r.set_value(absl::StrCat(tag, "-", i, std::string(i % 300, 'v')));
        r.set_durability(durability);
        v1::PutResponse resp;
        s = kv->Put(Ctx().get(), r, &resp);
        last = resp.seq();
      }
    }
    EXPECT_TRUE(s.ok()) << s.error_message();
    if (!s.ok()) return 0;
  }
  return last;
}

// Every key of a server with its value, revision and expiry, one per line:
// two servers with the same data give the same string. With read_seq, the
// sequence the scan read at; with token, sent as a bearer token.
inline std::string Dump(const std::shared_ptr<grpc::Channel>& channel,
                        uint64_t* read_seq = nullptr,
                        const std::string& token = "") {
  auto kv = v1::KV::NewStub(channel);
  auto ctx = Ctx();
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  auto reader = kv->Scan(ctx.get(), v1::ScanRequest());
  std::string out;
  v1::ScanResponse chunk;
  while (reader->Read(&chunk)) {
    if (read_seq != nullptr) *read_seq = chunk.read_seq();
    for (const auto& e : chunk.kvs()) {
      absl::StrAppend(&out, e.key(), "=", e.value(), "@", e.revision(), "/",
                      e.expires_at_unix_micros(), "\n");
    }
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

}  // namespace cairn::test

#endif  // CAIRN_TESTS_TAIL_TAIL_TEST_UTIL_H_
