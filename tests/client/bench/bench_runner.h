// Running `cairn bench` from a test: the real `cairn` binary (its path is
// CAIRN_CLI_PATH, set by the build) through the shell, with its exit code,
// stdout and stderr, and the JSON objects of a --json run.
//
// Not thread-safe: one run at a time per test.
#ifndef CAIRN_TESTS_CLIENT_BENCH_BENCH_RUNNER_H_
#define CAIRN_TESTS_CLIENT_BENCH_BENCH_RUNNER_H_

#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cairnd_process.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"

namespace cairn::test {

struct RunResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
  double seconds = 0;
};

// Runs `cairn bench ARGS` (bounded by `timeout` so that a hang fails the
// test instead of stalling it).
inline RunResult RunBench(const std::vector<std::string>& args,
                          int timeout_s = 60) {
  const std::string dir = MakeTempDir("cairn-bench-test-");
  const std::string err_file = dir + "/stderr";
  std::string command =
      absl::StrCat("timeout ", timeout_s, " '", CAIRN_CLI_PATH, "' bench");
  for (const std::string& a : args) absl::StrAppend(&command, " '", a, "'");
  absl::StrAppend(&command, " 2>'", err_file, "'");
  RunResult r;
  const absl::Time start = absl::Now();
  FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n = 0;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) r.out.append(buf, n);
  const int status = pclose(p);
  r.seconds = absl::ToDoubleSeconds(absl::Now() - start);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (FILE* e = fopen(err_file.c_str(), "r")) {
    while ((n = fread(buf, 1, sizeof(buf), e)) > 0) r.err.append(buf, n);
    fclose(e);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return r;
}

using Level = google::protobuf::Struct;

// The JSON objects of a --json run, one per stdout line; a line that is not
// a JSON object fails the test.
inline std::vector<Level> ParseLevels(const std::string& out) {
  std::vector<Level> levels;
  for (const std::string& line :
       std::vector<std::string>(absl::StrSplit(out, '\n', absl::SkipEmpty()))) {
    Level l;
    auto s = google::protobuf::util::JsonStringToMessage(line, &l);
    EXPECT_TRUE(s.ok()) << "not a JSON object: " << line;
    levels.push_back(l);
  }
  return levels;
}

inline double Num(const Level& l, const std::string& field) {
  auto it = l.fields().find(field);
  EXPECT_TRUE(it != l.fields().end()) << "no field " << field;
  return it == l.fields().end() ? -1 : it->second.number_value();
}

inline std::string Str(const Level& l, const std::string& field) {
  auto it = l.fields().find(field);
  EXPECT_TRUE(it != l.fields().end()) << "no field " << field;
  return it == l.fields().end() ? "" : it->second.string_value();
}

}  // namespace cairn::test

#endif  // CAIRN_TESTS_CLIENT_BENCH_BENCH_RUNNER_H_
