// `cairn batch`: one atomic, conditional KV.Batch from a script (script.h).
#include <cstdio>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "cairn/client/batch.h"
#include "command.h"
#include "commands.h"
#include "exit_code.h"
#include "json_writer.h"
#include "script.h"

namespace cairn::cli {
namespace {

// The batch and, for messages, the script line of each op and condition.
struct BuiltBatch {
  client::Batch batch;
  std::vector<const Statement*> ops;
  std::vector<const Statement*> conditions;
};

BuiltBatch Build(const std::vector<Statement>& script) {
  BuiltBatch b;
  for (const Statement& s : script) {
    switch (s.kind) {
      case StatementKind::kPut:
        b.batch.Put(s.key, s.value, s.ttl);
        break;
      case StatementKind::kDelete:
        b.batch.Delete(s.key);
        break;
      case StatementKind::kDeleteRange:
        b.batch.DeleteRange(s.key, s.value);
        break;
      case StatementKind::kMerge:
        b.batch.Merge(s.key, s.merge_operator, s.value, s.merge_argument);
        break;
      case StatementKind::kIfExists:
        b.batch.IfExists(s.key);
        break;
      case StatementKind::kIfAbsent:
        b.batch.IfAbsent(s.key);
        break;
      case StatementKind::kIfRevision:
        b.batch.IfRevision(s.key, s.revision);
        break;
      case StatementKind::kIfValue:
        b.batch.IfValueEquals(s.key, s.value);
        break;
      default:
        continue;  // txn-only statements do not parse in a batch
    }
    (s.is_condition() ? b.conditions : b.ops).push_back(&s);
  }
  return b;
}

// The server names a bad op as "ops[3].merge.operator: ..." (or
// "conditions[1]..."): add the script line it came from.
absl::Status WithScriptLine(const absl::Status& status, const BuiltBatch& b) {
  const std::string message(status.message());
  for (auto [field, list] :
       {std::pair{"ops[", &b.ops}, std::pair{"conditions[", &b.conditions}}) {
    const std::string prefix = field;
    if (message.rfind(prefix, 0) != 0) continue;
    size_t close = message.find(']', prefix.size());
    size_t index = 0;
    if (close == std::string::npos ||
        !absl::SimpleAtoi(message.substr(prefix.size(), close - prefix.size()),
                          &index) ||
        index >= list->size()) {
      break;
    }
    return absl::Status(
        status.code(),
        absl::StrCat(message, " (script line ", (*list)[index]->line, ": ",
                     (*list)[index]->source, ")"));
  }
  return status;
}

}  // namespace

int RunBatch(const Args& args) {
  CommandContext ctx(
      {"batch", "cairn batch [flags] [FILE]",
       "Applies the operations of a script atomically, if all its conditions\n"
       "hold (checked together with the write: nothing lands in between).\n"
       "The script comes from FILE, or standard input when FILE is omitted or\n"
       "\"-\". One statement per line:\n"
       "\n"
       "  put KEY VALUE [ttl DURATION]     del KEY       del-range START END\n"
       "  merge KEY OPERATOR OPERAND [ARGUMENT]\n"
       "  if-exists KEY    if-absent KEY   if-revision KEY N   if-value KEY "
       "VALUE\n"
       "\n"
       "Tokens are separated by blanks; \"double quotes\" hold blanks and the\n"
       "escapes \\\" \\\\ \\n \\t \\r \\0 \\xHH; # starts a comment. A failed\n"
       "condition writes nothing and exits 4, naming its line; a syntax error\n"
       "exits 2, naming the line, before anything is sent.",
       "  printf 'if-absent user/42\\nput user/42 alice\\n' | cairn batch\n"
       "  cairn batch --durability sync changes.txt\n"
       "  cairn batch --check changes.txt          # syntax only\n"
       "  cairn batch --json <<'EOF'\n"
       "  if-revision stock 17        # compare-and-set\n"
       "  put stock \"41 left\"\n"
       "  EOF"},
      kJsonFlag | kDurabilityFlag | kConnectionFlags);
  bool check = false;
  ctx.flags().Bool("check", &check,
                   "only parse the script (exit 0 or 2), send nothing");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 1, &pos)) return *rc;
  const std::string path = pos.empty() ? "-" : pos[0];
  absl::StatusOr<std::string> text = ReadInput(path);
  if (!text.ok()) return ctx.UsageError(text.status());
  absl::StatusOr<std::vector<Statement>> script =
      ParseScript(*text, ScriptKind::kBatch);
  if (!script.ok()) {
    return ctx.UsageError(absl::StrCat(path == "-" ? "<stdin>" : path, ": ",
                                       script.status().message()));
  }
  if (check) return kExitOk;
  BuiltBatch built = Build(*script);

  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  client::WriteOptions o;
  o.durability = ctx.durability();
  absl::StatusOr<client::BatchResult> r = client->Write(built.batch, o);
  if (!r.ok()) return ctx.Fail(WithScriptLine(r.status(), built));

  const Statement* failed =
      !r->succeeded && r->failed_condition >= 0 &&
              static_cast<size_t>(r->failed_condition) < built.conditions.size()
          ? built.conditions[r->failed_condition]
          : nullptr;
  if (ctx.json()) {
    JsonWriter j;
    j.AddBool("succeeded", r->succeeded)
        .AddUint("seq", r->seq)
        .AddInt("failed_condition", r->failed_condition);
    if (failed != nullptr) j.AddInt("failed_line", failed->line);
    j.AddUint("ops", built.ops.size())
        .AddUint("conditions", built.conditions.size());
    ctx.out().Line(j.Finish());
  } else if (r->succeeded) {
    ctx.out().Line(absl::StrCat("OK seq=", r->seq));
  }
  if (r->succeeded) return kExitOk;
  std::fprintf(stderr,
               "cairn batch: condition failed at line %d: %s; nothing was "
               "written\n",
               failed != nullptr ? failed->line : 0,
               failed != nullptr ? failed->source.c_str() : "?");
  return kExitNotApplied;
}

}  // namespace cairn::cli
