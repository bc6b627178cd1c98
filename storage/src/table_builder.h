// TableBuilder writes one SSTable (format in docs/formats.md, "SSTable"):
// data blocks, a bloom filter over user keys, the range-deletion block, the
// properties block, the metaindex and index blocks, and the footer.
//
// Keys passed to Add are internal keys in strictly increasing internal order.
// Range tombstones may be added in any order. The builder buffers output and
// writes it with File::Append; Finish writes the rest but does not sync (the
// caller syncs and records the file in the MANIFEST).
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_TABLE_BUILDER_H_
#define CAIRN_STORAGE_TABLE_BUILDER_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "absl/status/status.h"
#include "cairn/storage/options.h"
#include "cairn/util/file_system.h"
#include "range_tombstone.h"
#include "table_properties.h"

namespace cairn::storage {

struct TableBuilderOptions {
  size_t block_size = 4096;
  int block_restart_interval = 16;
  int bloom_bits_per_key = 10;  // 0: no filter
  CompressionType compression = CompressionType::kNone;
  int zstd_level = 3;

  static TableBuilderOptions From(const Options& o) {
    return TableBuilderOptions{o.block_size, o.block_restart_interval,
                               o.bloom_bits_per_key, o.compression,
                               o.zstd_level};
  }
};

class TableBuilder {
 public:
  // file must be empty and outlive the builder.
  TableBuilder(const TableBuilderOptions& options, File* file);
  ~TableBuilder();
  TableBuilder(const TableBuilder&) = delete;
  TableBuilder& operator=(const TableBuilder&) = delete;

  void Add(std::string_view internal_key, std::string_view value);
  void AddRangeTombstone(const RangeTombstone& tombstone);
  // Writes everything that is left. The builder is unusable afterwards.
  absl::Status Finish();
  // Gives up; the caller removes the file.
  void Abandon();

  // First error from a write, if any (later Adds are ignored after one).
  absl::Status status() const;
  uint64_t NumEntries() const;
  // Bytes written (or buffered) so far; after Finish, the file size.
  uint64_t FileSize() const;
  // Complete after Finish.
  const TableProperties& properties() const;

 private:
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TABLE_BUILDER_H_
