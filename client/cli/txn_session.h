// TxnSession: executes `cairn txn` statements (script.h) inside one open
// client::Transaction and prints what they return:
//
//   get        KEY<TAB>VALUE (or (not found)); JSON {"line","op":"get",...}
//   scan       KEY<TAB>VALUE per key; JSON {"line","op":"scan","count",
//              "kvs":[...]}. Scans follow the server's chunks to the end
//              (or the limit).
//   put, del, merge   buffered in the transaction (silent in scripts;
//              "OK (buffered)" at the interactive prompt).
//   del-range  a transaction has no range delete: the range is scanned and
//              each key in it deleted (the range joins the read set, so a
//              key inserted into it by someone else aborts the commit).
//   if-...     checked with a read inside the transaction (so it joins the
//              read set too); Step::kConditionFailed when false.
//   commit, rollback  end the transaction (Step::kCommitted / kRolledBack);
//              the caller prints the outcome.
//
// Errors are the transaction's (ABORTED on a conflict at commit); after an
// error the transaction is finished. Not thread-safe.
#ifndef CAIRN_CLIENT_CLI_TXN_SESSION_H_
#define CAIRN_CLIENT_CLI_TXN_SESSION_H_

#include <cstdint>
#include <functional>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "cairn/client/transaction.h"
#include "output.h"
#include "script.h"

namespace cairn::cli {

class TxnSession {
 public:
  enum class Step { kContinue, kConditionFailed, kCommitted, kRolledBack };

  // `txn` and `out` must outlive the session.
  TxnSession(client::Transaction* txn, Output* out, bool json, bool interactive,
             client::Durability durability);

  absl::StatusOr<Step> Execute(const Statement& s);

  // The commit's sequence after Step::kCommitted.
  uint64_t commit_seq() const { return commit_seq_; }

 private:
  absl::StatusOr<bool> ConditionHolds(const Statement& s);
  // Calls `visit` for each key of the scan, following chunks.
  absl::Status ScanAll(const ScanSpec& spec,
                       const std::function<void(client::KeyValue&)>& visit);
  void Acknowledge(const Statement& s, const char* what);

  client::Transaction* txn_;
  Output* out_;
  bool json_;
  bool interactive_;
  client::Durability durability_;
  uint64_t commit_seq_ = 0;
};

// The statement's name as scripts spell it ("put", "del-range", ...).
const char* StatementName(StatementKind kind);

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_TXN_SESSION_H_
