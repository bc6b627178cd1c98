#include "table.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "block.h"
#include "block_cache.h"
#include "bloom.h"
#include "dbformat.h"
#include "sst_format.h"
#include "two_level_iterator.h"

namespace cairn::storage {
namespace {

// Everything an open table needs, shared by the Table and its iterators so
// that an iterator stays usable even if the Table object goes away first.
struct TableReader {
  ~TableReader() {
    // The id dies with this object: nobody can look these blocks up again.
    if (options.block_cache != nullptr) {
      options.block_cache->EraseTable(table_id);
    }
  }

  void Count(Ticker t) const {
    if (options.statistics != nullptr) options.statistics->Add(t);
  }
  absl::Status Damaged(std::string_view what, uint64_t offset,
                       const absl::Status& cause) const {
    return absl::DataLossError(absl::StrFormat(
        "%s: %s at offset %d: %s", file->path(), std::string(what), offset,
        std::string(cause.message())));
  }

  // Reads, verifies and parses the block at h.
  absl::StatusOr<std::shared_ptr<const Block>> ReadBlockAt(
      const BlockHandle& h, std::string_view what) const;
  // With a mapping: the block at h if it is stored uncompressed, verified,
  // in place (empty view if compressed: use the cache path).
  absl::StatusOr<std::string_view> MappedBlock(const BlockHandle& h) const;
  // The data block at h, through the block cache.
  absl::StatusOr<std::shared_ptr<const Block>> GetDataBlock(
      const BlockHandle& h, bool fill_cache) const;
  absl::StatusOr<bool> Get(std::string_view user_key, uint64_t snapshot,
                           VersionSink* sink, bool fill_cache) const;

  absl::Status LoadMetaBlocks(const BlockHandle& metaindex_handle);
  absl::Status LoadProperties(const BlockHandle& h);
  absl::Status LoadRangeTombstones(const BlockHandle& h);

  TableReadOptions options;
  std::unique_ptr<File> file;
  std::shared_ptr<const MappedRegion> map;  // with mmap_reads
  uint64_t file_size = 0;
  uint64_t table_id = 0;
  std::shared_ptr<const Block> index_block;
  uint64_t index_offset = 0;
  std::unique_ptr<const BloomFilterReader> filter;
  TableProperties props;
  FragmentedRangeTombstones tombstones;
};

absl::StatusOr<std::shared_ptr<const Block>> TableReader::ReadBlockAt(
    const BlockHandle& h, std::string_view what) const {
  absl::StatusOr<std::string> contents = ReadBlock(*file, file_size, h);
  if (!contents.ok()) return contents.status();
  auto block = std::make_shared<const Block>(*std::move(contents));
  if (!block->valid()) {
    return Damaged(what, h.offset,
                   absl::DataLossError("malformed restart array"));
  }
  return block;
}

absl::StatusOr<std::string_view> TableReader::MappedBlock(
    const BlockHandle& h) const {
  if (absl::Status s = CheckBlockBounds(file->path(), file_size, h); !s.ok()) {
    return s;
  }
  const char* stored = map->data() + h.offset;
  if (static_cast<uint8_t>(stored[h.size]) !=
      static_cast<uint8_t>(CompressionType::kNone)) {
    return std::string_view();
  }
  absl::StatusOr<uint8_t> type = CheckBlockTrailer(file->path(), stored, h);
  if (!type.ok()) return type.status();
  return std::string_view(stored, h.size);
}

absl::StatusOr<std::shared_ptr<const Block>> TableReader::GetDataBlock(
    const BlockHandle& h, bool fill_cache) const {
  if (map != nullptr) {
    absl::StatusOr<std::string_view> view = MappedBlock(h);
    if (!view.ok()) return view.status();
    if (!view->empty()) {
      auto block = std::make_shared<const Block>(*view, map);
      if (!block->valid()) {
        return Damaged("data block", h.offset,
                       absl::DataLossError("malformed restart array"));
      }
      return block;
    }
  }
  BlockCache* cache = options.block_cache;
  if (cache != nullptr) {
    if (std::shared_ptr<const Block> block =
            cache->Lookup(table_id, h.offset)) {
      Count(Ticker::kBlockCacheHit);
      return block;
    }
    Count(Ticker::kBlockCacheMiss);
  }
  absl::StatusOr<std::shared_ptr<const Block>> block =
      ReadBlockAt(h, "data block");
  if (block.ok() && cache != nullptr && fill_cache) {
    cache->Insert(table_id, h.offset, *block, (*block)->size());
    Count(Ticker::kBlockCacheInsert);
  }
  return block;
}

absl::StatusOr<bool> TableReader::Get(std::string_view user_key,
                                      uint64_t snapshot, VersionSink* sink,
                                      bool fill_cache) const {
  if (filter != nullptr) {
    Count(Ticker::kBloomChecked);
    if (!filter->KeyMayMatch(user_key)) {
      Count(Ticker::kBloomUseful);
      return false;
    }
  }
  // The lookup key, on the stack unless the user key is long.
  char stack_key[256];
  std::string heap_key;
  const size_t key_size = user_key.size() + 8;
  char* key_buf = stack_key;
  if (key_size > sizeof(stack_key)) {
    heap_key.resize(key_size);
    key_buf = heap_key.data();
  }
  std::memcpy(key_buf, user_key.data(), user_key.size());
  EncodeFixed64(
      key_buf + user_key.size(),
      PackTag(std::min(snapshot, kMaxSequenceNumber), kValueTypeForSeek));
  const std::string_view lookup(key_buf, key_size);

  // The first entry >= lookup is the newest version visible at snapshot if
  // its user key matches. The index lands on the block that would hold it;
  // if that block ends before it, it is the next block's first entry. Older
  // versions follow it, possibly into the next blocks.
  const Comparator* icmp = InternalKeyComparator();
  BlockIter index(index_block.get(), icmp);
  BlockIter data;
  bool found = false;
  for (index.Seek(lookup); index.Valid(); index.Next()) {
    BlockHandle h;
    std::string_view handle = index.value();
    if (!h.DecodeFrom(&handle)) {
      return Damaged("index block", index_offset,
                     absl::DataLossError("bad block handle"));
    }
    // An uncompressed block of a mapped table is searched in place, without
    // a shared_ptr or the cache; anything else comes from GetDataBlock.
    std::optional<Block> in_place;
    std::shared_ptr<const Block> shared;
    if (map != nullptr) {
      absl::StatusOr<std::string_view> view = MappedBlock(h);
      if (!view.ok()) return view.status();
      if (!view->empty()) in_place.emplace(*view, nullptr);
    }
    if (!in_place) {
      absl::StatusOr<std::shared_ptr<const Block>> block =
          GetDataBlock(h, fill_cache);
      if (!block.ok()) return block.status();
      shared = *std::move(block);
    }
    data.Init(in_place ? &*in_place : shared.get(), icmp);
    for (data.Seek(lookup); data.Valid(); data.Next()) {
      ParsedInternalKey parsed;
      if (!ParseInternalKey(data.key(), &parsed)) {
        return Damaged("data block", h.offset,
                       absl::DataLossError("bad internal key"));
      }
      if (parsed.user_key != user_key) return found;
      found = true;
      if (!sink->Add(parsed.type, parsed.sequence, data.value())) return true;
    }
    if (!data.status().ok()) {
      return Damaged("data block", h.offset, data.status());
    }
  }
  if (!index.status().ok()) {
    return Damaged("index block", index_offset, index.status());
  }
  return found;
}

absl::Status TableReader::LoadMetaBlocks(const BlockHandle& metaindex_handle) {
  absl::StatusOr<std::shared_ptr<const Block>> metaindex =
      ReadBlockAt(metaindex_handle, "metaindex block");
  if (!metaindex.ok()) return metaindex.status();
  BlockHandle filter_handle, props_handle, range_del_handle;
  bool has_filter = false, has_props = false, has_range_del = false;
  BlockIter it(metaindex->get(), BytewiseComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    BlockHandle h;
    std::string_view v = it.value();
    if (!h.DecodeFrom(&v) || !v.empty()) {
      return Damaged("metaindex block", metaindex_handle.offset,
                     absl::DataLossError("bad block handle"));
    }
    if (it.key() == kFilterBlockName) {
      filter_handle = h;
      has_filter = true;
    } else if (it.key() == kPropertiesBlockName) {
      props_handle = h;
      has_props = true;
    } else if (it.key() == kRangeDelBlockName) {
      range_del_handle = h;
      has_range_del = true;
    }
  }
  if (!it.status().ok()) {
    return Damaged("metaindex block", metaindex_handle.offset, it.status());
  }
  if (!has_props) {
    return absl::DataLossError(
        absl::StrFormat("%s: no properties block", file->path()));
  }
  if (absl::Status s = LoadProperties(props_handle); !s.ok()) return s;
  if (has_filter) {
    absl::StatusOr<std::string> contents =
        ReadBlock(*file, file_size, filter_handle);
    if (!contents.ok()) return contents.status();
    absl::StatusOr<std::unique_ptr<const BloomFilterReader>> reader =
        BloomFilterReader::Parse(*contents);
    if (!reader.ok()) {
      return Damaged("filter block", filter_handle.offset, reader.status());
    }
    filter = *std::move(reader);
  }
  if (has_range_del) return LoadRangeTombstones(range_del_handle);
  return absl::OkStatus();
}

absl::Status TableReader::LoadProperties(const BlockHandle& h) {
  absl::StatusOr<std::shared_ptr<const Block>> block =
      ReadBlockAt(h, "properties block");
  if (!block.ok()) return block.status();
  BlockIter it(block->get(), BytewiseComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    absl::Status s = DecodeProperty(it.key(), it.value(), &props);
    if (!s.ok()) return Damaged("properties block", h.offset, s);
  }
  if (!it.status().ok()) {
    return Damaged("properties block", h.offset, it.status());
  }
  return absl::OkStatus();
}

absl::Status TableReader::LoadRangeTombstones(const BlockHandle& h) {
  absl::StatusOr<std::shared_ptr<const Block>> block =
      ReadBlockAt(h, "range-deletion block");
  if (!block.ok()) return block.status();
  std::vector<RangeTombstone> list;
  BlockIter it(block->get(), InternalKeyComparator());
  for (it.SeekToFirst(); it.Valid(); it.Next()) {
    ParsedInternalKey parsed;
    if (!ParseInternalKey(it.key(), &parsed) ||
        parsed.type != kTypeRangeDeletion) {
      return Damaged("range-deletion block", h.offset,
                     absl::DataLossError("bad tombstone key"));
    }
    list.push_back(RangeTombstone{std::string(parsed.user_key),
                                  std::string(it.value()), parsed.sequence});
  }
  if (!it.status().ok()) {
    return Damaged("range-deletion block", h.offset, it.status());
  }
  tombstones = FragmentedRangeTombstones(std::move(list));
  return absl::OkStatus();
}

}  // namespace

struct Table::Rep {
  std::shared_ptr<const TableReader> reader;
};

Table::Table(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
Table::~Table() = default;

absl::StatusOr<std::shared_ptr<Table>> Table::Open(
    const TableReadOptions& options, std::unique_ptr<File> file,
    uint64_t file_size) {
  auto r = std::make_shared<TableReader>();
  r->options = options;
  r->file = std::move(file);
  r->file_size = file_size;
  r->table_id = BlockCache::NewTableId();
  const std::string& path = r->file->path();

  if (file_size < Footer::kEncodedLength) {
    return absl::DataLossError(absl::StrFormat(
        "%s: too short to be an SSTable (%d bytes)", path, file_size));
  }
  char buf[Footer::kEncodedLength];
  const uint64_t footer_offset = file_size - Footer::kEncodedLength;
  absl::StatusOr<size_t> n =
      r->file->ReadAt(footer_offset, buf, Footer::kEncodedLength);
  if (!n.ok()) return n.status();
  if (*n != Footer::kEncodedLength) {
    return absl::DataLossError(
        absl::StrFormat("%s: short read of the footer", path));
  }
  Footer footer;
  if (absl::Status s = footer.DecodeFrom(std::string_view(buf, sizeof(buf)));
      !s.ok()) {
    return r->Damaged("footer", footer_offset, s);
  }
  absl::StatusOr<std::shared_ptr<const Block>> index =
      r->ReadBlockAt(footer.index, "index block");
  if (!index.ok()) return index.status();
  r->index_block = *std::move(index);
  r->index_offset = footer.index.offset;
  if (absl::Status s = r->LoadMetaBlocks(footer.metaindex); !s.ok()) return s;
  if (options.mmap_reads) {
    absl::StatusOr<std::unique_ptr<MappedRegion>> map =
        r->file->Map(0, file_size, /*writable=*/false);
    if (map.ok()) r->map = *std::move(map);
  }
  return std::shared_ptr<Table>(
      new Table(std::make_unique<Rep>(Rep{std::move(r)})));
}

std::unique_ptr<InternalIterator> Table::NewIterator(bool fill_cache) const {
  std::shared_ptr<const TableReader> r = rep_->reader;
  auto index = std::make_unique<BlockIter>(r->index_block.get(),
                                           InternalKeyComparator());
  BlockLoader loader = [r, fill_cache](std::string_view value)
      -> absl::StatusOr<std::shared_ptr<const Block>> {
    BlockHandle h;
    if (!h.DecodeFrom(&value)) {
      return r->Damaged("index block", r->index_offset,
                        absl::DataLossError("bad block handle"));
    }
    return r->GetDataBlock(h, fill_cache);
  };
  return NewTwoLevelIterator(std::move(index), std::move(loader),
                             InternalKeyComparator());
}

absl::StatusOr<bool> Table::Get(std::string_view user_key, uint64_t snapshot,
                                VersionSink* sink, bool fill_cache) const {
  return rep_->reader->Get(user_key, snapshot, sink, fill_cache);
}

absl::StatusOr<bool> Table::Get(std::string_view user_key, uint64_t snapshot,
                                LookupResult* result, bool fill_cache) const {
  FirstVersion sink(result);
  return Get(user_key, snapshot, &sink, fill_cache);
}

const TableProperties& Table::properties() const { return rep_->reader->props; }

const FragmentedRangeTombstones& Table::range_tombstones() const {
  return rep_->reader->tombstones;
}

uint64_t Table::ApproximateOffsetOf(std::string_view internal_key) const {
  const TableReader& r = *rep_->reader;
  BlockIter index(r.index_block.get(), InternalKeyComparator());
  index.Seek(internal_key);
  if (index.Valid()) {
    BlockHandle h;
    std::string_view v = index.value();
    if (h.DecodeFrom(&v)) return h.offset;
  }
  // Past the last key (or unreadable): the end of the data blocks.
  return r.props.data_bytes;
}

const std::string& Table::path() const { return rep_->reader->file->path(); }

}  // namespace cairn::storage
