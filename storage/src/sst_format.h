// The physical pieces of an SSTable (docs/formats.md, "SSTable"): block
// handles, the footer, and a block as stored on disk (contents, then a
// 1-byte compression type and a 4-byte masked CRC32C of contents and type).
//
// Readers here never trust what they read: a handle outside the file, a
// checksum mismatch, a decompression failure or a bad footer is DataLoss,
// and no decoder reads past the bytes it was given.
//
// Thread-safety: the free functions are thread-safe; a BlockCompressor is
// used by one thread at a time.
#ifndef CAIRN_STORAGE_SST_FORMAT_H_
#define CAIRN_STORAGE_SST_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/storage/options.h"
#include "cairn/util/file_system.h"
#include "table_properties.h"

struct ZSTD_CCtx_s;

namespace cairn::storage {

// The bytes "CAIRNSST" read as a little-endian fixed64.
inline constexpr uint64_t kTableMagicNumber = 0x5453534E52494143ull;
inline constexpr uint32_t kTableFormatVersion = 1;
// Compression type byte + masked CRC32C.
inline constexpr size_t kBlockTrailerSize = 5;
// Decompressed blocks larger than this are treated as corruption.
inline constexpr size_t kMaxUncompressedBlockSize = size_t{1} << 30;

// Names of the metaindex entries.
inline constexpr char kFilterBlockName[] = "cairn.filter";
inline constexpr char kPropertiesBlockName[] = "cairn.properties";
inline constexpr char kRangeDelBlockName[] = "cairn.range_del";

// Where a block lives: its offset and the size of its stored contents (the
// trailer not included). Encoded as two varint64s.
struct BlockHandle {
  static constexpr size_t kMaxEncodedLength = 20;

  uint64_t offset = 0;
  uint64_t size = 0;

  void EncodeTo(std::string* dst) const;
  // Consumes a handle from the front of *input; false if malformed.
  bool DecodeFrom(std::string_view* input);
};

// The fixed-size tail of every SSTable: the two handles, zero-padded to
// 2 * BlockHandle::kMaxEncodedLength bytes, the format version (fixed32), a
// masked CRC32C of the preceding 44 bytes (fixed32), and the magic (fixed64).
struct Footer {
  static constexpr size_t kEncodedLength =
      2 * BlockHandle::kMaxEncodedLength + 4 + 4 + 8;

  BlockHandle metaindex;
  BlockHandle index;

  void EncodeTo(std::string* dst) const;
  // input must be exactly kEncodedLength bytes. DataLoss says what is wrong
  // (the caller adds the file name).
  absl::Status DecodeFrom(std::string_view input);
};

// Compresses blocks for one table builder, keeping its Zstd context between
// blocks.
class BlockCompressor {
 public:
  BlockCompressor(CompressionType type, int zstd_level);
  ~BlockCompressor();
  BlockCompressor(const BlockCompressor&) = delete;
  BlockCompressor& operator=(const BlockCompressor&) = delete;

  // Sets *stored to what should be written for raw (raw itself, or a view of
  // an internal buffer valid until the next call) and returns its
  // compression type byte. Compressed output is used only if it saves at
  // least 1/8 of raw.
  uint8_t Compress(std::string_view raw, std::string_view* stored);

 private:
  const CompressionType type_;
  const int zstd_level_;
  ZSTD_CCtx_s* zstd_ = nullptr;
  std::string buffer_;
};

// Appends the trailer for stored contents of the given compression type.
void AppendBlockTrailer(std::string_view stored, uint8_t type,
                        std::string* dst);

// Decompresses stored contents of the given type (0 none, 1 LZ4, 2 Zstd).
// DataLoss on an unknown type or malformed input.
absl::StatusOr<std::string> UncompressBlock(uint8_t type,
                                            std::string_view stored);

// DataLoss unless the block at handle and its trailer lie inside a file of
// file_size bytes.
absl::Status CheckBlockBounds(const std::string& path, uint64_t file_size,
                              const BlockHandle& handle);
// Checks the trailer after the handle.size stored bytes at `stored` (the
// trailer must follow them in memory) and returns the compression type.
// DataLoss on a checksum mismatch.
absl::StatusOr<uint8_t> CheckBlockTrailer(const std::string& path,
                                          const char* stored,
                                          const BlockHandle& handle);

// Reads the block at handle (file_size is the file's size), checks its
// trailer and returns its uncompressed contents. DataLoss messages name the
// file and the block offset.
absl::StatusOr<std::string> ReadBlock(const File& file, uint64_t file_size,
                                      const BlockHandle& handle);

// The properties block's entries (name, value) in bytewise name order:
// numbers as varint64, keys as their bytes.
std::vector<std::pair<std::string, std::string>> EncodeProperties(
    const TableProperties& props);
// Applies one entry to *props. Unknown names are ignored (a newer writer may
// add some); a malformed value of a known name is DataLoss.
absl::Status DecodeProperty(std::string_view name, std::string_view value,
                            TableProperties* props);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_SST_FORMAT_H_
