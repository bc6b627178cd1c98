// The reports of `cairn bench` (client/bench/report.h) for a level with
// errors: the text names every code and says INVALID; the JSON is valid (a
// server's error message can hold any byte) and carries the counts.
#include "report.h"

#include <string>

#include "absl/strings/match.h"
#include "gmock/gmock.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "level_result.h"

namespace cairn::bench {
namespace {

LevelResult ResultWithErrors() {
  LevelResult r;
  r.inflight = 8;
  r.window_s = 2;
  r.ops = 1000;
  r.writes = 1000;
  r.keys = 1000;
  for (int i = 1; i <= 100; ++i) r.latency.Add(static_cast<uint64_t>(i) * 1000);
  r.errors.Add(14, "connection reset \"by peer\"\n\x01\xff");
  r.errors.Add(14, "again");
  r.errors.Add(16, "no token");
  r.client_cores = 0.25;
  return r;
}

TEST(ReportTest, TextNamesEveryErrorCodeAndSaysInvalid) {
  BenchConfig c;
  c.workload = Workload::kPut;
  const std::string text = TextReport(c, "127.0.0.1:7070", ResultWithErrors());
  EXPECT_THAT(text, ::testing::HasSubstr("put inflight=8 channels=4 "
                                         "durability=sync"));
  EXPECT_THAT(text, ::testing::HasSubstr("throughput  500.0 ops/s"));
  // Interpolated inside a bucket: within its 3%.
  EXPECT_THAT(text, ::testing::HasSubstr("latency us  p50 50."));
  EXPECT_THAT(text, ::testing::HasSubstr(
                        "errors      3 (UNAUTHENTICATED 1, UNAVAILABLE 2)"));
  // The message's control characters escaped, on the block's one line.
  EXPECT_THAT(
      text, ::testing::HasSubstr("first: UNAVAILABLE: connection reset \\\"by "
                                 "peer\\\"\\n\\x01\\xff\n"));
  EXPECT_THAT(text, ::testing::HasSubstr("INVALID"));
}

TEST(ReportTest, JsonIsValidWithAnyBytesInTheErrors) {
  BenchConfig c;
  c.workload = Workload::kGet;
  const std::string json = JsonReport(c, "h:1", ResultWithErrors());
  ASSERT_TRUE(absl::EndsWith(json, "}\n"));
  EXPECT_EQ(json.find('\n'), json.size() - 1) << "one line";
  google::protobuf::Struct s;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json, &s).ok())
      << json;
  const auto& f = s.fields();
  EXPECT_EQ(f.at("workload").string_value(), "get");
  EXPECT_EQ(f.at("durability").string_value(), "-");
  EXPECT_EQ(f.at("ops_per_s").number_value(), 500);
  EXPECT_EQ(f.at("errors").number_value(), 3);
  const auto& by_code = f.at("errors_by_code").struct_value().fields();
  EXPECT_EQ(by_code.at("UNAVAILABLE").number_value(), 2);
  EXPECT_EQ(by_code.at("UNAUTHENTICATED").number_value(), 1);
  EXPECT_EQ(f.at("first_error").string_value(),
            "UNAVAILABLE: connection reset \"by peer\"\n\x01\u00ff");
}

TEST(ReportTest, JsonStringEscapes) {
  EXPECT_EQ(JsonString("a\"b\\c"), R"("a\"b\\c")");
  EXPECT_EQ(JsonString("\n\t"), R"("\u000a\u0009")");
  EXPECT_EQ(JsonString(""), R"("")");
}

}  // namespace
}  // namespace cairn::bench
