// cairnd's systemd notifications: with NOTIFY_SOCKET set it sends STATUS=
// and EXTEND_TIMEOUT_USEC= while opening, READY=1 once serving, WATCHDOG=1
// at half of WATCHDOG_USEC while its housekeeping thread is alive, and
// STOPPING=1 with a stop-timeout extension when a shutdown begins. The test
// plays systemd: it listens on a datagram socket.
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"

namespace cairn::test {
namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    bound_ = bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    timeval tv{0, 100 * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  bool bound() const { return bound_; }

  // Collects messages until one contains `want` or `timeout` passes.
  bool WaitFor(const std::string& want, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) continue;
      messages_.emplace_back(buf, n);
      if (absl::StrContains(messages_.back(), want)) return true;
    }
    return false;
  }
  // Collects messages for `d`; the number that contain `want`.
  int CountDuring(const std::string& want, absl::Duration d) {
    const size_t first = messages_.size();
    const absl::Time until = absl::Now() + d;
    while (absl::Now() < until) {
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) messages_.emplace_back(buf, n);
    }
    int count = 0;
    for (size_t i = first; i < messages_.size(); ++i) {
      count += absl::StrContains(messages_[i], want) ? 1 : 0;
    }
    return count;
  }
  // The first message that contains `want` ("" if none).
  std::string Find(const std::string& want) const {
    for (const auto& m : messages_) {
      if (absl::StrContains(m, want)) return m;
    }
    return "";
  }
  int Count(const std::string& want) const {
    int n = 0;
    for (const auto& m : messages_) n += absl::StrContains(m, want) ? 1 : 0;
    return n;
  }

 private:
  std::string path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> messages_;
};

// A cairnd started as systemd would start it with WatchdogSec=200ms: with
// NOTIFY_SOCKET naming the test's socket and WATCHDOG_USEC set.
class SdNotify : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("cairn-notify-");
    sock_ = std::make_unique<NotifySocket>(dir_ + "/notify.sock");
    ASSERT_TRUE(sock_->bound());
    // The child inherits these; this test binary runs no other cairnd.
    setenv("NOTIFY_SOCKET", (dir_ + "/notify.sock").c_str(), 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    auto server = CairndProcess::Start();
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    sock_.reset();  // closed before its directory goes
    std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<NotifySocket> sock_;
  std::unique_ptr<CairndProcess> server_;
};

TEST_F(SdNotify, ReadyWatchdogStopping) {
  NotifySocket& sock = *sock_;
  CairndProcess* server = server_.get();

  EXPECT_TRUE(sock.WaitFor("READY=1", absl::Seconds(10)));
  // Opening: a status and a start-timeout extension; then where it serves.
  EXPECT_TRUE(absl::StrContains(sock.Find("STATUS=opening the database in"),
                                "EXTEND_TIMEOUT_USEC=30000000"))
      << sock.Find("STATUS=opening");
  const std::string ready = sock.Find("READY=1");
  EXPECT_TRUE(absl::StrContains(
      ready, absl::StrCat("STATUS=serving gRPC on ", server->address())))
      << ready;
  // Half of 200 ms: several pings within a second.
  ASSERT_TRUE(sock.WaitFor("WATCHDOG=1", absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(600));
  sock.WaitFor("WATCHDOG=1", absl::Seconds(1));
  sock.WaitFor("WATCHDOG=1", absl::Seconds(1));
  EXPECT_GE(sock.Count("WATCHDOG=1"), 3);

  kill(server->pid(), SIGTERM);
  EXPECT_TRUE(sock.WaitFor("STOPPING=1", absl::Seconds(10)));
  // The stop timeout is extended by the grace period (10 s) plus 60 s.
  EXPECT_TRUE(absl::StrContains(sock.Find("STOPPING=1"),
                                "EXTEND_TIMEOUT_USEC=70000000"))
      << sock.Find("STOPPING=1");
  // Wait for the exit without a second signal (that would force it).
  absl::StatusOr<int> st = server->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << server->Log();
}

// The thread id of `pid`'s thread named `name` (0 if none).
pid_t ThreadNamed(pid_t pid, const std::string& name) {
  const std::string tasks = absl::StrCat("/proc/", pid, "/task");
  std::error_code ec;
  for (const auto& e : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream comm(e.path() / "comm");
    std::string line;
    if (std::getline(comm, line) && line == name) {
      return static_cast<pid_t>(std::stol(e.path().filename().string()));
    }
  }
  return 0;
}

// A wedged cairnd must stop petting the watchdog so that systemd restarts
// it. The test freezes only the housekeeping thread (ptrace stops one
// thread; gRPC and the main thread run on): the pings stop, and come back
// once the thread runs again.
TEST_F(SdNotify, WatchdogStopsWhileHousekeepingIsStuck) {
  NotifySocket& sock = *sock_;
  CairndProcess* server = server_.get();
  ASSERT_TRUE(sock.WaitFor("READY=1", absl::Seconds(10)));
  ASSERT_GE(sock.CountDuring("WATCHDOG=1", absl::Seconds(1)), 5);

  const pid_t tid = ThreadNamed(server->pid(), "cairn-housekeep");
  ASSERT_NE(tid, 0);
  ASSERT_EQ(ptrace(PTRACE_SEIZE, tid, nullptr, nullptr), 0) << strerror(errno);
  ASSERT_EQ(ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr), 0);
  int st = 0;
  ASSERT_EQ(waitpid(tid, &st, __WALL), tid);
  ASSERT_TRUE(WIFSTOPPED(st));
  // The heartbeat goes stale after 5 s: then no ping for a whole second
  // (5 would have come), and a status line that says why.
  bool silent = false;
  for (absl::Time until = absl::Now() + absl::Seconds(15);
       !silent && absl::Now() < until;) {
    silent = sock.CountDuring("WATCHDOG=1", absl::Seconds(1)) == 0;
  }
  EXPECT_TRUE(silent) << "pings went on while housekeeping was stopped";
  EXPECT_NE(sock.Find("STATUS=wedged"), "");
  ASSERT_EQ(ptrace(PTRACE_DETACH, tid, nullptr, nullptr), 0);

  // Running again: pings resume within a few ticks.
  EXPECT_TRUE(sock.WaitFor("WATCHDOG=1", absl::Seconds(5)));
  EXPECT_GE(sock.CountDuring("WATCHDOG=1", absl::Seconds(1)), 3);
  EXPECT_TRUE(absl::StrContains(server->Log(), "housekeeping runs again"))
      << server->Log();

  kill(server->pid(), SIGTERM);
  absl::StatusOr<int> exit = server->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(exit.ok()) << exit.status();
  EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << server->Log();
}

}  // namespace
}  // namespace cairn::test
