// cairnd: the Cairn key-value database server.
//
// Signals: the first SIGTERM or SIGINT starts a graceful shutdown (see
// server.h); a second one during it exits at once (status 1). Under systemd
// (NOTIFY_SOCKET set) it reports through sd_notify (systemd_notifier.h):
// READY=1 once serving, STOPPING=1 when the shutdown begins, STATUS= lines,
// and WATCHDOG=1 at half the watchdog interval while its housekeeping thread
// is alive.
// Exit status: 0 after a clean shutdown, 1 if the engine failed to close
// cleanly, 2 on a bad configuration or a failed start.
//
// cairnd --verify [--data_dir=DIR] checks the database offline instead
// (storage::VerifyDatabase): prints the report on stdout and exits 0 if it
// found no corruption (torn tails a crash leaves are listed but tolerated),
// 1 on corruption, 2 if DIR holds no database or a running cairnd has it
// open (verify refuses rather than read files that change under it).
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/storage/verify.h"
#include "config.h"
#include "log.h"
#include "server.h"
#include "systemd_notifier.h"

namespace {

int Verify(const cairn::server::ServerConfig& config) {
  cairn::storage::VerifyOptions options;
  options.fs = config.engine.fs;
  absl::StatusOr<cairn::storage::VerifyReport> report =
      cairn::storage::VerifyDatabase(config.data_dir, options);
  if (!report.ok()) {
    fprintf(stderr, "cairnd --verify: %s\n",
            std::string(report.status().message()).c_str());
    return 2;
  }
  fputs(report->ToString().c_str(), stdout);
  return report->corrupt() ? 1 : 0;
}

// The housekeeping thread beats once a second; this much silence means
// cairnd is wedged.
constexpr absl::Duration kWedgedAfter = absl::Seconds(5);

}  // namespace

int main(int argc, char** argv) {
  // Debian's Abseil checks every absl::Mutex acquisition for lock-order
  // cycles, updating one graph under one global lock, and gRPC locks
  // absl::Mutex throughout: about 2% of cairnd's CPU under durable Put load
  // went to that bookkeeping (GraphCycles in a perf profile). It is a
  // debugging aid; our tests check lock order with TSan.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  absl::StatusOr<cairn::server::ServerConfig> config =
      cairn::server::LoadConfig(argc, argv);
  if (!config.ok()) {
    fprintf(stderr, "cairnd: %s\n",
            std::string(config.status().message()).c_str());
    return 2;
  }
  if (config->verify) return Verify(*config);

  // Signals are taken synchronously by this thread only: block them before
  // any other thread starts so that every thread inherits the mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  cairn::server::SystemdNotifier systemd;
  systemd.Starting(absl::StrCat(
      "opening the database in ", config->data_dir,
      config->replica.primary.empty()
          ? ""
          : absl::StrCat(" (replica of ", config->replica.primary, ")")));
  absl::StatusOr<std::unique_ptr<cairn::server::Server>> server =
      cairn::server::Server::Start(*config);
  if (!server.ok()) {
    cairn::server::LogError(
        "start failed", {{"error", std::string(server.status().message())}});
    return 2;
  }
  const std::string serving = absl::StrCat(
      "serving gRPC on ", config->listen,
      config->metrics_listen.empty()
          ? ""
          : absl::StrCat(", metrics on ", config->metrics_listen),
      config->replica.primary.empty()
          ? ""
          : absl::StrCat(", replica of ", config->replica.primary));
  systemd.Ready(serving);

  // The main thread waits for a signal. Under a systemd watchdog it wakes at
  // half the interval and pets the watchdog, but only while the server's
  // housekeeping thread keeps beating: a wedged engine (a stuck lock) stops
  // the pings, and systemd restarts cairnd.
  const absl::Duration watchdog = systemd.watchdog_interval();
  const absl::Duration tick =
      watchdog > absl::ZeroDuration() ? watchdog / 2 : absl::Seconds(1);
  const timespec tick_ts = absl::ToTimespec(tick);
  bool wedged = false;
  bool read_only = false;
  int sig = 0;
  for (;;) {
    sig = sigtimedwait(&signals, nullptr, &tick_ts);
    if (sig > 0) break;
    const absl::Duration since_beat = absl::Now() - (*server)->LastHeartbeat();
    if (since_beat > kWedgedAfter) {
      if (!wedged) {
        cairn::server::LogError(
            "housekeeping has stalled; not petting the systemd watchdog",
            {{"since", absl::FormatDuration(since_beat)}});
        systemd.Status("wedged: housekeeping has stalled");
        wedged = true;
      }
      continue;
    }
    if (wedged) {
      cairn::server::LogInfo("housekeeping runs again");
      systemd.Status(serving);
      wedged = false;
    }
    if (!read_only && (*server)->EngineReadOnly()) {
      systemd.Status(
          "engine read-only after a background error (see log); "
          "reads are served");
      read_only = true;
    }
    if (watchdog > absl::ZeroDuration()) systemd.Watchdog();
  }
  cairn::server::LogInfo("signal received", {{"signal", strsignal(sig)}});
  systemd.Stopping(
      config->shutdown_grace,
      absl::StrCat("draining calls (grace ",
                   absl::FormatDuration(config->shutdown_grace), ")"));

  // A second signal forces the exit while the drain runs.
  std::thread forcer([&signals] {
    int second = 0;
    sigwait(&signals, &second);
    cairn::server::LogWarn("second signal: exiting without a clean shutdown");
    _exit(1);
  });
  forcer.detach();  // still waiting when main returns; exit ends it
  absl::Status closed = (*server)->Shutdown();
  server->reset();
  if (!closed.ok()) return 1;
  cairn::server::LogInfo("stopped");
  return 0;
}
