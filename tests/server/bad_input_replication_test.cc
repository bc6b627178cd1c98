// The bad-input matrix of cairnd, part 4: the Replication RPCs (Tail, Ack,
// ListConsumers, DropConsumer), malformed UTF-8 in the proto3 `string`
// fields (merge operator names, consumer names, checkpoint dirs), enum values
// the server does not know sent as raw numbers, unknown fields, and huge
// limits and sequences. Every refused call changes nothing: Stats.last_seq,
// the named consumers and their acknowledged sequences, and the keys are
// checked after it. See bad_input_test.cc.
#include <filesystem>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bad_input_fixture.h"
#include "gtest/gtest.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Eight bytes that are not UTF-8 (a lone continuation byte, 0xff, a
// truncated two-byte sequence), and a placeholder of the same length that
// RawWithBadUtf8 replaces with them in a serialized request.
const std::string kBadUtf8("n\x80\xff\xc3(xyz", 8);
constexpr char kPlaceholder[] = "PLACEHLD";

// `request` serialized, with the placeholder (which a string field holds)
// replaced by kBadUtf8: the bytes a client that does not check UTF-8 sends.
template <typename Message>
std::string RawWithBadUtf8(const Message& request) {
  std::string body = request.SerializeAsString();
  const size_t at = body.find(kPlaceholder);
  EXPECT_NE(at, std::string::npos);
  if (at != std::string::npos) body.replace(at, kBadUtf8.size(), kBadUtf8);
  return body;
}

// A request whose proto3 `string` field is not UTF-8 does not parse on the
// server (protobuf checks UTF-8 for proto3 strings). gRPC (1.51, callback
// API) then ends a unary or server-streaming call with UNIMPLEMENTED and an
// empty message before cairnd's handler runs; cairnd cannot name the field.
::testing::AssertionResult IsUnparsable(const grpc::Status& s) {
  return IsError(s, StatusCode::UNIMPLEMENTED, "");
}

v1::TailRequest TailFrom(uint64_t seq) {
  v1::TailRequest r;
  r.set_from_seq(seq);
  return r;
}

TEST_F(BadInputTest, TailRequests) {
  Put(K("t"), "v");
  Baseline();
  const std::map<std::string, uint64_t> consumers = Consumers();
  struct Case {
    std::string field;
    v1::TailRequest request;
  };
  std::vector<Case> cases;
  cases.push_back({"from_seq", TailFrom(0)});  // unnamed: no resume point
  {
    v1::TailRequest r = TailFrom(5);
    r.set_from_now(true);
    cases.push_back({"from_seq", r});
  }
  {
    v1::TailRequest r = TailFrom(1);
    r.mutable_filter()->set_prefix("p");
    r.mutable_filter()->set_start("a");
    cases.push_back({"filter.start", r});
    r.mutable_filter()->clear_start();
    r.mutable_filter()->set_end("z");
    cases.push_back({"filter.end", r});
  }
  {
    v1::TailRequest r = TailFrom(1);
    r.mutable_filter()->set_start("b");
    r.mutable_filter()->set_end("a");  // reversed
    cases.push_back({"filter.end", r});
    r.mutable_filter()->set_end("b");  // empty
    cases.push_back({"filter.end", r});
  }
  // Operations the server does not know, as raw numbers (CHANGE_OP_* are
  // 1..4; 0 is UNSPECIFIED).
  for (int op : {0, 5, -1, std::numeric_limits<int32_t>::max()}) {
    v1::TailRequest r = TailFrom(1);
    r.mutable_filter()->add_ops(v1::CHANGE_OP_PUT);
    r.mutable_filter()->add_ops(static_cast<v1::ChangeOp>(op));
    cases.push_back({"filter.ops[1]", r});
  }
  for (const std::string& name :
       {std::string("no spaces"), std::string("a/b"), std::string(129, 'c'),
        std::string("caf\xc3\xa9"), std::string("nul\0x", 5)}) {
    v1::TailRequest r = TailFrom(1);
    r.set_consumer(name);
    cases.push_back({"consumer", r});
  }
  // A good consumer name with a bad filter: refused before registration.
  {
    v1::TailRequest r = TailFrom(1);
    r.set_consumer("bi-not-registered");
    r.mutable_filter()->add_ops(static_cast<v1::ChangeOp>(9));
    cases.push_back({"filter.ops[0]", r});
    r.mutable_filter()->clear_ops();
    r.set_from_now(true);
    cases.push_back({"from_seq", r});
  }
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field + " " + c.request.ShortDebugString());
    bool opened = true;
    ExpectRefused(TailStatus(c.request, &opened), StatusCode::INVALID_ARGUMENT,
                  c.field);
    EXPECT_FALSE(opened);
  }
  EXPECT_EQ(Consumers(), consumers);
  // The largest name (128 bytes) is accepted and registered.
  v1::TailRequest longest;
  longest.set_from_now(true);
  longest.set_consumer(std::string(128, 'L'));
  bool opened = false;
  EXPECT_TRUE(TailStatus(longest, &opened).ok());
  EXPECT_TRUE(opened);
  EXPECT_EQ(Consumers().count(std::string(128, 'L')), 1u);
  v1::DropConsumerRequest drop;
  drop.set_consumer(std::string(128, 'L'));
  v1::DropConsumerResponse dr;
  EXPECT_TRUE(repl_->DropConsumer(Ctx().get(), drop, &dr).ok());
  EXPECT_EQ(LastSeq(), base_seq_);
}

TEST_F(BadInputTest, TailFromAHugeSequenceWaits) {
  // A start far in the future is not an error: the stream waits at the end
  // of the log (progress messages only) and delivers nothing of today's
  // writes.
  auto ctx = Ctx();
  auto reader = repl_->Tail(ctx.get(), TailFrom(kMaxU64));
  v1::TailResponse r;
  ASSERT_TRUE(reader->Read(&r));
  EXPECT_EQ(r.events_size(), 0);
  EXPECT_TRUE(r.has_progress());
  const uint64_t written = Put(K("future"), "v");
  // Progress messages keep coming (every second, --tail_progress_interval)
  // and none carries an event; read until one reports the write.
  bool seen = false;
  while (!seen && reader->Read(&r)) {
    EXPECT_EQ(r.events_size(), 0);
    seen = r.has_progress() && r.progress().committed_seq() >= written;
  }
  EXPECT_TRUE(seen);
  ctx->TryCancel();
  while (reader->Read(&r)) {
  }
  EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
  // A named consumer starting there is registered as having acknowledged
  // only what is committed (never a sequence above the last commit), so its
  // next resume misses nothing committed in between.
  v1::TailRequest named = TailFrom(kMaxU64);
  named.set_consumer("bi-future");
  ASSERT_TRUE(TailStatus(named).ok());
  const uint64_t last = LastSeq();
  EXPECT_EQ(Consumers().at("bi-future"), last);
  const uint64_t next = Put(K("after"), "v");
  v1::TailRequest resume;
  resume.set_consumer("bi-future");
  auto rctx = Ctx();
  auto again = repl_->Tail(rctx.get(), resume);
  uint64_t first_seq = 0;
  while (first_seq == 0 && again->Read(&r)) {
    if (r.events_size() > 0) first_seq = r.events(0).seq();
  }
  EXPECT_EQ(first_seq, next);
  rctx->TryCancel();
  while (again->Read(&r)) {
  }
  again->Finish().IgnoreError();
  v1::DropConsumerRequest drop;
  drop.set_consumer("bi-future");
  v1::DropConsumerResponse dr;
  EXPECT_TRUE(repl_->DropConsumer(Ctx().get(), drop, &dr).ok());
}

TEST_F(BadInputTest, AckRequests) {
  // A consumer registered at the current position.
  v1::TailRequest reg;
  reg.set_from_now(true);
  reg.set_consumer("bi-ack");
  ASSERT_TRUE(TailStatus(reg).ok());
  const uint64_t acked = Put(K("a"), "1");
  v1::AckRequest ack;
  ack.set_consumer("bi-ack");
  ack.set_seq(acked);
  v1::AckResponse resp;
  ASSERT_TRUE(repl_->Ack(Ctx().get(), ack, &resp).ok());
  Baseline();
  const std::map<std::string, uint64_t> consumers = Consumers();
  ASSERT_EQ(consumers.at("bi-ack"), acked);

  auto ack_of = [&](const std::string& name, uint64_t seq) {
    v1::AckRequest a;
    a.set_consumer(name);
    a.set_seq(seq);
    return repl_->Ack(Ctx().get(), a, &resp);
  };
  struct Case {
    std::string name;
    uint64_t seq;
    StatusCode code;
    std::string field;
  };
  const std::vector<Case> cases = {
      {"", acked, StatusCode::INVALID_ARGUMENT, "consumer"},
      {std::string(129, 'c'), acked, StatusCode::INVALID_ARGUMENT, "consumer"},
      {"bi ack", acked, StatusCode::INVALID_ARGUMENT, "consumer"},
      {"bi-\xc3\xa4", acked, StatusCode::INVALID_ARGUMENT, "consumer"},
      {"bi-nobody", acked, StatusCode::NOT_FOUND, "consumer"},
      {"bi-ack", base_seq_ + 1, StatusCode::INVALID_ARGUMENT, "seq"},
      {"bi-ack", kMaxU64, StatusCode::INVALID_ARGUMENT, "seq"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(absl::StrCat(c.name.substr(0, 16), " ", c.seq));
    ExpectRefused(ack_of(c.name, c.seq), c.code, c.field);
    EXPECT_EQ(Consumers(), consumers);
  }
  // An ack never moves a consumer back: older sequences (and 0) are
  // accepted and ignored.
  for (uint64_t old : {uint64_t{0}, uint64_t{1}, acked - 1, acked}) {
    EXPECT_TRUE(ack_of("bi-ack", old).ok()) << old;
  }
  EXPECT_EQ(Consumers(), consumers);
  EXPECT_EQ(LastSeq(), base_seq_);
}

TEST_F(BadInputTest, DropConsumerAndListConsumers) {
  v1::TailRequest reg;
  reg.set_from_now(true);
  reg.set_consumer("bi-drop");
  ASSERT_TRUE(TailStatus(reg).ok());
  Baseline();
  const std::map<std::string, uint64_t> consumers = Consumers();
  ASSERT_EQ(consumers.count("bi-drop"), 1u);
  v1::DropConsumerResponse resp;
  for (const auto& [name, code] :
       std::vector<std::pair<std::string, StatusCode>>{
           {"", StatusCode::INVALID_ARGUMENT},
           {std::string(129, 'd'), StatusCode::INVALID_ARGUMENT},
           {"bi-drop*", StatusCode::INVALID_ARGUMENT},
           {"bi-drop ", StatusCode::INVALID_ARGUMENT},
           {"BI-DROP", StatusCode::NOT_FOUND},  // names are case-sensitive
           {"bi-nobody", StatusCode::NOT_FOUND}}) {
    SCOPED_TRACE(name.substr(0, 16));
    v1::DropConsumerRequest d;
    d.set_consumer(name);
    ExpectRefused(repl_->DropConsumer(Ctx().get(), d, &resp), code, "consumer");
    EXPECT_EQ(Consumers(), consumers);
  }
  // ListConsumersRequest has no fields; unknown ones are skipped (below).
  v1::DropConsumerRequest d;
  d.set_consumer("bi-drop");
  EXPECT_TRUE(repl_->DropConsumer(Ctx().get(), d, &resp).ok());
  EXPECT_EQ(Consumers().count("bi-drop"), 0u);
}

TEST_F(BadInputTest, MalformedUtf8InStringFields) {
  // The proto3 `string` fields: MergeRequest.operator, MergeOp.operator (in
  // Batch and Txn), TailRequest/AckRequest/DropConsumerRequest.consumer and
  // CheckpointRequest.dir. The same fields with well-formed names the server
  // does not know are INVALID_ARGUMENT (bad_input_test.cc and above).
  Put(K("n"), "5");
  v1::TailRequest reg;
  reg.set_from_now(true);
  reg.set_consumer("bi-utf8");
  ASSERT_TRUE(TailStatus(reg).ok());
  Baseline();
  const std::map<std::string, uint64_t> consumers = Consumers();
  const std::string ckpt_parent = MakeTempDir("cairn-bad-utf8-");
  ASSERT_FALSE(ckpt_parent.empty());

  std::vector<std::pair<std::string, std::string>> calls;  // method, body
  {
    v1::MergeRequest m;
    m.set_key(K("n"));
    m.set_operator_(kPlaceholder);
    m.set_operand("1");
    calls.push_back({"/cairn.v1.KV/Merge", RawWithBadUtf8(m)});
  }
  {
    v1::BatchRequest b;
    auto* p = b.add_ops()->mutable_put();
    p->set_key(K("fresh"));
    p->set_value("v");
    auto* m = b.add_ops()->mutable_merge();
    m->set_key(K("n"));
    m->set_operator_(kPlaceholder);
    m->set_operand("1");
    calls.push_back({"/cairn.v1.KV/Batch", RawWithBadUtf8(b)});
  }
  {
    v1::AckRequest a;
    a.set_consumer(kPlaceholder);
    a.set_seq(base_seq_);
    calls.push_back({"/cairn.v1.Replication/Ack", RawWithBadUtf8(a)});
  }
  {
    v1::DropConsumerRequest d;
    d.set_consumer(kPlaceholder);
    calls.push_back({"/cairn.v1.Replication/DropConsumer", RawWithBadUtf8(d)});
  }
  {
    v1::CheckpointRequest c;
    c.set_dir(absl::StrCat(ckpt_parent, "/", kPlaceholder));
    calls.push_back({"/cairn.v1.Admin/Checkpoint", RawWithBadUtf8(c)});
  }
  for (const auto& [method, body] : calls) {
    SCOPED_TRACE(method);
    EXPECT_TRUE(IsUnparsable(RawUnary(method, body)));
    EXPECT_EQ(LastSeq(), base_seq_);
    EXPECT_EQ(Consumers(), consumers);
  }
  // Tail (the generated serializer only logs a non-UTF-8 string and sends
  // it): the stream ends before any response; nothing is registered.
  {
    v1::TailRequest t;
    t.set_from_now(true);
    t.set_consumer(kBadUtf8);
    bool opened = true;
    EXPECT_TRUE(IsUnparsable(TailStatus(t, &opened)));
    EXPECT_FALSE(opened);
  }
  // Txn: a merge with a non-UTF-8 operator after a buffered put ends the
  // stream without a response to it, and the put is discarded. gRPC reports
  // a stream message that does not parse to the server like the client's
  // half-close, so the stream ends as a client close without commit does:
  // rolled back, status OK (gRPC 1.51).
  {
    TxnStream t(kv_.get());
    ASSERT_TRUE(t.Send(TBegin()));
    ASSERT_TRUE(t.Send(TPut(K("fresh"), "txn")));
    v1::TxnRequest m;
    m.mutable_merge()->set_key(K("n"));
    m.mutable_merge()->set_operator_(kBadUtf8);
    m.mutable_merge()->set_operand("1");
    EXPECT_FALSE(t.Send(m));
    EXPECT_FALSE(t.Send(TCommit()));
    grpc::Status s = t.Finish();
    EXPECT_NE(s.error_code(), StatusCode::UNKNOWN) << s.error_message();
  }
  EXPECT_EQ(LastSeq(), base_seq_);
  EXPECT_EQ(Consumers(), consumers);
  EXPECT_EQ(Get(K("n")).value(), "5");
  EXPECT_FALSE(Get(K("fresh")).found());
  int entries = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(ckpt_parent)) {
    ++entries;
  }
  EXPECT_EQ(entries, 0) << "a checkpoint dir was created";
  std::filesystem::remove_all(ckpt_parent);
}

TEST_F(BadInputTest, UnknownEnumValuesAndNames) {
  // Durability and Condition.Kind values the server does not know, sent as
  // raw numbers (proto3 enums are open: they reach the handler), and merge
  // operator names that differ from the known ones only in case or
  // blanks.
  Put(K("n"), "5");
  Baseline();
  const int kInt32Max = std::numeric_limits<int32_t>::max();
  for (int d : {3, -1, kInt32Max}) {
    SCOPED_TRACE(d);
    const auto durability = static_cast<v1::Durability>(d);
    v1::PutRequest put;
    put.set_key(K("n"));
    put.set_value("x");
    put.set_durability(durability);
    v1::PutResponse pr;
    ExpectRefused(kv_->Put(Ctx().get(), put, &pr), StatusCode::INVALID_ARGUMENT,
                  "durability");
    v1::DeleteRequest del;
    del.set_key(K("n"));
    del.set_durability(durability);
    v1::DeleteResponse dr;
    ExpectRefused(kv_->Delete(Ctx().get(), del, &dr),
                  StatusCode::INVALID_ARGUMENT, "durability");
    v1::DeleteRangeRequest dre;
    dre.set_start(K("a"));
    dre.set_end(K("z"));
    dre.set_durability(durability);
    v1::DeleteRangeResponse drr;
    ExpectRefused(kv_->DeleteRange(Ctx().get(), dre, &drr),
                  StatusCode::INVALID_ARGUMENT, "durability");
    v1::MergeRequest m;
    m.set_key(K("n"));
    m.set_operator_("add");
    m.set_operand("1");
    m.set_durability(durability);
    v1::MergeResponse mr;
    ExpectRefused(kv_->Merge(Ctx().get(), m, &mr), StatusCode::INVALID_ARGUMENT,
                  "durability");
    v1::BatchRequest b;
    b.add_ops()->mutable_delete_()->set_key(K("n"));
    b.set_durability(durability);
    v1::BatchResponse br;
    ExpectRefused(kv_->Batch(Ctx().get(), b, &br), StatusCode::INVALID_ARGUMENT,
                  "durability");
    v1::TxnRequest commit = TCommit();
    commit.mutable_commit()->set_durability(durability);
    ExpectRefused(RunTxn({TBegin(), TPut(K("n"), "txn"), commit}),
                  StatusCode::INVALID_ARGUMENT, "commit.durability");
  }
  for (int kind : {-1, 5, kInt32Max}) {
    SCOPED_TRACE(kind);
    v1::BatchRequest b;
    auto* c = b.add_conditions();
    c->set_kind(static_cast<v1::Condition::Kind>(kind));
    c->set_key(K("n"));
    b.add_ops()->mutable_delete_()->set_key(K("n"));
    v1::BatchResponse br;
    ExpectRefused(kv_->Batch(Ctx().get(), b, &br), StatusCode::INVALID_ARGUMENT,
                  "conditions[0].kind");
  }
  for (const std::string& op :
       {std::string("ADD"), std::string("Add"), std::string(" add"),
        std::string("add "), std::string("add\0", 4), std::string(1000, 'a'),
        std::string("\xc3\xa4")}) {
    SCOPED_TRACE(op.substr(0, 8));
    v1::MergeRequest m;
    m.set_key(K("n"));
    m.set_operator_(op);
    m.set_operand("1");
    v1::MergeResponse mr;
    ExpectRefused(kv_->Merge(Ctx().get(), m, &mr), StatusCode::INVALID_ARGUMENT,
                  "operator");
  }
  EXPECT_EQ(Get(K("n")).value(), "5");
}

TEST_F(BadInputTest, UnknownFieldsAreIgnored) {
  // Forward compatibility: a field number the server does not know (here 99,
  // varint 1, then 100, bytes "x") is skipped, for every request type,
  // including the ones without fields.
  const std::string unknown("\x98\x06\x01\xa2\x06\x01x", 7);
  for (const char* method : {"/cairn.v1.Admin/Stats", "/cairn.v1.Admin/Flush",
                             "/cairn.v1.Replication/ListConsumers"}) {
    EXPECT_TRUE(RawUnary(method, unknown).ok()) << method;
  }
  v1::PutRequest put;
  put.set_key(K("u"));
  put.set_value("v");
  ASSERT_TRUE(
      RawUnary("/cairn.v1.KV/Put", put.SerializeAsString() + unknown).ok());
  EXPECT_EQ(Get(K("u")).value(), "v");
}

TEST_F(BadInputTest, HugeLimitsAndSequences) {
  for (int i = 0; i < 10; ++i) Put(K(absl::StrCat("h", i)), "v");
  Baseline();
  // Scan: a limit of 2^64-1 means "all of them", both ways.
  for (bool reverse : {false, true}) {
    v1::ScanRequest req;
    req.set_prefix(K("h"));
    req.set_limit(kMaxU64);
    req.set_reverse(reverse);
    auto ctx = Ctx();
    auto reader = kv_->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    int keys = 0;
    while (reader->Read(&chunk)) keys += chunk.kvs_size();
    EXPECT_TRUE(reader->Finish().ok());
    EXPECT_EQ(keys, 10) << reverse;
  }
  // A scan inside a transaction: the limit is capped by --scan_chunk_keys
  // (1000 here), so all ten keys come back.
  {
    TxnStream t(kv_.get());
    ASSERT_TRUE(t.Send(TBegin()));
    v1::TxnRequest scan;
    scan.mutable_scan()->set_prefix(K("h"));
    scan.mutable_scan()->set_limit(kMaxU64);
    v1::TxnResponse resp;
    ASSERT_TRUE(t.Send(scan, &resp));
    EXPECT_EQ(resp.scan().kvs_size(), 10);
    EXPECT_FALSE(resp.scan().more());
    EXPECT_TRUE(t.Finish().ok());  // closed without commit: rolled back
  }
  // MultiGet at the key limit, the same key every time.
  {
    v1::MultiGetRequest mg;
    for (int i = 0; i < kMaxBatchOps; ++i) mg.add_keys(K("h1"));
    v1::MultiGetResponse mgr;
    ASSERT_TRUE(kv_->MultiGet(Ctx().get(), mg, &mgr).ok());
    ASSERT_EQ(mgr.results_size(), kMaxBatchOps);
    for (const auto& r : mgr.results()) EXPECT_EQ(r.value(), "v");
  }
  // Sequences nobody holds: 2^64-1 as a snapshot, as a release and as the
  // start of a transaction.
  v1::GetRequest g;
  g.set_key(K("h1"));
  g.set_snapshot_seq(kMaxU64);
  v1::GetResponse gr;
  EXPECT_TRUE(IsError(kv_->Get(Ctx().get(), g, &gr),
                      StatusCode::FAILED_PRECONDITION, "snapshot_seq"));
  v1::ReleaseSnapshotRequest rel;
  rel.set_seq(kMaxU64);
  v1::ReleaseSnapshotResponse rr;
  EXPECT_TRUE(IsError(admin_->ReleaseSnapshot(Ctx().get(), rel, &rr),
                      StatusCode::NOT_FOUND, "seq"));
  EXPECT_TRUE(IsError(RunTxn({TBegin(kMaxU64)}),
                      StatusCode::FAILED_PRECONDITION, "begin.snapshot_seq"));
  // TTLs of 2^63 and 2^64-1 ms are capped at --snapshot_max_ttl (10m here):
  // the snapshot is held (a read at it works) until released.
  for (uint64_t ttl : {uint64_t{1} << 63, kMaxU64}) {
    SCOPED_TRACE(ttl);
    v1::AcquireSnapshotRequest acq;
    acq.set_ttl_millis(ttl);
    v1::AcquireSnapshotResponse ar;
    ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), acq, &ar).ok());
    EXPECT_GT(ar.expires_at_unix_micros(),
              static_cast<uint64_t>(
                  absl::ToUnixMicros(absl::Now() + absl::Minutes(9))));
    EXPECT_LE(ar.expires_at_unix_micros(),
              static_cast<uint64_t>(
                  absl::ToUnixMicros(absl::Now() + absl::Minutes(10))));
    g.set_snapshot_seq(ar.seq());
    grpc::Status read = kv_->Get(Ctx().get(), g, &gr);
    EXPECT_TRUE(read.ok()) << read.error_message();
    rel.set_seq(ar.seq());
    grpc::Status released = admin_->ReleaseSnapshot(Ctx().get(), rel, &rr);
    EXPECT_TRUE(released.ok()) << released.error_message();
  }
  // An absolute expiry of 2^64-1 us is kept as given (it never comes).
  v1::PutRequest put;
  put.set_key(K("forever"));
  put.set_value("v");
  put.set_expires_at_unix_micros(kMaxU64);
  v1::PutResponse pr;
  ASSERT_TRUE(kv_->Put(Ctx().get(), put, &pr).ok());
  EXPECT_EQ(Get(K("forever")).expires_at_unix_micros(), kMaxU64);
  // Compact over the widest range there is.
  v1::CompactRequest c;
  c.set_start(std::string(1, '\0'));
  c.set_end(std::string(kMaxKeyBytes, '\xff'));
  v1::CompactResponse cr;
  EXPECT_TRUE(admin_->Compact(Ctx().get(), c, &cr).ok());
  EXPECT_EQ(LastSeq(), pr.seq());
}

TEST_F(BadInputTest, ReversedAndOverlappingRangesBothWays) {
  // The same range checks hold for reverse scans and keys-only scans.
  for (bool reverse : {false, true}) {
    for (bool keys_only : {false, true}) {
      SCOPED_TRACE(absl::StrCat(reverse, keys_only));
      v1::ScanRequest req;
      req.set_reverse(reverse);
      req.set_keys_only(keys_only);
      req.set_start(K("b"));
      req.set_end(K("a"));
      EXPECT_TRUE(
          IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "end"));
      req.set_prefix(K("a"));
      EXPECT_TRUE(
          IsError(ScanStatus(req), StatusCode::INVALID_ARGUMENT, "prefix"));
    }
  }
  // An end that is the start plus "\0" (the smallest non-empty range) is
  // accepted.
  Put(K("r"), "v");
  v1::ScanRequest tight;
  tight.set_start(K("r"));
  tight.set_end(K("r") + std::string(1, '\0'));
  auto ctx = Ctx();
  auto reader = kv_->Scan(ctx.get(), tight);
  v1::ScanResponse chunk;
  int keys = 0;
  while (reader->Read(&chunk)) keys += chunk.kvs_size();
  EXPECT_TRUE(reader->Finish().ok());
  EXPECT_EQ(keys, 1);
}

}  // namespace
}  // namespace cairn::test
