#include "txn_session.h"

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "json_writer.h"
#include "result_format.h"
#include "status_macros.h"

namespace cairn::cli {

const char* StatementName(StatementKind kind) {
  switch (kind) {
    case StatementKind::kPut:
      return "put";
    case StatementKind::kDelete:
      return "del";
    case StatementKind::kDeleteRange:
      return "del-range";
    case StatementKind::kMerge:
      return "merge";
    case StatementKind::kIfExists:
      return "if-exists";
    case StatementKind::kIfAbsent:
      return "if-absent";
    case StatementKind::kIfRevision:
      return "if-revision";
    case StatementKind::kIfValue:
      return "if-value";
    case StatementKind::kGet:
      return "get";
    case StatementKind::kScan:
      return "scan";
    case StatementKind::kCommit:
      return "commit";
    case StatementKind::kRollback:
      return "rollback";
  }
  return "?";
}

TxnSession::TxnSession(client::Transaction* txn, Output* out, bool json,
                       bool interactive, client::Durability durability)
    : txn_(txn),
      out_(out),
      json_(json),
      interactive_(interactive),
      durability_(durability) {}

void TxnSession::Acknowledge(const Statement& s, const char* what) {
  if (!interactive_) return;
  if (json_) {
    out_->Line(JsonWriter()
                   .AddInt("line", s.line)
                   .AddString("op", StatementName(s.kind))
                   .AddString("result", what)
                   .Finish());
  } else {
    out_->Line(absl::StrCat("OK (", what, ")"));
  }
}

absl::Status TxnSession::ScanAll(
    const ScanSpec& spec, const std::function<void(client::KeyValue&)>& visit) {
  client::ScanOptions o;
  if (!spec.prefix.empty()) {
    // As a range, so that a continuation can move its start or end.
    o.start = spec.prefix;
    o.end = PrefixEnd(spec.prefix);
  } else {
    o.start = spec.start;
    o.end = spec.end;
  }
  o.reverse = spec.reverse;
  o.keys_only = spec.keys_only;
  uint64_t seen = 0;
  for (;;) {
    if (spec.limit != 0) o.limit = spec.limit - seen;
    CAIRN_ASSIGN_OR_RETURN(client::TransactionScanResult r, txn_->Scan(o));
    for (client::KeyValue& kv : r.kvs) {
      visit(kv);
      ++seen;
    }
    if (!r.more || r.kvs.empty() || (spec.limit != 0 && seen >= spec.limit)) {
      return absl::OkStatus();
    }
    if (spec.reverse) {
      o.end = r.kvs.back().key;
    } else {
      o.start = r.kvs.back().key + std::string(1, '\0');
    }
  }
}

absl::StatusOr<bool> TxnSession::ConditionHolds(const Statement& s) {
  CAIRN_ASSIGN_OR_RETURN(client::GetResult r, txn_->Get(s.key));
  switch (s.kind) {
    case StatementKind::kIfExists:
      return r.found;
    case StatementKind::kIfAbsent:
      return !r.found;
    case StatementKind::kIfRevision:
      return s.revision == 0 ? !r.found : r.found && r.revision == s.revision;
    case StatementKind::kIfValue:
      return r.found && r.value == s.value;
    default:
      return absl::InternalError("not a condition");
  }
}

absl::StatusOr<TxnSession::Step> TxnSession::Execute(const Statement& s) {
  switch (s.kind) {
    case StatementKind::kGet: {
      CAIRN_ASSIGN_OR_RETURN(client::GetResult r, txn_->Get(s.key));
      if (json_) {
        JsonWriter j;
        j.AddInt("line", s.line).AddString("op", "get");
        AddGetResultFields(s.key, r, &j);
        out_->Line(j.Finish());
      } else {
        out_->Line(GetResultText(s.key, r));
      }
      return Step::kContinue;
    }
    case StatementKind::kScan: {
      std::vector<std::string> rows;
      CAIRN_RETURN_IF_ERROR(ScanAll(s.scan, [&](client::KeyValue& kv) {
        if (json_) {
          rows.push_back(KeyValueJson(kv, s.scan.keys_only));
        } else {
          out_->Line(KeyValueText(kv, s.scan.keys_only));
        }
      }));
      if (json_) {
        JsonWriter j;
        j.AddInt("line", s.line)
            .AddString("op", "scan")
            .AddUint("count", rows.size())
            .BeginArray("kvs");
        for (const std::string& row : rows) j.AddElement(row);
        out_->Line(j.EndArray().Finish());
      }
      return Step::kContinue;
    }
    case StatementKind::kPut:
      CAIRN_RETURN_IF_ERROR(txn_->Put(s.key, s.value, s.ttl));
      Acknowledge(s, "buffered");
      return Step::kContinue;
    case StatementKind::kDelete:
      CAIRN_RETURN_IF_ERROR(txn_->Delete(s.key));
      Acknowledge(s, "buffered");
      return Step::kContinue;
    case StatementKind::kMerge:
      CAIRN_RETURN_IF_ERROR(
          txn_->Merge(s.key, s.merge_operator, s.value, s.merge_argument));
      Acknowledge(s, "buffered");
      return Step::kContinue;
    case StatementKind::kDeleteRange: {
      ScanSpec range;
      range.start = s.key;
      range.end = s.value;
      range.keys_only = true;
      std::vector<std::string> keys;
      CAIRN_RETURN_IF_ERROR(ScanAll(
          range, [&](client::KeyValue& kv) { keys.push_back(kv.key); }));
      for (const std::string& k : keys) CAIRN_RETURN_IF_ERROR(txn_->Delete(k));
      const std::string what =
          absl::StrCat("buffered ", keys.size(), " deletes");
      Acknowledge(s, what.c_str());
      return Step::kContinue;
    }
    case StatementKind::kIfExists:
    case StatementKind::kIfAbsent:
    case StatementKind::kIfRevision:
    case StatementKind::kIfValue: {
      CAIRN_ASSIGN_OR_RETURN(bool holds, ConditionHolds(s));
      if (!holds) return Step::kConditionFailed;
      Acknowledge(s, "condition holds");
      return Step::kContinue;
    }
    case StatementKind::kCommit: {
      CAIRN_ASSIGN_OR_RETURN(commit_seq_, txn_->Commit(durability_));
      return Step::kCommitted;
    }
    case StatementKind::kRollback:
      CAIRN_RETURN_IF_ERROR(txn_->Rollback());
      return Step::kRolledBack;
  }
  return absl::InternalError("unhandled statement");
}

}  // namespace cairn::cli
