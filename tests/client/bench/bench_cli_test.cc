// `cairn bench` end to end: the real `cairn` binary, run through the shell,
// against a real cairnd. Short runs (about a second) of every workload,
// checked through the --json output; the text output and progress lines;
// usage errors (exit 2, naming the flag); an unreachable server (exit 1,
// quickly); failed requests (exit 1, counted by code); and the bearer
// token on every request.
#include <filesystem>
#include <iterator>
#include <string>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "bench_runner.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_test_util.h"

namespace cairn::test {
namespace {

using ::testing::HasSubstr;

// Every field bench_main.cc documents, with its JSON type.
constexpr const char* kStringFields[] = {"workload", "endpoint", "durability",
                                         "distribution", "first_error"};
constexpr const char* kNumberFields[] = {
    "zipf_theta",   "keys",        "key_bytes",
    "value_bytes",  "batch_ops",   "scan_limit",
    "read_ratio",   "channels",    "pollers",
    "inflight",     "rate",        "count",
    "warmup_s",     "window_s",    "ops",
    "reads",        "writes",      "ops_per_s",
    "keys_per_s",   "misses",      "p50_us",
    "p90_us",       "p99_us",      "p999_us",
    "max_us",       "errors",      "client_cores",
    "tail_streams", "tail_events", "tail_events_per_s",
    "lag_p50_us",   "lag_p90_us",  "lag_p99_us",
    "lag_p999_us",  "lag_max_us"};

// --- without a server ---

TEST(BenchUsageTest, HelpListsEveryFlagAndExitsZero) {
  RunResult r = RunBench({"--help"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  for (const char* flag :
       {"--workload",     "--read-ratio", "--batch-ops", "--scan-limit",
        "--tail-streams", "--keys",       "--key-bytes", "--value-bytes",
        "--distribution", "--zipf-theta", "--preload",   "--durability",
        "--channels",     "--inflight",   "--pollers",   "--rate",
        "--duration",     "--count",      "--warmup",    "--seed",
        "--json",         "--progress",   "--endpoint",  "--tls-ca",
        "--tls-cert",     "--tls-key",    "--token",     "--token-file",
        "--timeout"}) {
    EXPECT_THAT(r.out, HasSubstr(absl::StrCat("  ", flag, " "))) << flag;
  }
}

TEST(BenchUsageTest, BadFlagsExitTwoNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--workload=nope"}, "--workload"},
      {{"--key-bytes=4"}, "--key-bytes"},
      {{"--zipf-theta=1"}, "--zipf-theta"},
      {{"--distribution=normal"}, "--distribution"},
      {{"--durability=fast"}, "--durability"},
      {{"--inflight=8,0"}, "--inflight"},
      {{"--read-ratio=1.5"}, "--read-ratio"},
      {{"--progress=sometimes"}, "--progress"},
      {{"--channels=0"}, "--channels"},
      {{"--duration=soon"}, "--duration"},
      {{"--count=10", "--duration=1s"}, "--count"},
      {{"--no-such-flag"}, "--no-such-flag"},
      {{"extra"}, "extra"},
  };
  for (const auto& [args, flag] : cases) {
    RunResult r = RunBench(args);
    EXPECT_EQ(r.exit_code, 2) << absl::StrJoin(args, " ") << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(flag)) << absl::StrJoin(args, " ");
    EXPECT_EQ(r.out, "") << absl::StrJoin(args, " ");
  }
}

TEST(BenchUsageTest, UnreachableServerExitsOneQuickly) {
  RunResult r = RunBench({absl::StrCat("--endpoint=127.0.0.1:", FreePort()),
                          "--timeout=1s", "--workload=put"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach 127.0.0.1:"));
  EXPECT_LT(r.seconds, 10);
  EXPECT_EQ(r.out, "");
}

// --- against one cairnd ---

class BenchTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() { StartSuiteServer(); }

  // A short --json run of one level; returns it after checking the exit
  // code, that stdout holds exactly one JSON object and that no request
  // failed.
  Level RunOk(std::vector<std::string> args) {
    args.insert(args.begin(), {"--endpoint=" + server_->address(), "--json",
                               "--warmup=200ms"});
    bool has_length = false;
    for (const std::string& a : args) {
      has_length |=
          absl::StartsWith(a, "--count") || absl::StartsWith(a, "--duration");
    }
    if (!has_length) args.push_back("--duration=1s");
    RunResult r = RunBench(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    std::vector<Level> levels = ParseLevels(r.out);
    EXPECT_EQ(levels.size(), 1u) << r.out;
    if (levels.size() != 1) return Level();
    const Level& l = levels[0];
    EXPECT_EQ(Num(l, "errors"), 0) << Str(l, "first_error");
    EXPECT_GT(Num(l, "ops"), 0);
    EXPECT_GT(Num(l, "ops_per_s"), 0);
    EXPECT_GT(Num(l, "p50_us"), 0);
    EXPECT_LE(Num(l, "p50_us"), Num(l, "p99_us"));
    EXPECT_LE(Num(l, "p99_us"), Num(l, "max_us"));
    return l;
  }
};

TEST_F(BenchTest, Noop) {
  Level l = RunOk({"--workload=noop"});
  EXPECT_EQ(Str(l, "workload"), "noop");
  EXPECT_EQ(Str(l, "durability"), "-");
  EXPECT_EQ(Num(l, "keys_per_s"), 0);
  EXPECT_NEAR(Num(l, "window_s"), 1, 0.01);
}

TEST_F(BenchTest, Put) {
  Level l = RunOk({"--workload=put", "--durability=sync", "--inflight=16"});
  EXPECT_EQ(Str(l, "durability"), "sync");
  EXPECT_EQ(Num(l, "inflight"), 16);
  EXPECT_EQ(Num(l, "writes"), Num(l, "ops"));
  EXPECT_EQ(Num(l, "keys_per_s"), Num(l, "ops_per_s"));
}

TEST_F(BenchTest, GetAfterPreloadFindsEveryKey) {
  Level l = RunOk({"--workload=get", "--preload", "--keys=5000"});
  EXPECT_EQ(Num(l, "reads"), Num(l, "ops"));
  EXPECT_EQ(Num(l, "misses"), 0);
}

TEST_F(BenchTest, GetCountsMissesOfKeysNeverWritten) {
  // Keys of 40 bytes: not the 16-byte keys any other test writes.
  Level l = RunOk({"--workload=get", "--key-bytes=40"});
  EXPECT_EQ(Num(l, "misses"), Num(l, "ops"));
}

TEST_F(BenchTest, MixedSplitsReadsAndWrites) {
  Level l =
      RunOk({"--workload=mixed", "--read-ratio=0.5", "--durability=async"});
  const double ops = Num(l, "ops");
  EXPECT_EQ(Num(l, "reads") + Num(l, "writes"), ops);
  EXPECT_NEAR(Num(l, "reads") / ops, 0.5, 0.15);
  EXPECT_EQ(Num(l, "read_ratio"), 0.5);
}

TEST_F(BenchTest, BatchCountsKeys) {
  Level l = RunOk({"--workload=batch", "--batch-ops=10", "--inflight=4"});
  EXPECT_NEAR(Num(l, "keys_per_s"), 10 * Num(l, "ops_per_s"), 0.1);
}

TEST_F(BenchTest, ScanCountsKeysReturned) {
  Level l = RunOk({"--workload=scan", "--preload", "--keys=1000",
                   "--scan-limit=20", "--inflight=8"});
  const double keys_per_scan = Num(l, "keys_per_s") / Num(l, "ops_per_s");
  // Full scans of 20, except those that start near the end of the space.
  EXPECT_LE(keys_per_scan, 20);
  EXPECT_GT(keys_per_scan, 15);
}

TEST_F(BenchTest, MergeCountModeAddsExactlyCountToTheCounters) {
  // Keys of 24 bytes, used by no other test; preloaded with "0".
  constexpr int kKeys = 7, kCount = 300;
  Level l =
      RunOk({"--workload=merge", "--preload", absl::StrCat("--keys=", kKeys),
             "--key-bytes=24", absl::StrCat("--count=", kCount), "--warmup=0s",
             "--inflight=8"});
  EXPECT_EQ(Num(l, "ops"), kCount);
  EXPECT_EQ(Num(l, "count"), kCount);
  // No warm-up: the server saw exactly kCount merges of "+1".
  auto kv = v1::KV::NewStub(server_->Channel());
  int64_t sum = 0;
  for (uint64_t k = 0; k < kKeys; ++k) {
    std::string key(24, '0');
    for (int i = 0; i < 8; ++i) key[i] = static_cast<char>(k >> (56 - 8 * i));
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    grpc::Status s = kv->Get(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    ASSERT_TRUE(resp.found()) << "key " << k;
    sum += std::stoll(resp.value());
  }
  EXPECT_EQ(sum, kCount);
}

TEST_F(BenchTest, CountModeStopsAtTheCount) {
  Level l = RunOk(
      {"--workload=put", "--count=250", "--inflight=16", "--durability=async"});
  EXPECT_EQ(Num(l, "ops"), 250);
  EXPECT_GT(Num(l, "window_s"), 0);
  EXPECT_LT(Num(l, "window_s"), 30);
}

TEST_F(BenchTest, ZipfianDistribution) {
  Level l = RunOk({"--workload=put", "--distribution=zipfian",
                   "--zipf-theta=0.9", "--keys=1000", "--durability=async"});
  EXPECT_EQ(Str(l, "distribution"), "zipfian");
  EXPECT_NEAR(Num(l, "zipf_theta"), 0.9, 1e-9);
}

TEST_F(BenchTest, TailMeasuresCommitToReceiveLag) {
  Level l = RunOk({"--workload=tail", "--rate=400", "--inflight=2",
                   "--tail-streams=2", "--durability=async"});
  EXPECT_EQ(Num(l, "tail_streams"), 2);
  const double writes = Num(l, "writes");
  // At 400 writes/s for 1 s, paced (a slow machine may fall short).
  EXPECT_GT(writes, 100);
  EXPECT_LT(writes, 440);
  // Both streams see every write committed in the window; the window's
  // edges may differ by the writes in flight there.
  EXPECT_NEAR(Num(l, "tail_events"), 2 * writes, 0.1 * writes + 10);
  EXPECT_GT(Num(l, "tail_events_per_s"), 0);
  EXPECT_GT(Num(l, "lag_p50_us"), 0);
  EXPECT_LE(Num(l, "lag_p50_us"), Num(l, "lag_max_us"));
  EXPECT_LT(Num(l, "lag_max_us"), 10e6);
}

TEST_F(BenchTest, JsonHasEveryFieldOnOneLinePerLevel) {
  RunResult r = RunBench({"--endpoint=" + server_->address(), "--json",
                          "--workload=put", "--inflight=1,4",
                          "--duration=1100ms", "--warmup=0s", "--progress=on"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<Level> levels = ParseLevels(r.out);
  ASSERT_EQ(levels.size(), 2u) << r.out;
  EXPECT_EQ(Num(levels[0], "inflight"), 1);
  EXPECT_EQ(Num(levels[1], "inflight"), 4);
  for (const Level& l : levels) {
    EXPECT_EQ(l.fields().size(),
              std::size(kStringFields) + std::size(kNumberFields) + 1);
    for (const char* f : kStringFields) {
      ASSERT_TRUE(l.fields().contains(f)) << f;
      EXPECT_TRUE(l.fields().at(f).has_string_value()) << f;
    }
    for (const char* f : kNumberFields) {
      ASSERT_TRUE(l.fields().contains(f)) << f;
      EXPECT_TRUE(l.fields().at(f).has_number_value()) << f;
    }
    ASSERT_TRUE(l.fields().contains("errors_by_code"));
    EXPECT_TRUE(l.fields().at("errors_by_code").has_struct_value());
    EXPECT_EQ(Num(l, "errors"), 0);
    EXPECT_EQ(Str(l, "endpoint"), server_->address());
  }
  // --progress=on with --json: the progress lines go to stderr.
  EXPECT_THAT(r.err, HasSubstr("put inflight=1"));
}

TEST_F(BenchTest, TextReportAndPlainProgressLines) {
  RunResult r = RunBench({"--endpoint=" + server_->address(),
                          "--workload=batch", "--batch-ops=5",
                          "--duration=1500ms", "--warmup=0s", "--progress=on"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Not a terminal: progress comes as plain lines (no \r), then the block.
  EXPECT_EQ(r.out.find('\r'), std::string::npos);
  EXPECT_THAT(r.out, HasSubstr("batch inflight=64  1s measuring"));
  EXPECT_THAT(r.out, HasSubstr("ops/s  errors 0"));
  EXPECT_THAT(r.out, HasSubstr("batch inflight=64 channels=4 durability=sync"));
  EXPECT_THAT(r.out, HasSubstr("  throughput  "));
  EXPECT_THAT(r.out, HasSubstr("keys/s"));
  EXPECT_THAT(r.out, HasSubstr("  latency us  p50 "));
  EXPECT_THAT(r.out, HasSubstr(" p99.9 "));
  EXPECT_THAT(r.out, HasSubstr("  errors      0\n"));
  EXPECT_THAT(r.out, HasSubstr("  client CPU  "));
  // Without --progress (auto) and not on a terminal: no progress at all.
  RunResult quiet =
      RunBench({"--endpoint=" + server_->address(), "--workload=noop",
                "--duration=1200ms", "--warmup=0s"});
  ASSERT_EQ(quiet.exit_code, 0) << quiet.err;
  EXPECT_THAT(quiet.out, ::testing::Not(HasSubstr("measuring")));
}

// --- auth: every request carries the token ---

constexpr char kWriteToken[] = "bench-write-token-0123456789";

class BenchAuthTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    token_dir_ = MakeTempDir("cairn-bench-auth-");
    WriteFile(token_dir_ + "/tokens",
              absl::StrCat("write ", kWriteToken, "\n"));
    CairndOptions o;
    o.args = {"--durability=async", "--auth_tokens=" + token_dir_ + "/tokens"};
    StartSuiteServer(std::move(o));
  }
  static void TearDownTestSuite() {
    CairndSuite::TearDownTestSuite();
    std::error_code ec;
    std::filesystem::remove_all(token_dir_, ec);
  }

  static inline std::string token_dir_;
};

TEST_F(BenchAuthTest, WorkloadsSucceedWithTheToken) {
  for (const char* workload : {"put", "scan", "tail"}) {
    RunResult r = RunBench({"--endpoint=" + server_->address(),
                            absl::StrCat("--token=", kWriteToken),
                            absl::StrCat("--workload=", workload), "--json",
                            "--duration=500ms", "--warmup=0s", "--keys=100",
                            "--rate=500"});
    EXPECT_EQ(r.exit_code, 0) << workload << ": " << r.err << r.out;
    std::vector<Level> levels = ParseLevels(r.out);
    ASSERT_EQ(levels.size(), 1u) << workload;
    EXPECT_EQ(Num(levels[0], "errors"), 0)
        << workload << ": " << Str(levels[0], "first_error");
    EXPECT_GT(Num(levels[0], "ops"), 0) << workload;
  }
}

TEST_F(BenchAuthTest, WithoutTheTokenEveryRequestFailsAndExitIsOne) {
  RunResult r =
      RunBench({"--endpoint=" + server_->address(), "--json", "--workload=put",
                "--duration=500ms", "--warmup=0s", "--inflight=4"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  std::vector<Level> levels = ParseLevels(r.out);
  ASSERT_EQ(levels.size(), 1u) << r.out;
  const Level& l = levels[0];
  EXPECT_EQ(Num(l, "ops"), 0);
  EXPECT_GT(Num(l, "errors"), 0);
  EXPECT_EQ(l.fields()
                .at("errors_by_code")
                .struct_value()
                .fields()
                .at("UNAUTHENTICATED")
                .number_value(),
            Num(l, "errors"));
  EXPECT_THAT(Str(l, "first_error"), HasSubstr("UNAUTHENTICATED"));
  EXPECT_THAT(r.err, HasSubstr("not valid"));
}

}  // namespace
}  // namespace cairn::test
