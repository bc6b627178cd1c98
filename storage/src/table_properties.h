// TableProperties: the facts an SSTable records about itself in its
// properties block (docs/formats.md), read back when the table is opened.
#ifndef CAIRN_STORAGE_TABLE_PROPERTIES_H_
#define CAIRN_STORAGE_TABLE_PROPERTIES_H_

#include <cstdint>
#include <string>

namespace cairn::storage {

struct TableProperties {
  uint64_t num_entries = 0;    // point entries (all types)
  uint64_t num_deletions = 0;  // point tombstones
  uint64_t num_range_deletions = 0;
  uint64_t raw_key_bytes = 0;  // internal key bytes before compression
  uint64_t raw_value_bytes = 0;
  uint64_t num_data_blocks = 0;
  uint64_t data_bytes = 0;  // data blocks as stored
  uint64_t index_bytes = 0;
  uint64_t filter_bytes = 0;
  // Smallest and largest internal keys of the point entries (empty if none).
  std::string smallest_key;
  std::string largest_key;
  // Sequence range over point entries and range tombstones (0, 0 if empty).
  uint64_t smallest_seq = 0;
  uint64_t largest_seq = 0;
  uint8_t compression = 0;  // CompressionType the builder was asked for
  int bloom_bits_per_key = 0;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_TABLE_PROPERTIES_H_
