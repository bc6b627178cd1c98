#include "cairn/storage/change_reader.h"

#include <algorithm>

#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "cairn/storage/db.h"
#include "cairn/wal/log.h"
#include "cairn/wal/reader.h"
#include "dbformat.h"
#include "merge_operand.h"
#include "write_batch_internal.h"

namespace cairn::storage {

absl::Status ChangeBatch::ForEach(
    absl::FunctionRef<absl::Status(const Change&)> fn) const {
  uint64_t seq = first_seq;
  return ForEachPayloadRecord(
      payload,
      [&](uint8_t type, std::string_view key,
          std::string_view value) -> absl::Status {
        Change c;
        c.seq = seq++;
        c.key = key;
        switch (type) {
          case kTypeValue:
            c.type = ChangeType::kPut;
            c.value = value;
            break;
          case kTypeValueWithExpiry:
            c.type = ChangeType::kPut;
            DecodeValueWithExpiry(value, &c.value, &c.expires_at_micros);
            break;
          case kTypeDeletion:
            c.type = ChangeType::kDelete;
            break;
          case kTypeRangeDeletion:
            c.type = ChangeType::kDeleteRange;
            c.range_end = value;
            break;
          default: {  // kTypeMerge, checked by ForEachPayloadRecord
            MergeOperand m;
            DecodeMergeOperand(value, &m);
            c.type = ChangeType::kMerge;
            c.value = m.operand;
            c.merge_operator = m.op;
            c.merge_argument = m.argument;
            break;
          }
        }
        return fn(c);
      });
}

absl::StatusOr<ChangeBatch> ParseChangeBatch(uint64_t first_seq,
                                             std::string_view payload) {
  ChangeBatch batch;
  batch.first_seq = first_seq;
  batch.payload = payload;
  if (!DecodeBatchHeader(payload, &batch.count, &batch.commit_micros)) {
    return absl::DataLossError(absl::StrFormat(
        "WAL record at sequence %d: %d bytes, shorter than a batch header",
        first_seq, payload.size()));
  }
  if (batch.count == 0) {
    return absl::DataLossError(absl::StrFormat(
        "WAL record at sequence %d: a batch without operations", first_seq));
  }
  return batch;
}

ChangeReader::ChangeReader(DB* db, std::unique_ptr<wal::Reader> reader)
    : db_(db), reader_(std::move(reader)) {}

ChangeReader::~ChangeReader() = default;

absl::StatusOr<std::unique_ptr<ChangeReader>> ChangeReader::Open(
    DB* db, uint64_t from_seq) {
  absl::StatusOr<std::unique_ptr<wal::Reader>> reader =
      db->wal()->NewReader(from_seq);
  if (!reader.ok()) return reader.status();
  return std::unique_ptr<ChangeReader>(
      new ChangeReader(db, std::move(*reader)));
}

absl::StatusOr<ChangeBatch> ChangeReader::Next(absl::Time deadline) {
  if (!pending_.has_value()) {
    absl::StatusOr<wal::Record> rec = reader_->Next(deadline);
    if (!rec.ok()) return rec.status();
    absl::StatusOr<ChangeBatch> batch =
        ParseChangeBatch(rec->first_seq, rec->payload);
    if (!batch.ok()) return batch.status();
    if (batch->count != rec->seq_count) {
      return absl::DataLossError(absl::StrFormat(
          "WAL record at sequence %d covers %d sequences, its batch %d",
          rec->first_seq, rec->seq_count, batch->count));
    }
    pending_ = *batch;
  }
  // The record is in the WAL; it is a change once the DB publishes it (its
  // group's sync, if any, is done). That is at most one sync away; the
  // wait goes in slices so that Cancel is noticed.
  const uint64_t last = pending_->last_seq();
  while (true) {
    const absl::Time slice =
        std::min(deadline, absl::Now() + absl::Milliseconds(1));
    if (db_->WaitForSequence(last, slice)) break;
    if (cancelled_.load(std::memory_order_acquire)) {
      return absl::CancelledError("change reader cancelled");
    }
    const absl::Time now = absl::Now();
    if (now >= deadline) {
      return absl::DeadlineExceededError(absl::StrFormat(
          "sequence %d is in the WAL but not yet acknowledged", last));
    }
    // WaitForSequence returns early, false, only once the DB is closed.
    if (now < slice) return absl::FailedPreconditionError("the DB is closed");
  }
  ChangeBatch batch = *pending_;
  pending_.reset();
  return batch;
}

void ChangeReader::Cancel() {
  cancelled_.store(true, std::memory_order_release);
  reader_->Cancel();
}

uint64_t ChangeReader::next_seq() const {
  return pending_.has_value() ? pending_->first_seq : reader_->next_seq();
}

}  // namespace cairn::storage
