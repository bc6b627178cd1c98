// `cairn stats`, `flush`, `compact`, `checkpoint` and `health` against a
// real cairnd, and the auth tokens (--token, --token-file, CAIRN_TOKEN,
// CAIRN_TOKEN_FILE) against one started with --auth_tokens.
#include <filesystem>
#include <string>

#include "absl/strings/str_cat.h"
#include "cli_test_util.h"

namespace cairn::test {
namespace {

class CliAdminTest : public CliTest {};

TEST_F(CliAdminTest, StatsTextAndJson) {
  Expect(0, {"put", "a", "1"});
  std::string text = Expect(0, {"stats"});
  EXPECT_NE(text.find("last_seq:                  1\n"), std::string::npos)
      << text;
  EXPECT_NE(text.find("\nLEVEL "), std::string::npos) << text;
  EXPECT_NE(text.find("\nL0 "), std::string::npos) << text;
  Struct j = ExpectJson(0, {"stats"});
  EXPECT_EQ(Num(j, "last_seq"), 1);
  EXPECT_TRUE(Has(j, "flushed_seq"));
  EXPECT_TRUE(Has(j, "write_stopped"));
  EXPECT_FALSE(Str(j, "version").empty());
  EXPECT_GE(Field(j, "levels").list_value().values_size(), 1);
}

TEST_F(CliAdminTest, FlushCompactCheckpoint) {
  for (int i = 0; i < 20; ++i) Expect(0, {"put", absl::StrCat("k", i), "v"});
  EXPECT_EQ(Expect(0, {"flush"}), "OK flushed_seq=20\n");
  Expect(0, {"put", "k99", "v"});
  Struct f = ExpectJson(0, {"flush"});
  EXPECT_EQ(Num(f, "flushed_seq"), 21);
  EXPECT_EQ(Num(ExpectJson(0, {"stats"}), "flushed_seq"), 21);
  Expect(0, {"flush", "--no-wait"});

  EXPECT_EQ(Expect(0, {"compact"}), "OK\n");
  EXPECT_TRUE(Bool(ExpectJson(0, {"compact", "--start", "k1", "--end", "k5"}),
                   "compacted"));
  Expect(0, {"compact", "--prefix", "k"});
  EXPECT_EQ(Cairn({"compact", "--prefix", "k", "--end", "z"}).exit_code, 2);
  EXPECT_EQ(Cairn({"compact", "--start", "z", "--end", "a"}).exit_code, 2);
  EXPECT_EQ(Expect(0, {"scan", "--count"}), "21\n");

  const std::string dir = TempDir() + "/copy";
  EXPECT_EQ(Expect(0, {"checkpoint", dir}), dir + " at sequence 21\n");
  EXPECT_TRUE(std::filesystem::is_directory(dir));
  // The copy opens as a database with the same data.
  CairndOptions o;
  o.data_dir = dir;
  auto copy = CairndProcess::Start(o);
  ASSERT_TRUE(copy.ok()) << copy.status();
  CliOptions at_copy;
  at_copy.env["CAIRN_ENDPOINT"] = (*copy)->address();
  CliResult r = RunCli({"scan", "--count"}, at_copy);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "21\n");

  CliResult exists = Cairn({"checkpoint", dir});
  EXPECT_EQ(exists.exit_code, 3) << exists;
  EXPECT_EQ(Cairn({"checkpoint", "relative/dir"}).exit_code, 2);
  EXPECT_EQ(Cairn({"checkpoint"}).exit_code, 2);
  Struct j = ExpectJson(0, {"checkpoint", dir + "2"});
  EXPECT_EQ(Str(j, "dir"), dir + "2");
  EXPECT_EQ(Num(j, "seq"), 21);
}

TEST_F(CliAdminTest, Health) {
  EXPECT_EQ(Expect(0, {"health"}), "SERVING\n");
  EXPECT_EQ(Expect(0, {"health", "--service", "cairn.v1.KV"}), "SERVING\n");
  Struct j = ExpectJson(0, {"health", "--wait", "5s"});
  EXPECT_EQ(Str(j, "status"), "SERVING");
  EXPECT_EQ(Str(j, "service"), "");
  CliResult unknown = Cairn({"health", "--service", "no.Such"});
  EXPECT_EQ(unknown.exit_code, 1) << unknown;
}

TEST_F(CliAdminTest, HealthOfAStoppedServer) {
  ASSERT_TRUE(server_->StopCleanly().ok());
  const absl::Time start = absl::Now();
  CliResult r = Cairn({"health", "--wait", "500ms"});
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_EQ(r.err.rfind("cairn: UNAVAILABLE: ", 0), 0u) << r;
  EXPECT_LT(absl::Now() - start, absl::Seconds(15));
  // --wait sees a server that comes up in the meantime.
  std::unique_ptr<CliProcess> waiting = StartCairn({"health", "--wait", "30s"});
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(server_->Restart().ok());
  CliResult up = waiting->Wait(absl::Seconds(40));
  EXPECT_EQ(up.exit_code, 0) << up;
  EXPECT_EQ(up.out, "SERVING\n");
}

constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kWriteToken[] = "write-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";

class CliAuthTest : public CliTest {
 protected:
  std::vector<std::string> ServerArgs() const override {
    std::string dir = TempDir();
    std::string file = dir + "/tokens";
    WriteFile(file, absl::StrCat("# roles\nread ", kReadToken, "\nwrite ",
                                 kWriteToken, "\nadmin ", kAdminToken, "\n"));
    return {"--durability=async", "--auth_tokens=" + file};
  }
  CliResult WithEnv(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env) {
    CliOptions o;
    o.env = std::move(env);
    return Cairn(args, o);
  }
};

TEST_F(CliAuthTest, TokensFromFlagsAndEnvironment) {
  CliResult none = Cairn({"get", "k"});
  EXPECT_EQ(none.exit_code, 3) << none;
  EXPECT_EQ(none.err.rfind("cairn: UNAUTHENTICATED: ", 0), 0u) << none;
  // Health needs no token.
  EXPECT_EQ(Cairn({"health"}).exit_code, 0);

  EXPECT_EQ(Cairn({"put", "--token", kWriteToken, "k", "v"}).exit_code, 0);
  CliResult r = WithEnv({"get", "k"}, {{"CAIRN_TOKEN", kReadToken}});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "v\n");
  CliResult denied = WithEnv({"put", "k", "x"}, {{"CAIRN_TOKEN", kReadToken}});
  EXPECT_EQ(denied.exit_code, 3) << denied;
  EXPECT_EQ(denied.err.rfind("cairn: PERMISSION_DENIED: ", 0), 0u) << denied;
  // The flag overrides the environment.
  EXPECT_EQ(WithEnv({"put", "--token", kWriteToken, "k", "x"},
                    {{"CAIRN_TOKEN", kReadToken}})
                .exit_code,
            0);

  const std::string file = TempDir() + "/token";
  WriteFile(file, absl::StrCat(kAdminToken, "\n"));
  EXPECT_EQ(Cairn({"flush", "--token-file", file}).exit_code, 0);
  EXPECT_EQ(WithEnv({"flush"}, {{"CAIRN_TOKEN_FILE", file}}).exit_code, 0);
  EXPECT_EQ(WithEnv({"flush"}, {{"CAIRN_TOKEN", kWriteToken}}).exit_code, 3);
  EXPECT_EQ(Cairn({"flush", "--token-file", file + ".missing"}).exit_code, 2);
  EXPECT_EQ(
      WithEnv({"flush"}, {{"CAIRN_TOKEN_FILE", file + ".missing"}}).exit_code,
      2);
  CliResult bad = Cairn({"get", "--token", "wrong-token-0123456789", "k"});
  EXPECT_EQ(bad.exit_code, 3) << bad;
}

}  // namespace
}  // namespace cairn::test
