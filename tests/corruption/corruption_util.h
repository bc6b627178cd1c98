// Helpers of the corruption suites: a database with known contents that has
// every on-disk structure (SSTables across levels, compressed and not, with
// bloom filters and range tombstones; a MANIFEST of several edits; a WAL of
// several segments holding unflushed records), a map of where each
// structure lies byte by byte (docs/formats.md), and bit flips in copies.
//
// Not thread-safe; each test owns its directories.
#ifndef CAIRN_TESTS_CORRUPTION_CORRUPTION_UTIL_H_
#define CAIRN_TESTS_CORRUPTION_CORRUPTION_UTIL_H_

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cairn/storage/options.h"

namespace cairn::corruption {

// The structures a flip is aimed at.
enum class Structure {
  kWalSegmentHeader,
  kWalFrameHeader,   // masked crc + length
  kWalRecordHeader,  // first_seq + seq_count (inside the checksummed data)
  kWalPayload,
  kWalTrailer,
  kWalPadding,   // zero padding after a trailer
  kWalZeroTail,  // zeros after the last frame of the newest segment
  kSstDataBlock,
  kSstIndexBlock,
  kSstFilterBlock,
  kSstRangeDelBlock,
  kSstPropertiesBlock,
  kSstMetaindexBlock,
  kSstFooter,
  kManifestRecordHeader,  // crc + length of a record before the last
  kManifestPayload,       // payload of a record before the last
  kManifestLastRecord,    // any byte of the last record
  kCurrent,
  kCount
};
const char* StructureName(Structure s);

// A byte range of one file (path relative to the database directory).
struct Range {
  std::string file;
  uint64_t begin = 0;
  uint64_t end = 0;  // exclusive
};
using StructureMap = std::map<Structure, std::vector<Range>>;

// What the database holds: every live key and its value, and every key ever
// written (to Get the deleted ones too).
struct Model {
  std::map<std::string, std::string> live;
  std::vector<std::string> universe;
};

// Options the golden database is written and read with.
storage::Options GoldenOptions();

// Writes the golden database into dir (which must not exist) and closes it;
// returns its contents as read back from a scratch copy.
absl::Status BuildGoldenDb(const std::string& dir, Model* model);

// Where each structure of the closed database in dir lies.
absl::Status MapStructures(const std::string& dir, StructureMap* map);

// Copies directory from to to (which must not exist), recursively.
void CopyDir(const std::string& from, const std::string& to);
// Flips bit `bit` (0..7) of the byte at offset of path.
void FlipBit(const std::string& path, uint64_t offset, int bit);

// A uniformly chosen byte of the structure's ranges.
struct Flip {
  Structure structure;
  std::string file;
  uint64_t offset = 0;
  int bit = 0;
};
Flip PickFlip(const StructureMap& map, Structure s, std::mt19937_64* rng);

// A fresh directory under /tmp (removed with its contents on destruction).
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// An unsigned number from the environment, or def.
uint64_t EnvOr(const char* name, uint64_t def);

}  // namespace cairn::corruption

#endif  // CAIRN_TESTS_CORRUPTION_CORRUPTION_UTIL_H_
