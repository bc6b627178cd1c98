// VerifyDatabase (cairn/storage/verify.h): reads every file of a closed
// database and checks every checksum and structural invariant the formats of
// docs/formats.md define, reporting what it finds instead of stopping at the
// first problem. It shares the engine's decoders (footer, block, bloom,
// version edit, WAL frame) but not its readers, so that it can say where
// each problem is and go on past it.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "block.h"
#include "bloom.h"
#include "cairn/storage/verify.h"
#include "cairn/storage/write_batch.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "cairn/wal/format.h"
#include "dbformat.h"
#include "filename.h"
#include "merge_operand.h"
#include "sst_format.h"
#include "version_edit.h"

namespace cairn::storage {
namespace {

using Severity = VerifyProblem::Severity;
constexpr uint64_t kNoOffset = VerifyProblem::kNoOffset;
constexpr size_t kManifestHeaderSize = 8;  // masked crc, length

// A WAL directory entry: NNNNNNNNNN.wal or NNNNNNNNNN.spare.
bool ParseSegmentName(const std::string& name, uint32_t* id, bool* spare) {
  std::string_view digits;
  if (name.size() == 14 && name.ends_with(".wal")) {
    *spare = false;
  } else if (name.size() == 16 && name.ends_with(".spare")) {
    *spare = true;
  } else {
    return false;
  }
  digits = std::string_view(name).substr(0, 10);
  if (!std::all_of(digits.begin(), digits.end(),
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  uint64_t n = 0;
  for (char c : digits) n = n * 10 + static_cast<uint64_t>(c - '0');
  if (n > UINT32_MAX) return false;
  *id = static_cast<uint32_t>(n);
  return true;
}

// Whether the segment at path has a valid header with no first sequence and
// no frame: a spare made ahead of need.
bool IsEmptySpare(FileSystem* fs, const std::string& path) {
  using namespace cairn::wal;  // NOLINT: the WAL format's names
  auto file = fs->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) return false;
  char head[kSegmentHeaderSize + kFrameHeaderSize];
  auto n = (*file)->ReadAt(0, head, sizeof head);
  SegmentHeader h;
  return n.ok() && *n == sizeof head && DecodeSegmentHeader(head, &h).ok() &&
         h.first_seq == 0 &&
         std::all_of(head + kSegmentHeaderSize, head + sizeof head,
                     [](char c) { return c == 0; });
}

class Verifier {
 public:
  Verifier(std::string dir, const VerifyOptions& options)
      : dir_(std::move(dir)), options_(options), fs_(options.fs) {}

  absl::StatusOr<VerifyReport> Run();

 private:
  struct Segment {
    uint32_t id = 0;
    std::string path;
  };

  void Problem(Severity severity, const std::string& file, uint64_t offset,
               std::string what);
  void Corrupt(const std::string& file, uint64_t offset, std::string what) {
    Problem(Severity::kCorruption, file, offset, std::move(what));
  }
  void Torn(const std::string& file, uint64_t offset, std::string what) {
    Problem(Severity::kTornTail, file, offset, std::move(what));
  }
  // Reads a whole (small) file; on failure reports it and returns nullopt.
  std::optional<std::string> ReadWhole(const std::string& path);

  void CheckCurrent();
  void CheckManifest();
  void ApplyEdit(const VersionEdit& edit, uint64_t offset);
  void CheckLevels();
  void CheckTables();
  void CheckTable(int level, const FileMetaData& meta);
  void CheckWal();
  // Checks one segment; *next_seq is the sequence expected next (0 when
  // unknown) and is advanced past its records.
  void CheckSegment(const Segment& seg, bool last, uint64_t* next_seq);

  const std::string dir_;
  const VerifyOptions options_;
  FileSystem* const fs_;
  VerifyReport report_;
  std::map<std::string, int> problems_per_file_;
  std::string manifest_path_;  // empty if CURRENT does not name one
  bool manifest_ok_ = false;
  // The live files, by level, then number.
  std::map<int, std::map<uint64_t, FileMetaData>> levels_;
  bool wal_seen_ = false;
  // Whether the segment checked last was sealed (true before the first).
  bool prev_sealed_ = true;
};

void Verifier::Problem(Severity severity, const std::string& file,
                       uint64_t offset, std::string what) {
  if (++problems_per_file_[file] > options_.max_problems_per_file) {
    ++report_.problems_dropped;
    return;
  }
  report_.problems.push_back(
      VerifyProblem{severity, file, offset, std::move(what)});
}

std::optional<std::string> Verifier::ReadWhole(const std::string& path) {
  auto file = fs_->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) {
    Corrupt(path, kNoOffset,
            absl::StrCat("cannot open: ", file.status().message()));
    return std::nullopt;
  }
  auto size = (*file)->Size();
  if (!size.ok()) {
    Corrupt(path, kNoOffset,
            absl::StrCat("cannot stat: ", size.status().message()));
    return std::nullopt;
  }
  std::string data(*size, '\0');
  auto n = (*file)->ReadAt(0, data.data(), data.size());
  if (!n.ok() || *n != data.size()) {
    Corrupt(path, 0,
            absl::StrCat("cannot read: ",
                         n.ok() ? "short read" : n.status().message()));
    return std::nullopt;
  }
  ++report_.files;
  report_.bytes += data.size();
  return data;
}

void Verifier::CheckCurrent() {
  const std::string path = CurrentFileName(dir_);
  std::optional<std::string> current = ReadWhole(path);
  if (!current) return;
  // Strictly the form the engine writes: the engine's parser is lenient
  // (absl::SimpleAtoi skips blanks), so a damaged CURRENT may still name
  // the right MANIFEST; it is damage all the same.
  uint64_t number = 0;
  const bool shaped =
      current->size() == 16 && current->back() == '\n' &&
      ParseFileName(current->substr(0, 15), &number) == FileType::kManifest &&
      absl::StrFormat("MANIFEST-%06d", number) == current->substr(0, 15);
  if (!shaped) {
    Corrupt(path, 0,
            absl::StrCat("does not hold 'MANIFEST-NNNNNN\\n' but '",
                         EscapeBytes(current->substr(0, 64)), "'"));
    // The lenient reading the engine would do, to go on checking.
    if (current->empty() || current->back() != '\n' ||
        ParseFileName(current->substr(0, current->size() - 1), &number) !=
            FileType::kManifest) {
      return;
    }
  }
  manifest_path_ = ManifestFileName(dir_, number);
  if (!fs_->Exists(manifest_path_)) {
    Corrupt(path, 0,
            absl::StrCat("names ", manifest_path_, ", which does not exist"));
    manifest_path_.clear();
  }
}

void Verifier::CheckManifest() {
  std::optional<std::string> data = ReadWhole(manifest_path_);
  if (!data) return;
  const std::string& m = *data;
  const std::string& path = manifest_path_;
  // Whether a well-formed record starts anywhere in [from, size): evidence
  // that a bad record is damage in the middle, not an unfinished append.
  auto valid_record_after = [&m](size_t from) -> std::optional<size_t> {
    for (size_t q = from; q + kManifestHeaderSize <= m.size(); ++q) {
      const uint32_t len = DecodeFixed32(m.data() + q + 4);
      if (len == 0 || len > m.size() - q - kManifestHeaderSize) continue;
      if (crc32c::Unmask(DecodeFixed32(m.data() + q)) ==
          crc32c::Value(m.data() + q + kManifestHeaderSize, len)) {
        return q;
      }
    }
    return std::nullopt;
  };
  size_t pos = 0;
  bool ok = true;
  while (pos < m.size()) {
    const size_t left = m.size() - pos;
    if (left < kManifestHeaderSize) {
      Torn(path, pos,
           absl::StrFormat("record header cut short by the end of the file "
                           "(%d bytes): an unfinished append, dropped at open",
                           left));
      break;
    }
    const uint32_t crc = crc32c::Unmask(DecodeFixed32(m.data() + pos));
    const uint32_t len = DecodeFixed32(m.data() + pos + 4);
    if (len > left - kManifestHeaderSize) {
      std::string_view rest(m.data() + pos + kManifestHeaderSize,
                            left - kManifestHeaderSize);
      std::optional<size_t> after = valid_record_after(pos + 1);
      if (crc32c::Value(rest) == crc || after) {
        Corrupt(path, pos,
                absl::StrFormat(
                    "record length %d runs past the end of the file, but %s: "
                    "the length is damaged (open would drop every later "
                    "record as an unfinished append)",
                    len,
                    after ? absl::StrFormat("a valid record follows at "
                                            "offset %d",
                                            *after)
                          : std::string("the checksum matches the bytes "
                                        "that are there")));
        ok = false;
      } else {
        Torn(path, pos,
             absl::StrFormat("record of %d bytes cut short by the end of the "
                             "file: an unfinished append, dropped at open",
                             len));
      }
      break;
    }
    std::string_view payload(m.data() + pos + kManifestHeaderSize, len);
    if (crc32c::Value(payload) != crc) {
      const bool last = pos + kManifestHeaderSize + len == m.size();
      Corrupt(
          path, pos,
          last ? std::string("the last record fails its checksum (open "
                             "drops it as an unfinished append, but "
                             "it is complete: its bytes were changed)")
               : absl::StrFormat("record fails its checksum, %d bytes "
                                 "follow",
                                 m.size() - pos - kManifestHeaderSize - len));
      ok = false;
      break;
    }
    ++report_.manifest_records;
    VersionEdit edit;
    if (absl::Status s = edit.DecodeFrom(payload); !s.ok()) {
      Corrupt(path, pos, absl::StrCat("version edit: ", s.message()));
      ok = false;
      break;
    }
    ApplyEdit(edit, pos);
    pos += kManifestHeaderSize + len;
  }
  if (report_.manifest_records == 0 && ok) {
    Corrupt(path, 0, "holds no complete record");
    ok = false;
  }
  manifest_ok_ = ok;
  if (ok) CheckLevels();
}

void Verifier::ApplyEdit(const VersionEdit& edit, uint64_t offset) {
  for (const auto& [level, number] : edit.deleted_files()) {
    if (levels_[level].erase(number) == 0) {
      Corrupt(manifest_path_, offset,
              absl::StrFormat("deletes table %d from level %d, where it is "
                              "not",
                              number, level));
    }
  }
  for (const auto& [level, f] : edit.new_files()) {
    for (const auto& [l, files] : levels_) {
      if (files.count(f.number)) {
        Corrupt(manifest_path_, offset,
                absl::StrFormat("adds table %d to level %d, but level %d "
                                "already holds it",
                                f.number, level, l));
      }
    }
    if (f.smallest.size() < 8 || f.largest.size() < 8 ||
        CompareInternalKeys(f.smallest, f.largest) > 0) {
      Corrupt(manifest_path_, offset,
              absl::StrFormat("table %d has bad bounds", f.number));
    }
    levels_[level][f.number] = f;
  }
  if (edit.flushed_seq()) report_.flushed_seq = *edit.flushed_seq();
}

void Verifier::CheckLevels() {
  for (const auto& [level, files] : levels_) {
    if (level == 0) continue;
    std::vector<const FileMetaData*> sorted;
    for (const auto& [number, f] : files) {
      if (f.smallest.size() >= 8 && f.largest.size() >= 8) {
        sorted.push_back(&f);
      }
    }
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
      return CompareInternalKeys(a->smallest, b->smallest) < 0;
    });
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (CompareInternalKeys(sorted[i - 1]->largest, sorted[i]->smallest) >=
          0) {
        Corrupt(
            manifest_path_, kNoOffset,
            absl::StrFormat("tables %d and %d of level %d overlap",
                            sorted[i - 1]->number, sorted[i]->number, level));
      }
    }
  }
}

void Verifier::CheckTables() {
  for (const auto& [level, files] : levels_) {
    for (const auto& [number, f] : files) CheckTable(level, f);
  }
}

void Verifier::CheckTable(int level, const FileMetaData& meta) {
  const std::string path = TableFileName(dir_, meta.number);
  ++report_.tables;
  auto file = fs_->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) {
    Corrupt(path, kNoOffset,
            absl::StrFormat("table of level %d listed in the MANIFEST: %s",
                            level, file.status().message()));
    return;
  }
  auto size_or = (*file)->Size();
  if (!size_or.ok()) {
    Corrupt(path, kNoOffset, std::string(size_or.status().message()));
    return;
  }
  const uint64_t size = *size_or;
  ++report_.files;
  if (size != meta.file_size) {
    Corrupt(path, kNoOffset,
            absl::StrFormat("is %d bytes, the MANIFEST says %d", size,
                            meta.file_size));
  }
  if (size < Footer::kEncodedLength) {
    Corrupt(path, 0, "shorter than a table footer");
    return;
  }
  const uint64_t footer_offset = size - Footer::kEncodedLength;
  std::string footer_bytes(Footer::kEncodedLength, '\0');
  auto n =
      (*file)->ReadAt(footer_offset, footer_bytes.data(), footer_bytes.size());
  Footer footer;
  if (!n.ok() || *n != footer_bytes.size()) {
    Corrupt(path, footer_offset, "cannot read the footer");
    return;
  }
  report_.bytes += Footer::kEncodedLength;
  if (absl::Status s = footer.DecodeFrom(footer_bytes); !s.ok()) {
    Corrupt(path, footer_offset, absl::StrCat("footer: ", s.message()));
    return;
  }

  // Every block read, to check that they tile the file.
  struct Piece {
    uint64_t offset, size;
    std::string what;
  };
  std::vector<Piece> pieces;
  // A block failed to read: the checks that count or tile blocks would
  // only repeat that finding.
  bool unreadable = false;
  pieces.push_back({footer_offset, Footer::kEncodedLength, "footer"});
  auto read_block = [&](const BlockHandle& h,
                        const std::string& what) -> std::optional<std::string> {
    absl::StatusOr<std::string> b = ReadBlock(**file, size, h);
    if (!b.ok()) {
      unreadable = true;
      Corrupt(path, h.offset, absl::StrCat(what, ": ", b.status().message()));
      return std::nullopt;
    }
    ++report_.blocks;
    report_.bytes += h.size + kBlockTrailerSize;
    pieces.push_back({h.offset, h.size + kBlockTrailerSize, what});
    return *std::move(b);
  };
  // Runs f(key, value) over the entries of a block, in cmp order; reports
  // and returns false on a malformed block.
  auto for_each = [&](const std::string& contents, const Comparator* cmp,
                      uint64_t offset, const std::string& what,
                      auto&& f) -> bool {
    Block block(contents);
    if (!block.valid()) {
      Corrupt(path, offset, absl::StrCat(what, ": malformed restart array"));
      return false;
    }
    auto it = block.NewIterator(cmp);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (!f(it->key(), it->value())) return false;
    }
    if (!it->status().ok()) {
      Corrupt(path, offset, absl::StrCat(what, ": ", it->status().message()));
      return false;
    }
    return true;
  };

  // Metaindex and the meta blocks it names.
  TableProperties props;
  bool have_props = false;
  std::unique_ptr<const BloomFilterReader> filter;
  uint64_t range_deletions = 0;
  if (auto metaindex = read_block(footer.metaindex, "metaindex block")) {
    std::string prev_name;
    for_each(
        *metaindex, BytewiseComparator(), footer.metaindex.offset,
        "metaindex block", [&](std::string_view name, std::string_view v) {
          BlockHandle h;
          if (!h.DecodeFrom(&v) || !v.empty()) {
            Corrupt(path, footer.metaindex.offset,
                    absl::StrCat("metaindex entry '", EscapeBytes(name),
                                 "': bad block handle"));
            return true;
          }
          const std::string what =
              absl::StrCat("meta block '", EscapeBytes(name), "'");
          std::optional<std::string> contents = read_block(h, what);
          if (!contents) return true;
          if (name == kPropertiesBlockName) {
            have_props =
                for_each(*contents, BytewiseComparator(), h.offset, what,
                         [&](std::string_view k, std::string_view value) {
                           absl::Status s = DecodeProperty(k, value, &props);
                           if (!s.ok()) {
                             Corrupt(path, h.offset,
                                     absl::StrCat(what, ": ", s.message()));
                           }
                           return s.ok();
                         });
          } else if (name == kFilterBlockName) {
            auto parsed = BloomFilterReader::Parse(*contents);
            if (!parsed.ok()) {
              Corrupt(path, h.offset,
                      absl::StrCat(what, ": ", parsed.status().message()));
            } else {
              filter = *std::move(parsed);
            }
          } else if (name == kRangeDelBlockName) {
            for_each(*contents, InternalKeyComparator(), h.offset, what,
                     [&](std::string_view k, std::string_view end) {
                       ParsedInternalKey p;
                       if (!ParseInternalKey(k, &p) ||
                           p.type != kTypeRangeDeletion || end <= p.user_key) {
                         Corrupt(path, h.offset,
                                 absl::StrCat(what, ": bad tombstone"));
                         return false;
                       }
                       ++range_deletions;
                       return true;
                     });
          }
          return true;
        });
    if (!have_props) {
      Corrupt(path, footer.metaindex.offset, "no valid properties block");
    }
  }

  // The index and every data block.
  uint64_t entries = 0, deletions = 0, data_blocks = 0, next_data = 0;
  std::string first_key, last_key, prev_index_key, user_key;
  bool ordered = true;
  if (auto index = read_block(footer.index, "index block")) {
    for_each(
        *index, InternalKeyComparator(), footer.index.offset, "index block",
        [&](std::string_view index_key, std::string_view v) {
          BlockHandle h;
          if (!h.DecodeFrom(&v) || !v.empty()) {
            Corrupt(path, footer.index.offset,
                    "index block: bad data block handle");
            return false;
          }
          if (h.offset != next_data) {
            Corrupt(path, footer.index.offset,
                    absl::StrFormat("index block: data block at offset %d, "
                                    "expected at %d",
                                    h.offset, next_data));
            return false;
          }
          next_data = h.offset + h.size + kBlockTrailerSize;
          ++data_blocks;
          const std::string what =
              absl::StrFormat("data block %d", data_blocks - 1);
          std::optional<std::string> contents = read_block(h, what);
          if (!contents) return true;  // go on with the next block
          bool first_in_block = true;
          for_each(
              *contents, InternalKeyComparator(), h.offset, what,
              [&](std::string_view k, std::string_view value) {
                ParsedInternalKey p;
                if (!ParseInternalKey(k, &p) || p.type == kTypeRangeDeletion) {
                  Corrupt(path, h.offset,
                          absl::StrCat(what, ": bad internal key '",
                                       EscapeBytes(k), "'"));
                  return false;
                }
                if (!last_key.empty() &&
                    CompareInternalKeys(last_key, k) >= 0) {
                  if (ordered) {
                    Corrupt(path, h.offset,
                            absl::StrCat(what, ": key '", EscapeBytes(k),
                                         "' out of order"));
                  }
                  ordered = false;
                }
                if (first_in_block && !prev_index_key.empty() &&
                    CompareInternalKeys(prev_index_key, k) >= 0) {
                  Corrupt(path, h.offset,
                          absl::StrCat(what,
                                       ": first key is not above the "
                                       "previous block's index key"));
                }
                if (CompareInternalKeys(k, index_key) > 0) {
                  Corrupt(path, h.offset,
                          absl::StrCat(what, ": key '", EscapeBytes(k),
                                       "' above the block's index key"));
                }
                first_in_block = false;
                std::string_view unused_value;
                uint64_t unused_expiry;
                MergeOperand unused_operand;
                if ((p.type == kTypeValueWithExpiry &&
                     !DecodeValueWithExpiry(value, &unused_value,
                                            &unused_expiry)) ||
                    (p.type == kTypeMerge &&
                     !DecodeMergeOperand(value, &unused_operand)) ||
                    (p.type == kTypeDeletion && !value.empty())) {
                  Corrupt(path, h.offset,
                          absl::StrCat(what, ": malformed value of key '",
                                       EscapeBytes(p.user_key), "'"));
                }
                if (p.user_key != user_key || entries == 0) {
                  user_key.assign(p.user_key);
                  if (filter != nullptr && !filter->KeyMayMatch(user_key)) {
                    Corrupt(path, h.offset,
                            absl::StrCat("the bloom filter would hide key '",
                                         EscapeBytes(user_key), "'"));
                  }
                }
                if (p.sequence < meta.smallest_seq ||
                    p.sequence > meta.largest_seq) {
                  Corrupt(path, h.offset,
                          absl::StrFormat("%s: sequence %d outside the "
                                          "MANIFEST's [%d, %d]",
                                          what, p.sequence, meta.smallest_seq,
                                          meta.largest_seq));
                }
                if (entries == 0) first_key.assign(k);
                last_key.assign(k);
                ++entries;
                deletions += p.type == kTypeDeletion;
                return true;
              });
          prev_index_key.assign(index_key);
          return true;
        });
  }
  report_.entries += entries;

  // The blocks must tile the file: a byte no block covers is a byte no
  // checksum covers.
  std::sort(pieces.begin(), pieces.end(),
            [](const Piece& a, const Piece& b) { return a.offset < b.offset; });
  uint64_t covered = 0;
  for (const Piece& p : pieces) {
    if (unreadable) break;
    if (p.offset != covered) {
      Corrupt(path, std::min(p.offset, covered),
              absl::StrFormat("%s at offset %d, the previous block ends at %d",
                              p.what, p.offset, covered));
      break;
    }
    covered = p.offset + p.size;
  }

  // What the table says of itself and what the MANIFEST says of it.
  if (unreadable) return;
  if (have_props) {
    auto differs = [&](const char* name, uint64_t recorded, uint64_t found) {
      if (recorded != found) {
        Corrupt(path, kNoOffset,
                absl::StrFormat("properties say %s = %d, the table holds %d",
                                name, recorded, found));
      }
    };
    differs("num_entries", props.num_entries, entries);
    differs("num_deletions", props.num_deletions, deletions);
    differs("num_data_blocks", props.num_data_blocks, data_blocks);
    if (props.smallest_key != first_key || props.largest_key != last_key) {
      Corrupt(path, kNoOffset,
              "the properties' smallest/largest keys differ from the "
              "table's");
    }
  }
  if (meta.num_entries != entries) {
    Corrupt(path, kNoOffset,
            absl::StrFormat("holds %d entries, the MANIFEST says %d", entries,
                            meta.num_entries));
  }
  if (!first_key.empty() &&
      (CompareInternalKeys(first_key, meta.smallest) < 0 ||
       CompareInternalKeys(last_key, meta.largest) > 0)) {
    Corrupt(path, kNoOffset,
            "holds keys outside the bounds the MANIFEST records");
  }
}

void Verifier::CheckWal() {
  const std::string wal_dir = WalDirName(dir_);
  if (!fs_->Exists(wal_dir)) {
    if (manifest_ok_)
      Corrupt(wal_dir, kNoOffset, "the WAL directory is missing");
    return;
  }
  auto names = fs_->ListDir(wal_dir);
  if (!names.ok()) {
    Corrupt(wal_dir, kNoOffset, std::string(names.status().message()));
    return;
  }
  std::vector<Segment> segs;
  for (const std::string& name : *names) {
    uint32_t id;
    bool spare;
    if (ParseSegmentName(name, &id, &spare)) {
      segs.push_back({id, JoinPath(wal_dir, name)});
    }
  }
  std::sort(segs.begin(), segs.end(),
            [](const Segment& a, const Segment& b) { return a.id < b.id; });
  // Trailing spares (a valid header without a first sequence, no frame)
  // hold nothing; recovery removes them, and the segment before them is
  // the newest.
  size_t newest = segs.size();
  while (newest > 0 && IsEmptySpare(fs_, segs[newest - 1].path)) --newest;
  uint64_t next_seq = 0;
  for (size_t i = 0; i < segs.size(); ++i) {
    CheckSegment(segs[i], i + 1 >= newest, &next_seq);
  }
  if (next_seq != 0) report_.wal_last_seq = next_seq - 1;
  if (!manifest_ok_ || !wal_seen_) return;
  const uint64_t flushed = report_.flushed_seq;
  if (report_.wal_first_seq > flushed + 1) {
    Corrupt(wal_dir, kNoOffset,
            absl::StrFormat("sequences %d..%d are neither in SSTables nor in "
                            "the WAL (which starts at %d)",
                            flushed + 1, report_.wal_first_seq - 1,
                            report_.wal_first_seq));
  }
  if (report_.wal_last_seq < flushed) {
    Corrupt(wal_dir, kNoOffset,
            absl::StrFormat("the WAL ends at sequence %d, below the flushed "
                            "sequence %d",
                            report_.wal_last_seq, flushed));
  }
}

void Verifier::CheckSegment(const Segment& seg, bool last, uint64_t* next_seq) {
  using namespace cairn::wal;  // NOLINT: the WAL format's names
  const std::string& path = seg.path;
  auto file = fs_->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) {
    Corrupt(path, kNoOffset, std::string(file.status().message()));
    return;
  }
  auto size_or = (*file)->Size();
  if (!size_or.ok()) {
    Corrupt(path, kNoOffset, std::string(size_or.status().message()));
    return;
  }
  const uint64_t size = *size_or;
  if (size < kSegmentHeaderSize + kFrameHeaderSize) {
    Corrupt(path, 0, absl::StrFormat("only %d bytes", size));
    return;
  }
  auto map = (*file)->Map(0, size, /*writable=*/false);
  if (!map.ok()) {
    Corrupt(path, kNoOffset, std::string(map.status().message()));
    return;
  }
  const char* data = (*map)->data();
  ++report_.files;
  ++report_.wal_segments;
  report_.bytes += size;

  SegmentHeader h;
  absl::Status hs = DecodeSegmentHeader(data, &h);
  if (hs.ok() && h.segment_id != seg.id) {
    hs = absl::DataLossError(
        absl::StrFormat("header names segment %d", h.segment_id));
  }
  if (hs.ok() &&
      (h.write_offset < kSegmentHeaderSize || h.write_offset > size)) {
    hs = absl::DataLossError(absl::StrFormat(
        "header write offset %d is outside the segment", h.write_offset));
  }
  if (!hs.ok()) {
    // Recovery rebuilds the newest segment's header when the segment before
    // it is sealed; after an unsealed one (a crash image with a spare) it
    // refuses to open.
    if (last && prev_sealed_) {
      Torn(path, 0,
           absl::StrCat("header of the newest segment: ", hs.message(),
                        " (it is rewritten after every sync; recovery "
                        "rebuilds it from the frames)"));
    } else {
      Corrupt(path, 0, absl::StrCat("header: ", hs.message()));
    }
  }
  const bool header_ok = hs.ok();
  if (header_ok && (h.flags & kFlagObsolete) != 0) {
    if (last) Corrupt(path, 0, "the newest segment is flagged as deleted");
    return;  // removed at open; not part of the log
  }
  uint64_t start = header_ok ? h.first_seq : 0;
  if (start == 0) start = *next_seq;  // a spare, or activated from one
  if (start == 0) {
    FrameView f;
    if (DecodeFrame(data + kSegmentHeaderSize, size - kSegmentHeaderSize, &f) ==
        FrameError::kNone) {
      start = f.first_seq;
    }
  }
  if (header_ok && h.first_seq != 0 && *next_seq != 0 &&
      h.first_seq != *next_seq) {
    Corrupt(path, 0,
            absl::StrFormat("starts at sequence %d, the segment before ends "
                            "at %d",
                            h.first_seq, *next_seq - 1));
  }
  const bool truncating = header_ok && (h.flags & kFlagTruncated) != 0;
  const uint64_t scan_end = truncating ? h.write_offset : size;
  ScanResult r =
      ScanFrames(data, scan_end, kSegmentHeaderSize, start,
                 [&](uint64_t offset, const FrameView& f) {
                   const uint64_t used = kFrameHeaderSize + kRecordHeaderSize +
                                         f.payload.size() + kTrailerSize;
                   if (EndOfNonZero(data, offset + used, offset + f.size) !=
                       offset + used) {
                     Corrupt(path, offset + used, "non-zero frame padding");
                   }
                   WriteBatch batch;
                   absl::Status s = WriteBatch::FromPayload(f.payload, &batch);
                   if (s.ok() && batch.Count() != f.seq_count) {
                     s = absl::DataLossError(absl::StrFormat(
                         "batch of %d operations in a record of %d sequences",
                         batch.Count(), f.seq_count));
                   }
                   if (!s.ok()) {
                     Corrupt(path, offset,
                             absl::StrFormat("record at sequence %d: %s",
                                             f.first_seq, s.message()));
                   }
                   ++report_.wal_records;
                 });
  if (r.records > 0 || (header_ok && h.first_seq != 0)) {
    if (!wal_seen_) report_.wal_first_seq = start;
    wal_seen_ = true;
  }
  const uint64_t dirty_end = EndOfNonZero(data, r.end_offset, size);
  const bool below_durable = header_ok && r.end_offset < h.write_offset;
  const bool sealed = header_ok && (h.flags & kFlagSealed) != 0;
  if (below_durable) {
    Corrupt(
        path, r.end_offset,
        absl::StrFormat("%s below the segment's durable end %d (records "
                        "from sequence %d on are unreadable)",
                        FrameErrorName(r.stop), h.write_offset, r.next_seq));
  } else if (sealed) {
    if (r.end_offset != h.write_offset || h.last_seq != r.next_seq - 1 ||
        h.entry_count != r.records) {
      Corrupt(path, 0,
              absl::StrFormat("sealed header says %d records to sequence %d "
                              "ending at %d; the frames say %d to %d ending "
                              "at %d",
                              h.entry_count, h.last_seq, h.write_offset,
                              r.records, r.next_seq - 1, r.end_offset));
    } else if (dirty_end > r.end_offset) {
      Corrupt(path, r.end_offset,
              absl::StrFormat("non-zero bytes after the sealed end (up to "
                              "offset %d)",
                              dirty_end));
    }
  } else if (dirty_end > r.end_offset) {
    const std::string what = absl::StrFormat(
        "%s: recovery cuts the log here and zeroes %d bytes%s",
        FrameErrorName(r.stop), dirty_end - r.end_offset,
        r.valid_frame_after != 0
            ? absl::StrFormat(" (a valid frame follows at offset %d)",
                              r.valid_frame_after)
            : "");
    if (last) {
      Torn(path, r.end_offset,
           absl::StrCat(what, "; nothing after it was synced"));
    } else {
      Corrupt(path, r.end_offset, what);
    }
  }
  *next_seq = r.next_seq;
  prev_sealed_ = sealed;
}

absl::StatusOr<VerifyReport> Verifier::Run() {
  if (!fs_->Exists(dir_)) {
    return absl::NotFoundError(absl::StrCat(dir_, ": no such directory"));
  }
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  bool any = false;
  for (const std::string& name : *names) {
    uint64_t number;
    FileType t = ParseFileName(name, &number);
    any |= t == FileType::kCurrent || t == FileType::kManifest ||
           t == FileType::kTable;
  }
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat(dir_, ": not a database (no CURRENT, MANIFEST or table)"));
  }
  // Hold the locks the engine and the WAL take, so that neither can open the
  // database meanwhile; only where the lock file exists (nothing is created).
  std::vector<std::unique_ptr<FileLock>> locks;
  for (const std::string& lock :
       {LockFileName(dir_), JoinPath(WalDirName(dir_), "LOCK")}) {
    if (!fs_->Exists(lock)) continue;
    auto l = fs_->Lock(lock);
    if (!l.ok()) {
      if (absl::IsFailedPrecondition(l.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat(dir_, ": the database is open in another process (",
                         lock, " is locked); stop it first"));
      }
      return l.status();
    }
    locks.push_back(*std::move(l));
  }

  CheckCurrent();
  if (!manifest_path_.empty()) CheckManifest();
  if (manifest_ok_) {
    CheckTables();
  }
  CheckWal();
  return std::move(report_);
}

}  // namespace

bool VerifyReport::corrupt() const {
  return std::any_of(problems.begin(), problems.end(), [](const auto& p) {
    return p.severity == Severity::kCorruption;
  });
}

std::string VerifyReport::ToString() const {
  int corruptions = 0;
  for (const VerifyProblem& p : problems) {
    corruptions += p.severity == Severity::kCorruption;
  }
  std::string out = absl::StrFormat(
      "%s: %d files, %d bytes; %d tables, %d blocks, %d entries; %d MANIFEST "
      "records (flushed sequence %d); %d WAL segments, %d records "
      "(sequences %d..%d); %d corruption, %d torn tail%s\n",
      corrupt() ? "CORRUPT" : "OK", files, bytes, tables, blocks, entries,
      manifest_records, flushed_seq, wal_segments, wal_records, wal_first_seq,
      wal_last_seq, corruptions, problems.size() - corruptions,
      problems_dropped > 0
          ? absl::StrFormat(" (%d more not listed)", problems_dropped)
          : "");
  for (const VerifyProblem& p : problems) {
    absl::StrAppend(
        &out,
        p.severity == Severity::kCorruption ? "corruption: " : "torn tail: ",
        p.file,
        p.offset == kNoOffset ? std::string()
                              : absl::StrFormat(" @%d", p.offset),
        ": ", p.what, "\n");
  }
  return out;
}

absl::StatusOr<VerifyReport> VerifyDatabase(const std::string& dir,
                                            const VerifyOptions& options) {
  return Verifier(dir, options).Run();
}

}  // namespace cairn::storage
