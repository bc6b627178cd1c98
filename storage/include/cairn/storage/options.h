// Options of a storage engine instance and of each read and write. Every field
// has a default that suits a small server; docs/architecture.md explains the
// tuning knobs.
#ifndef CAIRN_STORAGE_OPTIONS_H_
#define CAIRN_STORAGE_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cairn/storage/merge_operator.h"
#include "cairn/util/file_system.h"
#include "cairn/wal/options.h"

namespace cairn::storage {

class EventListener;
class Snapshot;

// Compression of SSTable data blocks. A block that does not shrink by at least
// 1/8 is stored uncompressed whatever the setting.
enum class CompressionType : uint8_t {
  kNone = 0,
  kLZ4 = 1,
  kZstd = 2,
};

struct Options {
  // Where all file I/O goes (SSTables, MANIFEST, WAL). Must outlive the DB.
  FileSystem* fs = FileSystem::Default();
  bool create_if_missing = true;
  bool error_if_exists = false;

  // --- Memtables ---
  // A memtable is sealed (made immutable and queued for flush) once its arena
  // holds this many bytes.
  // 16 MiB: a skiplist this size stays mostly in the CPU caches, which
  // makes inserts markedly faster than at RocksDB's 64 MiB
  // (docs/benchmarks.md).
  size_t write_buffer_size = 16ull << 20;
  // Memtables in memory at most, the active one included. Writes stall
  // (reason memtable_limit) while this many exist; they slow down when one
  // fewer exists and max_write_buffer_number > 3.
  int max_write_buffer_number = 4;

  // --- SSTables ---
  size_t block_size = 4096;         // uncompressed data block target
  int block_restart_interval = 16;  // keys between restart points
  int bloom_bits_per_key = 10;      // 0 disables bloom filters
  CompressionType compression = CompressionType::kNone;
  int zstd_level = 3;
  // Compaction output files are cut at this size.
  uint64_t target_file_size = 64ull << 20;

  // --- Leveled compaction ---
  int num_levels = 7;
  int level0_file_num_compaction_trigger = 4;
  int level0_slowdown_writes_trigger = 20;
  int level0_stop_writes_trigger = 36;
  uint64_t max_bytes_for_level_base = 256ull << 20;  // target size of L1
  double max_bytes_for_level_multiplier = 10;
  // Estimated bytes compaction must rewrite to bring every level back under
  // its target: writes slow down above the soft limit and stop above the
  // hard limit. 0 disables either.
  uint64_t soft_pending_compaction_bytes_limit = 64ull << 30;
  uint64_t hard_pending_compaction_bytes_limit = 256ull << 30;
  // Rate writes are held to while a slowdown condition lasts (bytes/s).
  uint64_t delayed_write_rate = 16ull << 20;
  // Background threads: one flushes, the others compact.
  int max_background_compactions = 1;
  // No automatic compactions (CompactRange still works): for bulk loads and
  // tests. L0 then grows until writes stall on it.
  bool disable_auto_compactions = false;

  // --- Caches ---
  // Read SSTables through read-only memory maps: uncompressed blocks are
  // searched in place in the page cache (checksum verified on every read),
  // so the block cache holds only decompressed blocks. false: pread every
  // block into the block cache.
  bool use_mmap_reads = true;
  size_t block_cache_bytes = 64ull << 20;
  int block_cache_shard_bits = 4;  // 2^n shards
  int max_open_files = 1000;       // table cache capacity

  // --- Resource limits ---
  // Memory for memtables and the block cache together (0: no budget). The
  // memtables may use what block_cache_bytes leaves of it: past that, the
  // active memtable is flushed early, and writes stall (reason memory) while
  // an earlier flush is still freeing memory. Must exceed block_cache_bytes.
  uint64_t memory_budget_bytes = 0;
  // Writes are refused with ResourceExhausted while the file system holding
  // the database has less than this many bytes free (0: no check).
  uint64_t min_free_disk_bytes = 0;

  // --- WAL ---
  // The write-ahead log, in <path>/wal. Its fs and first_sequence are set by
  // the engine; sync_mode applies to writes that do not ask for a sync.
  wal::Options wal = DefaultWalOptions();

  // Not owned; each must outlive the DB. Called from engine threads.
  std::vector<EventListener*> listeners;

  // Merge operators besides the built-ins (merge_operator.h); names must be
  // unique. Operands name their operator, so a DB must be reopened with
  // every operator its data uses: a read that meets an operand of an
  // unknown operator fails with FailedPrecondition.
  std::vector<std::shared_ptr<const MergeOperator>> merge_operators;

  // Clock used for commit times and for TTL expiry (tests replace it).
  std::function<absl::Time()> clock = [] { return absl::Now(); };

  static wal::Options DefaultWalOptions() {
    wal::Options o;
    o.sync_mode = wal::SyncMode::kNone;  // per write: WriteOptions::sync
    return o;
  }
};

struct WriteOptions {
  // Return only once the write is durable on disk (fdatasync). false: the
  // write survives a process crash but not a power loss.
  bool sync = false;
  // A write that must wait for a stall to clear fails with ResourceExhausted
  // once this passes.
  absl::Time deadline = absl::InfiniteFuture();
  // Fail at once with ResourceExhausted instead of waiting on a stall.
  bool no_slowdown = false;
};

struct ReadOptions {
  // Read as of this snapshot; null: the latest committed state.
  const Snapshot* snapshot = nullptr;
  // Iterator bounds: keys in [lower_bound, upper_bound).
  std::optional<std::string> lower_bound;
  std::optional<std::string> upper_bound;
  // Iterator yields only keys starting with this prefix (combined with the
  // bounds).
  std::optional<std::string> prefix;
  // Put the blocks this read loads into the block cache.
  bool fill_cache = true;
};

struct FlushOptions {
  // Return only after the flush is durable in the MANIFEST.
  bool wait = true;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_OPTIONS_H_
