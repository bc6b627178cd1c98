// TransactionImpl: optimistic transactions (cairn/storage/transaction.h).
// Reads go to the DB at the transaction's snapshot, through its write set;
// Commit hands the batch and the conflict set to the write path, whose
// leader validates and writes in one step (db_check.cc).
#include "cairn/storage/transaction.h"

#include <deque>

#include "absl/strings/str_format.h"
#include "db_impl.h"
#include "db_iter.h"
#include "get_context.h"
#include "merge_operand.h"
#include "txn_iterator.h"
#include "txn_write_set.h"

namespace cairn::storage {

class TransactionImpl final : public Transaction {
 public:
  TransactionImpl(DBImpl* db, const Snapshot* snapshot)
      : db_(db), snapshot_(snapshot) {
    conflicts_.snapshot = snapshot->sequence();
  }
  ~TransactionImpl() override { Rollback(); }

  uint64_t snapshot_sequence() const override { return conflicts_.snapshot; }

  absl::StatusOr<GetResult> Get(std::string_view key) override {
    if (finished_) return Finished();
    conflicts_.keys.emplace(key);
    auto it = writes_.find(key);
    absl::StatusOr<GetResult> snap = absl::NotFoundError("key not found");
    if (it == writes_.end() || it->second.NeedsSnapshotValue()) {
      ReadOptions ro;
      ro.snapshot = snapshot_;
      snap = db_->Get(ro, key);
      if (snap.ok()) NoteExpiry(snap->expires_at_micros);
    }
    if (it == writes_.end()) return snap;
    return it->second.Apply(key, snap, *db_->merges_, db_->NowMicros());
  }

  std::unique_ptr<Iterator> NewIterator(const ReadOptions& options) override {
    if (finished_) {
      return NewDBIterator(NewEmptyIterator(Finished()), DBIterOptions{});
    }
    ReadOptions ro = options;
    ro.snapshot = snapshot_;
    TxnIteratorOptions o;
    // The DB iterator folds prefix into its bounds; so does this one.
    o.lower_bound = options.lower_bound;
    o.upper_bound = options.upper_bound;
    ApplyPrefix(options.prefix, &o.lower_bound, &o.upper_bound);
    o.writes = &writes_;
    o.merges = db_->merges_.get();
    o.now_micros = db_->NowMicros();
    o.span = &spans_.emplace_back();
    o.min_expiry_micros = &conflicts_.min_expiry_micros;
    return NewTxnIterator(db_->NewIterator(ro), std::move(o));
  }

  absl::Status Put(std::string_view key, std::string_view value) override {
    if (finished_) return Finished();
    TxnKeyWrites& w = Touch(key);
    w.base = TxnKeyWrites::Base::kPut;
    w.value.assign(value);
    w.expiry = 0;
    w.operands.clear();
    batch_.Put(key, value);
    return absl::OkStatus();
  }

  absl::Status PutWithExpiry(std::string_view key, std::string_view value,
                             uint64_t expires_at_micros) override {
    if (finished_) return Finished();
    if (expires_at_micros == 0) {
      return absl::InvalidArgumentError("PutWithExpiry: expires_at is 0");
    }
    TxnKeyWrites& w = Touch(key);
    w.base = TxnKeyWrites::Base::kPut;
    w.value.assign(value);
    w.expiry = expires_at_micros;
    w.operands.clear();
    batch_.PutWithExpiry(key, value, expires_at_micros);
    return absl::OkStatus();
  }

  absl::Status Delete(std::string_view key) override {
    if (finished_) return Finished();
    TxnKeyWrites& w = Touch(key);
    w.base = TxnKeyWrites::Base::kDelete;
    w.value.clear();
    w.expiry = 0;
    w.operands.clear();
    batch_.Delete(key);
    return absl::OkStatus();
  }

  absl::Status Merge(std::string_view key, std::string_view op,
                     std::string_view operand,
                     std::string_view argument) override {
    if (finished_) return Finished();
    std::string encoded;
    EncodeMergeOperand(&encoded, op, argument, operand);
    if (absl::Status s = db_->merges_->Validate(encoded); !s.ok()) return s;
    Touch(key).operands.push_back(std::move(encoded));
    batch_.Merge(key, op, operand, argument);
    return absl::OkStatus();
  }

  absl::StatusOr<uint64_t> Commit(const WriteOptions& options) override {
    if (finished_) return Finished();
    for (const TxnSpan& span : spans_) {
      if (span.used) conflicts_.ranges.push_back(span.range);
    }
    WriteCheck check;
    check.conflicts = &conflicts_;
    absl::StatusOr<uint64_t> r = db_->CommitTransaction(options, batch_, check);
    Rollback();  // finished either way: release the snapshot
    return r;
  }

  void Rollback() override {
    if (finished_) return;
    finished_ = true;
    db_->ReleaseSnapshot(snapshot_);
    writes_.clear();
    batch_.Clear();
  }

 private:
  static absl::Status Finished() {
    return absl::FailedPreconditionError(
        "transaction already committed or rolled back");
  }

  TxnKeyWrites& Touch(std::string_view key) {
    conflicts_.keys.emplace(key);
    auto it = writes_.find(key);
    if (it == writes_.end()) it = writes_.emplace(key, TxnKeyWrites{}).first;
    return it->second;
  }

  void NoteExpiry(uint64_t expiry) {
    uint64_t& m = conflicts_.min_expiry_micros;
    if (expiry != 0 && (m == 0 || expiry < m)) m = expiry;
  }

  DBImpl* const db_;
  const Snapshot* const snapshot_;  // owned registration
  bool finished_ = false;
  ConflictSet conflicts_;
  TxnWriteSet writes_;
  WriteBatch batch_;
  std::deque<TxnSpan> spans_;  // one per iterator; stable addresses
};

std::unique_ptr<Transaction> DB::BeginTransaction() {
  return BeginTransaction(TransactionOptions{});
}

std::unique_ptr<Transaction> DBImpl::BeginTransaction(
    const TransactionOptions& options) {
  const Snapshot* snapshot =
      RegisterSnapshot(options.snapshot ? options.snapshot->sequence() : 0);
  return std::make_unique<TransactionImpl>(this, snapshot);
}

absl::StatusOr<uint64_t> DBImpl::CommitTransaction(const WriteOptions& options,
                                                   const WriteBatch& batch,
                                                   const WriteCheck& check) {
  return WriteInternal(options, &batch, &check);
}

}  // namespace cairn::storage
