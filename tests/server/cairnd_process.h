// CairndProcess: runs the real cairnd binary for an integration test, on free
// loopback ports with a temporary data dir, and waits until its health
// service says SERVING. The process's stderr goes to a log file that tests
// can read (and that is printed when a start fails).
//
// Not thread-safe; one object per test.
#ifndef CAIRN_TESTS_SERVER_CAIRND_PROCESS_H_
#define CAIRN_TESTS_SERVER_CAIRND_PROCESS_H_

#include <sys/types.h>

#include <csignal>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "grpcpp/grpcpp.h"

namespace cairn::test {

struct CairndOptions {
  // Data directory; empty = a fresh temporary one (removed by the object).
  std::string data_dir;
  // Extra flags, e.g. "--durability=async".
  std::vector<std::string> args;
  // TLS: channels made by Channel() use these when set.
  std::string tls_ca_file;
  std::string tls_client_cert_file;
  std::string tls_client_key_file;
  // Wait for SERVING at most this long.
  absl::Duration start_timeout = absl::Seconds(60);
  // Do not wait for SERVING (for tests of failing starts).
  bool wait_ready = true;
};

class CairndProcess {
 public:
  ~CairndProcess();

  // Starts cairnd; fails if it exits or is not SERVING in time.
  static absl::StatusOr<std::unique_ptr<CairndProcess>> Start(
      CairndOptions options = {});

  const std::string& address() const { return address_; }          // host:port
  const std::string& metrics_address() const { return metrics_; }  // host:port
  const std::string& data_dir() const { return data_dir_; }
  pid_t pid() const { return pid_; }

  // A new channel to the server (TLS if the options asked for it).
  std::shared_ptr<grpc::Channel> Channel() const;

  // Sends `sig` (0: none, just wait) and waits for the exit; returns the
  // wait status (as from waitpid), or an error if it did not exit in time.
  absl::StatusOr<int> Stop(int sig = SIGTERM,
                           absl::Duration timeout = absl::Seconds(60));
  // SIGTERM; OK if cairnd then exits with status 0 in time, else an error
  // with its log.
  absl::Status StopCleanly(absl::Duration timeout = absl::Seconds(60));
  // SIGKILL and reap.
  void Kill();
  // Whether the process is still running.
  bool Running();

  // Everything cairnd wrote to stderr so far.
  std::string Log() const;

  // Restart on the same data dir and ports (after Stop or Kill).
  absl::Status Restart();

  // HTTP GET on the metrics port; returns the status code and body.
  absl::StatusOr<std::pair<int, std::string>> HttpGet(
      const std::string& path) const;

 private:
  explicit CairndProcess(CairndOptions options);
  absl::Status Launch();
  absl::Status WaitReady();

  CairndOptions options_;
  std::string address_;
  std::string metrics_;
  std::string data_dir_;
  std::string temp_root_;  // removed in the destructor when non-empty
  std::string log_path_;
  pid_t pid_ = -1;
};

// Path of the cairnd binary under test.
std::string CairndPath();
// A loopback TCP port that was free a moment ago.
int FreePort();
// A new empty temporary directory.
std::string MakeTempDir(const std::string& prefix);
// Writes a file (for configs, tokens).
void WriteFile(const std::string& path, const std::string& contents);
// Runs a shell command; returns its exit code.
int RunShell(const std::string& command);

}  // namespace cairn::test

#endif  // CAIRN_TESTS_SERVER_CAIRND_PROCESS_H_
