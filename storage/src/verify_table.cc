// The verifier's checks of SSTables: every block read, checksum-checked and
// decoded, keys in order, and properties, filter and MANIFEST metadata
// against the entries (see verifier.h).
#include <algorithm>
#include <cstring>
#include <memory>

#include "absl/strings/str_format.h"
#include "block.h"
#include "bloom.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "dbformat.h"
#include "filename.h"
#include "merge_operand.h"
#include "sst_format.h"
#include "verifier.h"

namespace cairn::storage {

void Verifier::CheckTables() {
  for (const auto& [level, files] : levels_) {
    for (const auto& [number, f] : files) CheckTable(level, f);
  }
}

void Verifier::CheckTable(int level, const FileMetaData& meta) {
  const std::string path = TableFileName(dir_, meta.number);
  ++report_.tables;
  uint64_t size = 0;
  std::unique_ptr<File> file = OpenForCheck(
      path, &size,
      absl::StrFormat("table of level %d listed in the MANIFEST: ", level));
  if (file == nullptr) return;
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
      file->ReadAt(footer_offset, footer_bytes.data(), footer_bytes.size());
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
    absl::StatusOr<std::string> b = ReadBlock(*file, size, h);
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

}  // namespace cairn::storage
