// cairn: the command-line client of cairnd. Dispatches to a subcommand
// (commands.h); answers `cairn --help`, `cairn help [COMMAND]` and
// `cairn --version` itself.
#include <algorithm>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "commands.h"
#include "exit_code.h"

#ifndef CAIRN_VERSION
#define CAIRN_VERSION "unknown"
#endif

namespace cairn::cli {
namespace {

std::string TopLevelHelp() {
  std::string help =
      "cairn: the command-line client of the cairnd key-value database.\n"
      "\n"
      "usage: cairn COMMAND [flags] [arguments]\n"
      "       cairn help COMMAND | cairn COMMAND --help\n"
      "       cairn --version\n";
  const char* group = "";
  for (const Subcommand& c : Subcommands()) {
    if (std::string_view(group) != c.group) {
      group = c.group;
      absl::StrAppend(&help, "\n", group, ":\n");
    }
    std::string name = c.name;
    name.resize(std::max<size_t>(name.size(), 15), ' ');
    absl::StrAppend(&help, "  ", name, " ", c.summary, "\n");
  }
  absl::StrAppend(
      &help,
      "\n"
      "Flags every command takes (they may also come before COMMAND):\n"
      "  --endpoint HOST:PORT   cairnd's address [CAIRN_ENDPOINT, default "
      "127.0.0.1:7070]\n"
      "  --tls, --tls-ca, --tls-cert, --tls-key, --tls-server-name\n"
      "                         TLS [CAIRN_TLS_CA, CAIRN_TLS_CERT, "
      "CAIRN_TLS_KEY,\n"
      "                         CAIRN_TLS_SERVER_NAME]\n"
      "  --token, --token-file  bearer token [CAIRN_TOKEN, CAIRN_TOKEN_FILE]\n"
      "  --timeout DURATION     deadline of each call [CAIRN_TIMEOUT, default "
      "10s]\n"
      "  --json                 machine-readable output (see docs/cli.md)\n"
      "\n"
      "Keys and values are bytes. Output shows printable UTF-8 as is and\n"
      "anything else as a \"quoted\" string with \\n \\t \\r \\\\ \\\" \\xHH "
      "escapes;\n"
      "--hex, --base64 or --escaped decode KEY/VALUE arguments.\n"
      "\n"
      "Exit codes:\n"
      "  0  success\n"
      "  1  not found: an absent key, an unknown consumer, snapshot or "
      "service\n"
      "  2  usage error: bad command, flag, argument or script (the message "
      "says which)\n"
      "  3  server or connection error: printed as \"cairn: <CODE>: "
      "<message>\"\n"
      "  4  not applied: a batch or txn condition failed, or the transaction\n"
      "     was aborted by a conflict (after its --retry attempts)\n"
      "\n"
      "Documentation: docs/cli.md.\n");
  return help;
}

const Subcommand* Find(std::string_view name) {
  for (const Subcommand& c : Subcommands()) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1,
                         diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

int UnknownCommand(const std::string& name) {
  std::string hint;
  size_t best = 3;  // suggest only close matches
  for (const Subcommand& c : Subcommands()) {
    size_t d = EditDistance(name, c.name);
    if (d < best) {
      best = d;
      hint = absl::StrCat(" (did you mean '", c.name, "'?)");
    }
  }
  std::fprintf(stderr,
               "cairn: unknown command '%s'%s\nRun 'cairn help' for the list "
               "of commands.\n",
               name.c_str(), hint.c_str());
  return kExitUsage;
}

// Flags given before the command name apply to the command ("cairn
// --endpoint db:7070 get k"). Returns the index of the command name and
// moves those flags into *hoisted; flags that take a value in the next
// argument are known by name.
size_t HoistLeadingFlags(const Args& args, Args* hoisted) {
  static constexpr std::string_view kValueFlags[] = {
      "--endpoint",   "--tls-ca",          "--tls-cert",
      "--tls-key",    "--tls-server-name", "--token",
      "--token-file", "--timeout",         "--durability"};
  size_t i = 0;
  while (i < args.size() && args[i].size() > 2 && args[i][0] == '-' &&
         args[i][1] == '-' && args[i] != "--help" && args[i] != "--version") {
    hoisted->push_back(args[i]);
    const bool takes_next =
        args[i].find('=') == std::string::npos &&
        std::find(std::begin(kValueFlags), std::end(kValueFlags), args[i]) !=
            std::end(kValueFlags);
    ++i;
    if (takes_next && i < args.size()) hoisted->push_back(args[i++]);
  }
  return i;
}

int Main(const Args& all) {
  Args hoisted;
  const size_t at = HoistLeadingFlags(all, &hoisted);
  if (at >= all.size()) {
    std::fputs(TopLevelHelp().c_str(), stderr);
    return kExitUsage;
  }
  const std::string& name = all[at];
  Args rest(all.begin() + at + 1, all.end());
  if (name == "--help" || name == "-h" || name == "help") {
    if (rest.empty()) {
      std::fputs(TopLevelHelp().c_str(), stdout);
      return kExitOk;
    }
    const Subcommand* c = Find(rest[0]);
    if (c == nullptr) return UnknownCommand(rest[0]);
    Args help_args(rest.begin() + 1, rest.end());  // "help snapshot acquire"
    help_args.push_back("--help");
    return c->run(help_args);
  }
  if (name == "--version" || name == "version") {
    std::printf("cairn %s\n", CAIRN_VERSION);
    return kExitOk;
  }
  const Subcommand* c = Find(name);
  if (c == nullptr) return UnknownCommand(name);
  // "snapshot" takes a subcommand word first ("snapshot acquire"): the
  // hoisted flags go after it.
  const bool has_subcommand =
      name == "snapshot" && !rest.empty() && !absl::StartsWith(rest[0], "-");
  rest.insert(rest.begin() + (has_subcommand ? 1 : 0), hoisted.begin(),
              hoisted.end());
  return c->run(rest);
}

}  // namespace
}  // namespace cairn::cli

int main(int argc, char** argv) {
  return cairn::cli::Main(cairn::cli::Args(argv + 1, argv + argc));
}
