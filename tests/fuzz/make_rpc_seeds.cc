// Writes a seed corpus for rpc_fuzzer into DIR (format: rpc_fuzz_format.h):
// a valid request for every RPC, a few refused ones, and sequences that make
// later calls meet earlier writes (put then get and scan, merges then get, a
// snapshot then reads at it, transactions, a named consumer's tail and ack).
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "cairn/v1/admin.pb.h"
#include "cairn/v1/kv.pb.h"
#include "cairn/v1/replication.pb.h"
#include "rpc_fuzz_format.h"

namespace cairn::fuzz {
namespace {

namespace v1 = ::cairn::v1;

// One frame: selector, length, serialized message.
template <typename Message>
std::string Frame(Rpc rpc, const Message& m) {
  std::string out(1, static_cast<char>(rpc));
  AppendSized(&out, m.SerializeAsString());
  return out;
}

std::string TxnFrame(const std::vector<v1::TxnRequest>& reqs) {
  std::string body;
  for (const v1::TxnRequest& r : reqs)
    AppendSized(&body, r.SerializeAsString());
  std::string out(1, static_cast<char>(Rpc::kTxn));
  AppendSized(&out, body);
  return out;
}

v1::GetRequest Get(const std::string& key, uint64_t snapshot = 0) {
  v1::GetRequest r;
  r.set_key(key);
  r.set_snapshot_seq(snapshot);
  return r;
}

v1::PutRequest Put(const std::string& key, const std::string& value) {
  v1::PutRequest r;
  r.set_key(key);
  r.set_value(value);
  return r;
}

v1::MergeRequest Merge(const std::string& key, const std::string& op,
                       const std::string& operand,
                       const std::string& argument = "") {
  v1::MergeRequest r;
  r.set_key(key);
  r.set_operator_(op);
  r.set_operand(operand);
  r.set_argument(argument);
  return r;
}

v1::ScanRequest Scan(const std::string& start, const std::string& end,
                     const std::string& prefix, uint64_t limit, bool reverse) {
  v1::ScanRequest r;
  r.set_start(start);
  r.set_end(end);
  r.set_prefix(prefix);
  r.set_limit(limit);
  r.set_reverse(reverse);
  return r;
}

v1::BatchRequest Batch() {
  v1::BatchRequest r;
  v1::Condition* c = r.add_conditions();
  c->set_kind(v1::Condition::ABSENT);
  c->set_key("b/lock");
  v1::BatchOp* op = r.add_ops();
  op->mutable_put()->set_key("b/1");
  op->mutable_put()->set_value("one");
  op = r.add_ops();
  op->mutable_put()->set_key("b/2");
  op->mutable_put()->set_ttl_millis(60000);
  op = r.add_ops();
  op->mutable_delete_()->set_key("b/3");
  op = r.add_ops();
  op->mutable_delete_range()->set_start("b/4");
  op->mutable_delete_range()->set_end("b/5");
  op = r.add_ops();
  op->mutable_merge()->set_key("b/n");
  op->mutable_merge()->set_operator_("add");
  op->mutable_merge()->set_operand("7");
  r.set_durability(v1::DURABILITY_ASYNC);
  return r;
}

std::vector<v1::TxnRequest> Txn(bool commit) {
  std::vector<v1::TxnRequest> t(6);
  t[0].mutable_begin();
  t[1].mutable_get()->set_key("t/a");
  t[2].mutable_scan()->set_prefix("t/");
  t[2].mutable_scan()->set_limit(5);
  t[3].mutable_put()->set_key("t/a");
  t[3].mutable_put()->set_value("x");
  t[4].mutable_merge()->set_key("t/n");
  t[4].mutable_merge()->set_operator_("max");
  t[4].mutable_merge()->set_operand("3");
  if (commit) {
    t[5].mutable_commit();
  } else {
    t[5].mutable_rollback();
  }
  return t;
}

}  // namespace
}  // namespace cairn::fuzz

int main(int argc, char** argv) {
  using namespace cairn::fuzz;
  namespace v1 = ::cairn::v1;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);

  v1::MultiGetRequest mget;
  mget.add_keys("k1");
  mget.add_keys("b/1");
  mget.add_keys("");
  v1::DeleteRequest del;
  del.set_key("k1");
  v1::DeleteRangeRequest delr;
  delr.set_start("a");
  delr.set_end("c");
  v1::TailRequest tail;
  tail.set_from_seq(1);
  tail.mutable_filter()->set_prefix("k");
  v1::TailRequest tail_consumer;
  tail_consumer.set_consumer("c1");
  tail_consumer.set_keys_only(true);
  v1::TailRequest tail_now;
  tail_now.set_from_now(true);
  tail_now.mutable_filter()->add_ops(v1::CHANGE_OP_PUT);
  v1::AckRequest ack;
  ack.set_consumer("c1");
  ack.set_seq(1);
  v1::DropConsumerRequest drop;
  drop.set_consumer("c1");
  v1::FlushRequest flush;
  v1::FlushRequest flush_no_wait;
  flush_no_wait.set_no_wait(true);
  v1::CompactRequest compact;
  compact.set_start("a");
  compact.set_end("z");
  v1::CheckpointRequest checkpoint;
  checkpoint.set_dir("/checkpoint");
  v1::CheckpointRequest checkpoint_relative;
  checkpoint_relative.set_dir("relative");
  v1::AcquireSnapshotRequest acquire;
  acquire.set_ttl_millis(5000);
  v1::ReleaseSnapshotRequest release;
  release.set_seq(1);
  v1::PutRequest put_ttl = Put("k2", "v2");
  put_ttl.set_ttl_millis(1);
  v1::PutRequest put_sync = Put("k3", "v3");
  put_sync.set_durability(v1::DURABILITY_SYNC);

  const std::vector<std::string> seeds = {
      Frame(Rpc::kGet, Get("k1")),
      Frame(Rpc::kMultiGet, mget),
      Frame(Rpc::kScan, Scan("", "", "", 0, false)),
      Frame(Rpc::kScan, Scan("a", "z", "", 3, true)),
      Frame(Rpc::kScan, Scan("", "", "k", 0, false)),
      Frame(Rpc::kPut, Put("k1", "v1")),
      Frame(Rpc::kPut, put_ttl),
      Frame(Rpc::kPut, put_sync),
      Frame(Rpc::kPut, Put("", "v")),
      Frame(Rpc::kDelete, del),
      Frame(Rpc::kDeleteRange, delr),
      Frame(Rpc::kMerge, Merge("n", "add", "5")),
      Frame(Rpc::kMerge, Merge("s", "append", "x", ",")),
      Frame(Rpc::kMerge, Merge("n", "add", "x")),
      Frame(Rpc::kBatch, Batch()),
      TxnFrame(Txn(true)),
      TxnFrame(Txn(false)),
      Frame(Rpc::kTail, tail),
      Frame(Rpc::kTail, tail_consumer),
      Frame(Rpc::kTail, tail_now),
      Frame(Rpc::kAck, ack),
      Frame(Rpc::kListConsumers, v1::ListConsumersRequest()),
      Frame(Rpc::kDropConsumer, drop),
      Frame(Rpc::kFlush, flush),
      Frame(Rpc::kFlush, flush_no_wait),
      Frame(Rpc::kCompact, compact),
      Frame(Rpc::kStats, v1::StatsRequest()),
      Frame(Rpc::kCheckpoint, checkpoint),
      Frame(Rpc::kCheckpoint, checkpoint_relative),
      Frame(Rpc::kAcquireSnapshot, acquire),
      Frame(Rpc::kReleaseSnapshot, release),
      // Sequences.
      Frame(Rpc::kPut, Put("k1", "v1")) + Frame(Rpc::kGet, Get("k1")) +
          Frame(Rpc::kScan, Scan("", "", "k", 0, false)),
      Frame(Rpc::kMerge, Merge("n", "add", "9223372036854775807")) +
          Frame(Rpc::kMerge, Merge("n", "add", "1")) +
          Frame(Rpc::kFlush, flush) + Frame(Rpc::kGet, Get("n")),
      Frame(Rpc::kPut, Put("s", "abc")) +
          Frame(Rpc::kMerge, Merge("s", "min", "1")) +
          Frame(Rpc::kGet, Get("s")) + Frame(Rpc::kCompact, compact),
      Frame(Rpc::kAcquireSnapshot, acquire) + Frame(Rpc::kPut, Put("k1", "v")) +
          Frame(Rpc::kGet, Get("k1", 1)) +
          Frame(Rpc::kReleaseSnapshot, release),
      Frame(Rpc::kTail, tail_consumer) + Frame(Rpc::kPut, Put("k1", "v")) +
          Frame(Rpc::kAck, ack) +
          Frame(Rpc::kListConsumers, v1::ListConsumersRequest()),
      Frame(Rpc::kBatch, Batch()) + Frame(Rpc::kDeleteRange, delr) +
          Frame(Rpc::kFlush, flush) + Frame(Rpc::kCheckpoint, checkpoint),
  };
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream(dir + "/seed" + std::to_string(i), std::ios::binary)
        << seeds[i];
  }
  return 0;
}
