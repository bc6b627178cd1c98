// Shared by the `cairn` CLI tests: a fixture that starts a fresh cairnd for
// each test (so every test sees an empty database, whether ctest runs it
// alone or the binary runs them all) and runs `cairn` against it; and JSON
// helpers that parse the CLI's --json output with protobuf's JSON parser
// (google.protobuf.Struct), so a malformed document fails the test.
#ifndef CAIRN_TESTS_CLIENT_CLI_CLI_TEST_UTIL_H_
#define CAIRN_TESTS_CLIENT_CLI_CLI_TEST_UTIL_H_

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "cairnd_process.h"
#include "cli_runner.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace cairn::test {

using google::protobuf::Struct;
using google::protobuf::Value;

// Parses one JSON object; a parse error is a test failure (and an empty
// Struct).
inline Struct Json(const std::string& text) {
  Struct s;
  auto status = google::protobuf::util::JsonStringToMessage(text, &s);
  EXPECT_TRUE(status.ok()) << "not a JSON object: '" << text
                           << "': " << status.ToString();
  return s;
}

// One object per non-empty line.
inline std::vector<Struct> JsonLines(const std::string& text) {
  std::vector<Struct> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    out.push_back(Json(std::string(line)));
  }
  return out;
}

inline bool Has(const Struct& s, const std::string& field) {
  return s.fields().contains(field);
}
inline const Value& Field(const Struct& s, const std::string& field) {
  static const Value kMissing;
  auto it = s.fields().find(field);
  EXPECT_TRUE(it != s.fields().end()) << "no field '" << field << "'";
  return it == s.fields().end() ? kMissing : it->second;
}
inline std::string Str(const Struct& s, const std::string& field) {
  return Field(s, field).string_value();
}
inline double Num(const Struct& s, const std::string& field) {
  return Field(s, field).number_value();
}
inline bool Bool(const Struct& s, const std::string& field) {
  return Field(s, field).bool_value();
}

// The lines of `text`, without the newlines.
inline std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

class CliTest : public ::testing::Test {
 protected:
  // Extra cairnd flags for the suite.
  virtual std::vector<std::string> ServerArgs() const {
    return {"--durability=async"};
  }

  void SetUp() override {
    CairndOptions o;
    o.args = ServerArgs();
    auto p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = std::move(*p);
  }

  void TearDown() override {
    if (!temp_dir_.empty()) std::filesystem::remove_all(temp_dir_);
  }

  // A temporary directory for the test's files, removed after the test.
  const std::string& TempDir() const {
    if (temp_dir_.empty()) temp_dir_ = MakeTempDir("cairn-cli-test-");
    return temp_dir_;
  }

  // Runs cairn with CAIRN_ENDPOINT set to the test's server (unless the
  // options set it).
  CliResult Cairn(const std::vector<std::string>& args,
                  CliOptions options = {}) {
    options.env.emplace("CAIRN_ENDPOINT", server_->address());
    return RunCli(args, options);
  }
  // As Cairn, with `input` on stdin.
  CliResult CairnIn(const std::vector<std::string>& args,
                    const std::string& input) {
    CliOptions o;
    o.stdin_data = input;
    return Cairn(args, o);
  }
  std::unique_ptr<CliProcess> StartCairn(const std::vector<std::string>& args,
                                         CliOptions options = {}) {
    options.env.emplace("CAIRN_ENDPOINT", server_->address());
    return CliProcess::Start(args, options);
  }

  // `cairn ARGS` must exit `code`; returns its stdout.
  std::string Expect(int code, const std::vector<std::string>& args) {
    CliResult r = Cairn(args);
    EXPECT_EQ(r.exit_code, code) << r;
    return r.out;
  }
  // `cairn ARGS --json` must exit `code` and print one JSON object.
  Struct ExpectJson(int code, std::vector<std::string> args) {
    args.push_back("--json");
    return Json(Expect(code, args));
  }

  std::unique_ptr<CairndProcess> server_;
  mutable std::string temp_dir_;
};

}  // namespace cairn::test

#endif  // CAIRN_TESTS_CLIENT_CLI_CLI_TEST_UTIL_H_
