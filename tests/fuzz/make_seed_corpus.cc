// wal_fuzz_seeds DIR: writes a seed corpus for wal_recovery_fuzzer into DIR
// (created if missing). Each seed follows the fuzzer's input layout (see
// wal_recovery_fuzzer.cc): 8 bytes of first_seq, whose low byte doubles as
// the control byte, then a segment body (raw) or a record description
// (structured). The seeds cover clean logs, a torn tail, a flipped bit below
// the durable end, a sealed segment, a damaged header and the structured
// mode, so the fuzzer starts from inputs that reach deep into recovery.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include "cairn/util/coding.h"
#include "cairn/wal/format.h"

namespace cairn::wal {
namespace {

// Control bits (the low byte of first_seq).
constexpr uint64_t kRecover = 1;
constexpr uint64_t kNothingDurable = 0 << 1;
constexpr uint64_t kDurable = 1 << 1;
constexpr uint64_t kClaimsMore = 2 << 1;
constexpr uint64_t kSealed = 3 << 1;
constexpr uint64_t kStructured = 8;
constexpr uint64_t kDamageHeader = 16;

struct RecordSpec {
  size_t payload_size;
  uint32_t seq_count;
};

std::string Payload(size_t size, int salt) {
  std::string p(size, '\0');
  for (size_t i = 0; i < size; ++i) {
    p[i] = static_cast<char>('A' + (i * 7 + salt) % 26);
  }
  return p;
}

// A raw seed: first_seq, then frames encoded from offset 64 of the segment.
std::string RawSeed(uint64_t first_seq, const std::vector<RecordSpec>& specs) {
  std::string seed(8, '\0');
  EncodeFixed64(seed.data(), first_seq);
  uint64_t seq = first_seq;
  int salt = 0;
  for (const RecordSpec& spec : specs) {
    const std::string payload = Payload(spec.payload_size, salt++);
    std::string frame(FrameSize(payload.size()), '\0');
    EncodeFrame(frame.data(), seq, spec.seq_count, payload);
    seed += frame;
    seq += spec.seq_count;
  }
  return seed;
}

// A structured seed: records described as (u16 length, seq_count - 1), then
// damages as (kind, u16 position, bit).
struct Damage {
  uint8_t kind;  // 0 flip a bit, 1 zero a word, 2 zero the tail
  uint16_t position;
  uint8_t bit;
};
std::string StructuredSeed(uint64_t first_seq,
                           const std::vector<RecordSpec>& specs,
                           const std::vector<Damage>& damages) {
  std::string seed(8, '\0');
  EncodeFixed64(seed.data(), first_seq);
  seed.push_back(static_cast<char>(specs.size()));
  int salt = 0;
  for (const RecordSpec& spec : specs) {
    seed.push_back(static_cast<char>(spec.payload_size & 0xff));
    seed.push_back(static_cast<char>(spec.payload_size >> 8));
    seed.push_back(static_cast<char>(spec.seq_count - 1));
    seed += Payload(spec.payload_size, salt++);
  }
  seed.push_back(static_cast<char>(damages.size()));
  for (const Damage& d : damages) {
    seed.push_back(static_cast<char>(d.kind));
    seed.push_back(static_cast<char>(d.position & 0xff));
    seed.push_back(static_cast<char>(d.position >> 8));
    seed.push_back(static_cast<char>(d.bit));
  }
  return seed;
}

bool WriteSeed(const std::filesystem::path& dir, const std::string& name,
               const std::string& bytes) {
  std::ofstream out(dir / name, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::fprintf(stderr, "wal_fuzz_seeds: cannot write %s\n",
                 (dir / name).c_str());
    return false;
  }
  return true;
}

int Main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
    return 2;
  }
  const std::filesystem::path dir = argv[1];
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    std::fprintf(stderr, "wal_fuzz_seeds: %s: %s\n", argv[1],
                 ec.message().c_str());
    return 1;
  }

  const std::vector<RecordSpec> some = {{0, 1},    {16, 1}, {100, 3},
                                        {1024, 1}, {7, 2},  {300, 1}};
  std::vector<std::pair<std::string, std::string>> seeds;

  seeds.emplace_back("empty", RawSeed(kRecover | kNothingDurable, {}));
  seeds.emplace_back("records-unsynced",
                     RawSeed(kRecover | kNothingDurable, some));
  seeds.emplace_back("records-durable", RawSeed(kRecover | kDurable, some));
  seeds.emplace_back("records-sealed", RawSeed(kRecover | kSealed, some));
  seeds.emplace_back("records-decode-only", RawSeed(kDurable, some));

  // A torn tail: the last frame lost its trailer and part of its payload.
  {
    std::string torn = RawSeed(kRecover | kNothingDurable, some);
    const std::string whole =
        RawSeed(kRecover | kNothingDurable,
                {{0, 1}, {16, 1}, {100, 3}, {1024, 1}, {7, 2}});
    torn.resize(whole.size() + 8 + 12 + 150);  // header, record header, part
    seeds.emplace_back("torn-tail", torn);
  }
  // A flipped bit in the third record, below the durable end the header
  // claims: recovery must refuse it.
  {
    std::string flipped = RawSeed(kRecover | kClaimsMore, some);
    const size_t third = 8 + FrameSize(0) + FrameSize(16) + 8 + 12 + 10;
    flipped[third] = static_cast<char>(flipped[third] ^ 0x20);
    seeds.emplace_back("bit-flip", flipped);
  }
  seeds.emplace_back("header-damaged",
                     RawSeed(kRecover | kDurable | kDamageHeader, some));
  seeds.emplace_back("large-first-seq",
                     RawSeed((uint64_t{1} << 40) | kRecover | kDurable, some));

  seeds.emplace_back(
      "structured-clean",
      StructuredSeed(kRecover | kDurable | kStructured, some, {}));
  seeds.emplace_back(
      "structured-flip",
      StructuredSeed(kRecover | kDurable | kStructured, some, {{0, 200, 3}}));
  seeds.emplace_back("structured-torn",
                     StructuredSeed(kRecover | kNothingDurable | kStructured,
                                    some, {{2, 1300, 0}}));
  seeds.emplace_back(
      "structured-zeroed-word",
      StructuredSeed(kRecover | kSealed | kStructured, some, {{1, 96, 0}}));

  for (const auto& [name, bytes] : seeds) {
    if (!WriteSeed(dir, "seed-" + name, bytes)) return 1;
  }
  std::printf("wal_fuzz_seeds: wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}

}  // namespace
}  // namespace cairn::wal

int main(int argc, char** argv) { return cairn::wal::Main(argc, argv); }
