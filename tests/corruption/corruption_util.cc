#include "corruption_util.h"

#include <stdlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_format.h"
#include "block.h"
#include "cairn/storage/db.h"
#include "cairn/util/coding.h"
#include "cairn/wal/format.h"
#include "dbformat.h"
#include "sst_format.h"

namespace cairn::corruption {
namespace {

using storage::DB;
using storage::Options;

std::string Key(int i) { return absl::StrFormat("k%05d", i); }
std::string Value(int i, int version) {
  // Compressible, so that compressed tables really hold compressed blocks.
  return absl::StrFormat("v%d-%05d-", version, i) +
         std::string(40 + i % 60, static_cast<char>('a' + (i + version) % 26));
}

#define RETURN_IF_ERROR(expr)                 \
  do {                                        \
    if (absl::Status _s = (expr); !_s.ok()) { \
      return _s;                              \
    }                                         \
  } while (0)
#define RETURN_IF_ERROR_OR(expr)                               \
  do {                                                         \
    if (const auto& _r = (expr); !_r.ok()) return _r.status(); \
  } while (0)

std::string ReadAll(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

void Add(StructureMap* map, Structure s, const std::string& file,
         uint64_t begin, uint64_t end) {
  if (end > begin) (*map)[s].push_back({file, begin, end});
}

absl::Status MapTable(const std::string& dir, const std::string& name,
                      StructureMap* map) {
  using namespace storage;  // NOLINT
  const std::string path = dir + "/" + name;
  auto file = FileSystem::Default()->Open(path, OpenOptions{.read_only = true});
  RETURN_IF_ERROR_OR(file);
  auto size = (*file)->Size();
  RETURN_IF_ERROR_OR(size);
  std::string footer_bytes(Footer::kEncodedLength, '\0');
  RETURN_IF_ERROR_OR((*file)->ReadAt(*size - Footer::kEncodedLength,
                                     footer_bytes.data(), footer_bytes.size()));
  Footer footer;
  RETURN_IF_ERROR(footer.DecodeFrom(footer_bytes));
  Add(map, Structure::kSstFooter, name, *size - Footer::kEncodedLength, *size);
  auto block_range = [&](Structure s, const BlockHandle& h) {
    Add(map, s, name, h.offset, h.offset + h.size + kBlockTrailerSize);
  };
  block_range(Structure::kSstIndexBlock, footer.index);
  block_range(Structure::kSstMetaindexBlock, footer.metaindex);

  auto metaindex = ReadBlock(**file, *size, footer.metaindex);
  RETURN_IF_ERROR_OR(metaindex);
  Block meta(*std::move(metaindex));
  auto it = meta.NewIterator(BytewiseComparator());
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view v = it->value();
    BlockHandle h;
    if (!h.DecodeFrom(&v)) return absl::DataLossError("metaindex handle");
    if (it->key() == kFilterBlockName) {
      block_range(Structure::kSstFilterBlock, h);
    } else if (it->key() == kPropertiesBlockName) {
      block_range(Structure::kSstPropertiesBlock, h);
    } else if (it->key() == kRangeDelBlockName) {
      block_range(Structure::kSstRangeDelBlock, h);
    }
  }
  auto index_contents = ReadBlock(**file, *size, footer.index);
  RETURN_IF_ERROR_OR(index_contents);
  Block index(*std::move(index_contents));
  auto ii = index.NewIterator(InternalKeyComparator());
  for (ii->SeekToFirst(); ii->Valid(); ii->Next()) {
    std::string_view v = ii->value();
    BlockHandle h;
    if (!h.DecodeFrom(&v)) return absl::DataLossError("index handle");
    block_range(Structure::kSstDataBlock, h);
  }
  return ii->status();
}

void MapSegment(const std::string& dir, const std::string& name, bool last,
                StructureMap* map) {
  using namespace wal;  // NOLINT
  const std::string data = ReadAll(dir + "/" + name);
  const std::string file = "wal/" + name;
  Add(map, Structure::kWalSegmentHeader, file, 0, kSegmentHeaderSize);
  uint64_t off = kSegmentHeaderSize;
  while (off < data.size()) {
    FrameView f;
    if (DecodeFrame(data.data() + off, data.size() - off, &f) !=
        FrameError::kNone) {
      break;
    }
    const uint64_t length = kRecordHeaderSize + f.payload.size();
    const uint64_t d = off + kFrameHeaderSize;
    Add(map, Structure::kWalFrameHeader, file, off, d);
    Add(map, Structure::kWalRecordHeader, file, d, d + kRecordHeaderSize);
    Add(map, Structure::kWalPayload, file, d + kRecordHeaderSize, d + length);
    Add(map, Structure::kWalTrailer, file, d + length,
        d + length + kTrailerSize);
    Add(map, Structure::kWalPadding, file, d + length + kTrailerSize,
        off + f.size);
    off += f.size;
  }
  // The zeros right after the frames (a few KiB is enough to sample).
  if (last) {
    Add(map, Structure::kWalZeroTail, file, off,
        std::min<uint64_t>(data.size(), off + 4096));
  }
}

}  // namespace

const char* StructureName(Structure s) {
  switch (s) {
    case Structure::kWalSegmentHeader:
      return "wal_segment_header";
    case Structure::kWalFrameHeader:
      return "wal_frame_header";
    case Structure::kWalRecordHeader:
      return "wal_record_header";
    case Structure::kWalPayload:
      return "wal_payload";
    case Structure::kWalTrailer:
      return "wal_trailer";
    case Structure::kWalPadding:
      return "wal_padding";
    case Structure::kWalZeroTail:
      return "wal_zero_tail";
    case Structure::kSstDataBlock:
      return "sst_data_block";
    case Structure::kSstIndexBlock:
      return "sst_index_block";
    case Structure::kSstFilterBlock:
      return "sst_filter_block";
    case Structure::kSstRangeDelBlock:
      return "sst_range_del_block";
    case Structure::kSstPropertiesBlock:
      return "sst_properties_block";
    case Structure::kSstMetaindexBlock:
      return "sst_metaindex_block";
    case Structure::kSstFooter:
      return "sst_footer";
    case Structure::kManifestRecordHeader:
      return "manifest_record_header";
    case Structure::kManifestPayload:
      return "manifest_payload";
    case Structure::kManifestLastRecord:
      return "manifest_last_record";
    case Structure::kCurrent:
      return "current";
    case Structure::kCount:
      break;
  }
  return "?";
}

Options GoldenOptions() {
  Options o;
  o.write_buffer_size = 1 << 20;
  o.target_file_size = 48 << 10;
  o.block_size = 1024;
  o.block_cache_bytes = 256 << 10;
  o.disable_auto_compactions = true;  // a fixed layout
  o.wal.segment_size = 16 << 10;
  o.wal.prefault_bytes = 0;
  return o;
}

absl::Status BuildGoldenDb(const std::string& dir, Model* model) {
  using storage::CompressionType;
  Options o = GoldenOptions();
  const storage::WriteOptions w;
  // Phase 1: uncompressed, with filters, compacted out of L0.
  {
    o.compression = CompressionType::kNone;
    auto db = DB::Open(o, dir);
    RETURN_IF_ERROR_OR(db);
    for (int i = 0; i < 1200; ++i) {
      if (i % 17 == 0) {
        RETURN_IF_ERROR_OR(
            (*db)->PutWithTtl(w, Key(i), Value(i, 1), absl::Hours(10000)));
      } else {
        RETURN_IF_ERROR_OR((*db)->Put(w, Key(i), Value(i, 1)));
      }
    }
    for (int i = 0; i < 1200; i += 13) {
      RETURN_IF_ERROR_OR((*db)->Merge(w, Key(i), "append", "m1", ","));
    }
    for (int i = 0; i < 1200; i += 11) {
      RETURN_IF_ERROR_OR((*db)->Delete(w, Key(i)));
    }
    RETURN_IF_ERROR_OR((*db)->DeleteRange(w, Key(500), Key(550)));
    RETURN_IF_ERROR((*db)->Flush());
    RETURN_IF_ERROR((*db)->CompactRange(nullptr, nullptr));
    RETURN_IF_ERROR((*db)->Close());
  }
  // Phase 2: LZ4, no filter, one L0 table over part of the range.
  {
    o.compression = CompressionType::kLZ4;
    o.bloom_bits_per_key = 0;
    auto db = DB::Open(o, dir);
    RETURN_IF_ERROR_OR(db);
    for (int i = 0; i < 400; i += 3) {
      RETURN_IF_ERROR_OR((*db)->Put(w, Key(i), Value(i, 2)));
    }
    for (int i = 1; i < 400; i += 7) {
      RETURN_IF_ERROR_OR((*db)->Merge(w, Key(i), "append", "m2", ","));
    }
    RETURN_IF_ERROR_OR((*db)->DeleteRange(w, Key(900), Key(920)));
    RETURN_IF_ERROR((*db)->Flush());
    RETURN_IF_ERROR((*db)->Close());
  }
  // Phase 3: Zstd with filters: two more L0 tables (so the MANIFEST holds
  // several edits), then unflushed writes over several WAL segments.
  {
    o.compression = CompressionType::kZstd;
    o.bloom_bits_per_key = 10;
    auto db = DB::Open(o, dir);
    RETURN_IF_ERROR_OR(db);
    for (int i = 1000; i < 1300; ++i) {
      RETURN_IF_ERROR_OR((*db)->Put(w, Key(i), Value(i, 3)));
    }
    RETURN_IF_ERROR((*db)->Flush());
    for (int i = 600; i < 800; i += 2) {
      RETURN_IF_ERROR_OR((*db)->Put(w, Key(i), Value(i, 4)));
    }
    RETURN_IF_ERROR_OR((*db)->DeleteRange(w, Key(640), Key(650)));
    RETURN_IF_ERROR((*db)->Flush());
    for (int i = 0; i < 1400; i += 5) {
      if (i % 3 == 0) {
        RETURN_IF_ERROR_OR((*db)->Merge(w, Key(i), "append", "m5", ","));
      } else {
        RETURN_IF_ERROR_OR((*db)->Put(w, Key(i), Value(i, 5)));
      }
    }
    storage::WriteBatch batch;
    batch.Put(Key(1500), Value(1500, 5));
    batch.Delete(Key(3));
    batch.DeleteRange(Key(700), Key(705));
    RETURN_IF_ERROR_OR((*db)->Write(w, batch));
    RETURN_IF_ERROR((*db)->Close());
  }
  // The contents, read from a copy (opening rewrites the MANIFEST and
  // flushes the WAL: the golden files must stay as they are).
  model->live.clear();
  model->universe.clear();
  for (int i = 0; i <= 1500; ++i) model->universe.push_back(Key(i));
  const std::string scratch = dir + ".model";
  std::filesystem::remove_all(scratch);
  CopyDir(dir, scratch);
  {
    auto db = DB::Open(GoldenOptions(), scratch);
    RETURN_IF_ERROR_OR(db);
    auto it = (*db)->NewIterator({});
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      model->live.emplace(std::string(it->key()), std::string(it->value()));
    }
    RETURN_IF_ERROR(it->status());
    it.reset();
    RETURN_IF_ERROR((*db)->Close());
  }
  std::filesystem::remove_all(scratch);
  return absl::OkStatus();
}

absl::Status MapStructures(const std::string& dir, StructureMap* map) {
  map->clear();
  const std::string current = ReadAll(dir + "/CURRENT");
  Add(map, Structure::kCurrent, "CURRENT", 0, current.size());
  if (current.size() < 2) return absl::DataLossError("CURRENT");
  const std::string manifest_name = current.substr(0, current.size() - 1);
  const std::string manifest = ReadAll(dir + "/" + manifest_name);
  uint64_t pos = 0;
  while (pos + 8 <= manifest.size()) {
    const uint32_t len = DecodeFixed32(manifest.data() + pos + 4);
    const uint64_t end = pos + 8 + len;
    if (end > manifest.size()) return absl::DataLossError("MANIFEST");
    if (end == manifest.size()) {
      Add(map, Structure::kManifestLastRecord, manifest_name, pos, end);
    } else {
      Add(map, Structure::kManifestRecordHeader, manifest_name, pos, pos + 8);
      Add(map, Structure::kManifestPayload, manifest_name, pos + 8, end);
    }
    pos = end;
  }
  std::vector<std::string> tables, segments;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".sst")) tables.push_back(name);
  }
  for (const auto& e : std::filesystem::directory_iterator(dir + "/wal")) {
    const std::string name = e.path().filename().string();
    if (name.ends_with(".wal")) segments.push_back(name);
  }
  std::sort(tables.begin(), tables.end());
  std::sort(segments.begin(), segments.end());
  for (const std::string& t : tables) RETURN_IF_ERROR(MapTable(dir, t, map));
  for (size_t i = 0; i < segments.size(); ++i) {
    MapSegment(dir + "/wal", segments[i], i + 1 == segments.size(), map);
  }
  return absl::OkStatus();
}

void CopyDir(const std::string& from, const std::string& to) {
  std::filesystem::copy(from, to, std::filesystem::copy_options::recursive);
}

void FlipBit(const std::string& path, uint64_t offset, int bit) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char c = 0;
  f.get(c);
  c = static_cast<char>(c ^ (1 << bit));
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(c);
}

Flip PickFlip(const StructureMap& map, Structure s, std::mt19937_64* rng) {
  Flip flip;
  flip.structure = s;
  const std::vector<Range>& ranges = map.at(s);
  uint64_t total = 0;
  for (const Range& r : ranges) total += r.end - r.begin;
  uint64_t pick = std::uniform_int_distribution<uint64_t>(0, total - 1)(*rng);
  for (const Range& r : ranges) {
    if (pick < r.end - r.begin) {
      flip.file = r.file;
      flip.offset = r.begin + pick;
      break;
    }
    pick -= r.end - r.begin;
  }
  flip.bit = static_cast<int>((*rng)() % 8);
  return flip;
}

ScratchDir::ScratchDir() {
  char tmpl[] = "/tmp/cairn-corruption-XXXXXX";
  path_ = ::mkdtemp(tmpl);
}
ScratchDir::~ScratchDir() { std::filesystem::remove_all(path_); }

uint64_t EnvOr(const char* name, uint64_t def) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : def;
}

}  // namespace cairn::corruption
