// Options, per-append options, statistics and the event listener of a WAL.
#ifndef CAIRN_WAL_OPTIONS_H_
#define CAIRN_WAL_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "cairn/util/file_system.h"

namespace cairn::wal {

// When appended records are made durable (fdatasync of the mapped range).
enum class SyncMode {
  // Every commit group is synced before its appends return: a durable ack.
  kEveryCommit,
  // Only appends that ask for it (AppendOptions::sync) and explicit
  // Log::Sync() calls sync; the rest is acknowledged once in the mapped pages
  // (it survives a process crash, not a power loss).
  kNone,
  // Like kNone, and a background thread syncs whenever bytes_per_sync bytes
  // have been appended since the last sync.
  kBytes,
  // Like kNone, and a background thread syncs every sync_interval.
  kPeriodic,
};

// Receives WAL events, for statistics. Called on the thread that caused the
// event, sometimes with internal locks held: implementations must be quick
// and must not call back into the Log.
class LogListener {
 public:
  virtual ~LogListener() = default;
  // A sync finished (successfully or not) after `duration`.
  virtual void OnSync(absl::Duration duration, bool ok) {}
  // A commit group of `records` records and `bytes` frame bytes was written.
  virtual void OnCommitGroup(size_t records, uint64_t bytes, bool synced) {}
  virtual void OnSegmentCreated(uint32_t segment_id) {}
  virtual void OnSegmentSealed(uint32_t segment_id, uint64_t bytes) {}
  virtual void OnSegmentDeleted(uint32_t segment_id) {}
  // A background sync or deletion failed.
  virtual void OnBackgroundError(const absl::Status& status) {}
};

struct Options {
  // Where all file I/O goes. Must outlive the Log and its readers.
  FileSystem* fs = FileSystem::Default();
  // Size of each preallocated segment file. A record whose frame does not fit
  // in an empty segment is refused.
  uint64_t segment_size = 64ull << 20;
  SyncMode sync_mode = SyncMode::kEveryCommit;
  uint64_t bytes_per_sync = 1ull << 20;                    // for kBytes
  absl::Duration sync_interval = absl::Milliseconds(100);  // for kPeriodic
  // Sequence number of the first record of a brand-new log.
  uint64_t first_sequence = 1;
  // A commit group stops growing at this many frame bytes.
  uint64_t max_group_bytes = 1ull << 20;
  // Spacing of the in-memory sequence index, in bytes of log.
  uint64_t index_interval = 4096;
  // The background thread creates the next segment ahead of need, so that
  // rotating only renames a file (creating one, with its fallocate and
  // fsyncs, can take tens of milliseconds). false: rotation creates it.
  bool prepare_next_segment = true;
  // A background thread keeps this many bytes ahead of the write position
  // faulted in (MappedRegion::Prefault), so that appends do not pay for page
  // faults. 0 disables it.
  uint64_t prefault_bytes = 8ull << 20;

  // Tail retention, on top of the owner's "deletable below" watermark: a
  // segment the watermark allows to go is still kept while deleting it would
  // leave less than retain_bytes of log (counted as segment file sizes), or
  // while it is younger than retain_age (0 disables either rule).
  uint64_t retain_bytes = 0;
  absl::Duration retain_age = absl::ZeroDuration();
  // Segments holding sequences at or above the retention hold (see
  // Log::SetRetentionHold) are kept, unless the log's segment files add up
  // to more than max_hold_bytes (0: no cap), when the oldest go first anyway,
  // or the segment was last written max_hold_age ago or more (0: no cap).
  uint64_t max_hold_bytes = 0;
  absl::Duration max_hold_age = absl::ZeroDuration();

  LogListener* listener = nullptr;  // not owned; may be null
  // Clock for timestamps and age-based retention; tests replace it.
  std::function<absl::Time()> clock = [] { return absl::Now(); };
};

struct AppendOptions {
  // Make this record durable before returning, whatever the sync mode.
  bool sync = false;
};

// Cumulative counters since Open.
struct LogStats {
  uint64_t records_appended = 0;
  uint64_t bytes_appended = 0;  // frame bytes
  uint64_t commit_groups = 0;
  uint64_t syncs = 0;
  uint64_t sync_failures = 0;
  uint64_t segments_created = 0;
  uint64_t segments_deleted = 0;
  uint64_t live_segments = 0;
  uint64_t live_bytes = 0;  // sizes of the segment files in the log
};

// What Open found and repaired.
struct RecoveryReport {
  uint32_t segments = 0;
  uint64_t records_scanned = 0;  // in the segment(s) scanned at open
  // A torn or unsynced tail that was cut off: where, and how many bytes from
  // there to the last non-zero byte were zeroed.
  bool truncated_tail = false;
  uint64_t truncated_at = 0;  // offset in the segment that was cut
  uint64_t truncated_bytes = 0;
  // Valid-looking frames found after the cut. They lie beyond what was known
  // durable, so they were unsynced writes the crash tore apart; they are
  // dropped with the tail and counted here.
  uint64_t dropped_frames_after_cut = 0;
  // The last segment's header failed its checksum and was rebuilt from the
  // frames (a header torn by a crash while it was being rewritten).
  bool rebuilt_header = false;
  uint32_t removed_temp_files = 0;
  // Segments after a torn one (power loss before their predecessor was
  // sealed on disk): they held only unsynced writes and were removed.
  uint32_t removed_unsynced_segments = 0;
  // Segments retention had deleted whose files survived (a reader deferred
  // the unlink, or a crash lost it); removed.
  uint32_t removed_obsolete_segments = 0;
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_OPTIONS_H_
