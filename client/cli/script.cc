#include "script.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "script_lexer.h"
#include "status_macros.h"

namespace cairn::cli {
namespace {

absl::Status Bad(const std::string& message) {
  return absl::InvalidArgumentError(message);
}

bool IsKeyword(const Token& t, std::string_view word) {
  return !t.quoted && t.text == word;
}

// Reads the statement's arguments in order.
class Args {
 public:
  Args(std::string name, std::vector<Token> tokens)
      : name_(std::move(name)), tokens_(std::move(tokens)) {}

  bool done() const { return next_ >= tokens_.size(); }
  const Token& peek() const { return tokens_[next_]; }
  const Token& take() { return tokens_[next_++]; }

  // The next argument, which the statement requires.
  absl::StatusOr<std::string> Required(std::string_view what) {
    if (done()) {
      return Bad(absl::StrCat(name_, ": missing ", std::string(what)));
    }
    return take().text;
  }
  absl::StatusOr<std::string> RequiredKey(std::string_view what) {
    absl::StatusOr<std::string> k = Required(what);
    if (k.ok() && k->empty()) {
      return Bad(absl::StrCat(name_, ": ", std::string(what),
                              " is empty (keys are 1 byte or more)"));
    }
    return k;
  }
  absl::Status ExpectEnd() const {
    if (done()) return absl::OkStatus();
    const Token& t = tokens_[next_];
    return Bad(absl::StrCat("column ", t.column, ": ", name_,
                            ": unexpected argument '", t.text, "'"));
  }

 private:
  std::string name_;
  std::vector<Token> tokens_;
  size_t next_ = 0;
};

absl::StatusOr<uint64_t> ParseUint(std::string_view name, std::string_view what,
                                   const std::string& text) {
  uint64_t v = 0;
  if (!absl::SimpleAtoi(text, &v)) {
    return Bad(absl::StrCat(std::string(name), ": ", std::string(what),
                            " is not a non-negative integer: '", text, "'"));
  }
  return v;
}

absl::Status ParsePut(Args& a, Statement* s) {
  CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("KEY"));
  CAIRN_ASSIGN_OR_RETURN(s->value, a.Required("VALUE"));
  if (!a.done() && IsKeyword(a.peek(), "ttl")) {
    a.take();
    CAIRN_ASSIGN_OR_RETURN(std::string ttl,
                           a.Required("the DURATION after ttl"));
    if (!absl::ParseDuration(ttl, &s->ttl) || s->ttl <= absl::ZeroDuration()) {
      return Bad(absl::StrCat(
          "put: ttl is not a positive duration (like 500ms, 30s, 2h): '", ttl,
          "'"));
    }
  }
  return a.ExpectEnd();
}

absl::Status ParseDeleteRange(Args& a, Statement* s) {
  CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("START"));
  CAIRN_ASSIGN_OR_RETURN(s->value, a.RequiredKey("END"));
  if (s->key >= s->value) {
    return Bad("del-range: START must be less than END");
  }
  return a.ExpectEnd();
}

absl::Status ParseMerge(Args& a, Statement* s) {
  CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("KEY"));
  CAIRN_ASSIGN_OR_RETURN(s->merge_operator, a.Required("OPERATOR"));
  CAIRN_ASSIGN_OR_RETURN(s->value, a.Required("OPERAND"));
  if (!a.done()) s->merge_argument = a.take().text;
  return a.ExpectEnd();
}

absl::Status ParseScan(Args& a, Statement* s) {
  ScanSpec& scan = s->scan;
  const auto is_option = [](const Token& t) {
    return IsKeyword(t, "limit") || IsKeyword(t, "reverse") ||
           IsKeyword(t, "keys-only");
  };
  if (!a.done() && IsKeyword(a.peek(), "prefix")) {
    a.take();
    CAIRN_ASSIGN_OR_RETURN(scan.prefix,
                           a.RequiredKey("the prefix after 'prefix'"));
  } else {
    if (!a.done() && !is_option(a.peek())) scan.start = a.take().text;
    if (!a.done() && !is_option(a.peek())) scan.end = a.take().text;
    if (!scan.end.empty() && scan.start >= scan.end) {
      return Bad("scan: START must be less than END");
    }
  }
  while (!a.done() && is_option(a.peek())) {
    const Token t = a.take();
    if (t.text == "reverse") {
      scan.reverse = true;
    } else if (t.text == "keys-only") {
      scan.keys_only = true;
    } else {
      CAIRN_ASSIGN_OR_RETURN(std::string n,
                             a.Required("the count after limit"));
      CAIRN_ASSIGN_OR_RETURN(scan.limit, ParseUint("scan", "limit", n));
    }
  }
  return a.ExpectEnd();
}

absl::Status ParseArgs(StatementKind kind, Args& a, Statement* s) {
  switch (kind) {
    case StatementKind::kPut:
      return ParsePut(a, s);
    case StatementKind::kDelete:
    case StatementKind::kIfExists:
    case StatementKind::kIfAbsent:
    case StatementKind::kGet: {
      CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("KEY"));
      return a.ExpectEnd();
    }
    case StatementKind::kDeleteRange:
      return ParseDeleteRange(a, s);
    case StatementKind::kMerge:
      return ParseMerge(a, s);
    case StatementKind::kIfRevision: {
      CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("KEY"));
      CAIRN_ASSIGN_OR_RETURN(std::string n, a.Required("REVISION"));
      CAIRN_ASSIGN_OR_RETURN(s->revision,
                             ParseUint("if-revision", "REVISION", n));
      return a.ExpectEnd();
    }
    case StatementKind::kIfValue: {
      CAIRN_ASSIGN_OR_RETURN(s->key, a.RequiredKey("KEY"));
      CAIRN_ASSIGN_OR_RETURN(s->value, a.Required("VALUE"));
      return a.ExpectEnd();
    }
    case StatementKind::kScan:
      return ParseScan(a, s);
    case StatementKind::kCommit:
    case StatementKind::kRollback:
      return a.ExpectEnd();
  }
  return absl::InternalError("unhandled statement");
}

struct Keyword {
  const char* name;
  StatementKind kind;
  bool txn_only;
};

constexpr Keyword kKeywords[] = {
    {"put", StatementKind::kPut, false},
    {"del", StatementKind::kDelete, false},
    {"delete", StatementKind::kDelete, false},
    {"del-range", StatementKind::kDeleteRange, false},
    {"delete-range", StatementKind::kDeleteRange, false},
    {"merge", StatementKind::kMerge, false},
    {"if-exists", StatementKind::kIfExists, false},
    {"if-absent", StatementKind::kIfAbsent, false},
    {"if-revision", StatementKind::kIfRevision, false},
    {"if-value", StatementKind::kIfValue, false},
    {"get", StatementKind::kGet, true},
    {"scan", StatementKind::kScan, true},
    {"commit", StatementKind::kCommit, true},
    {"rollback", StatementKind::kRollback, true},
};

}  // namespace

absl::StatusOr<std::optional<Statement>> ParseStatement(std::string_view line,
                                                        int line_number,
                                                        ScriptKind kind) {
  absl::StatusOr<std::vector<Token>> tokens = TokenizeLine(line);
  if (!tokens.ok()) return tokens.status();
  if (tokens->empty()) return std::nullopt;
  const Token& head = tokens->front();
  const Keyword* keyword = nullptr;
  for (const Keyword& k : kKeywords) {
    if (IsKeyword(head, k.name)) keyword = &k;
  }
  if (keyword == nullptr) {
    return Bad(absl::StrCat(
        "unknown statement '", head.text, "' (expected ",
        kind == ScriptKind::kBatch
            ? "put, del, del-range, merge, if-exists, if-absent, if-revision "
              "or if-value)"
            : "get, scan, put, del, del-range, merge, if-exists, if-absent, "
              "if-revision, if-value, commit or rollback)"));
  }
  if (keyword->txn_only && kind == ScriptKind::kBatch) {
    return Bad(absl::StrCat(
        "'", head.text, "' is only allowed in txn scripts, not in a batch"));
  }
  Statement s;
  s.kind = keyword->kind;
  s.line = line_number;
  s.source = std::string(absl::StripAsciiWhitespace(std::string(line)));
  Args args(head.text, std::vector<Token>(tokens->begin() + 1, tokens->end()));
  if (absl::Status st = ParseArgs(s.kind, args, &s); !st.ok()) return st;
  return s;
}

absl::StatusOr<std::vector<Statement>> ParseScript(std::string_view text,
                                                   ScriptKind kind) {
  std::vector<Statement> statements;
  int line_number = 0;
  for (absl::string_view raw :
       absl::StrSplit(absl::string_view(text.data(), text.size()), '\n')) {
    ++line_number;
    std::string_view line(raw.data(), raw.size());
    absl::StatusOr<std::optional<Statement>> s =
        ParseStatement(line, line_number, kind);
    if (!s.ok()) {
      return Bad(
          absl::StrCat("line ", line_number, ": ", s.status().message()));
    }
    if (!s->has_value()) continue;
    if (!statements.empty() &&
        (statements.back().kind == StatementKind::kCommit ||
         statements.back().kind == StatementKind::kRollback)) {
      return Bad(absl::StrCat("line ", line_number, ": statement after ",
                              statements.back().kind == StatementKind::kCommit
                                  ? "commit"
                                  : "rollback",
                              " (line ", statements.back().line,
                              "); a txn script ends with one of them"));
    }
    statements.push_back(std::move(**s));
  }
  if (kind == ScriptKind::kBatch && statements.empty()) {
    return Bad("the batch is empty (no operation or condition)");
  }
  if (kind == ScriptKind::kTxn && statements.empty()) {
    return Bad("the script is empty (it needs at least commit or rollback)");
  }
  if (kind == ScriptKind::kTxn &&
      statements.back().kind != StatementKind::kCommit &&
      statements.back().kind != StatementKind::kRollback) {
    return Bad(absl::StrCat("line ", statements.back().line,
                            ": the script ends without commit or rollback "
                            "(end it with the one you mean)"));
  }
  return statements;
}

std::string PrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<uint8_t>(end.back()) != 0xff) {
      end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return end;
}

}  // namespace cairn::cli
