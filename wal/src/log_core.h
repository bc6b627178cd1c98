// LogCore is the state of an open WAL, shared by the Log handle and every
// Reader (so readers can outlive the Log). Log's public methods forward here;
// see log.h for their contracts.
//
// Write path (group commit): an appender enqueues itself; the writer at the
// front of the queue is the leader. The leader, under mu_, rotates if needed
// and claims sequence numbers and space for a group of queued writers; then,
// without the lock, copies their frames into the mapping and, if any of them
// needs durability, syncs once; then, under mu_ again, publishes the group
// (readers may now see it), wakes the group and hands leadership to the next
// writer. With the queue empty, a non-durable append takes a fast path that
// does all of that in one critical section.
//
// Two threads work beside the writers: the background thread seals retired
// segments, runs the periodic and bytes-per-sync syncs and retention; the
// preparer keeps a spare segment created and the active one faulted in
// ahead of the writer.
//
// Invariants (under mu_):
//   - published_end_ <= written_end_ <= active_->size(); frames below
//     published_end_ are complete and valid; every byte of the active segment
//     at or after written_end_ is zero.
//   - next_seq_ - 1 == published_seq_ whenever no leader is between claiming
//     and publishing.
//   - synced_end_ <= published_end_: frames below it are durable, and the
//     active segment's header claims no more than that.
//   - segments_ holds every live segment by id; ids and first sequences both
//     increase; every segment but the active one is sealed.
#ifndef CAIRN_WAL_SRC_LOG_CORE_H_
#define CAIRN_WAL_SRC_LOG_CORE_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/wal/log.h"
#include "cairn/wal/options.h"
#include "cairn/wal/reader.h"
#include "segment.h"

namespace cairn::wal {

class LogCore : public std::enable_shared_from_this<LogCore> {
 public:
  LogCore(const Options& options, std::string dir);
  ~LogCore();

  // Validates options, takes the lock, recovers the segments found in dir.
  absl::Status Open();

  absl::StatusOr<AppendResult> Append(std::string_view payload,
                                      uint32_t seq_count,
                                      const AppendOptions& options);
  absl::Status Sync();
  absl::Status Close();
  void SimulateCrash();

  uint64_t FirstSequence() const;
  uint64_t LastSequence() const;
  absl::StatusOr<Position> Find(uint64_t seq) const;
  absl::StatusOr<std::unique_ptr<Reader>> NewReader(uint64_t from_seq);

  void SetDeletableBelow(uint64_t seq);
  void SetRetentionHold(uint64_t seq);
  absl::Status EnforceRetention();
  absl::Status TruncateAfter(uint64_t seq);
  absl::StatusOr<std::vector<std::string>> CopySealedSegments(
      const std::string& dest_dir);

  std::vector<SegmentInfo> ListSegments() const;
  LogStats GetStats() const;
  const RecoveryReport& recovery_report() const { return report_; }

  // For Reader: moves r to where it can read next, waiting until deadline
  // for new records. False when the deadline passed with nothing new.
  absl::StatusOr<bool> RefreshReader(Reader* r, absl::Time deadline);
  uint64_t epoch() const { return epoch_.load(std::memory_order_acquire); }
  bool closed() const { return closed_flag_.load(std::memory_order_acquire); }
  // Wakes every waiting reader so it re-checks its state (e.g. Cancel).
  void WakeAllReaders();
  // Whether a truncation began since `epoch`, asked under the lock, so that
  // one in progress is seen (a reader that found zeros asks this).
  bool TruncatedSince(uint64_t epoch) const;

 private:
  struct Writer;
  using SegmentList = std::vector<std::shared_ptr<Segment>>;

  // Copies each of `sealed` not already in dest_dir (see CopySealedSegments).
  absl::StatusOr<std::vector<std::string>> CopySegments(
      const SegmentList& sealed, const std::string& dest_dir) const;

  // --- write path (log_core.cc)
  void LeadGroupLocked(Writer* leader) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishWritersLocked(size_t n, const absl::Status& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes n more records, ending at end, visible to readers.
  void PublishLocked(size_t n, uint64_t end, bool synced)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status RotateLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Takes the active segment out of service: its final end is fixed in
  // memory at once (readers move on), and it joins unsealed_.
  void RetireActiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seals every retired segment on disk, oldest first: syncs its frames,
  // then writes and syncs its sealed header. Releases mu_ during the I/O.
  // Every durable sync calls this first, so what is durable is always a
  // prefix of the log.
  absl::Status SealPendingLocked(size_t max_segments = SIZE_MAX)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status CreateActiveLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Makes seg the active segment, empty, faulted in below prefault_end.
  void InstallActiveLocked(std::shared_ptr<Segment> seg, uint64_t prefault_end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Creates spare_ (releasing mu_ meanwhile), so that rotation need not
  // create a file on the write path.
  absl::Status MakeSpareLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TimedSync(Segment* seg, uint64_t end);
  // Syncs the active segment's published frames, releasing mu_ meanwhile.
  absl::Status SyncPublishedLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records that [0, end) of seg is durable, holding count records up to
  // last_seq; ignored if the log changed under the sync.
  void MarkSyncedLocked(Segment* seg, uint64_t end, uint32_t count,
                        uint64_t last_seq, uint64_t epoch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WakeReadersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Condition-variable waits for a caller that holds mu_ (not as a
  // unique_lock). Callers re-check their condition (and the time) after.
  void WaitLocked(std::condition_variable& cv)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void WaitUntilLocked(std::condition_variable& cv, absl::Time deadline)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void BackgroundLoop();
  // The preparer thread: keeps a spare segment ready and the active segment
  // faulted in ahead of written_end_.
  void PrepareLoop();
  void RequestPrefaultLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StopThreads();
  uint64_t NowNs() const;

  // --- recovery (log_recovery.cc)
  absl::Status ValidateOptions() const;
  // Checks a sealed segment's header against its file and predecessor.
  absl::Status CheckSealedSegment(const Segment& seg,
                                  const Segment* prev) const;
  // What recovery found in an unsealed segment (the last one, or one
  // retired before its seal reached the disk).
  struct SegmentRecovery {
    SegmentHeader header;  // as it should be (first_seq derived if needed)
    ScanResult scan;
    uint64_t dirty_end = 0;  // last non-zero byte after the frames
    bool rebuilt_header = false;
    // Its records reach the next segment's first sequence: it is sealed.
    bool complete = false;
    // It ends the log cleanly sealed (else it becomes the active segment).
    bool sealed = false;
  };
  // Reads seg (next: the segment after it, if any) without changing it.
  absl::StatusOr<SegmentRecovery> AnalyzeSegment(const Segment& seg,
                                                 const Segment* prev,
                                                 const Segment* next);
  // Zeroes everything after its last valid frame, syncs, rewrites its header
  // and takes its end as the log's end (and it as active_ unless sealed).
  absl::Status ApplyRecovery(const std::shared_ptr<Segment>& seg,
                             const SegmentRecovery& r)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  // --- reading and maintenance (log_maintenance.cc)
  // A segment, where its committed frames end and its first sequence, as
  // seen under the lock.
  struct SegmentView {
    std::shared_ptr<Segment> segment;
    uint64_t end = 0;
    uint64_t first_seq = 0;
  };
  // The segment holding seq.
  absl::StatusOr<SegmentView> SegmentForLocked(uint64_t seq) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Offset of the frame containing seq, scanning below view.end.
  absl::StatusOr<uint64_t> LocateInSegment(const SegmentView& view,
                                           uint64_t seq) const;
  uint64_t SegmentEndLocked(const Segment* seg) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  uint64_t SegmentLastSeqLocked(const Segment* seg) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Unlinks segments that retention allows to go into *doomed; the caller
  // drops them after releasing mu_ (their files go with the last holder).
  // A segment goes only once the next segment's header is durable (else
  // recovery could not tell where that one starts); if that alone stops
  // retention, returns the next segment, whose header the caller syncs.
  std::shared_ptr<Segment> EnforceRetentionLocked(SegmentList* doomed)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateFirstSeqLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A whole retention pass; seal_first seals retired segments before.
  absl::Status RunRetention(bool seal_first);
  void AwaitNoWritersLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status TruncateAfterLocked(uint64_t seq)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const Options options_;
  const std::string dir_;
  const uint64_t max_payload_;
  std::unique_ptr<FileLock> lock_;
  RecoveryReport report_;

  // std::mutex rather than absl::Mutex: the distribution's Abseil is built
  // with deadlock detection, which costs more than an append.
  mutable std::mutex mu_;
  // Serializes retention passes; taken before mu_, never while holding it.
  std::mutex retention_mu_;
  std::condition_variable
      data_cv_;  // published data, close, truncation, cancel
  std::condition_variable bg_cv_;
  std::condition_variable idle_cv_;  // the writer queue became empty
  std::condition_variable prefault_cv_;
  std::condition_variable seal_cv_;  // sealing_ went false
  std::deque<Writer*> writers_ ABSL_GUARDED_BY(mu_);
  std::map<uint32_t, std::shared_ptr<Segment>> segments_ ABSL_GUARDED_BY(mu_);
  // Retired segments whose sealed header is not yet durable, oldest first.
  // Sealing a segment of async writes means syncing up to a whole segment;
  // the background thread does it so that no writer waits for it.
  std::deque<std::shared_ptr<Segment>> unsealed_ ABSL_GUARDED_BY(mu_);
  bool sealing_ ABSL_GUARDED_BY(mu_) = false;
  // The next segment, created and faulted in ahead of need by the
  // background thread (creating one costs tens of milliseconds of fallocate
  // and fsync); rotation only renames it.
  std::shared_ptr<Segment> spare_ ABSL_GUARDED_BY(mu_);
  // The background thread is creating the spare; rotation waits for it
  // (spare_cv_) rather than allocate a second segment alongside.
  bool making_spare_ ABSL_GUARDED_BY(mu_) = false;
  std::condition_variable spare_cv_;
  // Null after a failed rotation, until the next append creates one.
  std::shared_ptr<Segment> active_ ABSL_GUARDED_BY(mu_);
  uint32_t next_segment_id_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t written_end_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t published_end_ ABSL_GUARDED_BY(mu_) = 0;
  uint32_t published_count_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t synced_end_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t published_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t first_seq_ ABSL_GUARDED_BY(mu_) = 1;
  uint64_t unsynced_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t deletable_below_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hold_ ABSL_GUARDED_BY(mu_) = 0;
  bool closing_ ABSL_GUARDED_BY(mu_) = false;
  bool truncating_ ABSL_GUARDED_BY(mu_) = false;  // appends wait (idle_cv_)
  // CopySealedSegments calls running; truncation waits for them (idle_cv_).
  int copies_ ABSL_GUARDED_BY(mu_) = 0;
  // Syncs of published data running without mu_ (SyncPublishedLocked). A
  // truncation waits for them: such a sync reads the mapping (the
  // fault-injecting file system copies it) where the truncation lets the
  // writer store again.
  int unlocked_syncs_ ABSL_GUARDED_BY(mu_) = 0;
  // Set when a truncation failed midway: writes are refused until reopen.
  absl::Status failed_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
  int waiting_readers_ ABSL_GUARDED_BY(mu_) = 0;
  bool bg_stop_ ABSL_GUARDED_BY(mu_) = false;
  bool bg_sync_requested_ ABSL_GUARDED_BY(mu_) = false;
  bool prefault_requested_ ABSL_GUARDED_BY(mu_) = false;
  // The active segment is faulted in below this offset.
  uint64_t prefault_end_ ABSL_GUARDED_BY(mu_) = 0;
  LogStats stats_ ABSL_GUARDED_BY(mu_);
  // Bumped by TruncateAfter; readers compare it without the lock.
  std::atomic<uint64_t> epoch_{0};
  // (epoch, seq) of every truncation: a reader that last looked at epoch e
  // is invalid if it is past the lowest seq cut since e.
  std::vector<std::pair<uint64_t, uint64_t>> truncations_ ABSL_GUARDED_BY(mu_);
  std::atomic<bool> closed_flag_{false};  // closed_, readable without mu_
  std::thread bg_thread_;
  std::thread prepare_thread_;
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_SRC_LOG_CORE_H_
