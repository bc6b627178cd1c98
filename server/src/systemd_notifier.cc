#include "systemd_notifier.h"

#include <systemd/sd-daemon.h>

#include <cstdint>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace cairn::server {
namespace {

// Each extension during startup asks for this much more time, and is
// renewed well before it runs out.
constexpr absl::Duration kStartExtension = absl::Seconds(30);
constexpr absl::Duration kStartRenewEvery = absl::Seconds(10);
// Startup is never extended beyond this: a start that takes longer is
// wedged, and systemd's timeout should end it.
constexpr absl::Duration kStartExtensionLimit = absl::Hours(1);
// Closing the engine after the drain: the WAL sync and file closes.
constexpr absl::Duration kCloseMargin = absl::Seconds(60);

std::string ExtendTimeout(absl::Duration d) {
  return absl::StrCat("EXTEND_TIMEOUT_USEC=", absl::ToInt64Microseconds(d));
}

}  // namespace

SystemdNotifier::SystemdNotifier() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  enabled_ = socket != nullptr && *socket != '\0';
  uint64_t usec = 0;
  if (enabled_ && sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = absl::Microseconds(static_cast<int64_t>(usec));
  }
}

SystemdNotifier::~SystemdNotifier() { StopExtender(); }

void SystemdNotifier::Send(const std::string& state) {
  if (enabled_) sd_notify(0, state.c_str());
}

void SystemdNotifier::Starting(const std::string& status) {
  if (!enabled_ || extender_.joinable()) return;
  Send(absl::StrCat("STATUS=", status, "\n", ExtendTimeout(kStartExtension)));
  extender_ = std::thread([this] {
    const absl::Time limit = absl::Now() + kStartExtensionLimit;
    while (!started_.WaitForNotificationWithTimeout(kStartRenewEvery) &&
           absl::Now() < limit) {
      Send(ExtendTimeout(kStartExtension));
    }
  });
}

void SystemdNotifier::StopExtender() {
  if (!extender_.joinable()) return;
  started_.Notify();
  extender_.join();
}

void SystemdNotifier::Ready(const std::string& status) {
  StopExtender();
  Send(absl::StrCat("READY=1\nSTATUS=", status));
}

void SystemdNotifier::Watchdog() { Send("WATCHDOG=1"); }

void SystemdNotifier::Status(const std::string& status) {
  Send(absl::StrCat("STATUS=", status));
}

void SystemdNotifier::Stopping(absl::Duration drain,
                               const std::string& status) {
  StopExtender();
  Send(absl::StrCat("STOPPING=1\nSTATUS=", status, "\n",
                    ExtendTimeout(drain + kCloseMargin)));
}

}  // namespace cairn::server
