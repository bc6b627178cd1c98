// Writes a seed corpus for merge_fuzzer into DIR (input format: see
// merge_fuzzer.cc): raw stacks of each built-in operator with and without a
// base, mixed operators, counters at the int64 limits, malformed encodings,
// typed stacks with every spelling of an integer, and engine-mode sequences
// (merges through flushes, compactions, snapshots and reopens).
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

#include "merge_operand.h"

namespace cairn::storage {
namespace {

std::string Field(const std::string& bytes) {
  return std::string(1, static_cast<char>(bytes.size())) + bytes;
}

std::string Op(const std::string& name, const std::string& arg,
               const std::string& operand) {
  std::string out;
  EncodeMergeOperand(&out, name, arg, operand);
  return out;
}

// flags, optional base, encoded operands.
std::string Raw(bool has_base, const std::string& base,
                const std::vector<std::string>& operands) {
  std::string s(1, has_base ? 1 : 0);
  if (has_base) s += Field(base);
  for (const std::string& o : operands) s += Field(o);
  return s;
}

std::string Typed(uint8_t op, uint8_t spelling, int64_t v,
                  const std::string& arg = "") {
  std::string f;
  f += static_cast<char>(op);
  f += static_cast<char>(spelling);
  const uint64_t bits = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) f += static_cast<char>(bits >> (8 * i));
  return Field(f + arg);
}

// An engine-mode operation: kind, key index, payload.
std::string EngineOp(uint8_t kind, uint8_t key, const std::string& payload) {
  return Field(std::string(1, static_cast<char>(kind)) +
               std::string(1, static_cast<char>(key)) + payload);
}

}  // namespace
}  // namespace cairn::storage

int main(int argc, char** argv) {
  using namespace cairn::storage;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  std::filesystem::create_directories(dir);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  std::vector<std::string> seeds = {
      Raw(false, "", {Op("add", "", "1"), Op("add", "", "2")}),
      Raw(true, "40", {Op("add", "", "-2"), Op("add", "", "5")}),
      Raw(true, "9223372036854775807", {Op("add", "", "1")}),
      Raw(true, "-9223372036854775808", {Op("add", "", "-1")}),
      Raw(true, "abc", {Op("add", "", "1")}),
      Raw(false, "", {Op("add", "", "01"), Op("add", "", "-0")}),
      Raw(false, "", {Op("add", "x", "1")}),
      Raw(true, "", {Op("append", ",", "a"), Op("append", ",", "b")}),
      Raw(false, "", {Op("append", "", "a"), Op("append", "--", "b")}),
      Raw(true, "7", {Op("max", "", "3"), Op("max", "", "9")}),
      Raw(true, "7", {Op("min", "", "3"), Op("min", "", "-9")}),
      Raw(false, "",
          {Op("add", "", "5"), Op("append", "", "x"), Op("max", "", "3")}),
      Raw(false, "", {Op("nosuchop", "", "1")}),
      Raw(false, "", {std::string("\x85\x80\x80\x80\x80\x01", 6)}),
      Raw(false, "",
          {std::string("\x05"
                       "add",
                       4)}),
      Raw(true, std::string("\x01\x02\x03\x04\x05\x06\x07\x08\x09", 9), {}),
  };
  std::string typed(1, 2);
  for (uint8_t op = 0; op < 5; ++op) typed += Typed(op, 0, 42, ",");
  seeds.push_back(typed);
  for (uint8_t how = 0; how < 8; ++how) {
    std::string t(1, 3);
    t += Field("100");
    t += Typed(0, how, kMax) + Typed(0, how, kMin) + Typed(0, how, 0) +
         Typed(2, how, -7) + Typed(3, how, 7);
    seeds.push_back(t);
  }
  // Engine mode: 0 put, 1 delete(-range), 2 raw merge, 3 typed merge,
  // 4 flush, 5 compact, 6 reopen, 7 snapshot.
  const std::string typed_add = std::string(1, 0) + std::string(1, 0) +
                                std::string("\x05\0\0\0\0\0\0\0", 8);
  seeds.push_back(std::string(1, 4) + EngineOp(0, 0, "10") +
                  EngineOp(2, 0, Op("add", "", "5")) + EngineOp(4, 0, "") +
                  EngineOp(2, 0, Op("add", "", "-3")) + EngineOp(7, 0, "") +
                  EngineOp(2, 0, Op("add", "", "1")) + EngineOp(5, 0, "") +
                  EngineOp(6, 0, ""));
  seeds.push_back(std::string(1, 4) + EngineOp(2, 1, Op("append", ",", "a")) +
                  EngineOp(2, 1, Op("append", ",", "b")) + EngineOp(4, 1, "") +
                  EngineOp(2, 1, Op("append", ",", "c")) + EngineOp(5, 1, "") +
                  EngineOp(1, 1, "") + EngineOp(2, 1, Op("append", ",", "d")) +
                  EngineOp(4, 1, "") + EngineOp(6, 1, ""));
  seeds.push_back(std::string(1, 4) + EngineOp(0, 2, "abc") +
                  EngineOp(2, 2, Op("max", "", "3")) + EngineOp(4, 2, "") +
                  EngineOp(5, 2, "") + EngineOp(0, 2, "4") +
                  EngineOp(2, 2, Op("min", "", "1")) + EngineOp(1, 0, "\x03") +
                  EngineOp(5, 2, ""));
  seeds.push_back(std::string(1, 4) + EngineOp(3, 3, typed_add) +
                  EngineOp(7, 3, "") + EngineOp(3, 3, typed_add) +
                  EngineOp(7, 3, "") + EngineOp(3, 3, typed_add) +
                  EngineOp(4, 3, "") + EngineOp(5, 3, "") + EngineOp(7, 3, "") +
                  EngineOp(5, 3, "") + EngineOp(2, 3, Op("add", "", "x")));
  for (size_t i = 0; i < seeds.size(); ++i) {
    std::ofstream(dir + "/seed" + std::to_string(i), std::ios::binary)
        << seeds[i];
  }
  return 0;
}
