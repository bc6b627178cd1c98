// The bad-input matrix of cairnd, part 3: the Admin RPCs (compaction
// ranges, checkpoint dirs, snapshots). See bad_input_test.cc.
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

}  // namespace
}  // namespace cairn::test
