// What the crash torture reads back from a (restarted) cairnd: the whole
// key space with revisions, the log of committed changes between two
// sequences (Replication.Tail), and the flush and compaction counters of
// the running process (its /metrics).
//
// Free functions; thread-compatible.
#ifndef CAIRN_TESTS_CRASH_SERVER_READS_H_
#define CAIRN_TESTS_CRASH_SERVER_READS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/client/client.h"
#include "cairnd_process.h"
#include "op_record.h"

namespace cairn::crash {

// Every live key (one Scan).
absl::StatusOr<KeyMap> ReadState(client::Client& client);

// The events with sequences from..to (from <= to), in order, read with
// Tail from `from`. OUT_OF_RANGE when the WAL no longer holds `from`;
// DEADLINE_EXCEEDED when `to` is not reached within `timeout`.
absl::StatusOr<std::vector<client::ChangeEvent>> ReadLog(
    client::Client& client, uint64_t from, uint64_t to, absl::Duration timeout);

// Flushes and compactions the process completed since it started.
struct EngineCounters {
  double flushes = 0;
  double compactions = 0;
};
absl::StatusOr<EngineCounters> ScrapeCounters(
    const test::CairndProcess& process);

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_SERVER_READS_H_
