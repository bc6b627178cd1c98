// cairnd's systemd notifications: with NOTIFY_SOCKET set it sends READY=1
// once serving, WATCHDOG=1 at half of WATCHDOG_USEC, and STOPPING=1 when a
// shutdown begins. The test plays systemd: it listens on a datagram socket.
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "absl/strings/match.h"
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

TEST(SdNotify, ReadyWatchdogStopping) {
  std::string dir = MakeTempDir("cairn-notify-");
  struct RemoveDir {
    std::string path;
    ~RemoveDir() { std::filesystem::remove_all(path); }
  } remove_dir{dir};  // declared first: runs after the socket is closed
  NotifySocket sock(dir + "/notify.sock");
  ASSERT_TRUE(sock.bound());
  // The child inherits these; this test binary runs no other cairnd.
  setenv("NOTIFY_SOCKET", (dir + "/notify.sock").c_str(), 1);
  setenv("WATCHDOG_USEC", "200000", 1);
  auto server = CairndProcess::Start();
  unsetenv("NOTIFY_SOCKET");
  unsetenv("WATCHDOG_USEC");
  ASSERT_TRUE(server.ok()) << server.status();

  EXPECT_TRUE(sock.WaitFor("READY=1", absl::Seconds(10)));
  // Half of 200 ms: several pings within a second.
  ASSERT_TRUE(sock.WaitFor("WATCHDOG=1", absl::Seconds(5)));
  absl::SleepFor(absl::Milliseconds(600));
  sock.WaitFor("WATCHDOG=1", absl::Seconds(1));
  sock.WaitFor("WATCHDOG=1", absl::Seconds(1));
  EXPECT_GE(sock.Count("WATCHDOG=1"), 3);

  kill((*server)->pid(), SIGTERM);
  EXPECT_TRUE(sock.WaitFor("STOPPING=1", absl::Seconds(10)));
  // Wait for the exit without a second signal (that would force it).
  absl::StatusOr<int> st = (*server)->Stop(0, absl::Seconds(30));
  ASSERT_TRUE(st.ok()) << st.status();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << (*server)->Log();
}

}  // namespace
}  // namespace cairn::test
