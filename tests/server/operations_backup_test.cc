// Backup and restore as an operator does it (docs/operations.md, "Backup and
// restore"), against the real cairnd: Admin.Checkpoint under a concurrent
// write load (puts, deletes, merges, delete-ranges, batches, all with sync
// durability), `cairnd --verify` on the checkpoint, the checkpoint copied to
// another path (cp -a), a cairnd started on the copy. Checked:
//   - writers paused around the checkpoint: the restored database equals the
//     primary read at a snapshot of that sequence (values, revisions and
//     expiries), and the sequence --verify reports is that sequence;
//   - under load: the restored database equals the writers' acknowledged
//     writes up to the restored last sequence S (a prefix of the history,
//     ending at a batch boundary), with every write acknowledged before the
//     Checkpoint call in it;
//   - a checkpoint taken on a read replica restores the same way;
//   - a copy of the primary's checkpoint seeds a new replica of it, which
//     resumes at the checkpoint's sequence + 1 instead of copying;
//   - the restored server takes writes at S + 1, S + 2, ... and a Tail from
//     S + 1 on it sees them with no gap.
// Bad checkpoint dirs (relative, existing) are in bad_input_admin_test.
#include <stdio.h>
#include <sys/wait.h>

#include <atomic>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"
#include "server_test_util.h"

namespace cairn::test {
namespace {

// Small memtables and WAL segments: a checkpoint then holds SSTables in
// several levels and a WAL tail, not only one of them.
const std::vector<std::string> kSmallEngine = {"--wal_segment_bytes=1MiB",
                                               "--write_buffer_bytes=128KiB"};

// One mutation of a writer's acknowledged write.
struct Mutation {
  enum Kind { kPut, kDelete, kDeleteRange, kMergeAdd } kind;
  std::string key;
  std::string arg;  // value, operand, or the end of a range
};

// An acknowledged write: its mutations took sequences first_seq, +1, ...
struct Acked {
  uint64_t first_seq = 0;
  std::vector<Mutation> mutations;
  uint64_t last_seq() const { return first_seq + mutations.size() - 1; }
};

// key -> (value, revision)
using Model = std::map<std::string, std::pair<std::string, uint64_t>>;

void Apply(const Acked& a, Model* m) {
  uint64_t seq = a.first_seq;
  for (const Mutation& mu : a.mutations) {
    switch (mu.kind) {
      case Mutation::kPut:
        (*m)[mu.key] = {mu.arg, seq};
        break;
      case Mutation::kDelete:
        m->erase(mu.key);
        break;
      case Mutation::kDeleteRange:
        m->erase(m->lower_bound(mu.key), m->lower_bound(mu.arg));
        break;
      case Mutation::kMergeAdd: {
        int64_t cur = 0, operand = 0;
        auto it = m->find(mu.key);
        if (it != m->end()) {
          EXPECT_TRUE(absl::SimpleAtoi(it->second.first, &cur));
        }
        EXPECT_TRUE(absl::SimpleAtoi(mu.arg, &operand));
        (*m)[mu.key] = {absl::StrCat(cur + operand), seq};
        break;
      }
    }
    ++seq;
  }
}

// Writer threads, each on keys of its own ("w<i>/..."), each write with
// sync durability; every acknowledged write is recorded with its sequence.
// Pause() returns once no write is in flight; Stop() joins the threads.
class Writers {
 public:
  Writers(std::shared_ptr<grpc::Channel> channel, int n) {
    acked_.resize(n);
    for (int w = 0; w < n; ++w) {
      threads_.emplace_back([this, channel, w] { Run(channel, w); });
    }
  }
  ~Writers() { Stop(); }

  void Pause() {
    std::unique_lock<std::mutex> lock(mu_);
    paused_ = true;
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }
  void Resume() {
    std::lock_guard<std::mutex> lock(mu_);
    paused_ = false;
    cv_.notify_all();
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
      cv_.notify_all();
    }
    for (auto& t : threads_) t.join();
    threads_.clear();
  }
  // Waits until every writer has made at least n more writes.
  void WaitWrites(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    const uint64_t want = total_ + n * acked_.size();
    cv_.wait(lock, [&] { return total_ >= want || failed_; });
  }
  bool failed() {
    std::lock_guard<std::mutex> lock(mu_);
    return failed_;
  }
  uint64_t total() {
    std::lock_guard<std::mutex> lock(mu_);
    return total_;
  }

  // The state that the acknowledged writes up to `seq` make. Fails the test
  // if a write straddles `seq` (a backup must end at a batch boundary).
  Model StateAt(uint64_t seq) {
    std::lock_guard<std::mutex> lock(mu_);
    Model m;
    for (const auto& writer : acked_) {
      for (const Acked& a : writer) {
        if (a.last_seq() <= seq) {
          Apply(a, &m);
        } else {
          EXPECT_GT(a.first_seq, seq) << "a write straddles " << seq;
        }
      }
    }
    return m;
  }

 private:
  void Run(const std::shared_ptr<grpc::Channel>& channel, int w) {
    auto kv = v1::KV::NewStub(channel);
    const std::string p = absl::StrCat("w", w, "/");
    auto key = [&](int i) { return absl::StrCat(p, "k", i % 40); };
    for (int i = 0;; ++i) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return !paused_ || stop_; });
        if (stop_ || failed_) return;
        ++in_flight_;
      }
      Acked a;
      grpc::Status s;
      uint64_t last = 0;
      switch (i % 5) {
        case 0: {
          v1::PutRequest r;
          r.set_key(key(i * 7));
          r.set_value(absl::StrCat(p, i, std::string(i % 20 * 500, 'v')));
          r.set_durability(v1::DURABILITY_SYNC);
          a.mutations.push_back({Mutation::kPut, r.key(), r.value()});
          v1::PutResponse resp;
          s = kv->Put(Ctx().get(), r, &resp);
          last = resp.seq();
          break;
        }
        case 1: {
          v1::DeleteRequest r;
          r.set_key(key(i * 3));
          r.set_durability(v1::DURABILITY_SYNC);
          a.mutations.push_back({Mutation::kDelete, r.key(), ""});
          v1::DeleteResponse resp;
          s = kv->Delete(Ctx().get(), r, &resp);
          last = resp.seq();
          break;
        }
        case 2: {
          v1::MergeRequest r;
          r.set_key(absl::StrCat(p, "n", i % 5));
          r.set_operator_("add");
          r.set_operand(absl::StrCat(i % 7 - 2));
          r.set_durability(v1::DURABILITY_SYNC);
          a.mutations.push_back({Mutation::kMergeAdd, r.key(), r.operand()});
          v1::MergeResponse resp;
          s = kv->Merge(Ctx().get(), r, &resp);
          last = resp.seq();
          break;
        }
        case 3: {
          v1::BatchRequest b;
          b.set_durability(v1::DURABILITY_SYNC);
          auto* put = b.add_ops()->mutable_put();
          put->set_key(key(i) + "/ttl");
          put->set_value(absl::StrCat("ttl", i));
          put->set_ttl_millis(3'600'000);
          a.mutations.push_back({Mutation::kPut, put->key(), put->value()});
          auto* merge = b.add_ops()->mutable_merge();
          merge->set_key(absl::StrCat(p, "n", (i + 1) % 5));
          merge->set_operator_("add");
          merge->set_operand("-1");
          a.mutations.push_back({Mutation::kMergeAdd, merge->key(), "-1"});
          auto* del = b.add_ops()->mutable_delete_();
          del->set_key(key(i + 5));
          a.mutations.push_back({Mutation::kDelete, del->key(), ""});
          v1::BatchResponse resp;
          s = kv->Batch(Ctx().get(), b, &resp);
          last = resp.seq();
          break;
        }
        default: {
          // k1 and k10..k19: the range [k1, k2).
          v1::DeleteRangeRequest r;
          r.set_start(p + "k1");
          r.set_end(p + "k2");
          r.set_durability(v1::DURABILITY_SYNC);
          a.mutations.push_back({Mutation::kDeleteRange, r.start(), r.end()});
          v1::DeleteRangeResponse resp;
          s = kv->DeleteRange(Ctx().get(), r, &resp);
          last = resp.seq();
        }
      }
      std::lock_guard<std::mutex> lock(mu_);
      --in_flight_;
      if (!s.ok()) {
        ADD_FAILURE() << "writer " << w << ": " << s.error_message();
        failed_ = true;
      } else {
        a.first_seq = last - a.mutations.size() + 1;
        acked_[w].push_back(std::move(a));
        ++total_;
      }
      cv_.notify_all();
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool paused_ = false, stop_ = false, failed_ = false;
  int in_flight_ = 0;
  uint64_t total_ = 0;
  std::vector<std::vector<Acked>> acked_;
  std::vector<std::thread> threads_;
};

grpc::Status Checkpoint(const std::shared_ptr<grpc::Channel>& channel,
                        const std::string& dir) {
  v1::CheckpointRequest req;
  req.set_dir(dir);
  v1::CheckpointResponse resp;
  grpc::Status s =
      v1::Admin::NewStub(channel)->Checkpoint(Ctx().get(), req, &resp);
  if (s.ok()) {
    EXPECT_EQ(resp.dir(), dir);
  }
  return s;
}

// A value as dumps show it: long ones shortened (failure messages stay
// readable), with their length and a hash.
std::string Shown(const std::string& v) {
  if (v.size() <= 24) return v;
  return absl::StrCat(v.substr(0, 12), "...(", v.size(), " bytes, #",
                      std::hash<std::string>()(v) % 100000, ")");
}

// Every key: "key=value@revision/expiry" lines (expiries optional), read at
// `snapshot` (0: latest); *read_seq gets the sequence read at.
std::string Dump(const std::shared_ptr<grpc::Channel>& channel,
                 uint64_t snapshot = 0, bool expiries = true,
                 uint64_t* read_seq = nullptr) {
  auto kv = v1::KV::NewStub(channel);
  v1::ScanRequest req;
  req.set_snapshot_seq(snapshot);
  auto ctx = Ctx();
  auto reader = kv->Scan(ctx.get(), req);
  std::string out;
  v1::ScanResponse chunk;
  while (reader->Read(&chunk)) {
    if (read_seq != nullptr) *read_seq = chunk.read_seq();
    for (const auto& e : chunk.kvs()) {
      absl::StrAppend(&out, e.key(), "=", Shown(e.value()), "@", e.revision());
      if (expiries) absl::StrAppend(&out, "/", e.expires_at_unix_micros());
      out += "\n";
    }
  }
  grpc::Status s = reader->Finish();
  EXPECT_TRUE(s.ok()) << s.error_message();
  return out;
}

std::string Dump(const Model& m) {
  std::string out;
  for (const auto& [k, v] : m) {
    absl::StrAppend(&out, k, "=", Shown(v.first), "@", v.second, "\n");
  }
  return out;
}

// `cairnd --verify --data_dir=dir`: exit code and stdout+stderr.
std::pair<int, std::string> RunVerify(const std::string& dir) {
  const std::string cmd =
      absl::StrCat(CairndPath(), " --verify --data_dir='", dir, "' 2>&1");
  FILE* f = popen(cmd.c_str(), "r");
  if (f == nullptr) return {-1, "popen failed"};
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  const int rc = pclose(f);
  return {WIFEXITED(rc) ? WEXITSTATUS(rc) : -1, out};
}

// The last sequence a verified database holds, from the report's first line:
// "... (flushed sequence F); ... (sequences A..B); ..." -> max(F, B).
uint64_t VerifiedLastSeq(const std::string& report) {
  auto number_after = [&](const std::string& marker) -> uint64_t {
    size_t at = report.find(marker);
    if (at == std::string::npos) return 0;
    at += marker.size();
    size_t end = at;
    while (end < report.size() && isdigit(report[end])) ++end;
    uint64_t v = 0;
    EXPECT_TRUE(absl::SimpleAtoi(report.substr(at, end - at), &v)) << report;
    return v;
  };
  const uint64_t flushed = number_after("(flushed sequence ");
  const size_t seqs = report.find("(sequences ");
  uint64_t wal_last = 0;
  if (seqs != std::string::npos) {
    const size_t dots = report.find("..", seqs);
    if (dots != std::string::npos) {
      wal_last = number_after(report.substr(seqs, dots + 2 - seqs));
    }
  }
  return std::max(flushed, wal_last);
}

// The operator's restore: the checkpoint copied with `cp -a` to another
// directory (the original removed), verified; returns the copy's path.
std::string CopyAndVerify(const std::string& checkpoint,
                          const std::string& root) {
  const std::string restored = root + "/restored";
  EXPECT_EQ(RunShell(absl::StrCat("cp -a '", checkpoint, "' '", restored, "'")),
            0);
  std::filesystem::remove_all(checkpoint);
  auto [rc, report] = RunVerify(restored);
  EXPECT_EQ(rc, 0) << report;
  fprintf(stderr, "cairnd --verify of the restored copy: %s", report.c_str());
  return restored;
}

// The restored server takes writes right after `last`, and a Tail from
// last + 1 sees them in order with no gap.
void CheckContinuesAt(CairndProcess* restored, uint64_t last) {
  auto stub = v1::Replication::NewStub(restored->Channel());
  grpc::ClientContext tail_ctx;
  tail_ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(60)));
  v1::TailRequest tr;
  tr.set_from_seq(last + 1);
  auto tail = stub->Tail(&tail_ctx, tr);
  auto kv = v1::KV::NewStub(restored->Channel());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(
        Put(kv.get(), absl::StrCat("after/", i), "new", v1::DURABILITY_SYNC),
        last + 1 + i);
  }
  std::vector<uint64_t> seen;
  v1::TailResponse r;
  while (seen.size() < 5 && tail->Read(&r)) {
    for (const auto& e : r.events()) {
      seen.push_back(e.seq());
      EXPECT_EQ(e.key(), absl::StrCat("after/", e.seq() - last - 1));
    }
  }
  tail_ctx.TryCancel();
  while (tail->Read(&r)) {
  }
  tail->Finish().IgnoreError();
  ASSERT_EQ(seen.size(), 5u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(seen[i], last + 1 + i);
}

// Writers paused only for the checkpoint: the backup is exactly the
// primary's state at a snapshot taken then, read while the writes go on.
TEST(OperationsBackup,
     QuiescedCheckpointEqualsTheSnapshotAndRestoresElsewhere) {
  CairndOptions po;
  po.args = kSmallEngine;
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto ch = (*primary)->Channel();
  const std::string root = MakeTempDir("cairn-ops-backup-");
  const std::string ckpt = root + "/ckpt";

  Writers writers(ch, 3);
  writers.WaitWrites(500);
  writers.Pause();
  v1::AcquireSnapshotResponse snap;
  {
    v1::AcquireSnapshotRequest req;
    req.set_ttl_millis(120'000);
    grpc::Status s =
        v1::Admin::NewStub(ch)->AcquireSnapshot(Ctx().get(), req, &snap);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  const uint64_t seq = snap.seq();
  grpc::Status cs = Checkpoint(ch, ckpt);
  ASSERT_TRUE(cs.ok()) << cs.error_message();
  writers.Resume();
  writers.WaitWrites(50);
  const std::string at_snapshot = Dump(ch, seq);  // while writes go on
  writers.Stop();
  ASSERT_FALSE(writers.failed());
  EXPECT_EQ(Dump(writers.StateAt(seq)), Dump(ch, seq, /*expiries=*/false));
  EXPECT_GT(Stats(ch).last_seq(), seq);

  // What the backup holds, without starting a server: --verify's report.
  auto [rc, report] = RunVerify(ckpt);
  ASSERT_EQ(rc, 0) << report;
  EXPECT_EQ(VerifiedLastSeq(report), seq) << report;

  // A second copy seeds a new replica of the primary (below).
  ASSERT_EQ(RunShell(absl::StrCat("cp -a '", ckpt, "' '", root, "/seed'")), 0);
  const std::string restored_dir = CopyAndVerify(ckpt, root);
  CairndOptions ro;
  ro.data_dir = restored_dir;
  ro.args = kSmallEngine;
  auto restored = CairndProcess::Start(ro);
  ASSERT_TRUE(restored.ok()) << restored.status();
  EXPECT_EQ(Stats((*restored)->Channel()).last_seq(), seq);
  uint64_t read_seq = 0;
  EXPECT_EQ(Dump((*restored)->Channel(), 0, true, &read_seq), at_snapshot);
  EXPECT_EQ(read_seq, seq);
  CheckContinuesAt(restored->get(), seq);
  ASSERT_TRUE((*restored)->StopCleanly().ok());
  auto [rc2, report2] = RunVerify(restored_dir);
  EXPECT_EQ(rc2, 0) << report2;
  EXPECT_EQ(VerifiedLastSeq(report2), seq + 5) << report2;

  // A replica seeded from the backup of its primary resumes at seq + 1
  // (no copy over the network) and converges.
  CairndOptions so;
  so.data_dir = root + "/seed";
  so.args = kSmallEngine;
  so.args.push_back(absl::StrCat("--replica_of=", (*primary)->address()));
  auto seeded = CairndProcess::Start(so);
  ASSERT_TRUE(seeded.ok()) << seeded.status();
  const uint64_t primary_last = Stats(ch).last_seq();
  EXPECT_TRUE(WaitLastSeq(seeded->get(), primary_last));
  EXPECT_EQ(Dump((*seeded)->Channel()), Dump(ch));
  EXPECT_EQ((*seeded)->Log().find("replica bootstrapped"), std::string::npos);
  EXPECT_TRUE((*seeded)->StopCleanly().ok());
  ASSERT_TRUE((*primary)->StopCleanly().ok());
  std::filesystem::remove_all(root);
}

// The backup is taken while the writers run: it holds a prefix of the
// history that ends at a batch boundary and holds every write acknowledged
// before the call.
TEST(OperationsBackup, CheckpointUnderLoadIsAPrefixOfTheHistory) {
  CairndOptions po;
  po.args = kSmallEngine;
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto ch = (*primary)->Channel();
  const std::string root = MakeTempDir("cairn-ops-backup-");
  const std::string ckpt = root + "/ckpt";

  Writers writers(ch, 3);
  writers.WaitWrites(500);
  const uint64_t before = Stats(ch).last_seq();
  grpc::Status cs = Checkpoint(ch, ckpt);
  ASSERT_TRUE(cs.ok()) << cs.error_message();
  const uint64_t after = Stats(ch).last_seq();
  writers.WaitWrites(20);
  writers.Stop();
  ASSERT_FALSE(writers.failed());

  const std::string restored_dir = CopyAndVerify(ckpt, root);
  CairndOptions ro;
  ro.data_dir = restored_dir;
  ro.args = kSmallEngine;
  auto restored = CairndProcess::Start(ro);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const uint64_t s = Stats((*restored)->Channel()).last_seq();
  EXPECT_GE(s, before);
  EXPECT_LE(s, after);
  EXPECT_LT(s, Stats(ch).last_seq());  // writes went on after it
  EXPECT_EQ(Dump((*restored)->Channel(), 0, /*expiries=*/false),
            Dump(writers.StateAt(s)));
  CheckContinuesAt(restored->get(), s);
  EXPECT_TRUE((*restored)->StopCleanly().ok());
  EXPECT_TRUE((*primary)->StopCleanly().ok());
  std::filesystem::remove_all(root);
}

// Backups from a read replica: the checkpoint is the replica's applied
// prefix of the primary's history, taken while it applies.
TEST(OperationsBackup, CheckpointOfAReadReplica) {
  CairndOptions po;
  po.args = kSmallEngine;
  auto primary = CairndProcess::Start(po);
  ASSERT_TRUE(primary.ok()) << primary.status();
  auto ch = (*primary)->Channel();
  Writers writers(ch, 2);
  writers.WaitWrites(300);  // the replica bootstraps from a copy

  CairndOptions rpo;
  rpo.args = kSmallEngine;
  rpo.args.push_back(absl::StrCat("--replica_of=", (*primary)->address()));
  auto replica = CairndProcess::Start(rpo);
  ASSERT_TRUE(replica.ok()) << replica.status();
  const uint64_t target = Stats(ch).last_seq();
  writers.WaitWrites(100);
  ASSERT_TRUE(WaitLastSeq(replica->get(), target));

  // The checkpoint dir is on the replica's machine (here: the same one).
  const std::string root = MakeTempDir("cairn-ops-backup-");
  grpc::Status cs = Checkpoint((*replica)->Channel(), root + "/ckpt");
  ASSERT_TRUE(cs.ok()) << cs.error_message();
  writers.WaitWrites(20);
  writers.Stop();
  ASSERT_FALSE(writers.failed());

  const std::string restored_dir = CopyAndVerify(root + "/ckpt", root);
  CairndOptions ro;  // restored as a primary: no --replica_of
  ro.data_dir = restored_dir;
  ro.args = kSmallEngine;
  auto restored = CairndProcess::Start(ro);
  ASSERT_TRUE(restored.ok()) << restored.status();
  const v1::StatsResponse rs = Stats((*restored)->Channel());
  EXPECT_EQ(rs.replica_of(), "");
  EXPECT_GE(rs.last_seq(), target);
  EXPECT_EQ(Dump((*restored)->Channel(), 0, /*expiries=*/false),
            Dump(writers.StateAt(rs.last_seq())));
  CheckContinuesAt(restored->get(), rs.last_seq());
  EXPECT_TRUE((*restored)->StopCleanly().ok());
  EXPECT_TRUE((*replica)->StopCleanly().ok());
  EXPECT_TRUE((*primary)->StopCleanly().ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace cairn::test
