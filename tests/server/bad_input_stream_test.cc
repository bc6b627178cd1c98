// The bad-input matrix of cairnd, part 2: Txn streams (their shape, bad
// requests inside them, buffer limits) and the stream limits
// (--max_concurrent_streams, --max_txn_streams). See bad_input_test.cc.
#include <sys/wait.h>

#include <filesystem>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "bad_input_fixture.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;
using v1::Admin;
using v1::KV;

TEST_F(BadInputTest, TxnStreamShape) {
  Baseline();
  v1::TxnRequest empty;
  int answered = -1;
  EXPECT_TRUE(IsError(RunTxn({TGet(K("x"))}, &answered),
                      StatusCode::INVALID_ARGUMENT, "begin"));
  EXPECT_EQ(answered, 0);
  EXPECT_TRUE(IsError(RunTxn({TPut(K("x"), "v")}, &answered),
                      StatusCode::INVALID_ARGUMENT, "begin"));
  EXPECT_TRUE(
      IsError(RunTxn({TCommit()}), StatusCode::INVALID_ARGUMENT, "begin"));
  EXPECT_TRUE(
      IsError(RunTxn({empty}), StatusCode::INVALID_ARGUMENT, "request"));
  // Begin twice: the writes buffered in between are discarded.
  EXPECT_TRUE(
      IsError(RunTxn({TBegin(), TPut(K("x"), "v"), TBegin()}, &answered),
              StatusCode::INVALID_ARGUMENT, "begin"));
  EXPECT_EQ(answered, 2);
  EXPECT_TRUE(IsError(RunTxn({TBegin(), TPut(K("x"), "v"), empty}, &answered),
                      StatusCode::INVALID_ARGUMENT, "request"));
  EXPECT_EQ(answered, 2);
  // The stream is over after an error: a commit sent after it finds no
  // transaction to commit.
  EXPECT_TRUE(IsError(RunTxn({TBegin(), TPut(K("x"), "v"), empty, TCommit()}),
                      StatusCode::INVALID_ARGUMENT, "request"));
  EXPECT_TRUE(IsError(RunTxn({TBegin(UnheldSeq())}),
                      StatusCode::FAILED_PRECONDITION, "begin.snapshot_seq"));
  EXPECT_FALSE(Get(K("x")).found());
  EXPECT_EQ(LastSeq(), base_seq_);
}

TEST_F(BadInputTest, TxnBadOps) {
  Put(K("existing"), "old");
  Baseline();
  struct Case {
    std::string field;
    v1::TxnRequest request;
  };
  std::vector<Case> cases;
  cases.push_back({"get.key", TGet("")});
  cases.push_back({"get.key", TGet(kLongKey)});
  cases.push_back({"put.key", TPut("", "v")});
  cases.push_back({"put.key", TPut(kLongKey, "v")});
  cases.push_back({"put.value", TPut(K("existing"), kLongValue)});
  {
    v1::TxnRequest r = TPut(K("existing"), "v");
    r.mutable_put()->set_ttl_millis(1000);
    r.mutable_put()->set_expires_at_unix_micros(4102444800000000);
    cases.push_back({"put.ttl_millis", r});
  }
  {
    v1::TxnRequest r;
    r.mutable_delete_()->set_key(kLongKey);
    cases.push_back({"delete.key", r});
  }
  {
    v1::TxnRequest r;
    r.mutable_delete_();
    cases.push_back({"delete.key", r});
  }
  {
    v1::TxnRequest r;
    r.mutable_merge()->set_key(K("existing"));
    r.mutable_merge()->set_operator_("mul");
    r.mutable_merge()->set_operand("2");
    cases.push_back({"merge.operator", r});
    r.mutable_merge()->set_operator_("add");
    r.mutable_merge()->set_operand("x");
    cases.push_back({"merge.operand", r});
    r.mutable_merge()->set_operand("1");
    r.mutable_merge()->set_argument(",");
    cases.push_back({"merge.argument", r});
    r.mutable_merge()->clear_argument();
    r.mutable_merge()->set_key(kLongKey);
    cases.push_back({"merge.key", r});
  }
  {
    v1::TxnRequest r;
    r.mutable_scan()->set_prefix(K("p"));
    r.mutable_scan()->set_start(K("a"));
    cases.push_back({"scan.prefix", r});
    r.mutable_scan()->clear_prefix();
    r.mutable_scan()->set_end(K("a"));
    cases.push_back({"scan.end", r});
    r.mutable_scan()->set_start(kLongKey);
    r.mutable_scan()->set_end("");
    cases.push_back({"scan.start", r});
  }
  {
    v1::TxnRequest r = TCommit();
    r.mutable_commit()->set_durability(
        static_cast<v1::Durability>(kUnknownDurability));
    cases.push_back({"commit.durability", r});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    // A good write before the bad request: the error discards it.
    int answered = -1;
    grpc::Status s =
        RunTxn({TBegin(), TPut(K("existing"), "txn"), c.request, TCommit()},
               &answered);
    ExpectRefused(s, StatusCode::INVALID_ARGUMENT, c.field);
    EXPECT_EQ(answered, 2);
    EXPECT_EQ(Get(K("existing")).value(), "old");
  }
}

TEST_F(BadInputTest, TxnBufferLimits) {
  Baseline();
  // --max_batch_ops writes buffer; one more is refused and the stream ends
  // with the transaction rolled back.
  std::vector<v1::TxnRequest> reqs = {TBegin()};
  for (int i = 0; i <= kMaxBatchOps; ++i) {
    reqs.push_back(TPut(K(absl::StrCat("w", i)), "v"));
  }
  reqs.push_back(TCommit());
  int answered = -1;
  ExpectRefused(RunTxn(reqs, &answered), StatusCode::RESOURCE_EXHAUSTED, "");
  EXPECT_EQ(answered, 1 + kMaxBatchOps);
  // Bytes: five 1000-byte values are over --max_batch_bytes.
  reqs = {TBegin()};
  for (int i = 0; i < kMaxBatchOps; ++i) {
    reqs.push_back(TPut(K(absl::StrCat("w", i)), std::string(1000, 'v')));
  }
  reqs.push_back(TCommit());
  ExpectRefused(RunTxn(reqs, &answered), StatusCode::RESOURCE_EXHAUSTED, "");
  EXPECT_EQ(answered, 1 + static_cast<int>(kMaxBatchBytes / 1000));
  for (int i = 0; i <= kMaxBatchOps; ++i) {
    EXPECT_FALSE(Get(K(absl::StrCat("w", i))).found()) << i;
  }
  // Exactly the limit commits.
  reqs = {TBegin()};
  for (int i = 0; i < kMaxBatchOps; ++i) {
    reqs.push_back(TPut(K(absl::StrCat("w", i)), "v"));
  }
  reqs.push_back(TCommit());
  EXPECT_TRUE(RunTxn(reqs).ok());
  EXPECT_TRUE(Get(K("w4")).found());
}

class StreamLimitTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    o.args = {"--durability=async", "--max_concurrent_streams=2",
              "--max_txn_streams=1"};
    auto p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = p->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      absl::Status st = server_->StopCleanly();
      EXPECT_TRUE(st.ok()) << st;
      delete server_;
      server_ = nullptr;
    }
  }

  // Retries `attempt` until it returns OK, for at most 10 s: a stream's slot
  // is freed when the server has finished it, a moment after the client saw
  // its status.
  template <typename Attempt>
  static grpc::Status Eventually(Attempt attempt) {
    absl::Time deadline = absl::Now() + absl::Seconds(10);
    grpc::Status s = attempt();
    while (!s.ok() && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(20));
      s = attempt();
    }
    return s;
  }

  static CairndProcess* server_;
};

CairndProcess* StreamLimitTest::server_ = nullptr;

TEST_F(StreamLimitTest, TooManyStreamsAreRefusedAndSlotsComeBack) {
  auto channel = server_->Channel();
  auto kv = KV::NewStub(channel);
  // Data for a scan that cannot finish while its client does not read.
  constexpr int kBigValues = 8;
  for (int i = 0; i < kBigValues; ++i) {
    v1::PutRequest p;
    p.set_key(absl::StrCat("big/", i));
    p.set_value(std::string(1 << 20, 'x'));
    v1::PutResponse pr;
    ASSERT_TRUE(kv->Put(Ctx().get(), p, &pr).ok());
  }
  v1::PutRequest p;
  p.set_key("small/1");
  p.set_value("v");
  v1::PutResponse pr;
  ASSERT_TRUE(kv->Put(Ctx().get(), p, &pr).ok());
  v1::ScanRequest small;
  small.set_prefix("small/");
  auto scan_small = [&]() {
    auto ctx = Ctx();
    auto reader = kv->Scan(ctx.get(), small);
    v1::ScanResponse chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  };

  // Txn A, begun: holds the only txn slot and one of two stream slots.
  TxnStream a(kv.get());
  v1::TxnResponse begun;
  ASSERT_TRUE(a.Send(TBegin(), &begun));
  ASSERT_TRUE(begun.has_begun());

  // A second txn is refused.
  {
    TxnStream b(kv.get());
    EXPECT_FALSE(b.Send(TBegin()));
    grpc::Status s = b.Finish();
    EXPECT_TRUE(IsError(s, StatusCode::RESOURCE_EXHAUSTED, ""));
    EXPECT_TRUE(absl::StrContains(s.error_message(), "max_txn_streams"))
        << s.error_message();
  }
  // One scan still fits.
  EXPECT_TRUE(scan_small().ok());

  // A scan whose client reads one chunk and then stops: the rest cannot
  // pass HTTP/2 flow control, so the stream stays open. The channel has a
  // small window and no BDP probing, so it cannot grow meanwhile.
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_HTTP2_BDP_PROBE, 0);
  args.SetInt(GRPC_ARG_HTTP2_STREAM_LOOKAHEAD_BYTES, 64 << 10);
  auto slow_channel = grpc::CreateCustomChannel(
      server_->address(), grpc::InsecureChannelCredentials(), args);
  auto slow_kv = KV::NewStub(slow_channel);
  v1::ScanRequest big;
  big.set_prefix("big/");
  // The small scan's slot is released when the server's side of it is done,
  // which may trail the client's Finish by a moment: retry (bounded).
  std::unique_ptr<grpc::ClientContext> held_ctx;
  std::unique_ptr<grpc::ClientReader<v1::ScanResponse>> held;
  v1::ScanResponse first;
  bool started = false;
  for (absl::Time until = absl::Now() + absl::Seconds(10);
       !started && absl::Now() < until;) {
    held_ctx = Ctx();
    held = slow_kv->Scan(held_ctx.get(), big);
    started = held->Read(&first);
    if (!started) {
      EXPECT_EQ(held->Finish().error_code(), StatusCode::RESOURCE_EXHAUSTED);
      absl::SleepFor(absl::Milliseconds(10));
    }
  }
  ASSERT_TRUE(started);  // the server has started the scan

  // Two streams are open: a scan and a txn beyond the total are refused.
  grpc::Status s = scan_small();
  EXPECT_TRUE(IsError(s, StatusCode::RESOURCE_EXHAUSTED, ""));
  EXPECT_TRUE(absl::StrContains(s.error_message(), "max_concurrent_streams"))
      << s.error_message();
  {
    TxnStream b(kv.get());
    EXPECT_FALSE(b.Send(TBegin()));
    EXPECT_TRUE(IsError(b.Finish(), StatusCode::RESOURCE_EXHAUSTED, ""));
  }
  // Unary calls do not count against the stream limits.
  v1::GetRequest g;
  g.set_key("small/1");
  v1::GetResponse gr;
  EXPECT_TRUE(kv->Get(Ctx().get(), g, &gr).ok());

  // Ending txn A frees its slot: first a scan, then a txn fit again.
  EXPECT_TRUE(a.Finish().ok());
  EXPECT_TRUE(Eventually(scan_small).ok());
  grpc::Status cs = Eventually([&]() -> grpc::Status {
    TxnStream t(kv.get());
    t.Send(TBegin());
    return t.Finish();
  });
  EXPECT_TRUE(cs.ok()) << cs.error_message();

  // Ending the held scan frees the last slot.
  held_ctx->TryCancel();
  v1::ScanResponse rest;
  while (held->Read(&rest)) {
  }
  EXPECT_EQ(held->Finish().error_code(), StatusCode::CANCELLED);
  auto txn_and_scan = [&]() -> grpc::Status {
    TxnStream t(kv.get());
    if (!t.Send(TBegin())) return t.Finish();
    grpc::Status ss = scan_small();  // the second of two slots
    grpc::Status ts = t.Finish();
    return ss.ok() ? ts : ss;
  };
  EXPECT_TRUE(Eventually(txn_and_scan).ok());
}

}  // namespace
}  // namespace cairn::test
