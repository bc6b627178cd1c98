// Worker: one client thread of the crash torture. Until told to stop it
// sends a random mix of Put, Delete, Merge(add), conditional Batches
// (compare-and-set over a batch group, sometimes with a counter merge) and
// transactions (a group write, or a transfer between two accounts), with
// the server's default durability, and records every op with its outcome
// (op_record.h) before and after the call, so that an op the server was
// killed under stays recorded as in flight.
//
// Run() on one thread; ops() after it returned. The Client is shared with
// the other workers (it is thread-safe); `stop` and `next_op_id` too.
#ifndef CAIRN_TESTS_CRASH_WORKER_H_
#define CAIRN_TESTS_CRASH_WORKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cairn/client/client.h"
#include "keyspace.h"
#include "op_record.h"

namespace cairn::crash {

class Worker {
 public:
  Worker(client::Client* client, const Keyspace& keyspace, int cycle, int id,
         uint64_t seed, const std::atomic<bool>* stop,
         std::atomic<uint64_t>* next_op_id);

  void Run();

  const std::vector<OpRecord>& ops() const { return ops_; }
  // Errors by status code, of calls that ended before and after the stop
  // (the kill follows the stop at once).
  const std::map<std::string, int>& errors_before_stop() const {
    return errors_before_stop_;
  }
  const std::map<std::string, int>& errors_after_stop() const {
    return errors_after_stop_;
  }

 private:
  void DoPut();
  void DoDelete();
  void DoMerge();
  void DoBatch();
  void DoTxnGroup();
  void DoTransfer();

  // Starts the record of an op (in flight) and returns it.
  OpRecord& Begin(std::string kind, bool with_token);
  // Records the outcome of a write call.
  void Finish(OpRecord& op, const absl::Status& status, uint64_t seq);
  void CountError(const absl::Status& status);
  std::string Value(const std::string& token, const std::string& payload);
  int Uniform(int n) {
    return std::uniform_int_distribution<int>(0, n - 1)(rng_);
  }

  client::Client* const client_;
  const Keyspace keyspace_;
  const int cycle_;
  const int id_;
  const std::atomic<bool>* const stop_;
  std::atomic<uint64_t>* const next_op_id_;
  std::mt19937_64 rng_;
  uint64_t tokens_ = 0;
  std::vector<OpRecord> ops_;
  std::map<std::string, int> errors_before_stop_;
  std::map<std::string, int> errors_after_stop_;
};

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_WORKER_H_
