// SystemdNotifier: cairnd's side of systemd's service notification protocol
// (sd_notify(3)) for a Type=notify unit.
//
//   Starting()  STATUS= while the engine opens; every 10 s, for at most an
//               hour, EXTEND_TIMEOUT_USEC= so that a long WAL replay or a
//               replica's bootstrap is not killed by TimeoutStartSec=
//   Ready()     READY=1 and a STATUS= line saying where cairnd serves
//   Watchdog()  WATCHDOG=1, sent by the caller at half of WatchdogSec=
//   Status()    STATUS= (shown by `systemctl status`)
//   Stopping()  STOPPING=1, and EXTEND_TIMEOUT_USEC= covering the drain
//
// Without NOTIFY_SOCKET in the environment (not run by systemd) every call
// does nothing.
//
// Thread-safety: all calls from one thread (cairnd's main); the extender
// thread started by Starting() is joined by Ready() or the destructor.
#ifndef CAIRN_SERVER_SYSTEMD_NOTIFIER_H_
#define CAIRN_SERVER_SYSTEMD_NOTIFIER_H_

#include <string>
#include <thread>

#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

namespace cairn::server {

class SystemdNotifier {
 public:
  SystemdNotifier();  // reads NOTIFY_SOCKET and WATCHDOG_USEC
  ~SystemdNotifier();
  SystemdNotifier(const SystemdNotifier&) = delete;
  SystemdNotifier& operator=(const SystemdNotifier&) = delete;

  bool enabled() const { return enabled_; }
  // The unit's WatchdogSec= (zero: no watchdog).
  absl::Duration watchdog_interval() const { return watchdog_; }

  void Starting(const std::string& status);
  void Ready(const std::string& status);
  void Watchdog();
  void Status(const std::string& status);
  // `drain` is how long the shutdown may take; systemd's stop timeout is
  // extended by it plus a margin for closing the engine.
  void Stopping(absl::Duration drain, const std::string& status);

 private:
  void Send(const std::string& state);
  void StopExtender();

  bool enabled_ = false;
  absl::Duration watchdog_ = absl::ZeroDuration();
  absl::Notification started_;
  std::thread extender_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_SYSTEMD_NOTIFIER_H_
