// ConsumerRegistry: the named Tail consumers of a cairnd and how far each
// has acknowledged, kept durably in <data_dir>/CONSUMERS (docs/formats.md,
// "Consumers file").
//
// Every change (register, ack, drop) rewrites the file atomically (a new
// file, synced, renamed over the old one, directory synced) before it
// returns, so an acknowledged Ack survives any crash. After each change the
// WAL's retention hold moves to the lowest unacknowledged sequence of all
// consumers (Log::SetRetentionHold), so the WAL they still need is kept, up
// to the caps of wal::Options::max_hold_bytes / max_hold_age.
//
// An Ack below a consumer's acknowledged sequence changes nothing (acks may
// arrive out of order); one above the last committed sequence is refused.
//
// Thread-safety: every method may be called concurrently.
#ifndef CAIRN_SERVER_CONSUMER_REGISTRY_H_
#define CAIRN_SERVER_CONSUMER_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/db.h"
#include "cairn/util/file_system.h"

namespace cairn::server {

struct ConsumerState {
  std::string name;
  uint64_t acked_seq = 0;  // every sequence <= this is processed
  absl::Time registered;
  absl::Time last_ack;  // registration time until the first ack
};

// How far a consumer is behind the last committed sequence.
struct ConsumerLag {
  uint64_t sequences = 0;
  // Since the commit of the first change it has not acknowledged (0 when
  // caught up). If the WAL no longer holds that change, since its last ack.
  double seconds = 0;
};
ConsumerLag ComputeLag(storage::DB* db, const ConsumerState& consumer,
                       absl::Time now);

class ConsumerRegistry {
 public:
  // Loads dir/CONSUMERS if present (DataLoss if it is corrupt) and sets the
  // WAL's retention hold for the consumers it names.
  static absl::StatusOr<std::unique_ptr<ConsumerRegistry>> Open(
      FileSystem* fs, const std::string& dir, storage::DB* db,
      int max_consumers);

  // Checks a consumer name: 1 to 128 bytes of [A-Za-z0-9._:-].
  static absl::Status ValidateName(std::string_view field,
                                   std::string_view name);

  // The consumer's state; registers it first, with acked_seq =
  // start_seq - 1, if it is new. RESOURCE_EXHAUSTED past max_consumers.
  absl::StatusOr<ConsumerState> Register(std::string_view name,
                                         uint64_t start_seq);
  // NOT_FOUND for an unknown consumer; INVALID_ARGUMENT for a sequence
  // above the last committed one.
  absl::Status Ack(std::string_view name, uint64_t seq);
  // NOT_FOUND for an unknown consumer.
  absl::Status Drop(std::string_view name);
  std::vector<ConsumerState> List() const;
  absl::StatusOr<ConsumerState> Get(std::string_view name) const;

 private:
  ConsumerRegistry(FileSystem* fs, std::string dir, storage::DB* db,
                   int max_consumers);
  absl::Status Load();
  // Writes the file for `next` and, if that worked, makes it current.
  absl::Status CommitLocked(std::map<std::string, ConsumerState> next);
  void UpdateHoldLocked();

  FileSystem* const fs_;
  const std::string dir_;
  storage::DB* const db_;
  const int max_consumers_;

  mutable std::mutex mu_;  // also serializes file writes
  std::map<std::string, ConsumerState> consumers_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_CONSUMER_REGISTRY_H_
