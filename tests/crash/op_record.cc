#include "op_record.h"

#include "absl/strings/str_cat.h"

namespace cairn::crash {

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kAcked:
      return "acked";
    case Outcome::kMaybe:
      return "in-flight";
    case Outcome::kNotApplied:
      return "not-applied";
  }
  return "?";
}

std::string Describe(const OpRecord& op) {
  std::string s =
      absl::StrCat("#", op.id, " ", op.kind, " ", OutcomeName(op.outcome));
  if (op.outcome == Outcome::kAcked) {
    absl::StrAppend(&s, "@", op.FirstSeq(), "..", op.seq);
  }
  if (!op.token.empty()) absl::StrAppend(&s, " token=", op.token);
  return s;
}

std::string Describe(const KeyState& s) {
  if (!s.found) return "absent";
  std::string v = s.value.size() > 40 ? s.value.substr(0, 40) + "..." : s.value;
  return absl::StrCat("'", v, "'@", s.revision);
}

}  // namespace cairn::crash
