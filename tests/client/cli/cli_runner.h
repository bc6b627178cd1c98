// Runs the `cairn` binary under test as a child process: arguments, bytes
// for its standard input, environment changes; captures stdout and stderr
// separately and the exit code. Every wait is bounded: a run that outlives
// its timeout is killed (SIGKILL) and reported as timed out.
//
//   CliResult r = RunCli({"get", "--endpoint", addr, "k"});
//   EXPECT_EQ(r.exit_code, 0) << r;
//
// CliProcess is the asynchronous form, for `cairn tail` (wait for output
// while other commands write) and the interactive `cairn txn` (feed lines
// one at a time). Not thread-safe; one test thread drives each object.
#ifndef CAIRN_TESTS_CLIENT_CLI_CLI_RUNNER_H_
#define CAIRN_TESTS_CLIENT_CLI_CLI_RUNNER_H_

#include <sys/types.h>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/time/time.h"

namespace cairn::test {

struct CliOptions {
  // Written to the child's stdin, which is then closed (unless
  // keep_stdin_open, for CliProcess::WriteStdin).
  std::string stdin_data;
  bool keep_stdin_open = false;
  // Variables to set; every CAIRN_* variable of the test's own environment
  // is removed first so that runs do not depend on it.
  std::map<std::string, std::string> env;
  absl::Duration timeout = absl::Seconds(30);
};

struct CliResult {
  int exit_code = -1;  // -1: killed by a signal or timed out
  bool timed_out = false;
  std::string out;
  std::string err;
};
std::ostream& operator<<(std::ostream& os, const CliResult& r);

class CliProcess {
 public:
  static std::unique_ptr<CliProcess> Start(const std::vector<std::string>& args,
                                           const CliOptions& options = {});
  ~CliProcess();  // kills the child if it still runs

  void WriteStdin(const std::string& data);
  void CloseStdin();
  // Waits until stdout contains `text`; false after `timeout`.
  bool WaitForOutput(const std::string& text, absl::Duration timeout);
  // How many complete lines stdout holds now.
  size_t OutputLines();
  // Waits for the exit (killing the child after `timeout`).
  CliResult Wait(absl::Duration timeout);

 private:
  CliProcess() = default;
  void ReadLoop();

  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  int stdout_fd_ = -1;
  int stderr_fd_ = -1;
  std::mutex mu_;
  std::condition_variable cv_;
  std::string out_;
  std::string err_;
  bool eof_ = false;
  std::thread reader_;
};

// Runs to completion (bounded by options.timeout).
CliResult RunCli(const std::vector<std::string>& args,
                 const CliOptions& options = {});

// Path of the cairn binary under test.
std::string CairnPath();

}  // namespace cairn::test

#endif  // CAIRN_TESTS_CLIENT_CLI_CLI_RUNNER_H_
