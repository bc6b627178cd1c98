// EventListener: callbacks for what the engine's background work and write
// path do, so that an embedding server can export metrics and logs without
// the engine knowing about either. Callbacks run on engine threads; they
// must be quick and must not call back into the DB (OnBackgroundError runs
// with the DB mutex held). Default implementations do nothing.
#ifndef CAIRN_STORAGE_EVENT_LISTENER_H_
#define CAIRN_STORAGE_EVENT_LISTENER_H_

#include <cstdint>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cairn/storage/statistics.h"

namespace cairn::storage {

struct FlushJobInfo {
  uint64_t file_number = 0;  // 0 if the memtable held nothing to write
  uint64_t entries = 0;
  uint64_t bytes = 0;        // size of the table written
  uint64_t flushed_seq = 0;  // every sequence <= this is now in SSTables
  absl::Duration duration;   // set on end
  absl::Status status;       // set on end
};

struct CompactionJobInfo {
  int level = 0;  // input level
  int output_level = 0;
  int input_files = 0;
  int output_files = 0;
  uint64_t input_bytes = 0;
  uint64_t output_bytes = 0;
  uint64_t entries_dropped = 0;  // versions and tombstones removed
  bool manual = false;
  absl::Duration duration;  // set on end
  absl::Status status;      // set on end
};

class EventListener {
 public:
  virtual ~EventListener() = default;
  virtual void OnFlushBegin(const FlushJobInfo& info) {}
  virtual void OnFlushEnd(const FlushJobInfo& info) {}
  virtual void OnCompactionBegin(const CompactionJobInfo& info) {}
  virtual void OnCompactionEnd(const CompactionJobInfo& info) {}
  // A writer started or stopped waiting for `reason`.
  virtual void OnStallBegin(StallReason reason) {}
  virtual void OnStallEnd(StallReason reason, absl::Duration waited) {}
  virtual void OnWalSync(absl::Duration duration, bool ok) {}
  virtual void OnWriteGroup(size_t batches, uint64_t bytes) {}
  // A background flush or compaction failed: the DB is now read-only.
  virtual void OnBackgroundError(const absl::Status& status) {}
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_EVENT_LISTENER_H_
