// `cairn batch` and `cairn txn` against a real cairnd: scripts from stdin
// and from files, conditions, syntax errors naming lines, commit, rollback,
// conflicts (interactive and with --retry), and the JSON output.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_test_util.h"

namespace cairn::test {
namespace {

class CliBatchTest : public CliTest {};
class CliTxnTest : public CliTest {
 protected:
  std::vector<std::string> ServerArgs() const override {
    return {"--durability=async", "--scan_chunk_keys=2"};
  }
};

TEST_F(CliBatchTest, FromStdinAppliesEverythingAtomically) {
  Expect(0, {"put", "old", "x"});
  Expect(0, {"put", "cnt", "1"});
  CliResult r = CairnIn({"batch"},
                        "# a comment line\n"
                        "if-absent user/1\n"
                        "put user/1 \"alice smith\"   # trailing comment\n"
                        "put \"with space\" \"tab\\there\\x00\"\n"
                        "merge cnt add 4\n"
                        "del old\n"
                        "\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "OK seq=6\n");  // 4 ops: seq 3..6
  EXPECT_EQ(Expect(0, {"get", "user/1"}), "alice smith\n");
  EXPECT_EQ(Expect(0, {"get", "with space"}), "\"tab\\there\\x00\"\n");
  EXPECT_EQ(Expect(0, {"get", "cnt"}), "5\n");
  Expect(1, {"get", "old"});
  // All four ops are one group in the change feed.
  std::vector<Struct> events =
      JsonLines(Expect(0, {"tail", "--from-seq", "3", "--count", "4", "--for",
                           "20s", "--json"}));
  ASSERT_EQ(events.size(), 4u);
  for (const Struct& e : events) {
    EXPECT_EQ(Num(e, "group_first_seq"), 3);
    EXPECT_EQ(Num(e, "group_size"), 4);
  }
}

TEST_F(CliBatchTest, FromFileWithDurabilityAndJson) {
  const std::string path = TempDir() + "/ops.txt";
  WriteFile(path,
            "put a 1\r\n"  // CRLF is fine
            "put b 2 ttl 1h\r\n"
            "del-range c d\r\n");
  Struct j = ExpectJson(0, {"batch", "--durability", "sync", path});
  EXPECT_TRUE(Bool(j, "succeeded"));
  EXPECT_EQ(Num(j, "seq"), 3);
  EXPECT_EQ(Num(j, "failed_condition"), -1);
  EXPECT_EQ(Num(j, "ops"), 3);
  EXPECT_EQ(Num(j, "conditions"), 0);
  EXPECT_FALSE(Has(j, "failed_line"));
  EXPECT_GT(Num(ExpectJson(0, {"get", "b"}), "expires_at_unix_micros"), 0);
  Expect(0, {"batch", "--check", path});
  EXPECT_EQ(Cairn({"batch", path + ".missing"}).exit_code, 2);
}

TEST_F(CliBatchTest, FailedConditionExitsFourAndWritesNothing) {
  Expect(0, {"put", "stock", "42"});  // revision 1
  const std::string script =
      "put log entry\n"
      "if-value stock 42\n"
      "if-revision stock 7\n"
      "put stock 41\n";
  CliResult r = CairnIn({"batch"}, script);
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err,
            "cairn batch: condition failed at line 3: if-revision stock 7; "
            "nothing was written\n");
  Expect(1, {"get", "log"});

  CliOptions in;
  in.stdin_data = script;
  CliResult j = Cairn({"batch", "--json"}, in);
  EXPECT_EQ(j.exit_code, 4) << j;
  Struct s = Json(j.out);
  EXPECT_FALSE(Bool(s, "succeeded"));
  EXPECT_EQ(Num(s, "seq"), 0);
  EXPECT_EQ(Num(s, "failed_condition"), 1);
  EXPECT_EQ(Num(s, "failed_line"), 3);

  // The right revision: compare-and-set succeeds.
  CliResult ok = CairnIn({"batch"},
                         "if-revision stock 1\nif-exists stock\n"
                         "if-absent nothing\nput stock 41\n");
  EXPECT_EQ(ok.exit_code, 0) << ok;
  EXPECT_EQ(Expect(0, {"get", "stock"}), "41\n");
  // Conditions only: a consistent check that writes nothing.
  EXPECT_EQ(CairnIn({"batch"}, "if-value stock 41\n").exit_code, 0);
  EXPECT_EQ(CairnIn({"batch"}, "if-absent stock\n").exit_code, 4);
}

TEST_F(CliBatchTest, SyntaxErrorsNameTheLineAndSendNothing) {
  struct Case {
    std::string script;
    std::string message;
  } cases[] = {
      {"put a 1\nput b\n", "<stdin>: line 2: put: missing VALUE"},
      {"put a 1\nput \"b 2\n", "<stdin>: line 2: column 5: unterminated"},
      {"\nget a\n", "<stdin>: line 2: 'get' is only allowed in txn scripts"},
      {"frob a\n", "<stdin>: line 1: unknown statement 'frob'"},
      {"# nothing\n", "<stdin>: the batch is empty"},
  };
  for (const Case& c : cases) {
    CliResult r = CairnIn({"batch"}, c.script);
    EXPECT_EQ(r.exit_code, 2) << r;
    EXPECT_EQ(r.err.rfind("cairn batch: " + c.message, 0), 0u) << r;
    EXPECT_EQ(CairnIn({"batch", "--check"}, c.script).exit_code, 2);
  }
  Expect(1, {"get", "a"});  // the first line of a bad script did not run
}

TEST_F(CliBatchTest, ServerErrorNamesTheScriptLine) {
  CliResult r = CairnIn({"batch"}, "put a 1\nmerge n sum 1\n");
  EXPECT_EQ(r.exit_code, 3) << r;
  EXPECT_EQ(r.err.rfind("cairn: INVALID_ARGUMENT: ops[1].merge.operator", 0),
            0u)
      << r;
  EXPECT_NE(r.err.find("(script line 2: merge n sum 1)"), std::string::npos)
      << r;
  Expect(1, {"get", "a"});
}

TEST_F(CliTxnTest, ScriptCommitsAndPrintsReads) {
  Expect(0, {"put", "acct/a", "100"});
  Expect(0, {"put", "acct/b", "5"});
  CliResult r = CairnIn({"txn"},
                        "get acct/a\n"
                        "get acct/zz\n"
                        "put acct/a 90\n"
                        "put acct/b 15\n"
                        "scan prefix acct/\n"
                        "commit\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "acct/a\t100\n"
            "acct/zz\t(not found)\n"
            "acct/a\t90\n"  // the scan sees the transaction's own writes
            "acct/b\t15\n"
            "committed seq=4\n");
  EXPECT_EQ(Expect(0, {"get", "acct/b"}), "15\n");

  const std::string path = TempDir() + "/t.txn";
  WriteFile(path,
            "get acct/a\nmerge acct/b add 1\nscan acct/ acct/b\ncommit\n");
  std::vector<Struct> lines = JsonLines(Expect(0, {"txn", "--json", path}));
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(Num(lines[0], "line"), 1);
  EXPECT_EQ(Str(lines[0], "op"), "get");
  EXPECT_EQ(Str(lines[0], "value"), "90");
  EXPECT_EQ(Num(lines[0], "revision"), 3);
  EXPECT_EQ(Str(lines[1], "op"), "scan");
  EXPECT_EQ(Num(lines[1], "count"), 1);
  EXPECT_EQ(
      Str(Field(lines[1], "kvs").list_value().values(0).struct_value(), "key"),
      "acct/a");
  EXPECT_EQ(Str(lines[2], "outcome"), "committed");
  EXPECT_EQ(Num(lines[2], "seq"), 5);
  EXPECT_EQ(Num(lines[2], "attempts"), 1);
  EXPECT_EQ(Expect(0, {"get", "acct/b"}), "16\n");
}

TEST_F(CliTxnTest, ScanFollowsChunksAndDelRange) {
  for (int i = 0; i < 7; ++i) Expect(0, {"put", absl::StrCat("r", i), "v"});
  Expect(0, {"put", "s", "v"});
  // Chunks of 2 keys on the server; the script's scan reads them all.
  CliResult r = CairnIn({"txn"},
                        "scan prefix r keys-only\n"
                        "scan prefix r reverse limit 3 keys-only\n"
                        "del-range r2 r5\n"
                        "commit\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out,
            "r0\nr1\nr2\nr3\nr4\nr5\nr6\nr6\nr5\nr4\ncommitted seq=11\n");
  EXPECT_EQ(Expect(0, {"scan", "--keys-only"}), "r0\nr1\nr5\nr6\ns\n");
}

TEST_F(CliTxnTest, RollbackWritesNothing) {
  CliResult r = CairnIn({"txn"}, "put k v\nget k\nrollback\n");
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "k\tv\nrolled back\n");
  Expect(1, {"get", "k"});
  CliOptions in;
  in.stdin_data = "put k v\nrollback\n";
  Struct j = Json(Cairn({"txn", "--json"}, in).out);
  EXPECT_EQ(Str(j, "outcome"), "rolled_back");
}

TEST_F(CliTxnTest, ScriptMustEndWithCommitOrRollback) {
  CliResult r = CairnIn({"txn"}, "put k v\n\n");
  EXPECT_EQ(r.exit_code, 2) << r;
  EXPECT_EQ(r.err.rfind("cairn txn: <stdin>: line 1: the script ends without "
                        "commit or rollback",
                        0),
            0u)
      << r;
  EXPECT_EQ(CairnIn({"txn"}, "commit\nput k v\n").exit_code, 2);
  EXPECT_EQ(CairnIn({"txn"}, "put k\ncommit\n").exit_code, 2);
  EXPECT_EQ(CairnIn({"txn", "--check"}, "get k\ncommit\n").exit_code, 0);
  Expect(1, {"get", "k"});
}

TEST_F(CliTxnTest, FailedConditionRollsBackAndExitsFour) {
  Expect(0, {"put", "k", "1"});
  CliResult r = CairnIn({"txn"}, "get k\nput k 2\nif-value k 1\ncommit\n");
  EXPECT_EQ(r.exit_code, 4) << r;  // reads its own write: k is 2 here
  EXPECT_EQ(r.out, "k\t1\n");
  EXPECT_EQ(r.err,
            "cairn txn: condition failed at line 3: if-value k 1; rolled "
            "back\n");
  EXPECT_EQ(Expect(0, {"get", "k"}), "1\n");
  CliOptions in;
  in.stdin_data = "if-absent k\ncommit\n";
  CliResult j = Cairn({"txn", "--json"}, in);
  EXPECT_EQ(j.exit_code, 4) << j;
  Struct s = Json(j.out);
  EXPECT_EQ(Str(s, "outcome"), "condition_failed");
  EXPECT_EQ(Num(s, "line"), 1);
  EXPECT_EQ(CairnIn({"txn"},
                    "if-exists k\nif-revision k 1\nif-value k 1\n"
                    "put k 3\ncommit\n")
                .exit_code,
            0);
}

TEST_F(CliTxnTest, InteractiveConflictAbortsWithExitFour) {
  Expect(0, {"put", "k", "1"});
  CliOptions o;
  o.keep_stdin_open = true;
  std::unique_ptr<CliProcess> txn = StartCairn({"txn", "--interactive"}, o);
  ASSERT_NE(txn, nullptr);
  txn->WriteStdin("get k\n");
  ASSERT_TRUE(txn->WaitForOutput("k\t1\n", absl::Seconds(20)));
  // Another writer changes what the transaction read...
  Expect(0, {"put", "k", "other"});
  txn->WriteStdin("bogus statement\nput k 2\ncommit\n");
  CliResult r = txn->Wait(absl::Seconds(20));
  EXPECT_EQ(r.exit_code, 4) << r;
  EXPECT_EQ(r.out, "k\t1\nOK (buffered)\n");
  EXPECT_NE(r.err.find("unknown statement 'bogus'"), std::string::npos) << r;
  EXPECT_NE(r.err.find("cairn: ABORTED: "), std::string::npos) << r;
  EXPECT_EQ(Expect(0, {"get", "k"}), "other\n");
}

TEST_F(CliTxnTest, InteractiveCommitAndEndOfInput) {
  CliOptions o;
  o.stdin_data = "put a 1\nif-absent a\nhelp\nget a\ncommit\n";
  CliResult r = Cairn({"txn", "--interactive"}, o);
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "OK (buffered)\na\t1\ncommitted seq=1\n");
  EXPECT_NE(r.err.find("condition failed: if-absent a"), std::string::npos);
  EXPECT_NE(r.err.find("if-revision KEY N"), std::string::npos);  // help
  EXPECT_EQ(Expect(0, {"get", "a"}), "1\n");

  o.stdin_data = "put a 2\n";  // then end of input: rolled back
  r = Cairn({"txn", "--interactive"}, o);
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "OK (buffered)\nrolled back\n");
  EXPECT_EQ(Expect(0, {"get", "a"}), "1\n");
}

TEST_F(CliTxnTest, RetryRunsTheScriptAgainUntilItGivesUp) {
  Expect(0, {"put", "k", "1"});
  std::string snap = Lines(Expect(0, {"snapshot", "acquire"}))[0];
  Expect(0, {"put", "k", "2"});
  // Reading at the old snapshot always conflicts with the later write.
  CliOptions in;
  in.stdin_data = "get k\nput k 3\ncommit\n";
  CliResult r =
      Cairn({"txn", "--snapshot", snap, "--retry", "2", "--json"}, in);
  EXPECT_EQ(r.exit_code, 4) << r;
  Struct s = Json(r.out);  // only the outcome: no output of failed attempts
  EXPECT_EQ(Str(s, "outcome"), "aborted");
  EXPECT_EQ(Num(s, "attempts"), 3);
  EXPECT_NE(r.err.find("cairn: ABORTED: "), std::string::npos) << r;
  EXPECT_NE(r.err.find("after 3 attempts"), std::string::npos) << r;
  EXPECT_EQ(Expect(0, {"get", "k"}), "2\n");
  EXPECT_EQ(Cairn({"txn", "--retry", "-1"}, in).exit_code, 2);
}

TEST_F(CliTxnTest, RetryUnderContentionCommitsEveryScript) {
  // Scripts that read and write the same key conflict when they overlap;
  // with --retry each one eventually commits.
  Expect(0, {"put", "hot", "0"});
  constexpr int kWriters = 6;
  std::vector<std::unique_ptr<CliProcess>> procs;
  for (int i = 0; i < kWriters; ++i) {
    CliOptions o;
    std::string script;
    for (int r = 0; r < 20; ++r) absl::StrAppend(&script, "get hot\n");
    absl::StrAppend(&script, "put hot w", i, "\nmerge count add 1\ncommit\n");
    o.stdin_data = script;
    procs.push_back(StartCairn({"txn", "--retry", "100", "--json"}, o));
  }
  int attempts = 0;
  for (auto& p : procs) {
    CliResult r = p->Wait(absl::Seconds(40));
    ASSERT_EQ(r.exit_code, 0) << r;
    std::vector<Struct> lines = JsonLines(r.out);
    ASSERT_EQ(lines.size(), 21u) << r;  // one attempt's output only
    EXPECT_EQ(Str(lines.back(), "outcome"), "committed");
    attempts += static_cast<int>(Num(lines.back(), "attempts"));
  }
  EXPECT_GE(attempts, kWriters);
  EXPECT_EQ(Expect(0, {"get", "count"}), absl::StrCat(kWriters, "\n"));
}

}  // namespace
}  // namespace cairn::test
