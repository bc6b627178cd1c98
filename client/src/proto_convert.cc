#include "proto_convert.h"

namespace cairn::client {

KeyValue FromProto(const cairn::v1::KeyValue& kv) {
  return KeyValue{kv.key(), kv.value(), kv.revision(),
                  kv.expires_at_unix_micros()};
}

GetResult FromProto(const cairn::v1::GetResponse& r) {
  return GetResult{r.found(), r.value(), r.revision(),
                   r.expires_at_unix_micros(), r.read_seq()};
}

ChangeEvent FromProto(const cairn::v1::ChangeEvent& e) {
  ChangeEvent out;
  out.seq = e.seq();
  switch (e.op()) {
    case cairn::v1::CHANGE_OP_DELETE:
      out.op = ChangeOp::kDelete;
      break;
    case cairn::v1::CHANGE_OP_DELETE_RANGE:
      out.op = ChangeOp::kDeleteRange;
      break;
    case cairn::v1::CHANGE_OP_MERGE:
      out.op = ChangeOp::kMerge;
      break;
    default:
      out.op = ChangeOp::kPut;
      break;
  }
  out.key = e.key();
  out.value = e.value();
  out.range_end = e.range_end();
  out.merge_operator = e.merge_operator();
  out.merge_argument = e.merge_argument();
  out.expires_at_unix_micros = e.expires_at_unix_micros();
  out.commit_time_unix_micros = e.commit_time_unix_micros();
  out.group_first_seq = e.group_first_seq();
  out.group_size = e.group_size();
  return out;
}

uint64_t TtlMillis(absl::Duration ttl) {
  if (ttl <= absl::ZeroDuration()) return 0;
  return static_cast<uint64_t>(
      absl::ToInt64Milliseconds(absl::Ceil(ttl, absl::Milliseconds(1))));
}

uint64_t ExpiryMicros(absl::Time expires_at) {
  if (expires_at == absl::InfinitePast()) return 0;
  return static_cast<uint64_t>(absl::ToUnixMicros(expires_at));
}

void FillPut(const std::string& key, const std::string& value,
             absl::Duration ttl, absl::Time expires_at, cairn::v1::PutOp* op) {
  op->set_key(key);
  op->set_value(value);
  op->set_ttl_millis(TtlMillis(ttl));
  op->set_expires_at_unix_micros(ExpiryMicros(expires_at));
}

void FillMerge(const std::string& key, const std::string& merge_operator,
               const std::string& operand, const std::string& argument,
               cairn::v1::MergeOp* op) {
  op->set_key(key);
  op->set_operator_(merge_operator);
  op->set_operand(operand);
  op->set_argument(argument);
}

void ToProto(const Batch& batch, cairn::v1::BatchRequest* request) {
  for (const Batch::Condition& c : batch.conditions()) {
    cairn::v1::Condition* out = request->add_conditions();
    out->set_key(c.key);
    switch (c.kind) {
      case Batch::ConditionKind::kExists:
        out->set_kind(cairn::v1::Condition::EXISTS);
        break;
      case Batch::ConditionKind::kAbsent:
        out->set_kind(cairn::v1::Condition::ABSENT);
        break;
      case Batch::ConditionKind::kRevisionEquals:
        out->set_kind(cairn::v1::Condition::REVISION_EQUALS);
        out->set_revision(c.revision);
        break;
      case Batch::ConditionKind::kValueEquals:
        out->set_kind(cairn::v1::Condition::VALUE_EQUALS);
        out->set_value(c.value);
        break;
    }
  }
  for (const Batch::Op& op : batch.ops()) {
    cairn::v1::BatchOp* out = request->add_ops();
    switch (op.kind) {
      case Batch::OpKind::kPut:
        FillPut(op.key, op.value, op.ttl, op.expires_at, out->mutable_put());
        break;
      case Batch::OpKind::kDelete:
        out->mutable_delete_()->set_key(op.key);
        break;
      case Batch::OpKind::kDeleteRange:
        out->mutable_delete_range()->set_start(op.key);
        out->mutable_delete_range()->set_end(op.value);
        break;
      case Batch::OpKind::kMerge:
        FillMerge(op.key, op.merge_operator, op.value, op.merge_argument,
                  out->mutable_merge());
        break;
    }
  }
}

cairn::v1::ChangeOp ToProto(ChangeOp op) {
  switch (op) {
    case ChangeOp::kPut:
      return cairn::v1::CHANGE_OP_PUT;
    case ChangeOp::kDelete:
      return cairn::v1::CHANGE_OP_DELETE;
    case ChangeOp::kDeleteRange:
      return cairn::v1::CHANGE_OP_DELETE_RANGE;
    case ChangeOp::kMerge:
      return cairn::v1::CHANGE_OP_MERGE;
  }
  return cairn::v1::CHANGE_OP_UNSPECIFIED;
}

const char* ChangeOpName(ChangeOp op) {
  switch (op) {
    case ChangeOp::kPut:
      return "put";
    case ChangeOp::kDelete:
      return "delete";
    case ChangeOp::kDeleteRange:
      return "delete_range";
    case ChangeOp::kMerge:
      return "merge";
  }
  return "unknown";
}

}  // namespace cairn::client
