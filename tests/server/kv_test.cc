// Integration tests of the KV and Admin services through the generated C++
// stubs, against the real cairnd binary.
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"
#include "server_test_util.h"
#include "txn_stream.h"

namespace cairn::test {
namespace {

using v1::Admin;
using v1::KV;

class KvTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    CairndOptions o;
    o.args = {"--scan_chunk_keys=7", "--durability=async"};
    StartSuiteServer(std::move(o));
  }
  void SetUp() override {
    CairndSuite::SetUp();
    if (HasFatalFailure()) return;  // no server
    channel_ = server_->Channel();
    kv_ = KV::NewStub(channel_);
    admin_ = Admin::NewStub(channel_);
    prefix_ = absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "/");
  }

  std::string K(const std::string& k) { return prefix_ + k; }

  uint64_t Put(const std::string& key, const std::string& value) {
    return test::Put(kv_.get(), key, value);
  }

  v1::GetResponse Get(const std::string& key, uint64_t snapshot = 0) {
    v1::GetRequest req;
    req.set_key(key);
    req.set_snapshot_seq(snapshot);
    v1::GetResponse resp;
    grpc::Status s = kv_->Get(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::vector<v1::ScanResponse> Scan(const v1::ScanRequest& req,
                                     grpc::Status* status) {
    auto ctx = Ctx();
    auto reader = kv_->Scan(ctx.get(), req);
    std::vector<v1::ScanResponse> chunks;
    v1::ScanResponse chunk;
    while (reader->Read(&chunk)) chunks.push_back(chunk);
    *status = reader->Finish();
    return chunks;
  }

  static std::vector<std::string> Keys(const std::vector<v1::ScanResponse>& c) {
    std::vector<std::string> keys;
    for (const auto& chunk : c) {
      for (const auto& kv : chunk.kvs()) keys.push_back(kv.key());
    }
    return keys;
  }

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<KV::Stub> kv_;
  std::unique_ptr<Admin::Stub> admin_;
  std::string prefix_;
};

TEST_F(KvTest, PutGetRevisionAndReadSeq) {
  uint64_t seq = Put(K("a"), "one");
  ASSERT_GT(seq, 0u);
  v1::GetResponse g = Get(K("a"));
  EXPECT_TRUE(g.found());
  EXPECT_EQ(g.value(), "one");
  EXPECT_EQ(g.revision(), seq);
  EXPECT_GE(g.read_seq(), seq);
  EXPECT_EQ(g.expires_at_unix_micros(), 0u);
  uint64_t seq2 = Put(K("a"), "two");
  EXPECT_GT(seq2, seq);
  EXPECT_EQ(Get(K("a")).revision(), seq2);
  v1::GetResponse missing = Get(K("missing"));
  EXPECT_FALSE(missing.found());
  EXPECT_EQ(missing.revision(), 0u);
}

TEST_F(KvTest, BinaryKeysAndValues) {
  std::string key = K(std::string("\x00\xff\x01", 3));
  std::string value("\x00\x00\xfe", 3);
  Put(key, value);
  v1::GetResponse g = Get(key);
  EXPECT_TRUE(g.found());
  EXPECT_EQ(g.value(), value);
}

TEST_F(KvTest, DeleteAndDeleteRange) {
  for (int i = 0; i < 10; ++i) Put(K(absl::StrCat("k", i)), "v");
  v1::DeleteRequest d;
  d.set_key(K("k0"));
  v1::DeleteResponse dr;
  ASSERT_TRUE(kv_->Delete(Ctx().get(), d, &dr).ok());
  EXPECT_GT(dr.seq(), 0u);
  EXPECT_FALSE(Get(K("k0")).found());
  v1::DeleteRangeRequest r;
  r.set_start(K("k2"));
  r.set_end(K("k5"));
  v1::DeleteRangeResponse rr;
  ASSERT_TRUE(kv_->DeleteRange(Ctx().get(), r, &rr).ok());
  EXPECT_GT(rr.seq(), dr.seq());
  for (int i = 1; i < 10; ++i) {
    EXPECT_EQ(Get(K(absl::StrCat("k", i))).found(), i < 2 || i >= 5) << i;
  }
}

TEST_F(KvTest, TtlExpires) {
  v1::PutRequest p;
  p.set_key(K("ttl"));
  p.set_value("soon gone");
  p.set_ttl_millis(300);
  v1::PutResponse pr;
  uint64_t before = absl::ToUnixMicros(absl::Now());
  ASSERT_TRUE(kv_->Put(Ctx().get(), p, &pr).ok());
  v1::GetResponse g = Get(K("ttl"));
  ASSERT_TRUE(g.found());
  EXPECT_GE(g.expires_at_unix_micros(), before + 300000);
  EXPECT_LE(g.expires_at_unix_micros(),
            static_cast<uint64_t>(absl::ToUnixMicros(absl::Now())) + 300000);
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Get(K("ttl")).found() && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_FALSE(Get(K("ttl")).found());
  // An absolute expiry far ahead is returned as given.
  p.set_ttl_millis(0);
  p.set_expires_at_unix_micros(4102444800000000);  // 2100-01-01
  ASSERT_TRUE(kv_->Put(Ctx().get(), p, &pr).ok());
  EXPECT_EQ(Get(K("ttl")).expires_at_unix_micros(), 4102444800000000u);
}

TEST_F(KvTest, MergeOperators) {
  auto merge = [&](const std::string& key, const std::string& op,
                   const std::string& operand, const std::string& arg = "") {
    v1::MergeRequest m;
    m.set_key(key);
    m.set_operator_(op);
    m.set_operand(operand);
    m.set_argument(arg);
    v1::MergeResponse mr;
    grpc::Status s = kv_->Merge(Ctx().get(), m, &mr);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return mr.seq();
  };
  merge(K("n"), "add", "5");
  merge(K("n"), "add", "-7");
  uint64_t last = merge(K("n"), "add", "10");
  v1::GetResponse g = Get(K("n"));
  EXPECT_EQ(g.value(), "8");
  EXPECT_EQ(g.revision(), last);
  merge(K("s"), "append", "a", ",");
  merge(K("s"), "append", "b", ",");
  EXPECT_EQ(Get(K("s")).value(), "a,b");
  merge(K("mx"), "max", "3");
  merge(K("mx"), "max", "11");
  merge(K("mx"), "max", "-4");
  EXPECT_EQ(Get(K("mx")).value(), "11");
  merge(K("mn"), "min", "3");
  merge(K("mn"), "min", "-4");
  EXPECT_EQ(Get(K("mn")).value(), "-4");
  // A put of a number seeds a counter.
  Put(K("n2"), "100");
  merge(K("n2"), "add", "1");
  EXPECT_EQ(Get(K("n2")).value(), "101");
}

TEST_F(KvTest, MergeOntoTextFailsTheReadNotTheData) {
  Put(K("t"), "abc");
  v1::MergeRequest m;
  m.set_key(K("t"));
  m.set_operator_("add");
  m.set_operand("1");
  v1::MergeResponse mr;
  ASSERT_TRUE(kv_->Merge(Ctx().get(), m, &mr).ok());
  v1::GetRequest req;
  req.set_key(K("t"));
  v1::GetResponse resp;
  grpc::Status s = kv_->Get(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  Put(K("t"), "7");  // a put repairs the key
  EXPECT_EQ(Get(K("t")).value(), "7");
}

TEST_F(KvTest, MultiGetReadsOneSequence) {
  Put(K("m1"), "x");
  Put(K("m3"), "z");
  v1::MultiGetRequest req;
  req.add_keys(K("m1"));
  req.add_keys(K("m2"));
  req.add_keys(K("m3"));
  v1::MultiGetResponse resp;
  ASSERT_TRUE(kv_->MultiGet(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.results_size(), 3);
  EXPECT_TRUE(resp.results(0).found());
  EXPECT_EQ(resp.results(0).value(), "x");
  EXPECT_FALSE(resp.results(1).found());
  EXPECT_EQ(resp.results(2).value(), "z");
  EXPECT_GT(resp.read_seq(), 0u);
  for (const auto& r : resp.results()) EXPECT_EQ(r.read_seq(), resp.read_seq());
}

TEST_F(KvTest, ScanRangePrefixReverseLimitKeysOnlyAndChunks) {
  std::vector<std::string> all;
  for (int i = 0; i < 30; ++i) {
    std::string k = K(absl::StrCat("s", i < 10 ? "0" : "", i));
    Put(k, absl::StrCat("v", i));
    all.push_back(k);
  }
  Put(K("t0"), "other");
  grpc::Status s;
  v1::ScanRequest req;
  req.set_prefix(K("s"));
  std::vector<v1::ScanResponse> chunks = Scan(req, &s);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(Keys(chunks), all);
  // --scan_chunk_keys=7: 30 keys take 5 chunks, all at one read sequence.
  EXPECT_EQ(chunks.size(), 5u);
  for (const auto& c : chunks) {
    EXPECT_LE(c.kvs_size(), 7);
    EXPECT_EQ(c.read_seq(), chunks[0].read_seq());
  }
  EXPECT_EQ(chunks[0].kvs(0).value(), "v0");
  EXPECT_GT(chunks[0].kvs(0).revision(), 0u);

  req.set_reverse(true);
  req.set_limit(3);
  req.set_keys_only(true);
  chunks = Scan(req, &s);
  ASSERT_TRUE(s.ok());
  std::vector<std::string> want = {all[29], all[28], all[27]};
  EXPECT_EQ(Keys(chunks), want);
  EXPECT_TRUE(chunks[0].kvs(0).value().empty());

  v1::ScanRequest range;
  range.set_start(all[5]);
  range.set_end(all[9]);
  chunks = Scan(range, &s);
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(Keys(chunks),
            std::vector<std::string>(all.begin() + 5, all.begin() + 9));

  v1::ScanRequest empty;
  empty.set_prefix(K("nothing-here"));
  chunks = Scan(empty, &s);
  ASSERT_TRUE(s.ok());
  ASSERT_EQ(chunks.size(), 1u);  // one empty chunk carrying the read sequence
  EXPECT_EQ(chunks[0].kvs_size(), 0);
  EXPECT_GT(chunks[0].read_seq(), 0u);
}

TEST_F(KvTest, ScanAtReadSeqThenLaterWritesAreAfterIt) {
  Put(K("b1"), "x");
  grpc::Status s;
  v1::ScanRequest req;
  req.set_prefix(K("b"));
  auto chunks = Scan(req, &s);
  ASSERT_TRUE(s.ok());
  uint64_t read_seq = chunks[0].read_seq();
  uint64_t later = Put(K("b2"), "y");
  EXPECT_GT(later, read_seq);  // "Scan at S, then Tail from S+1" has no gap
}

TEST_F(KvTest, BatchConditions) {
  Put(K("acct"), "100");
  uint64_t rev = Get(K("acct")).revision();
  v1::BatchRequest b;
  auto* c = b.add_conditions();
  c->set_kind(v1::Condition::REVISION_EQUALS);
  c->set_key(K("acct"));
  c->set_revision(rev);
  auto* c2 = b.add_conditions();
  c2->set_kind(v1::Condition::ABSENT);
  c2->set_key(K("lock"));
  auto* op = b.add_ops();
  op->mutable_put()->set_key(K("acct"));
  op->mutable_put()->set_value("90");
  auto* op2 = b.add_ops();
  op2->mutable_put()->set_key(K("lock"));
  op2->mutable_put()->set_value("held");
  v1::BatchResponse r;
  ASSERT_TRUE(kv_->Batch(Ctx().get(), b, &r).ok());
  EXPECT_TRUE(r.succeeded());
  EXPECT_EQ(r.failed_condition(), -1);
  EXPECT_EQ(Get(K("acct")).revision(), r.seq() - 1);
  EXPECT_EQ(Get(K("lock")).revision(), r.seq());

  // The same batch again: the revision moved and the lock exists; the first
  // failing condition is reported and nothing is written.
  b.mutable_ops(0)->mutable_put()->set_value("80");
  v1::BatchResponse r2;
  ASSERT_TRUE(kv_->Batch(Ctx().get(), b, &r2).ok());
  EXPECT_FALSE(r2.succeeded());
  EXPECT_EQ(r2.failed_condition(), 0);
  EXPECT_EQ(r2.seq(), 0u);
  EXPECT_EQ(Get(K("acct")).value(), "90");

  v1::BatchRequest v;
  auto* cv = v.add_conditions();
  cv->set_kind(v1::Condition::EXISTS);
  cv->set_key(K("lock"));
  auto* cv2 = v.add_conditions();
  cv2->set_kind(v1::Condition::VALUE_EQUALS);
  cv2->set_key(K("acct"));
  cv2->set_value("91");
  v.add_ops()->mutable_delete_()->set_key(K("lock"));
  v1::BatchResponse r3;
  ASSERT_TRUE(kv_->Batch(Ctx().get(), v, &r3).ok());
  EXPECT_FALSE(r3.succeeded());
  EXPECT_EQ(r3.failed_condition(), 1);
  EXPECT_TRUE(Get(K("lock")).found());
  cv2->set_value("90");
  ASSERT_TRUE(kv_->Batch(Ctx().get(), v, &r3).ok());
  EXPECT_TRUE(r3.succeeded());
  EXPECT_FALSE(Get(K("lock")).found());
}

TEST_F(KvTest, BatchOfEveryOpIsAtomicWithOneSequenceRange) {
  Put(K("r1"), "x");
  Put(K("r2"), "x");
  v1::BatchRequest b;
  b.add_ops()->mutable_put()->set_key(K("p"));
  b.mutable_ops(0)->mutable_put()->set_value("v");
  b.add_ops()->mutable_delete_range()->set_start(K("r1"));
  b.mutable_ops(1)->mutable_delete_range()->set_end(K("r3"));
  auto* m = b.add_ops()->mutable_merge();
  m->set_key(K("c"));
  m->set_operator_("add");
  m->set_operand("2");
  b.add_ops()->mutable_delete_()->set_key(K("p"));
  v1::BatchResponse r;
  ASSERT_TRUE(kv_->Batch(Ctx().get(), b, &r).ok());
  ASSERT_TRUE(r.succeeded());
  EXPECT_FALSE(Get(K("p")).found());
  EXPECT_FALSE(Get(K("r1")).found());
  EXPECT_FALSE(Get(K("r2")).found());
  v1::GetResponse c = Get(K("c"));
  EXPECT_EQ(c.value(), "2");
  EXPECT_EQ(c.revision(), r.seq() - 1);
}

TEST_F(KvTest, TxnReadsOwnWritesAndCommits) {
  Put(K("x"), "1");
  TxnStream t(kv_.get());
  v1::TxnResponse begun = t.Call(TBegin());
  ASSERT_TRUE(begun.has_begun());
  EXPECT_GT(begun.begun().snapshot_seq(), 0u);
  EXPECT_EQ(t.Call(TGet(K("x"))).get().value(), "1");
  EXPECT_TRUE(t.Call(TPut(K("x"), "2")).has_buffered());
  EXPECT_TRUE(t.Call(TPut(K("y"), "3")).has_buffered());
  EXPECT_EQ(t.Call(TGet(K("x"))).get().value(), "2");
  EXPECT_EQ(Get(K("x")).value(), "1");  // nothing visible before commit
  v1::TxnRequest scan;
  scan.mutable_scan()->set_prefix(K(""));
  v1::TxnResponse sr = t.Call(scan);
  ASSERT_TRUE(sr.has_scan());
  ASSERT_EQ(sr.scan().kvs_size(), 2);
  EXPECT_EQ(sr.scan().kvs(0).value(), "2");
  v1::TxnResponse c = t.Call(TCommit());
  ASSERT_TRUE(c.has_committed());
  EXPECT_TRUE(t.Finish().ok());
  EXPECT_EQ(Get(K("x")).value(), "2");
  EXPECT_EQ(Get(K("y")).revision(), c.committed().seq());
  EXPECT_EQ(Get(K("x")).revision(), c.committed().seq() - 1);
}

TEST_F(KvTest, TxnConflictAborts) {
  Put(K("x"), "1");
  TxnStream t(kv_.get());
  t.Call(TBegin());
  t.Call(TGet(K("x")));
  t.Call(TPut(K("y"), "from txn"));
  Put(K("x"), "changed");  // another writer changes what the txn read
  v1::TxnResponse resp;
  t.Send(TCommit(), &resp);
  grpc::Status s = t.Finish();
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ABORTED) << s.error_message();
  EXPECT_FALSE(Get(K("y")).found());
}

TEST_F(KvTest, TxnPhantomInScannedRangeAborts) {
  Put(K("a1"), "1");
  TxnStream t(kv_.get());
  t.Call(TBegin());
  v1::TxnRequest scan;
  scan.mutable_scan()->set_start(K("a"));
  scan.mutable_scan()->set_end(K("b"));
  t.Call(scan);
  t.Call(TPut(K("sum"), "1"));
  Put(K("a2"), "new");  // a phantom inside the scanned range
  v1::TxnResponse resp;
  t.Send(TCommit(), &resp);
  EXPECT_EQ(t.Finish().error_code(), grpc::StatusCode::ABORTED);
  EXPECT_FALSE(Get(K("sum")).found());
}

TEST_F(KvTest, TxnRollbackAndAbandonWriteNothing) {
  {
    TxnStream t(kv_.get());
    t.Call(TBegin());
    t.Call(TPut(K("r"), "no"));
    v1::TxnRequest rb;
    rb.mutable_rollback();
    EXPECT_TRUE(t.Call(rb).has_rolled_back());
    EXPECT_TRUE(t.Finish().ok());
  }
  {
    TxnStream t(kv_.get());
    t.Call(TBegin());
    t.Call(TPut(K("r"), "no"));
    EXPECT_TRUE(t.Finish().ok());  // closed without commit: rolled back
  }
  EXPECT_FALSE(Get(K("r")).found());
}

TEST_F(KvTest, TxnMustBeginFirst) {
  TxnStream t(kv_.get());
  v1::TxnResponse resp;
  t.Send(TGet(K("x")), &resp);
  EXPECT_EQ(t.Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(KvTest, ConcurrentTxnIncrementsAreSerializable) {
  Put(K("ctr"), "0");
  constexpr int kThreads = 4, kEach = 15;
  std::vector<std::thread> threads;
  std::atomic<int> aborts{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      auto kv = KV::NewStub(server_->Channel());
      for (int i = 0; i < kEach;) {
        TxnStream txn(kv.get());
        txn.Call(TBegin());
        int v = std::stoi(txn.Call(TGet(K("ctr"))).get().value());
        txn.Call(TPut(K("ctr"), std::to_string(v + 1)));
        v1::TxnResponse resp;
        // Sync commits run on the server's write pool; alternate with
        // async ones, which run inline.
        txn.Send(
            TCommit(i % 2 == 0 ? v1::DURABILITY_SYNC : v1::DURABILITY_ASYNC),
            &resp);
        grpc::Status s = txn.Finish();
        if (s.ok()) {
          ++i;
        } else {
          ASSERT_EQ(s.error_code(), grpc::StatusCode::ABORTED);
          ++aborts;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(Get(K("ctr")).value(), std::to_string(kThreads * kEach));
}

TEST_F(KvTest, AdminFlushCompactStatsCheckpoint) {
  for (int i = 0; i < 100; ++i)
    Put(K(absl::StrCat("f", i)), std::string(100, 'x'));
  v1::FlushRequest f;
  v1::FlushResponse fr;
  ASSERT_TRUE(admin_->Flush(Ctx().get(), f, &fr).ok());
  v1::StatsResponse st;
  ASSERT_TRUE(admin_->Stats(Ctx().get(), v1::StatsRequest(), &st).ok());
  EXPECT_GE(fr.flushed_seq(), Get(K("f99")).revision());
  EXPECT_GE(st.last_seq(), fr.flushed_seq());
  ASSERT_GE(st.levels_size(), 2);
  int files = 0;
  for (const auto& l : st.levels()) files += l.files();
  EXPECT_GE(files, 1);
  EXPECT_FALSE(st.version().empty());
  v1::CompactResponse cr;
  ASSERT_TRUE(admin_->Compact(Ctx().get(), v1::CompactRequest(), &cr).ok());
  ASSERT_TRUE(admin_->Stats(Ctx().get(), v1::StatsRequest(), &st).ok());
  EXPECT_EQ(st.levels(0).files(), 0);

  std::string dir = MakeTempDir("cairn-ckpt-") + "/copy";
  v1::CheckpointRequest c;
  c.set_dir(dir);
  v1::CheckpointResponse ckr;
  grpc::Status s = admin_->Checkpoint(Ctx().get(), c, &ckr);
  ASSERT_TRUE(s.ok()) << s.error_message();
  // The copy opens as a database of its own with the same data.
  CairndOptions o;
  o.data_dir = dir;
  auto copy = CairndProcess::Start(o);
  ASSERT_TRUE(copy.ok()) << copy.status();
  auto kv2 = KV::NewStub((*copy)->Channel());
  v1::GetRequest g;
  g.set_key(K("f42"));
  v1::GetResponse gr;
  ASSERT_TRUE(kv2->Get(Ctx().get(), g, &gr).ok());
  EXPECT_TRUE(gr.found());
  // Checkpointing into an existing directory is refused.
  s = admin_->Checkpoint(Ctx().get(), c, &ckr);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());
}

TEST_F(KvTest, SnapshotsGiveRepeatableReads) {
  Put(K("snap"), "old");
  v1::AcquireSnapshotRequest a;
  a.set_ttl_millis(60000);
  v1::AcquireSnapshotResponse ar;
  ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), a, &ar).ok());
  EXPECT_GT(ar.expires_at_unix_micros(), 0u);
  Put(K("snap"), "new");
  EXPECT_EQ(Get(K("snap"), ar.seq()).value(), "old");
  EXPECT_EQ(Get(K("snap"), ar.seq()).read_seq(), ar.seq());
  EXPECT_EQ(Get(K("snap")).value(), "new");
  // A transaction can begin at the snapshot too.
  {
    TxnStream t(kv_.get());
    EXPECT_EQ(t.Call(TBegin(ar.seq())).begun().snapshot_seq(), ar.seq());
    EXPECT_EQ(t.Call(TGet(K("snap"))).get().value(), "old");
    EXPECT_TRUE(t.Finish().ok());
  }
  v1::ReleaseSnapshotRequest r;
  r.set_seq(ar.seq());
  v1::ReleaseSnapshotResponse rr;
  ASSERT_TRUE(admin_->ReleaseSnapshot(Ctx().get(), r, &rr).ok());
  EXPECT_EQ(admin_->ReleaseSnapshot(Ctx().get(), r, &rr).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetRequest g;
  g.set_key(K("snap"));
  g.set_snapshot_seq(ar.seq());
  v1::GetResponse gr;
  EXPECT_EQ(kv_->Get(Ctx().get(), g, &gr).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(KvTest, SnapshotExpiresAfterTtl) {
  Put(K("x"), "1");  // an empty database has nothing to snapshot
  v1::AcquireSnapshotRequest a;
  a.set_ttl_millis(200);
  v1::AcquireSnapshotResponse ar;
  ASSERT_TRUE(admin_->AcquireSnapshot(Ctx().get(), a, &ar).ok());
  absl::SleepFor(absl::Milliseconds(400));
  v1::GetRequest g;
  g.set_key(K("any"));
  g.set_snapshot_seq(ar.seq());
  v1::GetResponse gr;
  EXPECT_EQ(kv_->Get(Ctx().get(), g, &gr).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(KvTest, ReplicationIsServed) {
  // Tail and named consumers are tested in tests/tail (label `tail`).
  auto repl = v1::Replication::NewStub(channel_);
  v1::ListConsumersResponse resp;
  grpc::Status status =
      repl->ListConsumers(Ctx().get(), v1::ListConsumersRequest(), &resp);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

// Durable writes from many clients at once, on a server whose default
// durability is sync: they go through the engine's callback path (no thread
// waits for their sync), share WAL syncs, and every acknowledged one is
// there after a SIGKILL. Conditional batches answer through the same path.
TEST(DurableWritesTest, ConcurrentWritesShareSyncsAndSurviveKill) {
  auto started = CairndProcess::Start();
  ASSERT_TRUE(started.ok()) << started.status();
  std::unique_ptr<CairndProcess> server = std::move(*started);
  const double synced_before =
      MetricValue(*server, "cairn_synced_writes_total");
  const double syncs_before = MetricValue(*server, "cairn_wal_syncs_total");
  ASSERT_GE(synced_before, 0);
  ASSERT_GE(syncs_before, 0);

  constexpr int kClients = 16;
  constexpr int kOpsPerClient = 40;
  std::atomic<int> failures{0};
  std::atomic<int> merges{0};
  std::mutex seq_mu;
  std::set<uint64_t> seqs;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c) {
    clients.emplace_back([&, c] {
      auto kv = KV::NewStub(server->Channel());
      for (int i = 0; i < kOpsPerClient; ++i) {
        uint64_t seq = 0;
        grpc::Status s;
        if (i % 8 == 7) {
          v1::MergeRequest m;
          m.set_key("ctr");
          m.set_operator_("add");
          m.set_operand("1");
          v1::MergeResponse r;
          s = kv->Merge(Ctx().get(), m, &r);
          if (s.ok()) ++merges;
          seq = r.seq();
        } else if (i % 8 == 3) {
          // Its condition fails: an answer, not an error; nothing written.
          v1::BatchRequest b;
          auto* cond = b.add_conditions();
          cond->set_kind(v1::Condition::EXISTS);
          cond->set_key("never-written");
          b.add_ops()->mutable_put()->set_key("never-written");
          v1::BatchResponse r;
          s = kv->Batch(Ctx().get(), b, &r);
          if (s.ok() && (r.succeeded() || r.failed_condition() != 0)) {
            ++failures;
          }
          continue;
        } else {
          v1::PutRequest p;
          p.set_key(absl::StrCat("c", c, "-", i));
          p.set_value(absl::StrCat("v", i));
          v1::PutResponse r;
          s = kv->Put(Ctx().get(), p, &r);
          seq = r.seq();
        }
        if (!s.ok()) {
          ++failures;
          continue;
        }
        std::lock_guard<std::mutex> l(seq_mu);
        if (!seqs.insert(seq).second) ++failures;  // two writes, one seq
      }
    });
  }
  for (std::thread& t : clients) t.join();
  ASSERT_EQ(failures.load(), 0);
  const int writes = kClients * kOpsPerClient * 7 / 8;  // all but batches
  ASSERT_EQ(seqs.size(), static_cast<size_t>(writes));

  const double synced =
      MetricValue(*server, "cairn_synced_writes_total") - synced_before;
  const double syncs =
      MetricValue(*server, "cairn_wal_syncs_total") - syncs_before;
  EXPECT_GE(synced, writes) << "every write was a synced one";
  EXPECT_LT(syncs, writes) << "16 clients' durable writes share syncs";

  server->Kill();
  ASSERT_TRUE(server->Restart().ok());
  auto kv = KV::NewStub(server->Channel());
  for (int c = 0; c < kClients; ++c) {
    for (int i = 0; i < kOpsPerClient; ++i) {
      if (i % 8 == 7 || i % 8 == 3) continue;
      v1::GetRequest g;
      g.set_key(absl::StrCat("c", c, "-", i));
      v1::GetResponse r;
      ASSERT_TRUE(kv->Get(Ctx().get(), g, &r).ok());
      ASSERT_TRUE(r.found()) << "acknowledged put " << g.key() << " lost";
      EXPECT_EQ(r.value(), absl::StrCat("v", i));
    }
  }
  v1::GetRequest g;
  g.set_key("ctr");
  v1::GetResponse r;
  ASSERT_TRUE(kv->Get(Ctx().get(), g, &r).ok());
  EXPECT_EQ(r.value(), absl::StrCat(merges.load()));
  g.set_key("never-written");
  ASSERT_TRUE(kv->Get(Ctx().get(), g, &r).ok());
  EXPECT_FALSE(r.found());
  EXPECT_TRUE(server->StopCleanly().ok());
}

}  // namespace
}  // namespace cairn::test
