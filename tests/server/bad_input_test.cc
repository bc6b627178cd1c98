// The bad-input matrix of cairnd, part 1: the unary KV RPCs and Batch. Every
// RPC is sent input that the contract in proto/cairn/v1 refuses (empty and
// oversize keys, oversize values, too many ops or keys, too many bytes, unknown
// enum values, conflicting fields, malformed merges, broken Txn streams,
// snapshots that are not held, bad checkpoint dirs, too many streams, messages
// over
// --max_message_bytes). Each case checks the exact status code, that the
// message names the offending field as the request spells it ("field: why"),
// and that a refused write changed nothing (Stats.last_seq and the keys).
//
// The server runs with small limits so that every message stays small:
// --max_batch_ops=5 --max_batch_bytes=4KiB --max_key_bytes=64
// --max_value_bytes=1KiB --max_message_bytes=64KiB --max_snapshots=3
// (bad_input_fixture.h). Part 2: bad_input_stream_test.cc (Txn, stream
// limits); part 3: bad_input_admin_test.cc.
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

}  // namespace
}  // namespace cairn::test
