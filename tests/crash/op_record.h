// OpRecord: what the crash torture's clients sent to cairnd during one cycle
// and what they know about the outcome, and KeyState: one key as read back
// after a restart. These are the verifier's inputs; they hold no behaviour.
//
// Every Put a worker sends carries a value that starts with a token unique
// over the whole run ("c<cycle>.w<worker>.<n>|..."), so a value read back
// names the operation that wrote it. An operation's writes are in the order
// the server applies them: for a Batch the op order, for a transaction the
// key order (the client sends its writes sorted by key). An acknowledged op
// of n writes occupies the sequences seq - n + 1 .. seq (docs/api.md).
//
// Plain data; safe to copy.
#ifndef CAIRN_TESTS_CRASH_OP_RECORD_H_
#define CAIRN_TESTS_CRASH_OP_RECORD_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::crash {

// One write of an operation.
struct Write {
  enum class Type { kPut, kDelete, kMerge };
  Type type = Type::kPut;
  std::string key;
  // kPut: the value; kMerge: the "add" operand (decimal int64).
  std::string value;
};

enum class Outcome {
  // The server answered OK with a sequence: the op committed at `seq`.
  kAcked,
  // The call failed in a way that leaves it open whether it committed (the
  // server was killed while it was in flight, UNAVAILABLE, a deadline...).
  kMaybe,
  // The server said it did not write anything: a Batch whose condition
  // failed, a transaction that ended ABORTED or broke before its commit.
  kNotApplied,
};

struct OpRecord {
  uint64_t id = 0;    // unique within the run
  std::string kind;   // "put", "delete", "merge", "batch", ...
  std::string token;  // the token in its put values ("" if none)
  std::vector<Write> writes;
  Outcome outcome = Outcome::kMaybe;
  uint64_t seq = 0;  // kAcked: the sequence of its last write

  // kAcked only: the sequence of write i.
  uint64_t WriteSeq(size_t i) const { return seq - writes.size() + 1 + i; }
  uint64_t FirstSeq() const { return WriteSeq(0); }
};

// A key as read (Get/Scan): found, value and revision (0 when absent).
struct KeyState {
  bool found = false;
  std::string value;
  uint64_t revision = 0;

  friend bool operator==(const KeyState&, const KeyState&) = default;
};

// Key -> state; keys not in the map are absent.
using KeyMap = std::map<std::string, KeyState>;

// The token at the front of a put value ("" when the value has none).
inline std::string_view TokenOf(std::string_view value) {
  size_t bar = value.find('|');
  return bar == std::string_view::npos ? std::string_view()
                                       : value.substr(0, bar);
}

const char* OutcomeName(Outcome o);
// "#12 batch acked@345" / "#13 put maybe": for failure messages.
std::string Describe(const OpRecord& op);
std::string Describe(const KeyState& s);

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_OP_RECORD_H_
