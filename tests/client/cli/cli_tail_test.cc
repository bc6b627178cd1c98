// `cairn tail`, `consumers`, `ack` and `drop-consumer` against a real
// cairnd: --from-seq/--count, filters, live following, named consumers that
// acknowledge and resume, --for, and the JSON event format.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli_test_util.h"

namespace cairn::test {
namespace {

class CliTailTest : public CliTest {
 protected:
  // seq 1..6: put a, put b/1 (with TTL), merge n, del a, del-range b c,
  // put "bin\0" (binary key)
  void WriteSample() {
    Expect(0, {"put", "a", "1"});
    Expect(0, {"put", "--ttl", "1h", "b/1", "2"});
    Expect(0, {"merge", "n", "append", "x", ","});
    Expect(0, {"del", "a"});
    Expect(0, {"del-range", "b", "c"});
    Expect(0, {"put", "--hex", "62696e00", "76"});
  }
};

TEST_F(CliTailTest, FromSeqWithCountText) {
  WriteSample();
  CliResult r =
      Cairn({"tail", "--from-seq", "1", "--count", "6", "--for", "20s"});
  ASSERT_EQ(r.exit_code, 0) << r;
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 6u) << r;
  EXPECT_EQ(lines[0], "1\tput\ta\t1");
  EXPECT_EQ(lines[1].rfind("2\tput\tb/1\t2\texpires=", 0), 0u) << lines[1];
  EXPECT_EQ(lines[2], "3\tmerge\tn\tappend\tx\t,");
  EXPECT_EQ(lines[3], "4\tdelete\ta");
  EXPECT_EQ(lines[4], "5\tdelete_range\tb\tc");
  EXPECT_EQ(lines[5], "6\tput\t\"bin\\x00\"\tv");
  EXPECT_EQ(
      Expect(0, {"tail", "--from-seq", "5", "--count", "1", "--for", "20s"}),
      "5\tdelete_range\tb\tc\n");
  EXPECT_EQ(Expect(0, {"tail", "--from-seq", "1", "--count", "2", "--for",
                       "20s", "--keys-only"}),
            "1\tput\ta\n2\tput\tb/1\texpires=" +
                Lines(r.out)[1].substr(Lines(r.out)[1].find("expires=") + 8) +
                "\n");
}

TEST_F(CliTailTest, JsonEvents) {
  WriteSample();
  std::vector<Struct> e =
      JsonLines(Expect(0, {"tail", "--from-seq", "1", "--count", "6", "--for",
                           "20s", "--json"}));
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(Num(e[0], "seq"), 1);
  EXPECT_EQ(Str(e[0], "op"), "put");
  EXPECT_EQ(Str(e[0], "key"), "a");
  EXPECT_EQ(Str(e[0], "value"), "1");
  EXPECT_EQ(Num(e[0], "expires_at_unix_micros"), 0);
  EXPECT_GT(Num(e[0], "commit_time_unix_micros"), 1.6e15);
  EXPECT_EQ(Num(e[0], "group_first_seq"), 1);
  EXPECT_EQ(Num(e[0], "group_size"), 1);
  EXPECT_GT(Num(e[1], "expires_at_unix_micros"), 0);
  EXPECT_EQ(Str(e[2], "op"), "merge");
  EXPECT_EQ(Str(e[2], "merge_operator"), "append");
  EXPECT_EQ(Str(e[2], "value"), "x");
  EXPECT_EQ(Str(e[2], "merge_argument"), ",");
  EXPECT_EQ(Str(e[3], "op"), "delete");
  EXPECT_FALSE(Has(e[3], "value"));
  EXPECT_EQ(Str(e[4], "op"), "delete_range");
  EXPECT_EQ(Str(e[4], "range_end"), "c");
  EXPECT_EQ(Str(e[5], "key_base64"), "YmluAA==");
}

TEST_F(CliTailTest, Filters) {
  WriteSample();
  EXPECT_EQ(Expect(0, {"tail", "--from-seq", "1", "--prefix", "b/", "--count",
                       "2", "--for", "20s", "--keys-only"})
                .substr(0, 8),
            "2\tput\tb/");
  std::vector<std::string> ops =
      Lines(Expect(0, {"tail", "--from-seq", "1", "--ops",
                       "delete,delete-range", "--count", "2", "--for", "20s"}));
  ASSERT_EQ(ops.size(), 2u);
  EXPECT_EQ(ops[0], "4\tdelete\ta");
  EXPECT_EQ(ops[1], "5\tdelete_range\tb\tc");
  // [a, b): put a and del a; the delete-range [b, c) does not overlap.
  std::vector<std::string> range =
      Lines(Expect(0, {"tail", "--from-seq", "1", "--start", "a", "--end", "b",
                       "--count", "2", "--for", "20s"}));
  ASSERT_EQ(range.size(), 2u);
  EXPECT_EQ(range[1], "4\tdelete\ta");
  // A delete-range passes a prefix filter when its range overlaps.
  EXPECT_EQ(Expect(0, {"tail", "--from-seq", "1", "--hex", "--prefix", "62696e",
                       "--count", "2", "--for", "20s"}),
            "5\tdelete_range\tb\tc\n6\tput\t\"bin\\x00\"\tv\n");
}

TEST_F(CliTailTest, FollowsLiveWrites) {
  Expect(0, {"put", "before", "x"});  // seq 1
  std::unique_ptr<CliProcess> tail =
      StartCairn({"tail", "--from-seq", "2", "--count", "3", "--for", "20s"});
  ASSERT_NE(tail, nullptr);
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_EQ(tail->OutputLines(), 0u);
  for (int i = 0; i < 3; ++i) Expect(0, {"put", absl::StrCat("k", i), "v"});
  CliResult r = tail->Wait(absl::Seconds(20));
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "2\tput\tk0\tv\n3\tput\tk1\tv\n4\tput\tk2\tv\n");
}

TEST_F(CliTailTest, ForEndsTheRun) {
  Expect(0, {"put", "a", "1"});
  CliResult r = Cairn({"tail", "--from-now", "--for", "300ms"});
  EXPECT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out, "");
  // Fewer events than --count before --for: exit 1.
  r = Cairn({"tail", "--from-seq", "1", "--count", "2", "--for", "300ms"});
  EXPECT_EQ(r.exit_code, 1) << r;
  EXPECT_EQ(r.out, "1\tput\ta\t1\n");
  EXPECT_NE(r.err.find("after 1 of 2 events"), std::string::npos) << r;
}

TEST_F(CliTailTest, NamedConsumerAcksAndResumes) {
  for (int i = 1; i <= 5; ++i) Expect(0, {"put", absl::StrCat("k", i), "v"});
  // A consumer started at seq 1 prints and acknowledges two events...
  EXPECT_EQ(Expect(0, {"tail", "--consumer", "idx", "--from-seq", "1", "--ack",
                       "--count", "2", "--for", "20s"}),
            "1\tput\tk1\tv\n2\tput\tk2\tv\n");
  Struct list = ExpectJson(0, {"consumers"});
  const auto& consumers = Field(list, "consumers").list_value();
  ASSERT_EQ(consumers.values_size(), 1);
  const Struct& c = consumers.values(0).struct_value();
  EXPECT_EQ(Str(c, "name"), "idx");
  EXPECT_EQ(Num(c, "acked_seq"), 2);
  EXPECT_EQ(Num(c, "lag_seqs"), 3);
  EXPECT_TRUE(Has(c, "lag_seconds"));
  std::string table = Expect(0, {"consumers"});
  EXPECT_EQ(table.rfind("NAME", 0), 0u) << table;
  EXPECT_NE(table.find("idx"), std::string::npos) << table;

  // ...and the next run resumes after them.
  EXPECT_EQ(Expect(0, {"tail", "--consumer", "idx", "--ack", "--count", "1",
                       "--for", "20s"}),
            "3\tput\tk3\tv\n");
  // Without --ack the position stays.
  EXPECT_EQ(
      Expect(0, {"tail", "--consumer", "idx", "--count", "1", "--for", "20s"}),
      "4\tput\tk4\tv\n");
  EXPECT_EQ(Expect(0, {"tail", "--consumer", "idx", "--count", "1", "--for",
                       "20s", "--json"})
                .find("\"seq\":4"),
            1u);
  // cairn ack moves it by hand.
  EXPECT_EQ(Expect(0, {"ack", "idx", "4"}), "OK\n");
  EXPECT_EQ(
      Expect(0, {"tail", "--consumer", "idx", "--count", "1", "--for", "20s"}),
      "5\tput\tk5\tv\n");
  Struct acked = ExpectJson(0, {"ack", "idx", "5"});
  EXPECT_EQ(Num(acked, "acked_seq"), 5);

  EXPECT_EQ(Expect(0, {"drop-consumer", "idx"}), "OK\n");
  CliResult again = Cairn({"drop-consumer", "idx"});
  EXPECT_EQ(again.exit_code, 1) << again;
  EXPECT_EQ(again.err.rfind("cairn: NOT_FOUND: ", 0), 0u) << again;
  EXPECT_EQ(Cairn({"ack", "nobody", "1"}).exit_code, 1);
  EXPECT_EQ(Cairn({"ack", "idx", "x"}).exit_code, 2);
  EXPECT_EQ(Field(ExpectJson(0, {"consumers"}), "consumers")
                .list_value()
                .values_size(),
            0);
}

// With --ack-interval, a run that ends by --for (the stream caught up, no
// --count) has acknowledged everything it printed, and a run still going
// has acknowledged what it printed once it is caught up.
TEST_F(CliTailTest, AcksAreBatchedButNothingPrintedStaysUnacknowledged) {
  for (int i = 1; i <= 40; ++i) Expect(0, {"put", absl::StrCat("k", i), "v"});
  std::unique_ptr<CliProcess> tail =
      StartCairn({"tail", "--consumer", "batched", "--from-seq", "1", "--ack",
                  "--ack-interval", "1h", "--for", "20s"});
  ASSERT_NE(tail, nullptr);
  // Caught up after 40 events: the acknowledgement follows without waiting
  // for the interval.
  const absl::Time by = absl::Now() + absl::Seconds(15);
  int64_t acked = 0;
  while (absl::Now() < by && acked != 40) {
    Struct list = ExpectJson(0, {"consumers"});
    const auto& consumers = Field(list, "consumers").list_value();
    if (consumers.values_size() == 1) {
      acked = Num(consumers.values(0).struct_value(), "acked_seq");
    }
    if (acked != 40) absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(acked, 40);
  tail.reset();  // killed
  // A short run by --for acknowledges at exit.
  for (int i = 41; i <= 45; ++i) Expect(0, {"put", absl::StrCat("k", i), "v"});
  CliResult r = Cairn({"tail", "--consumer", "batched", "--ack",
                       "--ack-interval", "1h", "--for", "1s"});
  ASSERT_EQ(r.exit_code, 0) << r;
  EXPECT_EQ(r.out.rfind("41\tput\tk41\tv\n", 0), 0u) << r;
  Struct list = ExpectJson(0, {"consumers"});
  EXPECT_EQ(Num(Field(list, "consumers").list_value().values(0).struct_value(),
                "acked_seq"),
            45);
}

TEST_F(CliTailTest, UsageErrors) {
  const std::vector<std::vector<std::string>> bad = {
      {"tail", "--ack"},
      {"tail", "--from-seq", "0"},
      {"tail", "--from-seq", "3", "--from-now"},
      {"tail", "--ops", "put,frob"},
      {"tail", "--prefix", "a", "--start", "b"},
      {"tail", "--count", "-1"},
      {"tail", "--for", "soon"},
      {"tail", "extra"},
      {"consumers", "extra"},
      {"drop-consumer"},
  };
  for (const auto& args : bad) {
    CliResult r = Cairn(args);
    EXPECT_EQ(r.exit_code, 2) << args[1] << "\n" << r;
  }
}

}  // namespace
}  // namespace cairn::test
