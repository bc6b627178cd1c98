// Keyspace: the keys the crash torture writes, by role, and the invariants
// the workload keeps on them (verifier.h):
//   r/NNNN      registers: Put and Delete of single keys
//   c/NN        counters: "add" merges only (also from batches)
//   g/NN/K      batch groups: a conditional Batch puts one value on every
//               key of the group, or deletes them all
//   x/NN/K      transaction groups: a transaction reads the group and puts
//               one value on every key
//   a/NN        accounts: transactions move amounts between two of them;
//               the total stays accounts * kInitialBalance
// Plain data; safe to copy.
#ifndef CAIRN_TESTS_CRASH_KEYSPACE_H_
#define CAIRN_TESTS_CRASH_KEYSPACE_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_format.h"
#include "verifier.h"

namespace cairn::crash {

struct Keyspace {
  static constexpr int64_t kInitialBalance = 1000;

  int registers = 256;
  int counters = 8;
  int batch_groups = 8;
  int batch_group_size = 4;
  int txn_groups = 4;
  int txn_group_size = 3;
  int accounts = 8;

  std::string Register(int i) const { return absl::StrFormat("r/%04d", i); }
  std::string Counter(int i) const { return absl::StrFormat("c/%02d", i); }
  std::string BatchKey(int g, int k) const {
    return absl::StrFormat("g/%02d/%d", g, k);
  }
  std::string TxnKey(int g, int k) const {
    return absl::StrFormat("x/%02d/%d", g, k);
  }
  std::string Account(int i) const { return absl::StrFormat("a/%02d", i); }

  std::set<std::string> Universe() const {
    std::set<std::string> u;
    for (int i = 0; i < registers; ++i) u.insert(Register(i));
    for (int i = 0; i < counters; ++i) u.insert(Counter(i));
    for (int g = 0; g < batch_groups; ++g) {
      for (int k = 0; k < batch_group_size; ++k) u.insert(BatchKey(g, k));
    }
    for (int g = 0; g < txn_groups; ++g) {
      for (int k = 0; k < txn_group_size; ++k) u.insert(TxnKey(g, k));
    }
    for (int i = 0; i < accounts; ++i) u.insert(Account(i));
    return u;
  }

  Invariants MakeInvariants(bool accounts_initialized) const {
    Invariants inv;
    for (int g = 0; g < batch_groups; ++g) {
      std::vector<std::string> keys;
      for (int k = 0; k < batch_group_size; ++k) keys.push_back(BatchKey(g, k));
      inv.uniform_groups.push_back(keys);
    }
    for (int g = 0; g < txn_groups; ++g) {
      std::vector<std::string> keys;
      for (int k = 0; k < txn_group_size; ++k) keys.push_back(TxnKey(g, k));
      inv.uniform_groups.push_back(keys);
    }
    for (int i = 0; i < counters; ++i) inv.counters.insert(Counter(i));
    for (int i = 0; i < accounts; ++i) inv.accounts.push_back(Account(i));
    inv.account_total = accounts * kInitialBalance;
    inv.accounts_initialized = accounts_initialized;
    return inv;
  }
};

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_KEYSPACE_H_
