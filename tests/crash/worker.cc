#include "worker.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <thread>
#include <utility>

#include "absl/strings/str_cat.h"
#include "cairn/client/batch.h"
#include "cairn/client/transaction.h"

namespace cairn::crash {
namespace {

// Put values are padded to a random length so that memtables fill (and
// flushes and compactions run) after a few hundred writes.
constexpr int kMinPad = 40;
constexpr int kMaxPad = 600;

const std::string& Padding() {
  static const std::string* pad = [] {
    auto* s = new std::string;
    for (int i = 0; i < kMaxPad; ++i) s->push_back('a' + (i * 7 + i / 26) % 26);
    return s;
  }();
  return *pad;
}

}  // namespace

Worker::Worker(client::Client* client, const Keyspace& keyspace, int cycle,
               int id, uint64_t seed, const std::atomic<bool>* stop,
               std::atomic<uint64_t>* next_op_id)
    : client_(client),
      keyspace_(keyspace),
      cycle_(cycle),
      id_(id),
      stop_(stop),
      next_op_id_(next_op_id),
      rng_(seed ^ (static_cast<uint64_t>(cycle) << 20) ^
           (static_cast<uint64_t>(id) * 0x9E3779B97F4A7C15ULL)) {}

void Worker::Run() {
  while (!stop_->load(std::memory_order_acquire)) {
    int r = Uniform(100);
    if (r < 28) {
      DoPut();
    } else if (r < 36) {
      DoDelete();
    } else if (r < 56) {
      DoMerge();
    } else if (r < 76) {
      DoBatch();
    } else if (r < 88) {
      DoTxnGroup();
    } else {
      DoTransfer();
    }
  }
}

OpRecord& Worker::Begin(std::string kind, bool with_token) {
  OpRecord& op = ops_.emplace_back();
  op.id = next_op_id_->fetch_add(1);
  op.kind = std::move(kind);
  if (with_token)
    op.token = absl::StrCat("c", cycle_, ".w", id_, ".", ++tokens_);
  op.outcome = Outcome::kMaybe;
  return op;
}

void Worker::Finish(OpRecord& op, const absl::Status& status, uint64_t seq) {
  if (status.ok()) {
    op.outcome = Outcome::kAcked;
    op.seq = seq;
  } else {
    op.outcome = Outcome::kMaybe;  // the server may have committed it
    CountError(status);
  }
}

void Worker::CountError(const absl::Status& status) {
  if (stop_->load()) {
    ++errors_after_stop_[absl::StatusCodeToString(status.code())];
    return;
  }
  ++errors_before_stop_[absl::StatusCodeToString(status.code())];
  // A failing server (e.g. a channel still connecting on a loaded machine)
  // would otherwise turn every op into one in flight, as fast as they fail.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

std::string Worker::Value(const std::string& token,
                          const std::string& payload) {
  int pad = kMinPad + Uniform(kMaxPad - kMinPad);
  return absl::StrCat(token, "|", payload, "|", Padding().substr(0, pad));
}

void Worker::DoPut() {
  OpRecord& op = Begin("put", true);
  std::string key = keyspace_.Register(Uniform(keyspace_.registers));
  op.writes.push_back({Write::Type::kPut, key, Value(op.token, "")});
  absl::StatusOr<uint64_t> seq = client_->Put(key, op.writes[0].value);
  Finish(op, seq.status(), seq.value_or(0));
}

void Worker::DoDelete() {
  OpRecord& op = Begin("delete", false);
  std::string key = keyspace_.Register(Uniform(keyspace_.registers));
  op.writes.push_back({Write::Type::kDelete, key, ""});
  absl::StatusOr<uint64_t> seq = client_->Delete(key);
  Finish(op, seq.status(), seq.value_or(0));
}

void Worker::DoMerge() {
  OpRecord& op = Begin("merge", false);
  std::string key = keyspace_.Counter(Uniform(keyspace_.counters));
  std::string operand = absl::StrCat(Uniform(1100) - 100);
  op.writes.push_back({Write::Type::kMerge, key, operand});
  absl::StatusOr<uint64_t> seq = client_->Merge(key, "add", operand);
  Finish(op, seq.status(), seq.value_or(0));
}

// Compare-and-set over a batch group: read the group's first key, then write
// the whole group only if that key is unchanged. Sometimes the condition is
// made stale on purpose, so that refused batches are part of the history.
void Worker::DoBatch() {
  const int g = Uniform(keyspace_.batch_groups);
  const std::string key0 = keyspace_.BatchKey(g, 0);
  absl::StatusOr<client::GetResult> cur = client_->Get(key0);
  if (!cur.ok()) {
    CountError(cur.status());
    return;
  }
  OpRecord& op = Begin("batch", true);
  client::Batch b;
  uint64_t revision = cur->found ? cur->revision : 0;
  if (Uniform(10) == 0) revision += 1 + Uniform(3);  // stale on purpose
  if (revision == 0 && Uniform(2) == 0) {
    b.IfAbsent(key0);
  } else {
    b.IfRevision(key0, revision);
  }
  const bool del = Uniform(100) < 15;
  const std::string value = Value(op.token, "");
  for (int k = 0; k < keyspace_.batch_group_size; ++k) {
    std::string key = keyspace_.BatchKey(g, k);
    if (del) {
      b.Delete(key);
      op.writes.push_back({Write::Type::kDelete, key, ""});
    } else {
      b.Put(key, value);
      op.writes.push_back({Write::Type::kPut, key, value});
    }
  }
  if (Uniform(2) == 0) {
    std::string counter = keyspace_.Counter(Uniform(keyspace_.counters));
    std::string operand = absl::StrCat(1 + Uniform(50));
    b.Merge(counter, "add", operand);
    op.writes.push_back({Write::Type::kMerge, counter, operand});
  }
  absl::StatusOr<client::BatchResult> res = client_->Write(b);
  if (res.ok() && !res->succeeded) {
    op.outcome = Outcome::kNotApplied;
    return;
  }
  Finish(op, res.status(), res.ok() ? res->seq : 0);
}

// A transaction that reads every key of a transaction group and writes one
// new value to all of them.
void Worker::DoTxnGroup() {
  const int g = Uniform(keyspace_.txn_groups);
  absl::StatusOr<std::unique_ptr<client::Transaction>> txn =
      client_->BeginTransaction();
  if (!txn.ok()) {
    CountError(txn.status());
    return;
  }
  for (int k = 0; k < keyspace_.txn_group_size; ++k) {
    absl::StatusOr<client::GetResult> r = (*txn)->Get(keyspace_.TxnKey(g, k));
    if (!r.ok()) {
      CountError(r.status());
      return;  // never committed: nothing written
    }
  }
  OpRecord& op = Begin("txn-group", true);
  const std::string value = Value(op.token, "");
  for (int k = 0; k < keyspace_.txn_group_size; ++k) {
    std::string key = keyspace_.TxnKey(g, k);
    op.writes.push_back({Write::Type::kPut, key, value});
    if (absl::Status s = (*txn)->Put(key, value); !s.ok()) {
      CountError(s);
      op.outcome = Outcome::kNotApplied;
      return;
    }
  }
  absl::StatusOr<uint64_t> seq = (*txn)->Commit();
  if (absl::IsAborted(seq.status())) {
    op.outcome = Outcome::kNotApplied;
    return;
  }
  Finish(op, seq.status(), seq.value_or(0));
}

// A transaction that moves an amount from one account to another; the
// writes go in key order, the order the server commits them in.
void Worker::DoTransfer() {
  int i = Uniform(keyspace_.accounts);
  int j = Uniform(keyspace_.accounts - 1);
  if (j >= i) ++j;
  if (i > j) std::swap(i, j);
  const std::string a = keyspace_.Account(i), b = keyspace_.Account(j);
  absl::StatusOr<std::unique_ptr<client::Transaction>> txn =
      client_->BeginTransaction();
  if (!txn.ok()) {
    CountError(txn.status());
    return;
  }
  int64_t balance[2];
  const std::string keys[2] = {a, b};
  for (int k = 0; k < 2; ++k) {
    absl::StatusOr<client::GetResult> r = (*txn)->Get(keys[k]);
    if (!r.ok()) {
      CountError(r.status());
      return;
    }
    if (!r->found || !ParseBalance(r->value, &balance[k])) return;
  }
  const int64_t amount = Uniform(201) - 100;
  balance[0] -= amount;
  balance[1] += amount;
  OpRecord& op = Begin("transfer", true);
  for (int k = 0; k < 2; ++k) {
    std::string value = Value(op.token, absl::StrCat(balance[k]));
    op.writes.push_back({Write::Type::kPut, keys[k], value});
    if (absl::Status s = (*txn)->Put(keys[k], value); !s.ok()) {
      CountError(s);
      op.outcome = Outcome::kNotApplied;
      return;
    }
  }
  absl::StatusOr<uint64_t> seq = (*txn)->Commit();
  if (absl::IsAborted(seq.status())) {
    op.outcome = Outcome::kNotApplied;
    return;
  }
  Finish(op, seq.status(), seq.value_or(0));
}

}  // namespace cairn::crash
