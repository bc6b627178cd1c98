#include "table_builder.h"

#include <algorithm>
#include <cassert>
#include <map>
#include <string>
#include <vector>

#include "block_builder.h"
#include "bloom.h"
#include "dbformat.h"
#include "sst_format.h"

namespace cairn::storage {
namespace {

// Output is handed to the file in pieces at least this large.
constexpr size_t kWriteChunk = 64 << 10;

// Where start and limit (user keys, start < limit) first differ, bumps
// start's byte and cuts start after it if that stays below limit: start then
// becomes a user key k with old start < k < limit. Otherwise start is kept.
void ShortenUserKey(std::string* start, std::string_view limit) {
  const size_t min_len = std::min(start->size(), limit.size());
  size_t diff = 0;
  while (diff < min_len && (*start)[diff] == limit[diff]) ++diff;
  if (diff >= min_len) return;  // one is a prefix of the other
  const auto byte = static_cast<uint8_t>((*start)[diff]);
  if (byte < 0xff && byte + 1 < static_cast<uint8_t>(limit[diff])) {
    (*start)[diff] = static_cast<char>(byte + 1);
    start->resize(diff + 1);
  }
}

}  // namespace

struct TableBuilder::Rep {
  Rep(const TableBuilderOptions& o, File* f)
      : options(o),
        file(f),
        data_block(o.block_restart_interval),
        index_block(1),
        compressor(o.compression, o.zstd_level) {
    if (o.bloom_bits_per_key > 0) {
      filter = std::make_unique<BloomFilterBuilder>(o.bloom_bits_per_key);
    }
    out.reserve(2 * kWriteChunk);
    props.compression = static_cast<uint8_t>(o.compression);
    props.bloom_bits_per_key = std::max(o.bloom_bits_per_key, 0);
  }

  // Stores a block (compressed if asked and worth it) and its trailer.
  BlockHandle WriteBlock(std::string_view raw, bool compress);
  void WriteRaw(std::string_view bytes);
  void FlushOutput(bool all);
  void FlushDataBlock();
  void AddIndexEntry(std::string_view next_key);
  void NoteSequence(uint64_t seq);
  absl::Status WriteMetaBlocks(std::map<std::string, BlockHandle>* meta);

  const TableBuilderOptions options;
  File* const file;
  absl::Status status;
  bool closed = false;
  uint64_t offset = 0;  // bytes written plus bytes buffered in out
  std::string out;
  BlockBuilder data_block;
  BlockBuilder index_block;
  BlockCompressor compressor;
  std::unique_ptr<BloomFilterBuilder> filter;
  std::vector<RangeTombstone> tombstones;
  TableProperties props;
  bool has_seq = false;
  std::string last_key;
  // After a data block is written, its index entry waits for the next key
  // so that the separator can be shortened.
  bool pending_index_entry = false;
  BlockHandle pending_handle;
  std::string handle_encoding;
};

void TableBuilder::Rep::WriteRaw(std::string_view bytes) {
  out.append(bytes.data(), bytes.size());
  offset += bytes.size();
  if (out.size() >= kWriteChunk) FlushOutput(false);
}

void TableBuilder::Rep::FlushOutput(bool all) {
  if (out.empty() || !status.ok()) return;
  if (!all && out.size() < kWriteChunk) return;
  status = file->Append(out);
  out.clear();
}

BlockHandle TableBuilder::Rep::WriteBlock(std::string_view raw, bool compress) {
  std::string_view stored = raw;
  uint8_t type = 0;
  if (compress) type = compressor.Compress(raw, &stored);
  BlockHandle handle{offset, stored.size()};
  out.append(stored.data(), stored.size());
  AppendBlockTrailer(stored, type, &out);
  offset += stored.size() + kBlockTrailerSize;
  FlushOutput(false);
  return handle;
}

void TableBuilder::Rep::FlushDataBlock() {
  if (data_block.empty()) return;
  const uint64_t start = offset;
  pending_handle = WriteBlock(data_block.Finish(), true);
  data_block.Reset();
  pending_index_entry = true;
  ++props.num_data_blocks;
  props.data_bytes += offset - start;
}

// next_key is the first key of the next block, or empty after the last.
void TableBuilder::Rep::AddIndexEntry(std::string_view next_key) {
  std::string separator = last_key;
  if (!next_key.empty()) {
    // A shorter user key strictly between the blocks' user keys, with the
    // largest tag, still sorts after every key of this block (its user key
    // is greater) and before every key of the next one.
    std::string user(ExtractUserKey(last_key));
    const std::string_view next_user = ExtractUserKey(next_key);
    if (user < next_user) {
      ShortenUserKey(&user, next_user);
      if (user.size() < ExtractUserKey(last_key).size()) {
        separator =
            MakeInternalKey(user, kMaxSequenceNumber, kValueTypeForSeek);
      }
    }
  }
  handle_encoding.clear();
  pending_handle.EncodeTo(&handle_encoding);
  index_block.Add(separator, handle_encoding);
  pending_index_entry = false;
}

void TableBuilder::Rep::NoteSequence(uint64_t seq) {
  if (!has_seq) {
    props.smallest_seq = props.largest_seq = seq;
    has_seq = true;
  } else {
    props.smallest_seq = std::min(props.smallest_seq, seq);
    props.largest_seq = std::max(props.largest_seq, seq);
  }
}

TableBuilder::TableBuilder(const TableBuilderOptions& options, File* file)
    : rep_(std::make_unique<Rep>(options, file)) {}

TableBuilder::~TableBuilder() = default;

void TableBuilder::Add(std::string_view internal_key, std::string_view value) {
  Rep& r = *rep_;
  if (r.closed || !r.status.ok()) return;
  assert(internal_key.size() >= 8);
  assert(r.props.num_entries == 0 ||
         CompareInternalKeys(r.last_key, internal_key) < 0);
  if (r.pending_index_entry) r.AddIndexEntry(internal_key);
  if (r.filter != nullptr) r.filter->AddKey(ExtractUserKey(internal_key));

  const uint64_t tag = ExtractTag(internal_key);
  if (r.props.num_entries == 0) r.props.smallest_key.assign(internal_key);
  ++r.props.num_entries;
  if (TagType(tag) == kTypeDeletion) ++r.props.num_deletions;
  r.props.raw_key_bytes += internal_key.size();
  r.props.raw_value_bytes += value.size();
  r.NoteSequence(TagSequence(tag));

  r.last_key.assign(internal_key.data(), internal_key.size());
  r.data_block.Add(internal_key, value);
  if (r.data_block.CurrentSizeEstimate() >= r.options.block_size) {
    r.FlushDataBlock();
  }
}

void TableBuilder::AddRangeTombstone(const RangeTombstone& tombstone) {
  Rep& r = *rep_;
  if (r.closed || !r.status.ok()) return;
  r.tombstones.push_back(tombstone);
  ++r.props.num_range_deletions;
  r.NoteSequence(tombstone.seq);
}

absl::Status TableBuilder::Rep::WriteMetaBlocks(
    std::map<std::string, BlockHandle>* meta) {
  if (filter != nullptr && filter->num_keys() > 0) {
    const uint64_t start = offset;
    (*meta)[kFilterBlockName] = WriteBlock(filter->Finish(), false);
    props.filter_bytes = offset - start;
  }
  if (!tombstones.empty()) {
    std::sort(tombstones.begin(), tombstones.end(),
              [](const RangeTombstone& a, const RangeTombstone& b) {
                return a.begin != b.begin ? a.begin < b.begin : a.seq > b.seq;
              });
    BlockBuilder block(1);
    std::string key;
    for (const RangeTombstone& t : tombstones) {
      key.clear();
      AppendInternalKey(&key, t.begin, t.seq, kTypeRangeDeletion);
      block.Add(key, t.end);
    }
    (*meta)[kRangeDelBlockName] = WriteBlock(block.Finish(), true);
  }
  return status;
}

absl::Status TableBuilder::Finish() {
  Rep& r = *rep_;
  if (r.closed) return absl::FailedPreconditionError("table already closed");
  r.closed = true;
  if (!r.status.ok()) return r.status;
  r.FlushDataBlock();
  if (r.pending_index_entry) r.AddIndexEntry({});
  if (r.props.num_entries > 0) r.props.largest_key = r.last_key;

  std::map<std::string, BlockHandle> meta;
  if (absl::Status s = r.WriteMetaBlocks(&meta); !s.ok()) return s;

  Footer footer;
  const uint64_t index_start = r.offset;
  footer.index = r.WriteBlock(r.index_block.Finish(), true);
  r.props.index_bytes = r.offset - index_start;

  BlockBuilder props_block(1);
  std::string value;
  for (const auto& [name, v] : EncodeProperties(r.props)) {
    props_block.Add(name, v);
  }
  meta[kPropertiesBlockName] = r.WriteBlock(props_block.Finish(), false);

  BlockBuilder metaindex(1);
  for (const auto& [name, handle] : meta) {  // std::map: bytewise order
    value.clear();
    handle.EncodeTo(&value);
    metaindex.Add(name, value);
  }
  footer.metaindex = r.WriteBlock(metaindex.Finish(), false);

  std::string encoded;
  footer.EncodeTo(&encoded);
  r.WriteRaw(encoded);
  r.FlushOutput(true);
  return r.status;
}

void TableBuilder::Abandon() {
  rep_->closed = true;
  rep_->out.clear();
}

absl::Status TableBuilder::status() const { return rep_->status; }
uint64_t TableBuilder::NumEntries() const { return rep_->props.num_entries; }
uint64_t TableBuilder::FileSize() const { return rep_->offset; }
const TableProperties& TableBuilder::properties() const { return rep_->props; }

}  // namespace cairn::storage
