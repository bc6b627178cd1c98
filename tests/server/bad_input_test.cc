// The bad-input matrix of cairnd: every KV and Admin RPC is sent input that
// the contract in proto/cairn/v1 refuses (empty and oversize keys, oversize
// values, too many ops or keys, too many bytes, unknown enum values,
// conflicting fields, malformed merges, broken Txn streams, snapshots that
// are not held, bad checkpoint dirs, too many streams, messages over
// --max_message_bytes). Each case checks the exact status code, that the
// message names the offending field as the request spells it ("field: why"),
// and that a refused write changed nothing (Stats.last_seq and the keys).
//
// The server runs with small limits so that every message stays small:
// --max_batch_ops=5 --max_batch_bytes=4KiB --max_key_bytes=64
// --max_value_bytes=1KiB --max_message_bytes=64KiB --max_snapshots=3.
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
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "grpcpp/generic/generic_stub.h"
#include "grpcpp/support/byte_buffer.h"
#include "gtest/gtest.h"
#include "txn_stream.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;
using v1::Admin;
using v1::KV;

constexpr int kMaxBatchOps = 5;
constexpr size_t kMaxBatchBytes = 4096;
constexpr size_t kMaxKeyBytes = 64;
constexpr size_t kMaxValueBytes = 1024;
constexpr size_t kMaxMessageBytes = 64 << 10;
constexpr int kMaxSnapshots = 3;
// Not a value of cairn.v1.Durability.
constexpr int kUnknownDurability = 7;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(30)));
  return c;
}

// `status` has `code` and a message of the form "<field>: why" (the field as
// the request spells it). An empty `field` checks the code only.
::testing::AssertionResult IsError(const grpc::Status& status, StatusCode code,
                                   const std::string& field) {
  if (status.error_code() != code) {
    return ::testing::AssertionFailure()
           << "code " << status.error_code() << " (want " << code
           << "), message: '" << status.error_message() << "'";
  }
  if (!field.empty() &&
      !absl::StartsWith(status.error_message(), absl::StrCat(field, ": "))) {
    return ::testing::AssertionFailure()
           << "message '" << status.error_message()
           << "' does not name the field '" << field << "'";
  }
  return ::testing::AssertionSuccess();
}

class BadInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    o.args = {"--durability=async",
              absl::StrCat("--max_batch_ops=", kMaxBatchOps),
              "--max_batch_bytes=4KiB", "--max_key_bytes=64",
              "--max_value_bytes=1KiB", "--max_message_bytes=64KiB",
              // Must be at most half of --max_message_bytes.
              "--scan_chunk_bytes=16KiB",
              absl::StrCat("--max_snapshots=", kMaxSnapshots),
              "--snapshot_max_ttl=10m"};
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
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    channel_ = server_->Channel();
    kv_ = KV::NewStub(channel_);
    admin_ = Admin::NewStub(channel_);
    // Short, so that keys built on it stay under --max_key_bytes.
    std::string name =
        ::testing::UnitTest::GetInstance()->current_test_info()->name();
    prefix_ = absl::StrCat(name.substr(0, 24), "/");
  }

  std::string K(const std::string& k) const { return prefix_ + k; }

  uint64_t LastSeq() {
    v1::StatsResponse st;
    grpc::Status s = admin_->Stats(Ctx().get(), v1::StatsRequest(), &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st.last_seq();
  }

  uint64_t Put(const std::string& key, const std::string& value) {
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    v1::PutResponse resp;
    grpc::Status s = kv_->Put(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.seq();
  }

  v1::GetResponse Get(const std::string& key) {
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    grpc::Status s = kv_->Get(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  // Remembers the state a refused write must leave alone.
  void Baseline() { base_seq_ = LastSeq(); }
  // The write was refused with `code` naming `field`, and nothing changed.
  void ExpectRefused(const grpc::Status& s, StatusCode code,
                     const std::string& field) {
    EXPECT_TRUE(IsError(s, code, field));
    EXPECT_EQ(LastSeq(), base_seq_)
        << "a refused write changed last_seq (" << field << ")";
  }

  grpc::Status ScanStatus(const v1::ScanRequest& req, int* chunks = nullptr) {
    auto ctx = Ctx();
    auto reader = kv_->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    int n = 0;
    while (reader->Read(&chunk)) ++n;
    if (chunks != nullptr) *chunks = n;
    return reader->Finish();
  }

  // Runs `requests` on a new Txn stream; returns the stream's status and
  // how many requests were answered before it ended.
  grpc::Status RunTxn(const std::vector<v1::TxnRequest>& requests,
                      int* answered = nullptr) {
    TxnStream t(kv_.get());
    int n = 0;
    for (const auto& r : requests) {
      if (!t.Send(r)) break;
      ++n;
    }
    if (answered != nullptr) *answered = n;
    return t.Finish();
  }

  // A snapshot seq that is not held (nothing was ever acquired at it).
  uint64_t UnheldSeq() { return LastSeq() + 1000000; }

  static CairndProcess* server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<KV::Stub> kv_;
  std::unique_ptr<Admin::Stub> admin_;
  std::string prefix_;
  uint64_t base_seq_ = 0;
};

CairndProcess* BadInputTest::server_ = nullptr;

const std::string kLongKey(kMaxKeyBytes + 1, 'k');
const std::string kLongValue(kMaxValueBytes + 1, 'v');

TEST_F(BadInputTest, LimitsAreInclusive) {
  // The largest key and value are accepted: the refusals below are exactly
  // one byte over.
  std::string key = K(std::string(kMaxKeyBytes - prefix_.size(), 'x'));
  ASSERT_EQ(key.size(), kMaxKeyBytes);
  Put(key, std::string(kMaxValueBytes, 'v'));
  EXPECT_EQ(Get(key).value().size(), kMaxValueBytes);
  v1::MultiGetRequest mg;
  for (int i = 0; i < kMaxBatchOps; ++i) mg.add_keys(K(absl::StrCat(i)));
  v1::MultiGetResponse mgr;
  EXPECT_TRUE(kv_->MultiGet(Ctx().get(), mg, &mgr).ok());
}

TEST_F(BadInputTest, Get) {
  v1::GetResponse resp;
  v1::GetRequest req;
  EXPECT_TRUE(IsError(kv_->Get(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "key"));
  req.set_key(kLongKey);
  EXPECT_TRUE(IsError(kv_->Get(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "key"));
  req.set_key(K("a"));
  req.set_snapshot_seq(UnheldSeq());
  EXPECT_TRUE(IsError(kv_->Get(Ctx().get(), req, &resp),
                      StatusCode::FAILED_PRECONDITION, "snapshot_seq"));
}

TEST_F(BadInputTest, MultiGet) {
  v1::MultiGetResponse resp;
  v1::MultiGetRequest req;
  for (int i = 0; i <= kMaxBatchOps; ++i) req.add_keys(K(absl::StrCat(i)));
  EXPECT_TRUE(IsError(kv_->MultiGet(Ctx().get(), req, &resp),
                      StatusCode::RESOURCE_EXHAUSTED, "keys"));
  req.Clear();
  req.add_keys(K("a"));
  req.add_keys("");
  EXPECT_TRUE(IsError(kv_->MultiGet(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "keys[1]"));
  req.set_keys(1, kLongKey);
  EXPECT_TRUE(IsError(kv_->MultiGet(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "keys[1]"));
  req.set_keys(1, K("b"));
  req.set_snapshot_seq(UnheldSeq());
  EXPECT_TRUE(IsError(kv_->MultiGet(Ctx().get(), req, &resp),
                      StatusCode::FAILED_PRECONDITION, "snapshot_seq"));
}

TEST_F(BadInputTest, Scan) {
  v1::ScanRequest req;
  req.set_prefix(K("p"));
  req.set_start(K("a"));
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "prefix"));
  req.clear_start();
  req.set_end(K("z"));
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "prefix"));
  req.Clear();
  req.set_start(K("b"));
  req.set_end(K("a"));
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "end"));
  req.set_end(K("b"));  // start == end: empty ranges are refused too
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "end"));
  req.Clear();
  req.set_start(kLongKey);
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "start"));
  req.Clear();
  req.set_end(kLongKey);
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "end"));
  req.Clear();
  req.set_prefix(kLongKey);
  EXPECT_TRUE(IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "prefix"));
  req.Clear();
  req.set_prefix(K(""));
  req.set_snapshot_seq(UnheldSeq());
  int chunks = -1;
  EXPECT_TRUE(IsError(ScanStatus(req, &chunks), StatusCode::FAILED_PRECONDITION,
                      "snapshot_seq"));
  EXPECT_EQ(chunks, 0);  // refused before any chunk
}

TEST_F(BadInputTest, Put) {
  Put(K("existing"), "old");
  Baseline();
  v1::PutResponse resp;
  auto put = [&](const std::string& key, const std::string& value) {
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    return req;
  };
  ExpectRefused(kv_->Put(Ctx().get(), put("", "v"), &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  ExpectRefused(kv_->Put(Ctx().get(), put(kLongKey, "v"), &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  ExpectRefused(kv_->Put(Ctx().get(), put(K("existing"), kLongValue), &resp),
                StatusCode::INVALID_ARGUMENT, "value");
  v1::PutRequest both = put(K("existing"), "new");
  both.set_ttl_millis(1000);
  both.set_expires_at_unix_micros(4102444800000000);
  ExpectRefused(kv_->Put(Ctx().get(), both, &resp),
                StatusCode::INVALID_ARGUMENT, "ttl_millis");
  v1::PutRequest forever = put(K("existing"), "new");
  forever.set_ttl_millis(UINT64_MAX);  // would overflow the expiry
  ExpectRefused(kv_->Put(Ctx().get(), forever, &resp),
                StatusCode::INVALID_ARGUMENT, "ttl_millis");
  v1::PutRequest dur = put(K("existing"), "new");
  dur.set_durability(static_cast<v1::Durability>(kUnknownDurability));
  ExpectRefused(kv_->Put(Ctx().get(), dur, &resp), StatusCode::INVALID_ARGUMENT,
                "durability");
  v1::GetResponse g = Get(K("existing"));
  EXPECT_EQ(g.value(), "old");
  EXPECT_EQ(g.expires_at_unix_micros(), 0u);
}

TEST_F(BadInputTest, MessageOverMaxMessageBytes) {
  // gRPC itself refuses a request over --max_message_bytes, before the
  // handler sees it.
  Baseline();
  v1::PutRequest req;
  req.set_key(K("big"));
  req.set_value(std::string(kMaxMessageBytes + 1024, 'b'));
  v1::PutResponse resp;
  ExpectRefused(kv_->Put(Ctx().get(), req, &resp),
                StatusCode::RESOURCE_EXHAUSTED, "");
  v1::BatchRequest b;
  for (int i = 0; i < 100; ++i) {
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K(absl::StrCat("b", i)));
    p->set_value(std::string(kMaxValueBytes, 'b'));
  }
  ASSERT_GT(b.ByteSizeLong(), kMaxMessageBytes);
  v1::BatchResponse br;
  ExpectRefused(kv_->Batch(Ctx().get(), b, &br), StatusCode::RESOURCE_EXHAUSTED,
                "");
  EXPECT_FALSE(Get(K("big")).found());
  EXPECT_FALSE(Get(K("b0")).found());
  // The connection is still good for the next call.
  Put(K("small"), "ok");
}

TEST_F(BadInputTest, MalformedProtobufBodyWritesNothing) {
  // Bytes that do not parse as the request message: the call fails (the
  // contract names no code for it) and nothing is written.
  Baseline();
  grpc::TemplatedGenericStub<grpc::ByteBuffer, grpc::ByteBuffer> stub(channel_);
  // Field 1 (key) as a length-delimited field claiming 100 bytes, then 2.
  const char garbage[] = "\x0a\x64\x41\x42";
  grpc::Slice slice(garbage, sizeof(garbage) - 1);
  grpc::ByteBuffer request(&slice, 1);
  for (const char* method : {"/cairn.v1.KV/Put", "/cairn.v1.Admin/Flush"}) {
    grpc::ByteBuffer response;
    auto ctx = Ctx();
    std::promise<grpc::Status> done;
    stub.UnaryCall(ctx.get(), method, grpc::StubOptions(), &request, &response,
                   [&done](grpc::Status s) { done.set_value(s); });
    std::future<grpc::Status> f = done.get_future();
    ASSERT_EQ(f.wait_for(std::chrono::seconds(30)), std::future_status::ready);
    grpc::Status s = f.get();
    EXPECT_FALSE(s.ok()) << method;
    EXPECT_NE(s.error_code(), StatusCode::UNKNOWN) << method;
    EXPECT_EQ(LastSeq(), base_seq_) << method;
  }
}

TEST_F(BadInputTest, Delete) {
  Put(K("existing"), "old");
  Baseline();
  v1::DeleteResponse resp;
  v1::DeleteRequest req;
  ExpectRefused(kv_->Delete(Ctx().get(), req, &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  req.set_key(kLongKey);
  ExpectRefused(kv_->Delete(Ctx().get(), req, &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  req.set_key(K("existing"));
  req.set_durability(static_cast<v1::Durability>(kUnknownDurability));
  ExpectRefused(kv_->Delete(Ctx().get(), req, &resp),
                StatusCode::INVALID_ARGUMENT, "durability");
  EXPECT_EQ(Get(K("existing")).value(), "old");
}

TEST_F(BadInputTest, DeleteRange) {
  Put(K("a"), "1");
  Put(K("b"), "2");
  Baseline();
  v1::DeleteRangeResponse resp;
  auto range = [&](const std::string& start, const std::string& end) {
    v1::DeleteRangeRequest r;
    r.set_start(start);
    r.set_end(end);
    return r;
  };
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range("", K("z")), &resp),
                StatusCode::INVALID_ARGUMENT, "start");
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range(K("a"), ""), &resp),
                StatusCode::INVALID_ARGUMENT, "end");
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range(K("a"), K("a")), &resp),
                StatusCode::INVALID_ARGUMENT, "end");
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range(K("c"), K("a")), &resp),
                StatusCode::INVALID_ARGUMENT, "end");
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range(kLongKey, K("z")), &resp),
                StatusCode::INVALID_ARGUMENT, "start");
  ExpectRefused(kv_->DeleteRange(Ctx().get(), range(K("a"), kLongKey), &resp),
                StatusCode::INVALID_ARGUMENT, "end");
  v1::DeleteRangeRequest dur = range(K("a"), K("c"));
  dur.set_durability(static_cast<v1::Durability>(kUnknownDurability));
  ExpectRefused(kv_->DeleteRange(Ctx().get(), dur, &resp),
                StatusCode::INVALID_ARGUMENT, "durability");
  EXPECT_EQ(Get(K("a")).value(), "1");
  EXPECT_EQ(Get(K("b")).value(), "2");
}

TEST_F(BadInputTest, Merge) {
  Put(K("n"), "5");
  Baseline();
  v1::MergeResponse resp;
  auto merge = [&](const std::string& key, const std::string& op,
                   const std::string& operand, const std::string& arg = "") {
    v1::MergeRequest m;
    m.set_key(key);
    m.set_operator_(op);
    m.set_operand(operand);
    m.set_argument(arg);
    return m;
  };
  ExpectRefused(kv_->Merge(Ctx().get(), merge("", "add", "1"), &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  ExpectRefused(kv_->Merge(Ctx().get(), merge(kLongKey, "add", "1"), &resp),
                StatusCode::INVALID_ARGUMENT, "key");
  ExpectRefused(kv_->Merge(Ctx().get(), merge(K("n"), "mul", "2"), &resp),
                StatusCode::INVALID_ARGUMENT, "operator");
  ExpectRefused(kv_->Merge(Ctx().get(), merge(K("n"), "", "2"), &resp),
                StatusCode::INVALID_ARGUMENT, "operator");
  for (const char* bad :
       {"x", "", "+1", "01", "-0", "1.5", "9223372036854775808"}) {
    ExpectRefused(kv_->Merge(Ctx().get(), merge(K("n"), "add", bad), &resp),
                  StatusCode::INVALID_ARGUMENT, "operand");
  }
  ExpectRefused(kv_->Merge(Ctx().get(), merge(K("n"), "max", "x"), &resp),
                StatusCode::INVALID_ARGUMENT, "operand");
  ExpectRefused(
      kv_->Merge(Ctx().get(), merge(K("n"), "append", kLongValue), &resp),
      StatusCode::INVALID_ARGUMENT, "operand");
  // types.proto: the argument "must be empty for the numeric operators".
  ExpectRefused(kv_->Merge(Ctx().get(), merge(K("n"), "add", "1", ","), &resp),
                StatusCode::INVALID_ARGUMENT, "argument");
  v1::MergeRequest dur = merge(K("n"), "add", "1");
  dur.set_durability(static_cast<v1::Durability>(kUnknownDurability));
  ExpectRefused(kv_->Merge(Ctx().get(), dur, &resp),
                StatusCode::INVALID_ARGUMENT, "durability");
  EXPECT_EQ(Get(K("n")).value(), "5");
}

TEST_F(BadInputTest, BatchCountsAndBytes) {
  Baseline();
  v1::BatchResponse resp;
  v1::BatchRequest b;
  for (int i = 0; i <= kMaxBatchOps; ++i) {
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K(absl::StrCat("o", i)));
    p->set_value("v");
  }
  ExpectRefused(kv_->Batch(Ctx().get(), b, &resp),
                StatusCode::RESOURCE_EXHAUSTED, "ops");
  b.Clear();
  b.add_ops()->mutable_put()->set_key(K("o0"));
  for (int i = 0; i <= kMaxBatchOps; ++i) {
    auto* c = b.add_conditions();
    c->set_kind(v1::Condition::ABSENT);
    c->set_key(K(absl::StrCat("c", i)));
  }
  ExpectRefused(kv_->Batch(Ctx().get(), b, &resp),
                StatusCode::RESOURCE_EXHAUSTED, "conditions");
  // Five ops of 1000-byte values: each fits, together over 4KiB.
  b.Clear();
  for (int i = 0; i < kMaxBatchOps; ++i) {
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K(absl::StrCat("o", i)));
    p->set_value(std::string(1000, 'v'));
  }
  ASSERT_GT(kMaxBatchOps * 1000u, kMaxBatchBytes);
  ExpectRefused(kv_->Batch(Ctx().get(), b, &resp),
                StatusCode::RESOURCE_EXHAUSTED, "ops");
  for (int i = 0; i <= kMaxBatchOps; ++i) {
    EXPECT_FALSE(Get(K(absl::StrCat("o", i))).found()) << i;
  }
  ExpectRefused(kv_->Batch(Ctx().get(), v1::BatchRequest(), &resp),
                StatusCode::INVALID_ARGUMENT, "ops");
}

TEST_F(BadInputTest, BatchBadOpsWriteNothing) {
  Put(K("existing"), "old");
  // Every batch starts with a valid put of "fresh" and a valid condition;
  // the bad op or condition must keep them from being applied.
  auto batch = [&]() {
    v1::BatchRequest b;
    auto* c = b.add_conditions();
    c->set_kind(v1::Condition::EXISTS);
    c->set_key(K("existing"));
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K("fresh"));
    p->set_value("new");
    return b;
  };
  Baseline();
  v1::BatchResponse resp;
  struct Case {
    std::string field;
    StatusCode code;
    v1::BatchRequest request;
  };
  std::vector<Case> cases;
  {
    v1::BatchRequest b = batch();
    b.add_ops();  // nothing set
    cases.push_back({"ops[1]", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_ops()->mutable_put()->set_value("v");
    cases.push_back({"ops[1].put.key", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_ops()->mutable_put()->set_key(kLongKey);
    cases.push_back({"ops[1].put.key", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K("existing"));
    p->set_value(kLongValue);
    cases.push_back({"ops[1].put.value", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K("existing"));
    p->set_ttl_millis(1000);
    p->set_expires_at_unix_micros(4102444800000000);
    cases.push_back({"ops[1].put.ttl_millis", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_ops()->mutable_delete_();
    cases.push_back({"ops[1].delete.key", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_ops()->mutable_delete_()->set_key(kLongKey);
    cases.push_back({"ops[1].delete.key", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_ops()->mutable_delete_range()->set_end(K("z"));
    cases.push_back(
        {"ops[1].delete_range.start", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* r = b.add_ops()->mutable_delete_range();
    r->set_start(K("z"));
    r->set_end(K("a"));
    cases.push_back(
        {"ops[1].delete_range.end", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* m = b.add_ops()->mutable_merge();
    m->set_key(K("existing"));
    m->set_operator_("concat");
    m->set_operand("x");
    cases.push_back({"ops[1].merge.operator", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* m = b.add_ops()->mutable_merge();
    m->set_key(K("existing"));
    m->set_operator_("add");
    m->set_operand("x");
    cases.push_back({"ops[1].merge.operand", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* m = b.add_ops()->mutable_merge();
    m->set_key(K("existing"));
    m->set_operator_("add");
    m->set_operand("1");
    m->set_argument(",");
    cases.push_back({"ops[1].merge.argument", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* m = b.add_ops()->mutable_merge();
    m->set_operator_("add");
    m->set_operand("1");
    cases.push_back({"ops[1].merge.key", StatusCode::INVALID_ARGUMENT, b});
  }
  for (int kind : {0, 9}) {
    v1::BatchRequest b = batch();
    auto* c = b.add_conditions();
    c->set_kind(static_cast<v1::Condition::Kind>(kind));
    c->set_key(K("existing"));
    cases.push_back({"conditions[1].kind", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.add_conditions()->set_kind(v1::Condition::EXISTS);
    cases.push_back({"conditions[1].key", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    auto* c = b.add_conditions();
    c->set_kind(v1::Condition::VALUE_EQUALS);
    c->set_key(K("existing"));
    c->set_value(kLongValue);
    cases.push_back({"conditions[1].value", StatusCode::INVALID_ARGUMENT, b});
  }
  {
    v1::BatchRequest b = batch();
    b.set_durability(static_cast<v1::Durability>(kUnknownDurability));
    cases.push_back({"durability", StatusCode::INVALID_ARGUMENT, b});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    ExpectRefused(kv_->Batch(Ctx().get(), c.request, &resp), c.code, c.field);
    EXPECT_FALSE(Get(K("fresh")).found());
    EXPECT_EQ(Get(K("existing")).value(), "old");
  }
  // The same batch without the bad part goes through.
  ASSERT_TRUE(kv_->Batch(Ctx().get(), batch(), &resp).ok());
  EXPECT_TRUE(resp.succeeded());
  EXPECT_TRUE(Get(K("fresh")).found());
}

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

TEST_F(BadInputTest, AdminCompact) {
  v1::CompactResponse resp;
  v1::CompactRequest req;
  req.set_start("b");
  req.set_end("a");
  EXPECT_TRUE(IsError(admin_->Compact(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "end"));
  req.set_end("b");
  EXPECT_TRUE(IsError(admin_->Compact(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "end"));
  // One side open is fine.
  req.clear_start();
  EXPECT_TRUE(admin_->Compact(Ctx().get(), req, &resp).ok());
}

TEST_F(BadInputTest, AdminFlushHasNoBadInput) {
  // FlushRequest has only a bool; both values are valid. (A body that does
  // not parse is covered by MalformedProtobufBodyWritesNothing.)
  v1::FlushResponse resp;
  v1::FlushRequest req;
  EXPECT_TRUE(admin_->Flush(Ctx().get(), req, &resp).ok());
  req.set_no_wait(true);
  EXPECT_TRUE(admin_->Flush(Ctx().get(), req, &resp).ok());
}

TEST_F(BadInputTest, AdminCheckpoint) {
  v1::CheckpointResponse resp;
  v1::CheckpointRequest req;
  EXPECT_TRUE(IsError(admin_->Checkpoint(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "dir"));
  req.set_dir("relative/ckpt");
  EXPECT_TRUE(IsError(admin_->Checkpoint(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "dir"));
  EXPECT_FALSE(std::filesystem::exists(
      std::filesystem::path(server_->data_dir()) / "relative"));
  req.set_dir(std::string("/tmp/a\0b", 8));
  EXPECT_TRUE(IsError(admin_->Checkpoint(Ctx().get(), req, &resp),
                      StatusCode::INVALID_ARGUMENT, "dir"));
  std::string existing = MakeTempDir("cairn-bad-ckpt-");
  ASSERT_FALSE(existing.empty());
  WriteFile(existing + "/keep", "mine");
  req.set_dir(existing);
  EXPECT_TRUE(IsError(admin_->Checkpoint(Ctx().get(), req, &resp),
                      StatusCode::ALREADY_EXISTS, "dir"));
  // The existing directory is left as it was.
  int entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(existing)) {
    ++entries;
  }
  EXPECT_EQ(entries, 1);
  std::filesystem::remove_all(existing);
}

TEST_F(BadInputTest, AdminSnapshots) {
  v1::ReleaseSnapshotResponse rr;
  v1::ReleaseSnapshotRequest rel;
  EXPECT_TRUE(IsError(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr),
                      StatusCode::INVALID_ARGUMENT, "seq"));
  rel.set_seq(UnheldSeq());
  EXPECT_TRUE(IsError(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr),
                      StatusCode::NOT_FOUND, "seq"));
  // A TTL beyond --snapshot_max_ttl (10m) is capped, not refused.
  v1::AcquireSnapshotRequest acq;
  acq.set_ttl_millis(UINT64_MAX / 2);
  v1::AcquireSnapshotResponse ar;
  std::vector<uint64_t> held;
  // A write first: on an empty database the snapshot would be at seq 0 (see
  // SnapshotOnEmptyDatabaseIsRefused).
  Put(K("s0"), "v");
  ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &ar).ok());
  held.push_back(ar.seq());
  EXPECT_LE(ar.expires_at_unix_micros(),
            static_cast<uint64_t>(
                absl::ToUnixMicros(absl::Now() + absl::Minutes(10))));
  // --max_snapshots are held at most; more is RESOURCE_EXHAUSTED.
  acq.set_ttl_millis(60000);
  for (int i = 1; i < kMaxSnapshots; ++i) {
    Put(K(absl::StrCat("s", i)), "v");  // a new sequence for each snapshot
    ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &ar).ok());
    held.push_back(ar.seq());
  }
  grpc::Status s = admin_->AcquireSnapshot(Ctx().get(), acq, &ar);
  EXPECT_TRUE(IsError(s, StatusCode::RESOURCE_EXHAUSTED, ""));
  EXPECT_TRUE(absl::StrContains(s.error_message(), "max_snapshots"))
      << s.error_message();
  for (uint64_t seq : held) {
    rel.set_seq(seq);
    EXPECT_TRUE(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr).ok());
  }
  // Released: reads at it are refused; releasing again is NOT_FOUND.
  EXPECT_TRUE(IsError(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr),
                      StatusCode::NOT_FOUND, "seq"));
  v1::GetRequest g;
  g.set_key(K("s1"));
  g.set_snapshot_seq(held.back());
  v1::GetResponse gr;
  EXPECT_TRUE(IsError(kv_->Get(Ctx().get(), g, &gr),
                      StatusCode::FAILED_PRECONDITION, "snapshot_seq"));
  EXPECT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &ar).ok());
  rel.set_seq(ar.seq());
  EXPECT_TRUE(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr).ok());
}

TEST(SnapshotEdgeTest, SnapshotOnEmptyDatabaseIsRefused) {
  // On a fresh database the current sequence is 0, which snapshot_seq reads
  // as "latest": such a snapshot could be neither used nor released, so
  // acquiring one is refused until something is written.
  auto started = CairndProcess::Start(CairndOptions{});
  ASSERT_TRUE(started.ok()) << started.status();
  auto admin = Admin::NewStub((*started)->Channel());
  auto kv = KV::NewStub((*started)->Channel());
  v1::AcquireSnapshotResponse ar;
  grpc::Status s =
      admin->AcquireSnapshot(Ctx().get(), v1::AcquireSnapshotRequest(), &ar);
  EXPECT_EQ(s.error_code(), StatusCode::FAILED_PRECONDITION)
      << s.error_message();
  v1::PutRequest p;
  p.set_key("k");
  v1::PutResponse pr;
  ASSERT_TRUE(kv->Put(Ctx().get(), p, &pr).ok());
  ASSERT_TRUE(
      admin->AcquireSnapshot(Ctx().get(), v1::AcquireSnapshotRequest(), &ar)
          .ok());
  EXPECT_EQ(ar.seq(), pr.seq());
  v1::ReleaseSnapshotRequest rel;
  rel.set_seq(ar.seq());
  v1::ReleaseSnapshotResponse rr;
  EXPECT_TRUE(admin->ReleaseSnapshot(Ctx().get(), rel, &rr).ok());
  auto st = (*started)->Stop();
  EXPECT_TRUE(st.ok() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0);
}

TEST_F(BadInputTest, TwoSnapshotsAtOneSeqAreTwoHolds) {
  // Two clients acquiring while no write lands get the same seq. Each holds
  // it until its own release (ARCHITECTURE.md: two snapshots at the same
  // sequence must not collapse into one registration).
  Put(K("v"), "1");
  v1::AcquireSnapshotRequest acq;
  acq.set_ttl_millis(60000);
  v1::AcquireSnapshotResponse a1, a2;
  ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &a1).ok());
  ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &a2).ok());
  ASSERT_EQ(a1.seq(), a2.seq()) << "a write landed in between; rerun";
  v1::ReleaseSnapshotRequest rel;
  rel.set_seq(a1.seq());
  v1::ReleaseSnapshotResponse rr;
  ASSERT_TRUE(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr).ok());
  // The second hold is still there.
  v1::GetRequest g;
  g.set_key(K("v"));
  g.set_snapshot_seq(a2.seq());
  v1::GetResponse gr;
  grpc::Status s = kv_->Get(Ctx().get(), g, &gr);
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr).ok());
  EXPECT_TRUE(IsError(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr),
                      StatusCode::NOT_FOUND, "seq"));
}

// --max_concurrent_streams=2 --max_txn_streams=1, on a server of its own so
// that no other test's streams count.
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
