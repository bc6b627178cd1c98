// `cairn`'s command line itself: --help of every subcommand, the top-level
// help and version, usage errors (exit 2 with a message naming the
// problem), an unreachable server (exit 3), the environment variables, and
// flags given before the subcommand.
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cli_test_util.h"

namespace cairn::test {
namespace {

// Every subcommand (as `cairn help` lists them) plus the nested ones.
const std::vector<std::vector<std::string>> all_subcommands = {
    {"get"},
    {"mget"},
    {"put"},
    {"del"},
    {"del-range"},
    {"scan"},
    {"merge"},
    {"batch"},
    {"txn"},
    {"tail"},
    {"consumers"},
    {"ack"},
    {"drop-consumer"},
    {"health"},
    {"stats"},
    {"flush"},
    {"compact"},
    {"checkpoint"},
    {"snapshot"},
    {"snapshot", "acquire"},
    {"snapshot", "release"},
};

TEST(CliUsage, HelpOfEverySubcommandExitsZero) {
  for (const auto& cmd : all_subcommands) {
    for (const char* flag : {"--help", "-h"}) {
      std::vector<std::string> args = cmd;
      args.push_back(flag);
      CliResult r = RunCli(args);
      EXPECT_EQ(r.exit_code, 0) << cmd[0] << " " << flag << "\n" << r;
      const std::string name = cmd[0] == "mget" ? "get" : cmd[0];  // alias
      EXPECT_EQ(r.out.rfind("usage: cairn " + name, 0), 0u) << r;
      EXPECT_EQ(r.err, "");
    }
    // `cairn help CMD` prints the same text.
    std::vector<std::string> help = {"help"};
    help.insert(help.end(), cmd.begin(), cmd.end());
    std::vector<std::string> direct = cmd;
    direct.push_back("--help");
    CliResult a = RunCli(help);
    EXPECT_EQ(a.exit_code, 0) << a;
    EXPECT_EQ(a.out, RunCli(direct).out);
  }
  // Leaf commands document their flags, examples and exit codes.
  CliResult get = RunCli({"get", "--help"});
  EXPECT_TRUE(absl::StrContains(get.out, "\nflags:\n")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "  --snapshot")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "  --endpoint")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "\nexamples:\n")) << get.out;
  EXPECT_TRUE(absl::StrContains(get.out, "exit codes: 0 ok, 1 not found"))
      << get.out;
  EXPECT_EQ(RunCli({"bench", "--help"}).exit_code, 0);
}

TEST(CliUsage, TopLevelHelpAndVersion) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--help"}, {"-h"}, {"help"}}) {
    CliResult r = RunCli(args);
    EXPECT_EQ(r.exit_code, 0) << r;
    for (const auto& cmd : all_subcommands) {
      EXPECT_TRUE(absl::StrContains(r.out, "\n  " + cmd[0] + " ")) << cmd[0];
    }
    EXPECT_TRUE(absl::StrContains(r.out, "Exit codes:\n")) << r.out;
    EXPECT_TRUE(absl::StrContains(r.out, "CAIRN_ENDPOINT")) << r.out;
  }
  CliResult none = RunCli({});
  EXPECT_EQ(none.exit_code, 2) << none;
  EXPECT_TRUE(absl::StrContains(none.err, "usage: cairn COMMAND")) << none;

  for (const char* v : {"--version", "version"}) {
    CliResult r = RunCli({v});
    EXPECT_EQ(r.exit_code, 0) << r;
    EXPECT_EQ(r.out.rfind("cairn ", 0), 0u) << r;
  }
}

TEST(CliUsage, UsageErrorsExitTwoAndSayWhy) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"frobnicate"}, "cairn: unknown command 'frobnicate'"},
      {{"gte", "k"}, "(did you mean 'get'?)"},
      {{"get"}, "cairn get: expected at least 1 argument, got 0"},
      {{"get", "--bogus", "k"}, "cairn get: unknown flag --bogus"},
      {{"put", "k", "v", "extra"}, "cairn put: expected 1 to 2 arguments"},
      {{"put", "--ttl", "x", "k", "v"}, "cairn put: --ttl: not a duration"},
      {{"scan", "--limit", "many"}, "cairn scan: --limit: not an integer"},
      {{"get", "--timeout", "0s", "k"},
       "cairn get: --timeout: must be positive"},
      {{"get", "--endpoint"}, "cairn get: --endpoint: missing value"},
      {{"put", "--durability", "maybe", "k", "v"},
       "cairn put: --durability: 'maybe' is not sync, async or default"},
      {{"get", "--tls-ca", "/nonexistent/ca.pem", "k"}, "cairn get: "},
      {{"snapshot"}, "usage: cairn snapshot acquire"},
      {{"help", "nope"}, "cairn: unknown command 'nope'"},
  };
  for (const Case& c : cases) {
    CliResult r = RunCli(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args[0] << "\n" << r;
    EXPECT_TRUE(absl::StrContains(r.err, c.message))
        << "want '" << c.message << "'\n"
        << r;
    EXPECT_EQ(r.out, "");
  }
}

TEST(CliUsage, UnreachableServerExitsThree) {
  const std::string address = absl::StrCat("127.0.0.1:", FreePort());
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"get", "k"},
        {"put", "k", "v"},
        {"scan"},
        {"stats"},
        {"health"},
        {"tail", "--from-seq", "1", "--max-reconnects", "0"}}) {
    CliOptions o;
    o.env["CAIRN_ENDPOINT"] = address;
    o.timeout = absl::Seconds(30);
    const absl::Time start = absl::Now();
    CliResult r = RunCli(args, o);
    EXPECT_EQ(r.exit_code, 3) << args[0] << "\n" << r;
    EXPECT_EQ(r.err.rfind("cairn: UNAVAILABLE: ", 0), 0u) << r;
    EXPECT_LT(absl::Now() - start, absl::Seconds(15)) << args[0];
  }
  CliOptions in;
  in.stdin_data = "put a 1\n";
  CliResult batch = RunCli({"batch", "--endpoint", address}, in);
  EXPECT_EQ(batch.exit_code, 3) << batch;
}

class CliEnvTest : public CliTest {};

TEST_F(CliEnvTest, EndpointFromEnvironmentOrFlag) {
  // The fixture passes CAIRN_ENDPOINT; a flag overrides it...
  Expect(0, {"put", "k", "v"});
  CliOptions wrong;
  wrong.env["CAIRN_ENDPOINT"] = absl::StrCat("127.0.0.1:", FreePort());
  CliResult r = RunCli({"get", "--endpoint", server_->address(), "k"}, wrong);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "v\n");
  EXPECT_EQ(RunCli({"get", "k"}, wrong).exit_code, 3);
  // ...also before the subcommand, in both spellings.
  r = RunCli({"--endpoint", server_->address(), "get", "k"}, wrong);
  EXPECT_EQ(r.exit_code, 0) << r;
  r = RunCli({"--endpoint=" + server_->address(), "--json", "get", "k"}, wrong);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(Str(Json(r.out), "value"), "v");
  // A command with a subcommand word: the flags go after it.
  r = RunCli({"--endpoint", server_->address(), "snapshot", "acquire"}, wrong);
  EXPECT_EQ(r.exit_code, 0) << r;
  uint64_t seq = 0;
  EXPECT_TRUE(absl::SimpleAtoi(absl::StripAsciiWhitespace(r.out), &seq)) << r;
  r = RunCli({"--endpoint=" + server_->address(), "snapshot", "release",
              absl::StrCat(seq)},
             wrong);
  EXPECT_EQ(r.exit_code, 0) << r;
}

TEST_F(CliEnvTest, TimeoutFromEnvironment) {
  CliOptions o;
  o.env["CAIRN_TIMEOUT"] = "soon";
  CliResult r = Cairn({"get", "k"}, o);
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_TRUE(absl::StrContains(r.err, "CAIRN_TIMEOUT")) << r;
  o.env["CAIRN_TIMEOUT"] = "5s";
  EXPECT_EQ(Cairn({"get", "k"}, o).exit_code, 1);
  // A deadline too short for any call: DEADLINE_EXCEEDED is a server error.
  o.env["CAIRN_TIMEOUT"] = "1us";
  CliResult late = Cairn({"get", "k"}, o);
  EXPECT_EQ(late.exit_code, 3) << late;
  EXPECT_EQ(late.err.rfind("cairn: DEADLINE_EXCEEDED: ", 0), 0u) << late;
}

}  // namespace
}  // namespace cairn::test
