// Self-checks of the crash torture: faults injected in the last cycle that
// the verifier must report, so that a run proves it can fail.
//   stale_value    after the restart, the driver itself writes back an
//                  older acknowledged value of a register (an out-of-order
//                  write the server "made")
//   torn_batch     after the restart, the driver deletes one key of a batch
//                  group that holds a value (a torn batch)
//   drop_wal_tail  after the kill, the driver zeroes the last 16 KiB of
//                  frames of the newest WAL segment: the engine then loses
//                  writes it acknowledged (or refuses to open)
// Free functions; called from the driver thread only.
#ifndef CAIRN_TESTS_CRASH_SELF_CHECK_H_
#define CAIRN_TESTS_CRASH_SELF_CHECK_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/client/client.h"
#include "op_record.h"

namespace cairn::crash {

enum class SelfCheck { kNone, kStaleValue, kTornBatch, kDropWalTail };

// "" -> kNone; INVALID_ARGUMENT for an unknown name.
absl::StatusOr<SelfCheck> ParseSelfCheck(const std::string& name);

// While the server is down (after the kill, before the restart).
absl::Status InjectAfterKill(SelfCheck check, const std::string& data_dir);
// After the restart, before the state is read.
absl::Status InjectAfterRestart(SelfCheck check, client::Client& client,
                                const std::vector<OpRecord>& ops);

}  // namespace cairn::crash

#endif  // CAIRN_TESTS_CRASH_SELF_CHECK_H_
