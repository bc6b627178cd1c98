// WriteBatch: an ordered group of writes applied atomically. The batch's
// encoding is exactly the payload of its WAL record (docs/formats.md, "Write
// batch"), so the WAL, recovery and Tail all decode the same bytes.
//
// Each operation gets its own sequence number at commit: a batch of n
// operations occupies n consecutive sequences, in the order they were added,
// so a later operation on the same key wins.
//
// A batch may also carry conditions on the current state of keys. They are
// not part of the encoding: DB::Write checks them and applies the batch in
// one atomic step with respect to every other write, or, if one fails,
// writes nothing (see DB::Write and FailedConditionIndex in db.h).
//
// Thread-safety: none; a batch belongs to one thread until written.
#ifndef CAIRN_STORAGE_WRITE_BATCH_H_
#define CAIRN_STORAGE_WRITE_BATCH_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace cairn::storage {

// A precondition on one key, checked against the latest committed state
// (merges folded, expired values absent) when the batch commits.
struct Condition {
  enum class Kind {
    kExists,          // the key has a live value
    kAbsent,          // the key has none
    kSequenceEquals,  // the write that produced its value has `sequence`
                      // (0: the key is absent)
    kValueEquals,     // its value is `value`
  };
  Kind kind = Kind::kExists;
  std::string key;
  uint64_t sequence = 0;
  std::string value;
};

class WriteBatch {
 public:
  // Receives the operations of a batch in order (see Iterate).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
    // A Put whose value expires at expires_at_micros (microseconds since the
    // Unix epoch).
    virtual absl::Status PutWithExpiry(std::string_view key,
                                       std::string_view value,
                                       uint64_t expires_at_micros) = 0;
    virtual absl::Status Delete(std::string_view key) = 0;
    // Deletes every key in [begin, end).
    virtual absl::Status DeleteRange(std::string_view begin,
                                     std::string_view end) = 0;
    // A merge operand for `op` (merge_operator.h).
    virtual absl::Status Merge(std::string_view key, std::string_view op,
                               std::string_view argument,
                               std::string_view operand) = 0;
  };

  WriteBatch();

  void Put(std::string_view key, std::string_view value);
  // A Put that expires: from expires_at_micros (microseconds since the Unix
  // epoch, by the DB's clock) on, reads treat it as a Delete at its sequence
  // and compaction removes it. DB::Write refuses 0.
  void PutWithExpiry(std::string_view key, std::string_view value,
                     uint64_t expires_at_micros);
  void Delete(std::string_view key);
  // Deletes every key in [begin, end). DB::Write refuses begin >= end.
  void DeleteRange(std::string_view begin, std::string_view end);
  // Adds an operand for merge operator `op` with an optional argument
  // (append's delimiter). DB::Write refuses unknown operators and operands
  // the operator rejects.
  void Merge(std::string_view key, std::string_view op,
             std::string_view operand, std::string_view argument = {});
  // Clears operations and conditions.
  void Clear();

  // Conditions (see Condition), checked in the order added.
  void RequireExists(std::string_view key);
  void RequireAbsent(std::string_view key);
  void RequireSequence(std::string_view key, uint64_t sequence);
  void RequireValue(std::string_view key, std::string_view value);
  const std::vector<Condition>& conditions() const { return conditions_; }

  uint32_t Count() const;
  // Bytes of the encoding (the WAL payload).
  size_t ByteSize() const { return rep_.size(); }
  // Sum of key and value bytes of the operations.
  uint64_t DataBytes() const { return data_bytes_; }

  // Calls handler for each operation in order; stops at its first error.
  // DataLoss if the encoding is malformed.
  absl::Status Iterate(Handler* handler) const;

  // The encoding; valid until the batch changes.
  std::string_view Payload() const { return rep_; }
  // A batch from an encoding (a WAL payload), without conditions. Checks the
  // header only; Iterate checks the rest.
  static absl::Status FromPayload(std::string_view payload, WriteBatch* out);

  // Commit time stamped by the engine into the header (microseconds since
  // the Unix epoch; 0 until committed).
  uint64_t CommitMicros() const;
  void SetCommitMicros(uint64_t micros);

 private:
  std::string rep_;  // header (count, commit time) then the records
  uint64_t data_bytes_ = 0;
  std::vector<Condition> conditions_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_WRITE_BATCH_H_
