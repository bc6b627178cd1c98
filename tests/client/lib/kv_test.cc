// The client library's KV and Admin calls against a live cairnd: each call's
// results as the API promises them (values, revisions, read sequences,
// conditions, scan chunking and order, TTL, snapshots, admin results).
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cairn/v1/admin.pb.h"
#include "client_test_util.h"

namespace cairn::test {
namespace {

using client::Batch;
using client::BatchResult;
using client::GetResult;
using client::KeyValue;
using client::ScanOptions;

class ClientKvTest : public ClientSuite {
 protected:
  // Small scan chunks so that every scan of a few dozen keys spans chunks.
  static void SetUpTestSuite() {
    StartServer({"--scan_chunk_keys=7", "--durability=async"});
  }
  static void TearDownTestSuite() { StopServer(); }
};

TEST_F(ClientKvTest, PutGetDeleteWithRevisionsAndReadSeq) {
  absl::StatusOr<uint64_t> seq = client_->Put("kv/a", "one");
  ASSERT_TRUE(seq.ok()) << seq.status();
  absl::StatusOr<GetResult> r = client_->Get("kv/a");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->found);
  EXPECT_EQ(r->value, "one");
  EXPECT_EQ(r->revision, *seq);
  EXPECT_GE(r->read_seq, *seq);

  absl::StatusOr<uint64_t> del = client_->Delete("kv/a");
  ASSERT_TRUE(del.ok()) << del.status();
  EXPECT_GT(*del, *seq);
  r = client_->Get("kv/a");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->found);
  EXPECT_EQ(r->revision, 0u);
  EXPECT_GE(r->read_seq, *del);
}

TEST_F(ClientKvTest, BinaryKeysAndValuesRoundTrip) {
  std::string key("bin/\0\xff\x01", 7);
  std::string value("\0\0\x80zz", 5);
  ASSERT_TRUE(client_->Put(key, value).ok());
  absl::StatusOr<GetResult> r = client_->Get(key);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->value, value);
}

TEST_F(ClientKvTest, BadInputNamesTheField) {
  absl::StatusOr<uint64_t> seq = client_->Put("", "v");
  ASSERT_EQ(seq.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(seq.status().message().find("key"), std::string::npos)
      << seq.status();
  absl::StatusOr<uint64_t> m = client_->Merge("kv/m", "nope", "1");
  ASSERT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(m.status().message().find("operator"), std::string::npos);
}

TEST_F(ClientKvTest, MultiGetInRequestOrder) {
  ASSERT_TRUE(client_->Put("mg/1", "a").ok());
  ASSERT_TRUE(client_->Put("mg/3", "c").ok());
  absl::StatusOr<client::MultiGetResult> r =
      client_->MultiGet({"mg/3", "mg/2", "mg/1"});
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->results.size(), 3u);
  EXPECT_EQ(r->results[0].value, "c");
  EXPECT_FALSE(r->results[1].found);
  EXPECT_EQ(r->results[2].value, "a");
  EXPECT_GT(r->read_seq, 0u);
}

TEST_F(ClientKvTest, ScanIteratesAcrossChunksInBothDirections) {
  Batch b;
  for (int i = 0; i < 50; ++i) {
    b.Put(absl::StrFormat("scan/%03d", i), absl::StrCat("v", i));
  }
  ASSERT_TRUE(client_->Put("scan0", "outside").ok());
  absl::StatusOr<BatchResult> w = client_->Write(b);
  ASSERT_TRUE(w.ok() && w->succeeded);

  std::unique_ptr<client::Scanner> s = client_->Scan({.prefix = "scan/"});
  KeyValue kv;
  int n = 0;
  while (s->Next(&kv)) {
    EXPECT_EQ(kv.key, absl::StrFormat("scan/%03d", n));
    EXPECT_EQ(kv.value, absl::StrCat("v", n));
    EXPECT_GT(kv.revision, 0u);
    ++n;
  }
  ASSERT_TRUE(s->status().ok()) << s->status();
  EXPECT_EQ(n, 50);
  EXPECT_GE(s->read_seq(), w->seq);

  ScanOptions rev;
  rev.start = "scan/010";
  rev.end = "scan/040";
  rev.reverse = true;
  rev.limit = 12;
  rev.keys_only = true;
  uint64_t read_seq = 0;
  absl::StatusOr<std::vector<KeyValue>> all = client_->ScanAll(rev, &read_seq);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 12u);
  EXPECT_EQ(all->front().key, "scan/039");
  EXPECT_EQ(all->back().key, "scan/028");
  EXPECT_TRUE(all->front().value.empty());
  EXPECT_GT(read_seq, 0u);
}

TEST_F(ClientKvTest, ScanErrorIsReportedNotSilent) {
  ScanOptions bad;
  bad.prefix = "p";
  bad.start = "a";  // prefix and start together are refused
  std::unique_ptr<client::Scanner> s = client_->Scan(bad);
  KeyValue kv;
  EXPECT_FALSE(s->Next(&kv));
  EXPECT_EQ(s->status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ClientKvTest, DeleteRangeAndMerge) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_->Put(absl::StrCat("dr/", i), "x").ok());
  }
  ASSERT_TRUE(client_->DeleteRange("dr/1", "dr/4").ok());
  absl::StatusOr<std::vector<KeyValue>> left =
      client_->ScanAll({.prefix = "dr/"});
  ASSERT_TRUE(left.ok());
  ASSERT_EQ(left->size(), 2u);
  EXPECT_EQ((*left)[0].key, "dr/0");
  EXPECT_EQ((*left)[1].key, "dr/4");

  ASSERT_TRUE(client_->Merge("counter", "add", "5").ok());
  ASSERT_TRUE(client_->Merge("counter", "add", "-2").ok());
  ASSERT_TRUE(client_->Merge("list", "append", "a", ",").ok());
  ASSERT_TRUE(client_->Merge("list", "append", "b", ",").ok());
  EXPECT_EQ(client_->Get("counter")->value, "3");
  EXPECT_EQ(client_->Get("list")->value, "a,b");
}

TEST_F(ClientKvTest, BatchConditionsAllOrNothing) {
  Batch create;
  create.IfAbsent("user/1").Put("user/1", "alice").Merge("users", "add", "1");
  absl::StatusOr<BatchResult> r = client_->Write(create);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->succeeded);
  EXPECT_EQ(r->failed_condition, -1);
  uint64_t rev = client_->Get("user/1")->revision;
  EXPECT_EQ(rev, r->seq - 1);  // the batch's first op

  // The same batch again: the condition fails, nothing is written.
  r = client_->Write(create);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->failed_condition, 0);
  EXPECT_EQ(client_->Get("users")->value, "1");

  Batch update;
  update.IfExists("user/1")
      .IfValueEquals("user/1", "alice")
      .IfRevision("user/1", rev + 1)  // wrong
      .Put("user/1", "bob");
  r = client_->Write(update);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->succeeded);
  EXPECT_EQ(r->failed_condition, 2);

  update.Clear();
  update.IfRevision("user/1", rev).Put("user/1", "bob").Delete("users");
  r = client_->Write(update);
  ASSERT_TRUE(r.ok() && r->succeeded);
  EXPECT_EQ(client_->Get("user/1")->value, "bob");
  EXPECT_FALSE(client_->Get("users")->found);
}

TEST_F(ClientKvTest, TtlExpires) {
  ASSERT_TRUE(
      client_->Put("ttl/a", "v", {.ttl = absl::Milliseconds(300)}).ok());
  absl::StatusOr<GetResult> r = client_->Get("ttl/a");
  ASSERT_TRUE(r.ok() && r->found);
  EXPECT_GT(r->expires_at_unix_micros, 0u);
  absl::SleepFor(absl::Milliseconds(600));
  EXPECT_FALSE(client_->Get("ttl/a")->found);
}

TEST_F(ClientKvTest, SnapshotReadsAndRelease) {
  ASSERT_TRUE(client_->Put("snap/k", "old").ok());
  absl::StatusOr<client::SnapshotInfo> snap =
      client_->AcquireSnapshot(absl::Seconds(30));
  ASSERT_TRUE(snap.ok()) << snap.status();
  ASSERT_TRUE(client_->Put("snap/k", "new").ok());
  EXPECT_EQ(client_->Get("snap/k", {.snapshot_seq = snap->seq})->value, "old");
  EXPECT_EQ(client_->Get("snap/k")->value, "new");
  ASSERT_TRUE(client_->ReleaseSnapshot(snap->seq).ok());
  EXPECT_EQ(client_->Get("snap/k", {.snapshot_seq = snap->seq}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ClientKvTest, AdminCalls) {
  ASSERT_TRUE(client_->Put("admin/a", "v").ok());
  absl::StatusOr<uint64_t> flushed = client_->Flush();
  ASSERT_TRUE(flushed.ok()) << flushed.status();
  EXPECT_GT(*flushed, 0u);
  ASSERT_TRUE(client_->Compact().ok());
  absl::StatusOr<cairn::v1::StatsResponse> stats = client_->Stats();
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_GE(stats->last_seq(), *flushed);
  EXPECT_FALSE(stats->version().empty());

  std::string dir = MakeTempDir("client-ckpt") + "/copy";
  absl::StatusOr<client::CheckpointInfo> ckpt = client_->Checkpoint(dir);
  ASSERT_TRUE(ckpt.ok()) << ckpt.status();
  EXPECT_EQ(ckpt->dir, dir);
  EXPECT_EQ(ckpt->seq, stats->last_seq());  // nothing written since
  EXPECT_TRUE(std::filesystem::exists(dir + "/CURRENT"));
  // A second checkpoint into the same directory is refused.
  EXPECT_FALSE(client_->Checkpoint(dir).ok());
  std::filesystem::remove_all(std::filesystem::path(dir).parent_path());

  absl::StatusOr<std::string> health = client_->Health();
  ASSERT_TRUE(health.ok()) << health.status();
  EXPECT_EQ(*health, "SERVING");
  EXPECT_EQ(*client_->Health("cairn.v1.KV"), "SERVING");
}

TEST_F(ClientKvTest, ConsumersListAckDrop) {
  ASSERT_TRUE(client_->Put("cons/a", "v").ok());
  std::unique_ptr<client::TailConsumer> t =
      client_->Tail({.from_seq = 1, .consumer = "lib-test"});
  absl::StatusOr<client::TailUpdate> u = t->Next();
  ASSERT_TRUE(u.ok()) << u.status();
  ASSERT_FALSE(u->events.empty());
  ASSERT_TRUE(t->Ack(u->events.back().seq).ok());
  t.reset();
  absl::StatusOr<std::vector<client::ConsumerInfo>> list =
      client_->ListConsumers();
  ASSERT_TRUE(list.ok()) << list.status();
  bool found = false;
  for (const client::ConsumerInfo& c : *list) {
    if (c.name == "lib-test") {
      found = true;
      EXPECT_EQ(c.acked_seq, u->events.back().seq);
    }
  }
  EXPECT_TRUE(found);
  ASSERT_TRUE(client_->DropConsumer("lib-test").ok());
  EXPECT_EQ(client_->DropConsumer("lib-test").code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace cairn::test
