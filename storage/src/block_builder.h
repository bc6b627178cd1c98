// BlockBuilder assembles one SSTable block (format in docs/formats.md,
// "SSTable"): entries with their keys prefix-compressed against the previous
// key, a full key every `restart_interval` entries (a restart point), then
// the array of restart offsets (fixed32 each) and its length (fixed32).
//
// Invariants: keys are added in the order the block's readers will compare
// them (the builder does not check); the first entry is always a restart
// point, so even an empty block has one restart. Finish() returns a view into
// the builder that stays valid until Reset() or destruction.
//
// Thread-safety: one thread at a time.
#ifndef CAIRN_STORAGE_BLOCK_BUILDER_H_
#define CAIRN_STORAGE_BLOCK_BUILDER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::storage {

class BlockBuilder {
 public:
  // restart_interval < 1 is treated as 1 (every key a restart point).
  explicit BlockBuilder(int restart_interval);
  BlockBuilder(const BlockBuilder&) = delete;
  BlockBuilder& operator=(const BlockBuilder&) = delete;

  // Starts a new, empty block.
  void Reset();
  // Must not be called after Finish() without a Reset() in between.
  void Add(std::string_view key, std::string_view value);
  // Appends the restart array; the block's bytes are returned.
  std::string_view Finish();

  // Size the block would have if finished now.
  size_t CurrentSizeEstimate() const {
    return buffer_.size() + restarts_.size() * 4 + 4;
  }
  bool empty() const { return buffer_.empty(); }

 private:
  const int restart_interval_;
  std::string buffer_;
  std::vector<uint32_t> restarts_;
  int counter_ = 0;  // entries since the last restart point
  bool finished_ = false;
  std::string last_key_;
};

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_BLOCK_BUILDER_H_
