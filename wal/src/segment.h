// A Segment is one preallocated WAL file, mapped in full twice: read-only for
// its lifetime (readers, recovery, maintenance decode frames there), and
// read-write until it is retired (the writer's stores). It knows its id, its
// path and the header it was opened or created with; where its frames end is
// tracked by LogCore, which owns the write position of the active segment.
//
// Why two mappings: making a range of a shared writable mapping durable
// write-protects every dirty page again, one TLB shootdown (an interrupt on
// every CPU running the process) per page. Sealing a retired segment after
// dropping its writable mapping writes it back with no page to protect, so
// the writer's core is not interrupted thousands of times per segment. For
// the active segment, Sync first makes drops the whole pages below the synced
// end from the writable mapping (one shootdown for the range): the writer only
// stores past that end, and writeback then finds no mapping to protect.
//
// Lifetime: shared by LogCore and the Readers positioned in it. Retention
// marks a segment obsolete; the file is removed when the last holder lets go,
// so a reader never has a segment deleted under it.
//
// Thread-safety: the immutable accessors are safe from any thread. Stores into
// data() are the LogCore leader's; Sync may run concurrently with stores
// elsewhere in the mapping.
#ifndef CAIRN_WAL_SRC_SEGMENT_H_
#define CAIRN_WAL_SRC_SEGMENT_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "cairn/util/file_system.h"
#include "cairn/wal/format.h"
#include "sequence_index.h"

namespace cairn::wal {

// File name of segment `id`: ten decimal digits and ".wal".
std::string SegmentFileName(uint32_t id);
// File name of a spare segment, created ahead of need: ".spare".
std::string SpareFileName(uint32_t id);

class Segment {
 public:
  // Granularity of Sync's page release (the x86-64 base page size).
  static constexpr uint64_t kPageSize = 4096;

  // Creates segment `id` in dir: a temporary file is preallocated to `size`
  // bytes, given its header, synced, and renamed into place; then the
  // directory is synced. Either the whole segment exists afterwards or none.
  // A spare (first_seq 0: not assigned yet) is named SpareFileName(id) until
  // Activate.
  static absl::StatusOr<std::shared_ptr<Segment>> Create(
      FileSystem* fs, const std::string& dir, uint32_t id, uint64_t first_seq,
      uint64_t size, uint64_t now_ns);

  // Opens and maps an existing segment file (a spare if `spare`). The header
  // is decoded but not validated here: header_status() tells whether it was
  // sound.
  static absl::StatusOr<std::shared_ptr<Segment>> Open(FileSystem* fs,
                                                       const std::string& dir,
                                                       uint32_t id,
                                                       bool spare = false);

  // Turns a spare into the segment starting at first_seq: renames it to its
  // segment name and writes its header into the mapping. Nothing is synced:
  // until the header reaches the disk, recovery derives first_seq from the
  // previous segment.
  absl::Status Activate(uint64_t first_seq, uint64_t now_ns);

  ~Segment();
  Segment(const Segment&) = delete;
  Segment& operator=(const Segment&) = delete;

  uint32_t id() const { return id_; }
  const std::string& path() const { return path_; }
  // The writable mapping: for the writer's stores, until Retire (which the
  // WAL's protocol orders after the last store).
  char* data() const { return write_data_; }
  // The read-only mapping: for decoding frames, for the segment's lifetime.
  const char* read_data() const { return read_region_->data(); }
  uint64_t size() const { return read_region_->size(); }
  // Drops the writable mapping: nothing is stored into the segment any more.
  // Later Syncs go through the read-only mapping. Called by the thread that
  // seals the segment, after the last store; a Sync or Prefault running
  // meanwhile keeps the mapping until it returns.
  void Retire();
  // Maps the segment writable again (truncation makes an older segment the
  // active one).
  absl::Status Unretire();
  const absl::Status& header_status() const { return header_status_; }
  // The header as of open/create, or as last written by WriteHeader.
  const SegmentHeader& header() const { return header_; }

  // Makes h the header, in memory and in the file (durable with a later
  // Sync). Written with pwrite, not through the mapping: the kernel copies
  // it under the page's lock, which writeback also takes, so a sync running
  // meanwhile never writes half of it.
  absl::Status WriteHeader(const SegmentHeader& h);
  // Changes the in-memory header only (LogCore's view of the segment); the
  // file keeps its old header until PersistHeader.
  void set_header(const SegmentHeader& h) { header_ = h; }
  // Writes the in-memory header to the file (reading it only, so that it
  // may run beside readers of header()).
  absl::Status PersistHeader() const { return WriteHeaderBytes(header_); }
  // Writes zeros over [from, to) through the file (not the mapping, which
  // readers may be decoding: they see the change as the kernel makes it,
  // and check what they decoded).
  absl::Status ZeroRange(uint64_t from, uint64_t to);
  // Makes bytes [0, end) durable (the header page always among them).
  absl::Status Sync(uint64_t end);
  // Whether the header on disk names the segment's first sequence. False
  // from Activate until the next successful Sync: until then recovery needs
  // the previous segment to know where this one starts.
  bool header_durable() const {
    return header_durable_.load(std::memory_order_acquire);
  }
  // Faults [from, to) in ahead of the writer (a hint).
  absl::Status Prefault(uint64_t from, uint64_t to) {
    std::shared_ptr<MappedRegion> w = writable();
    return w ? w->Prefault(from, to - from) : absl::OkStatus();
  }
  // After a failed sync: Linux may have marked the pages clean without
  // writing them, and a later sync would then skip them. Write-faulting them
  // again (without changing a byte) marks them dirty, so the next sync
  // writes [from, to) for real; a retired segment's bytes are rewritten
  // through the file instead.
  void Redirty(uint64_t from, uint64_t to);

  // The file is removed once the last reference is dropped.
  void MarkObsolete() { obsolete_.store(true, std::memory_order_release); }
  // The file was already removed (by truncation); do not remove it again.
  void ForgetFile() { file_removed_ = true; }

  // Internally synchronized, so usable through a const Segment.
  SequenceIndex& index() const { return index_; }

 private:
  absl::Status WriteHeaderBytes(const SegmentHeader& h) const;
  std::shared_ptr<MappedRegion> writable() const {
    std::lock_guard<std::mutex> l(region_mu_);
    return region_;
  }

  Segment(FileSystem* fs, std::string dir, std::string path, uint32_t id,
          std::unique_ptr<File> file, std::unique_ptr<MappedRegion> region,
          std::unique_ptr<MappedRegion> read_region);

  FileSystem* const fs_;
  const std::string dir_;
  std::string path_;  // changes only in Activate, before the segment is shared
  const uint32_t id_;
  std::unique_ptr<File> file_;
  mutable std::mutex region_mu_;          // guards region_
  std::shared_ptr<MappedRegion> region_;  // writable; null once retired
  char* write_data_ = nullptr;            // region_'s data, for stores
  uint64_t released_end_ = 0;  // pages below it were released from region_
  std::unique_ptr<MappedRegion> read_region_;  // read-only
  SegmentHeader header_;
  absl::Status header_status_;
  std::atomic<bool> obsolete_{false};
  std::atomic<bool> header_durable_{false};
  bool file_removed_ = false;
  mutable SequenceIndex index_;
};

}  // namespace cairn::wal

#endif  // CAIRN_WAL_SRC_SEGMENT_H_
