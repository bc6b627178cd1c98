// WriteBatch: an ordered group of writes applied atomically. The batch's
// encoding is exactly the payload of its WAL record (docs/formats.md, "Write
// batch"), so the WAL, recovery and Tail all decode the same bytes.
//
// Each operation gets its own sequence number at commit: a batch of n
// operations occupies n consecutive sequences, in the order they were added,
// so a later operation on the same key wins.
//
// Thread-safety: none; a batch belongs to one thread until written.
#ifndef CAIRN_STORAGE_WRITE_BATCH_H_
#define CAIRN_STORAGE_WRITE_BATCH_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace cairn::storage {

class WriteBatch {
 public:
  // Receives the operations of a batch in order (see Iterate).
  class Handler {
   public:
    virtual ~Handler() = default;
    virtual absl::Status Put(std::string_view key, std::string_view value) = 0;
    virtual absl::Status Delete(std::string_view key) = 0;
    // Deletes every key in [begin, end).
    virtual absl::Status DeleteRange(std::string_view begin,
                                     std::string_view end) = 0;
  };

  WriteBatch();

  void Put(std::string_view key, std::string_view value);
  void Delete(std::string_view key);
  // Deletes every key in [begin, end). DB::Write refuses begin >= end.
  void DeleteRange(std::string_view begin, std::string_view end);
  void Clear();

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
  // A batch from an encoding (a WAL payload). Checks the header only;
  // Iterate checks the rest.
  static absl::Status FromPayload(std::string_view payload, WriteBatch* out);

  // Commit time stamped by the engine into the header (microseconds since
  // the Unix epoch; 0 until committed).
  uint64_t CommitMicros() const;
  void SetCommitMicros(uint64_t micros);

 private:
  std::string rep_;  // header (count, commit time) then the records
  uint64_t data_bytes_ = 0;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_WRITE_BATCH_H_
