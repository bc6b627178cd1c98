// The crash torture's verifier: given what the clients know about one cycle
// (the state verified after the previous restart, every operation sent and
// its outcome) and what the restarted server holds, lists every way the
// server broke its promises. Two independent checks:
//
// VerifyState compares the keys read back (a full Scan) with the operations:
//   - no acknowledged write lost: a key is at least as new as every
//     acknowledged write to it (its revision >= the write's sequence, or
//     absent because a later or in-flight delete removed it), and shows the
//     written value when its revision is that write's sequence;
//   - nothing unknown or out of order: a value read back was written by an
//     acknowledged op at exactly that revision, or by an op in flight at the
//     kill, newer than every acknowledged write to the key, or is the
//     previous cycle's verified state; never a value of an op the server
//     refused (failed condition, aborted transaction);
//   - all or nothing: an op seen applied on one key (its token read back)
//     is applied on all of its keys (merge operands of a batch included);
//   - merge counters: value = previous value + every applied operand +
//     some subset of the operands in flight;
//   - invariants of the workload: each batch/transaction group shows one
//     value on all its keys or is absent everywhere; the accounts keep their
//     total;
//   - durability: with sync, no acknowledged op lies beyond the recovered
//     last sequence S; with async, acknowledged ops beyond S count as the
//     lost suffix (allowed) and ops up to S are checked as above.
//
// VerifyLog checks the WAL as the server reports it (Tail from the previous
// cycle's last sequence + 1 up to S): the sequences are contiguous (no gap,
// no duplicate), each atomic group is complete and equals an acknowledged op
// at its sequence or an op in flight, every acknowledged op up to S is in it
// (the prefix property: what survives is exactly the writes up to S), and
// replaying it onto the previous state gives exactly the state read back.
//
// Pure functions of their inputs; thread-compatible.
#ifndef CAIRN_TESTS_CRASH_VERIFIER_H_
#define CAIRN_TESTS_CRASH_VERIFIER_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "cairn/client/tail_consumer.h"
#include "op_record.h"

namespace cairn::crash {

// What the workload promises to keep true, whatever survives.
struct Invariants {
  // Keys only ever written together (all puts of one value, or all
  // deletes): after any crash they all hold the same value or are all
  // absent.
  std::vector<std::vector<std::string>> uniform_groups;
  // Keys written only with "add" merges (values are decimal int64).
  std::set<std::string> counters;
  // Account keys ("<balance>|<token>|..."): all present once initialized,
  // balances summing to account_total.
  std::vector<std::string> accounts;
  int64_t account_total = 0;
  bool accounts_initialized = false;
};

struct CycleInput {
  KeyMap baseline;            // the state verified at prev_seq
  KeyMap observed;            // the state read back after the restart
  std::vector<OpRecord> ops;  // every op sent this cycle
  uint64_t prev_seq = 0;      // the last sequence at the previous verification
  uint64_t last_seq = 0;      // the recovered last sequence (S)
  bool sync = true;           // acknowledged writes were synced
  Invariants invariants;
  std::set<std::string> universe;  // every key the workload writes
};

struct CheckReport {
  std::vector<std::string> failures;
  uint64_t keys_checked = 0;
  uint64_t acked_ops = 0;
  uint64_t acked_writes_checked = 0;
  uint64_t maybe_ops = 0;
  uint64_t maybe_applied = 0;    // in-flight ops found applied
  uint64_t lost_suffix_ops = 0;  // async: acked ops beyond S
  uint64_t log_events = 0;       // VerifyLog: events checked
  // Counters with too many operands in flight for the subset-sum check
  // (the log check still covers them).
  uint64_t counters_unchecked = 0;

  bool ok() const { return failures.empty(); }
};

CheckReport VerifyState(const CycleInput& in);
CheckReport VerifyLog(const CycleInput& in,
                      const std::vector<client::ChangeEvent>& events);

// Parses the balance of an account value; false when malformed.
bool ParseBalance(const std::string& value, int64_t* balance);

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_VERIFIER_H_
