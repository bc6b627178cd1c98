#include "snapshot_registry.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "string_view_bridge.h"

namespace cairn::server {

SnapshotRegistry::SnapshotRegistry(storage::DB* db, int max)
    : db_(db), max_(max) {}

SnapshotRegistry::~SnapshotRegistry() { Clear(); }

absl::StatusOr<SnapshotRegistry::Acquired> SnapshotRegistry::Acquire(
    absl::Duration ttl) {
  std::lock_guard<std::mutex> lock(mu_);
  absl::Time now = absl::Now();
  ExpireLocked(now);
  if (db_->LastSequence() == 0) {
    // snapshot_seq 0 means "latest": a snapshot there could not be named.
    return absl::FailedPreconditionError(
        "the database is empty (sequence 0): nothing to snapshot yet");
  }
  if (static_cast<int>(held_.size()) >= max_) {
    return absl::ResourceExhaustedError(
        absl::StrCat("already holding ", max_, " snapshots (--max_snapshots)"));
  }
  storage::DB* db = db_;
  Ref ref(db->GetSnapshot(),
          [db](const storage::Snapshot* s) { db->ReleaseSnapshot(s); });
  Acquired a{ref->sequence(), now + ttl};
  held_.emplace(a.seq, Entry{std::move(ref), a.expires_at});
  return a;
}

absl::Status SnapshotRegistry::Release(uint64_t seq) {
  Ref dropped;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(absl::Now());
  auto it = held_.find(seq);
  if (it == held_.end()) {
    return absl::NotFoundError(absl::StrCat("seq: no snapshot held at ", seq));
  }
  dropped = std::move(it->second.snapshot);
  held_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<SnapshotRegistry::Ref> SnapshotRegistry::Find(
    uint64_t seq, std::string_view field) {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(absl::Now());
  auto it = held_.find(seq);
  if (it == held_.end()) {
    return absl::FailedPreconditionError(absl::StrCat(
        Sv(field), ": no snapshot held at ", seq,
        " (acquire one with Admin.AcquireSnapshot; it may have expired)"));
  }
  return it->second.snapshot;
}

void SnapshotRegistry::ExpireOld() {
  std::lock_guard<std::mutex> lock(mu_);
  ExpireLocked(absl::Now());
}

void SnapshotRegistry::ExpireLocked(absl::Time now) {
  for (auto it = held_.begin(); it != held_.end();) {
    if (it->second.expires_at <= now) {
      it = held_.erase(it);
    } else {
      ++it;
    }
  }
}

void SnapshotRegistry::Clear() {
  std::lock_guard<std::mutex> lock(mu_);
  held_.clear();
}

int SnapshotRegistry::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(held_.size());
}

}  // namespace cairn::server
