// `cairn txn`: an optimistic transaction from a script (run again on a
// conflict with --retry) or typed at a prompt.
#include <unistd.h>

#include <cstdio>
#include <iostream>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "command.h"
#include "commands.h"
#include "exit_code.h"
#include "json_writer.h"
#include "script.h"
#include "txn_session.h"

namespace cairn::cli {
namespace {

constexpr char kStatementHelp[] =
    "statements (one per line; \"quoted\" tokens take escapes, # comments):\n"
    "  get KEY\n"
    "  scan [prefix P | START [END]] [limit N] [reverse] [keys-only]\n"
    "  put KEY VALUE [ttl DURATION]\n"
    "  del KEY\n"
    "  del-range START END\n"
    "  merge KEY OPERATOR OPERAND [ARGUMENT]\n"
    "  if-exists KEY | if-absent KEY | if-revision KEY N | if-value KEY V\n"
    "  commit | rollback\n";

struct TxnSettings {
  client::TransactionOptions options;
  client::Durability durability = client::Durability::kDefault;
  bool json = false;
};

// The last line of a run: "committed seq=N" / {"outcome":"committed",...}.
void PrintOutcome(CommandContext& ctx, const char* outcome, uint64_t seq,
                  int attempts, int line) {
  if (ctx.json()) {
    JsonWriter j;
    j.AddString("outcome", outcome);
    if (std::string_view(outcome) == "committed") j.AddUint("seq", seq);
    if (line > 0) j.AddInt("line", line);
    j.AddInt("attempts", attempts);
    ctx.out().Line(j.Finish());
    return;
  }
  if (std::string_view(outcome) == "committed") {
    ctx.out().Line(
        absl::StrCat("committed seq=", seq,
                     attempts > 1 ? absl::StrCat(" attempts=", attempts) : ""));
  } else if (std::string_view(outcome) == "rolled_back") {
    ctx.out().Line("rolled back");
  }
}

void ReportConditionFailed(const Statement& s) {
  std::fprintf(stderr,
               "cairn txn: condition failed at line %d: %s; rolled back\n",
               s.line, s.source.c_str());
}

// Waits before attempt `attempt` (2, 3, ...): 20ms doubling up to 1s,
// drawn from [wait/2, wait] so that competing scripts do not retry in step.
void Backoff(int attempt) {
  static std::mt19937_64 rng{std::random_device{}()};
  double wait_ms = 20;
  for (int i = 2; i < attempt && wait_ms < 1000; ++i) wait_ms *= 2;
  wait_ms = std::min(wait_ms, 1000.0);
  std::uniform_real_distribution<double> jitter(wait_ms / 2, wait_ms);
  absl::SleepFor(absl::Milliseconds(jitter(rng)));
}

int RunScript(CommandContext& ctx, client::Client& client,
              const std::vector<Statement>& script, const TxnSettings& settings,
              int max_attempts) {
  for (int attempt = 1;; ++attempt) {
    // Buffered: only the attempt that ends is printed.
    Output buffer;
    absl::StatusOr<std::unique_ptr<client::Transaction>> txn =
        client.BeginTransaction(settings.options);
    if (!txn.ok()) return ctx.Fail(txn.status());
    TxnSession session(txn->get(), &buffer, settings.json, false,
                       settings.durability);
    absl::Status error;
    for (const Statement& s : script) {
      absl::StatusOr<TxnSession::Step> step = session.Execute(s);
      if (!step.ok()) {
        error = step.status();
        break;
      }
      switch (*step) {
        case TxnSession::Step::kContinue:
          continue;
        case TxnSession::Step::kConditionFailed:
          (*txn)->Rollback().IgnoreError();  // nothing was written anyway
          ctx.out().Write(buffer.TakeBuffer());
          PrintOutcome(ctx, "condition_failed", 0, attempt, s.line);
          ReportConditionFailed(s);
          return kExitNotApplied;
        case TxnSession::Step::kCommitted:
          ctx.out().Write(buffer.TakeBuffer());
          PrintOutcome(ctx, "committed", session.commit_seq(), attempt, 0);
          return kExitOk;
        case TxnSession::Step::kRolledBack:
          ctx.out().Write(buffer.TakeBuffer());
          PrintOutcome(ctx, "rolled_back", 0, attempt, 0);
          return kExitOk;
      }
    }
    if (error.code() != absl::StatusCode::kAborted) return ctx.Fail(error);
    if (attempt < max_attempts) {
      Backoff(attempt + 1);
      continue;
    }
    PrintOutcome(ctx, "aborted", 0, attempt, 0);
    ctx.Fail(error);
    std::fprintf(stderr,
                 "cairn txn: transaction aborted (conflict) after %d "
                 "attempt%s; nothing was written%s\n",
                 attempt, attempt == 1 ? "" : "s",
                 max_attempts == 1 ? " (--retry N runs it again)" : "");
    return kExitNotApplied;
  }
}

int RunInteractive(CommandContext& ctx, client::Client& client,
                   const TxnSettings& settings) {
  absl::StatusOr<std::unique_ptr<client::Transaction>> txn =
      client.BeginTransaction(settings.options);
  if (!txn.ok()) return ctx.Fail(txn.status());
  TxnSession session(txn->get(), &ctx.out(), settings.json, true,
                     settings.durability);
  std::fprintf(stderr,
               "transaction begun at snapshot %llu; end it with commit or "
               "rollback ('help' lists the statements)\n",
               static_cast<unsigned long long>((*txn)->snapshot_seq()));
  std::string line;
  for (int line_number = 1;; ++line_number) {
    std::fputs("txn> ", stderr);
    std::fflush(stderr);
    if (!std::getline(std::cin, line)) {
      std::fputs("\n", stderr);
      absl::Status s = (*txn)->Rollback();
      if (!s.ok()) return ctx.Fail(s);
      PrintOutcome(ctx, "rolled_back", 0, 1, 0);
      return kExitOk;
    }
    if (line == "help" || line == "?") {
      std::fputs(kStatementHelp, stderr);
      continue;
    }
    absl::StatusOr<std::optional<Statement>> s =
        ParseStatement(line, line_number, ScriptKind::kTxn);
    if (!s.ok()) {
      std::fprintf(stderr, "cairn txn: %s\n",
                   absl::StrCat(s.status().message()).c_str());
      continue;
    }
    if (!s->has_value()) continue;
    absl::StatusOr<TxnSession::Step> step = session.Execute(**s);
    ctx.out().Flush();
    if (!step.ok()) {
      int rc = ctx.Fail(step.status());
      return step.status().code() == absl::StatusCode::kAborted
                 ? kExitNotApplied
                 : rc;
    }
    switch (*step) {
      case TxnSession::Step::kContinue:
        break;
      case TxnSession::Step::kConditionFailed:
        // At the prompt the user decides: the transaction stays open.
        std::fprintf(stderr, "condition failed: %s\n", (*s)->source.c_str());
        break;
      case TxnSession::Step::kCommitted:
        PrintOutcome(ctx, "committed", session.commit_seq(), 1, 0);
        return kExitOk;
      case TxnSession::Step::kRolledBack:
        PrintOutcome(ctx, "rolled_back", 0, 1, 0);
        return kExitOk;
    }
  }
}

}  // namespace

int RunTxn(const Args& args) {
  CommandContext ctx(
      {"txn", "cairn txn [flags] [FILE]",
       "Runs an optimistic, serializable transaction. From a script (FILE,\n"
       "or standard input when it is not a terminal), which is checked whole\n"
       "before it runs and must end with commit or rollback; or typed at a\n"
       "prompt when standard input is a terminal (or with --interactive),\n"
       "each statement running as it is entered.\n"
       "\n" +
           std::string(kStatementHelp) +
           "\n"
           "Reads see the transaction's own writes. get and scan print what\n"
           "they read; the last line says how it ended (committed seq=N,\n"
           "rolled back). A commit that conflicts with another writer fails\n"
           "with ABORTED and writes nothing; --retry N runs the whole script\n"
           "again up to N more times, printing only the output of the last\n"
           "run. A failed if-... condition rolls back and exits 4.",
       "  cairn txn transfer.txn\n"
       "  cairn txn --retry 5 --json < transfer.txn\n"
       "  printf 'get a\\nput a 2\\ncommit\\n' | cairn txn\n"
       "  cairn txn                      # interactive prompt"},
      kJsonFlag | kDurabilityFlag | kConnectionFlags);
  int64_t retry = 0;
  int64_t snapshot = 0;
  bool interactive = false;
  bool check = false;
  ctx.flags().Int("retry", &retry,
                  "run the script again up to N times on ABORTED (conflict)");
  ctx.flags().Int("snapshot", &snapshot, "read at this held snapshot");
  ctx.flags().Bool("interactive", &interactive,
                   "prompt for statements even when stdin is not a terminal");
  ctx.flags().Bool("check", &check,
                   "only parse the script (exit 0 or 2), send nothing");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 1, &pos)) return *rc;
  if (retry < 0 || retry > 1000) {
    return ctx.UsageError("--retry: must be 0 to 1000");
  }
  if (snapshot < 0) return ctx.UsageError("--snapshot: must be >= 1");
  const bool prompt = ctx.flags().IsSet("interactive")
                          ? interactive
                          : pos.empty() && isatty(STDIN_FILENO) == 1;
  if (prompt && !pos.empty()) {
    return ctx.UsageError("--interactive reads standard input; drop FILE");
  }
  if (prompt && check) return ctx.UsageError("--check needs a script");

  TxnSettings settings;
  settings.options.snapshot_seq = static_cast<uint64_t>(snapshot);
  settings.durability = ctx.durability();
  settings.json = ctx.json();
  std::vector<Statement> script;
  if (!prompt) {
    const std::string path = pos.empty() ? "-" : pos[0];
    absl::StatusOr<std::string> text = ReadInput(path);
    if (!text.ok()) return ctx.UsageError(text.status());
    absl::StatusOr<std::vector<Statement>> parsed =
        ParseScript(*text, ScriptKind::kTxn);
    if (!parsed.ok()) {
      return ctx.UsageError(absl::StrCat(path == "-" ? "<stdin>" : path, ": ",
                                         parsed.status().message()));
    }
    if (check) return kExitOk;
    script = std::move(*parsed);
  } else {
    // A person types between statements: the default --timeout (the
    // deadline of the whole transaction) would be far too short.
    if (!ctx.timeout_explicit()) settings.options.timeout = absl::Hours(1);
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  return prompt ? RunInteractive(ctx, *client, settings)
                : RunScript(ctx, *client, script, settings,
                            static_cast<int>(retry) + 1);
}

}  // namespace cairn::cli
