#include "sst_format.h"

#include <lz4.h>
#include <zstd.h>

#include <algorithm>
#include <climits>
#include <memory>

#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"

namespace cairn::storage {
namespace {

constexpr size_t kFooterCrcOffset = 2 * BlockHandle::kMaxEncodedLength + 4;

struct ZstdDCtxDelete {
  void operator()(ZSTD_DCtx* ctx) const { ZSTD_freeDCtx(ctx); }
};

absl::StatusOr<std::string> UncompressLz4(std::string_view in) {
  uint64_t size;
  if (!GetVarint64(&in, &size)) {
    return absl::DataLossError("LZ4 block: bad size prefix");
  }
  // LZ4 cannot expand input more than 255 times: a larger claim is damage
  // (and must not make us allocate it).
  if (size > kMaxUncompressedBlockSize || size > in.size() * 255 + 16 ||
      in.size() > INT_MAX) {
    return absl::DataLossError("LZ4 block: implausible size");
  }
  std::string out(size, '\0');
  const int n =
      LZ4_decompress_safe(in.data(), out.data(), static_cast<int>(in.size()),
                          static_cast<int>(size));
  if (n < 0 || static_cast<uint64_t>(n) != size) {
    return absl::DataLossError("LZ4 block: decompression failed");
  }
  return out;
}

absl::StatusOr<std::string> UncompressZstd(std::string_view in) {
  const unsigned long long size =
      ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ||
      size > kMaxUncompressedBlockSize) {
    return absl::DataLossError("Zstd block: bad frame header");
  }
  // A decompression context is large to create: keep one per thread.
  thread_local std::unique_ptr<ZSTD_DCtx, ZstdDCtxDelete> ctx(
      ZSTD_createDCtx());
  if (ctx == nullptr) return absl::ResourceExhaustedError("ZSTD_createDCtx");
  std::string out(size, '\0');
  const size_t n =
      ZSTD_decompressDCtx(ctx.get(), out.data(), size, in.data(), in.size());
  if (ZSTD_isError(n) || n != size) {
    return absl::DataLossError("Zstd block: decompression failed");
  }
  return out;
}

}  // namespace

void BlockHandle::EncodeTo(std::string* dst) const {
  PutVarint64(dst, offset);
  PutVarint64(dst, size);
}

bool BlockHandle::DecodeFrom(std::string_view* input) {
  return GetVarint64(input, &offset) && GetVarint64(input, &size);
}

void Footer::EncodeTo(std::string* dst) const {
  const size_t start = dst->size();
  metaindex.EncodeTo(dst);
  index.EncodeTo(dst);
  dst->resize(start + 2 * BlockHandle::kMaxEncodedLength, '\0');
  PutFixed32(dst, kTableFormatVersion);
  PutFixed32(
      dst, crc32c::Mask(crc32c::Value(dst->data() + start, kFooterCrcOffset)));
  PutFixed64(dst, kTableMagicNumber);
}

absl::Status Footer::DecodeFrom(std::string_view input) {
  if (input.size() != kEncodedLength) {
    return absl::DataLossError("footer: wrong size");
  }
  const char* p = input.data();
  if (DecodeFixed64(p + kEncodedLength - 8) != kTableMagicNumber) {
    return absl::DataLossError("footer: bad magic number (not an SSTable)");
  }
  const uint32_t crc = crc32c::Unmask(DecodeFixed32(p + kFooterCrcOffset));
  if (crc != crc32c::Value(p, kFooterCrcOffset)) {
    return absl::DataLossError("footer: checksum mismatch");
  }
  const uint32_t version =
      DecodeFixed32(p + 2 * BlockHandle::kMaxEncodedLength);
  if (version != kTableFormatVersion) {
    return absl::DataLossError(
        absl::StrFormat("footer: unsupported format version %d", version));
  }
  std::string_view handles(p, 2 * BlockHandle::kMaxEncodedLength);
  if (!metaindex.DecodeFrom(&handles) || !index.DecodeFrom(&handles)) {
    return absl::DataLossError("footer: bad block handle");
  }
  return absl::OkStatus();
}

BlockCompressor::BlockCompressor(CompressionType type, int zstd_level)
    : type_(type), zstd_level_(zstd_level) {}

BlockCompressor::~BlockCompressor() { ZSTD_freeCCtx(zstd_); }

uint8_t BlockCompressor::Compress(std::string_view raw,
                                  std::string_view* stored) {
  *stored = raw;
  size_t n = 0;
  switch (type_) {
    case CompressionType::kNone:
      return 0;
    case CompressionType::kLZ4: {
      if (raw.size() > static_cast<size_t>(LZ4_MAX_INPUT_SIZE)) return 0;
      buffer_.clear();
      PutVarint64(&buffer_, raw.size());
      const size_t prefix = buffer_.size();
      const int bound = LZ4_compressBound(static_cast<int>(raw.size()));
      buffer_.resize(prefix + bound);
      const int out = LZ4_compress_default(raw.data(), buffer_.data() + prefix,
                                           static_cast<int>(raw.size()), bound);
      if (out <= 0) return 0;
      n = prefix + out;
      break;
    }
    case CompressionType::kZstd: {
      if (zstd_ == nullptr) zstd_ = ZSTD_createCCtx();
      if (zstd_ == nullptr) return 0;
      buffer_.resize(ZSTD_compressBound(raw.size()));
      n = ZSTD_compressCCtx(zstd_, buffer_.data(), buffer_.size(), raw.data(),
                            raw.size(), zstd_level_);
      if (ZSTD_isError(n)) return 0;
      break;
    }
  }
  if (n > raw.size() - raw.size() / 8) return 0;  // saves less than 1/8
  *stored = std::string_view(buffer_.data(), n);
  return static_cast<uint8_t>(type_);
}

void AppendBlockTrailer(std::string_view stored, uint8_t type,
                        std::string* dst) {
  char trailer[kBlockTrailerSize];
  trailer[0] = static_cast<char>(type);
  const uint32_t crc =
      crc32c::Extend(crc32c::Value(stored.data(), stored.size()), trailer, 1);
  EncodeFixed32(trailer + 1, crc32c::Mask(crc));
  dst->append(trailer, kBlockTrailerSize);
}

absl::StatusOr<std::string> UncompressBlock(uint8_t type,
                                            std::string_view stored) {
  switch (type) {
    case static_cast<uint8_t>(CompressionType::kNone):
      return std::string(stored);
    case static_cast<uint8_t>(CompressionType::kLZ4):
      return UncompressLz4(stored);
    case static_cast<uint8_t>(CompressionType::kZstd):
      return UncompressZstd(stored);
    default:
      return absl::DataLossError(
          absl::StrFormat("unknown compression type %d", type));
  }
}

absl::Status CheckBlockBounds(const std::string& path, uint64_t file_size,
                              const BlockHandle& handle) {
  if (handle.offset > file_size || handle.size > file_size - handle.offset ||
      file_size - handle.offset - handle.size < kBlockTrailerSize) {
    return absl::DataLossError(absl::StrFormat(
        "%s: block at offset %d (%d bytes) extends past the end of the file "
        "(%d bytes)",
        path, handle.offset, handle.size, file_size));
  }
  return absl::OkStatus();
}

absl::StatusOr<uint8_t> CheckBlockTrailer(const std::string& path,
                                          const char* stored,
                                          const BlockHandle& handle) {
  const uint32_t stored_crc =
      crc32c::Unmask(DecodeFixed32(stored + handle.size + 1));
  if (stored_crc != crc32c::Value(stored, handle.size + 1)) {
    return absl::DataLossError(absl::StrFormat(
        "%s: block at offset %d: checksum mismatch", path, handle.offset));
  }
  return static_cast<uint8_t>(stored[handle.size]);
}

absl::StatusOr<std::string> ReadBlock(const File& file, uint64_t file_size,
                                      const BlockHandle& handle) {
  if (absl::Status s = CheckBlockBounds(file.path(), file_size, handle);
      !s.ok()) {
    return s;
  }
  const size_t n = handle.size + kBlockTrailerSize;
  std::string buf(n, '\0');
  absl::StatusOr<size_t> read = file.ReadAt(handle.offset, buf.data(), n);
  if (!read.ok()) return read.status();
  if (*read != n) {
    return absl::DataLossError(
        absl::StrFormat("%s: block at offset %d: short read (%d of %d bytes)",
                        file.path(), handle.offset, *read, n));
  }
  absl::StatusOr<uint8_t> checked =
      CheckBlockTrailer(file.path(), buf.data(), handle);
  if (!checked.ok()) return checked.status();
  const uint8_t type = *checked;
  if (type == static_cast<uint8_t>(CompressionType::kNone)) {
    buf.resize(handle.size);
    return buf;
  }
  absl::StatusOr<std::string> out =
      UncompressBlock(type, std::string_view(buf.data(), handle.size));
  if (!out.ok()) {
    return absl::DataLossError(absl::StrFormat("%s: block at offset %d: %s",
                                               file.path(), handle.offset,
                                               out.status().message()));
  }
  return out;
}

namespace {

// Every numeric property, by name; the table is the single place that ties
// names to fields, so encoding and decoding cannot drift apart.
struct NumericProperty {
  const char* name;
  uint64_t (*get)(const TableProperties&);
  void (*set)(TableProperties*, uint64_t);
};

#define CAIRN_NUMERIC_PROPERTY(field)                                  \
  NumericProperty {                                                    \
    "cairn." #field,                                                   \
        [](const TableProperties& p) { return uint64_t(p.field); },    \
        [](TableProperties* p, uint64_t v) {                           \
          p->field = static_cast<decltype(TableProperties::field)>(v); \
        }                                                              \
  }

const NumericProperty kNumericProperties[] = {
    CAIRN_NUMERIC_PROPERTY(num_entries),
    CAIRN_NUMERIC_PROPERTY(num_deletions),
    CAIRN_NUMERIC_PROPERTY(num_range_deletions),
    CAIRN_NUMERIC_PROPERTY(raw_key_bytes),
    CAIRN_NUMERIC_PROPERTY(raw_value_bytes),
    CAIRN_NUMERIC_PROPERTY(num_data_blocks),
    CAIRN_NUMERIC_PROPERTY(data_bytes),
    CAIRN_NUMERIC_PROPERTY(index_bytes),
    CAIRN_NUMERIC_PROPERTY(filter_bytes),
    CAIRN_NUMERIC_PROPERTY(smallest_seq),
    CAIRN_NUMERIC_PROPERTY(largest_seq),
    CAIRN_NUMERIC_PROPERTY(compression),
    CAIRN_NUMERIC_PROPERTY(bloom_bits_per_key),
};
#undef CAIRN_NUMERIC_PROPERTY

constexpr char kSmallestKeyProperty[] = "cairn.smallest_key";
constexpr char kLargestKeyProperty[] = "cairn.largest_key";

}  // namespace

std::vector<std::pair<std::string, std::string>> EncodeProperties(
    const TableProperties& props) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const NumericProperty& p : kNumericProperties) {
    std::string value;
    PutVarint64(&value, p.get(props));
    out.emplace_back(p.name, std::move(value));
  }
  out.emplace_back(kSmallestKeyProperty, props.smallest_key);
  out.emplace_back(kLargestKeyProperty, props.largest_key);
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status DecodeProperty(std::string_view name, std::string_view value,
                            TableProperties* props) {
  if (name == kSmallestKeyProperty) {
    props->smallest_key.assign(value.data(), value.size());
    return absl::OkStatus();
  }
  if (name == kLargestKeyProperty) {
    props->largest_key.assign(value.data(), value.size());
    return absl::OkStatus();
  }
  for (const NumericProperty& p : kNumericProperties) {
    if (name != p.name) continue;
    uint64_t v;
    if (!GetVarint64(&value, &v) || !value.empty()) {
      return absl::DataLossError(
          absl::StrFormat("properties: bad value for %s", std::string(name)));
    }
    p.set(props, v);
    return absl::OkStatus();
  }
  return absl::OkStatus();
}

}  // namespace cairn::storage
