// The input format of rpc_fuzzer, shared with its seed writer.
//
// An input is a sequence of at most kMaxCalls frames, each one call:
//   selector byte (an Rpc, modulo kNumRpcs), little-endian uint16 length,
//   that many bytes of body (or the rest of the input, if shorter).
// The body is the call's request message, serialized (protobuf wire
// format), except for Txn, whose body is itself a sequence of TxnRequest
// messages, each behind a little-endian uint16 length.
#ifndef CAIRN_TESTS_FUZZ_RPC_FUZZ_FORMAT_H_
#define CAIRN_TESTS_FUZZ_RPC_FUZZ_FORMAT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::fuzz {

enum class Rpc : uint8_t {
  kGet,
  kMultiGet,
  kScan,
  kPut,
  kDelete,
  kDeleteRange,
  kMerge,
  kBatch,
  kTxn,
  kTail,
  kAck,
  kListConsumers,
  kDropConsumer,
  kFlush,
  kCompact,
  kStats,
  kCheckpoint,
  kAcquireSnapshot,
  kReleaseSnapshot,
};
inline constexpr int kNumRpcs = 19;
inline constexpr int kMaxCalls = 8;
inline constexpr int kMaxTxnRequests = 16;

// Appends a uint16 length and `body` (truncated to 65535 bytes).
inline void AppendSized(std::string* out, std::string_view body) {
  if (body.size() > 0xffff) body = body.substr(0, 0xffff);
  out->push_back(static_cast<char>(body.size() & 0xff));
  out->push_back(static_cast<char>(body.size() >> 8));
  out->append(body);
}

// Removes one length-prefixed piece from the front of *in into *piece;
// false when *in is empty.
inline bool TakeSized(std::string_view* in, std::string_view* piece) {
  if (in->empty()) return false;
  size_t n = static_cast<uint8_t>((*in)[0]);
  if (in->size() > 1)
    n |= static_cast<size_t>(static_cast<uint8_t>((*in)[1])) << 8;
  in->remove_prefix(in->size() > 1 ? 2 : 1);
  *piece = in->substr(0, n);
  in->remove_prefix(piece->size());
  return true;
}

}  // namespace cairn::fuzz

#endif  // CAIRN_TESTS_FUZZ_RPC_FUZZ_FORMAT_H_
