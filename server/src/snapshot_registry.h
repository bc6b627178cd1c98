// SnapshotRegistry: the engine snapshots that clients hold through
// Admin.AcquireSnapshot, so that later reads can name them by sequence.
//
// Each Acquire is its own engine registration (two clients that acquire the
// same sequence hold two), released by ReleaseSnapshot(seq) (one of them) or
// when its TTL passes. Find hands out a shared reference: a read in progress
// keeps the engine snapshot alive even if the client releases it meanwhile.
//
// Invariants: at most `max` registrations; every engine snapshot is released
// exactly once (when the last reference drops). Clear() must run, and every
// reference must be gone, before the DB closes.
//
// Thread-safe.
#ifndef CAIRN_SERVER_SNAPSHOT_REGISTRY_H_
#define CAIRN_SERVER_SNAPSHOT_REGISTRY_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/db.h"

namespace cairn::server {

class SnapshotRegistry {
 public:
  using Ref = std::shared_ptr<const storage::Snapshot>;

  SnapshotRegistry(storage::DB* db, int max);
  ~SnapshotRegistry();

  struct Acquired {
    uint64_t seq;
    absl::Time expires_at;
  };
  // RESOURCE_EXHAUSTED when `max` are held; FAILED_PRECONDITION on an empty
  // database (its sequence, 0, means "latest" in requests).
  absl::StatusOr<Acquired> Acquire(absl::Duration ttl);
  // NOT_FOUND if no registration at `seq` is held (or it expired).
  absl::Status Release(uint64_t seq);
  // A held snapshot at `seq`; FAILED_PRECONDITION naming `field` if none.
  absl::StatusOr<Ref> Find(uint64_t seq, std::string_view field);
  // Drops registrations whose TTL passed.
  void ExpireOld();
  // Drops every registration.
  void Clear();
  int size();

 private:
  struct Entry {
    Ref snapshot;
    absl::Time expires_at;
  };
  void ExpireLocked(absl::Time now);

  storage::DB* const db_;
  const int max_;
  std::mutex mu_;
  std::multimap<uint64_t, Entry> held_;  // by sequence
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_SNAPSHOT_REGISTRY_H_
