// cairnd: the Cairn key-value database server.
//
// Signals: the first SIGTERM or SIGINT starts a graceful shutdown (see
// server.h); a second one during it exits at once (status 1). Under systemd
// (NOTIFY_SOCKET set) it sends READY=1 once serving, STOPPING=1 when the
// shutdown begins, and WATCHDOG=1 at half the watchdog interval.
// Exit status: 0 after a clean shutdown, 1 if the engine failed to close
// cleanly, 2 on a bad configuration or a failed start.
//
// cairnd --verify [--data_dir=DIR] checks the database offline instead
// (storage::VerifyDatabase): prints the report on stdout and exits 0 if it
// found no corruption (torn tails a crash leaves are listed but tolerated),
// 1 on corruption, 2 if DIR holds no database or a running cairnd has it
// open (verify refuses rather than read files that change under it).
#include <signal.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cstdio>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "cairn/storage/verify.h"
#include "config.h"
#include "log.h"
#include "server.h"

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

void Notify(const char* state) {
  // A no-op without NOTIFY_SOCKET.
  sd_notify(0, state);
}

}  // namespace

int main(int argc, char** argv) {
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

  absl::StatusOr<std::unique_ptr<cairn::server::Server>> server =
      cairn::server::Server::Start(*config);
  if (!server.ok()) {
    cairn::server::LogError(
        "start failed", {{"error", std::string(server.status().message())}});
    return 2;
  }
  Notify("READY=1");

  uint64_t watchdog_usec = 0;
  bool watchdog =
      sd_watchdog_enabled(0, &watchdog_usec) > 0 && watchdog_usec > 0;
  timespec tick{1, 0};
  if (watchdog) {
    uint64_t half = watchdog_usec / 2;
    tick.tv_sec = static_cast<time_t>(half / 1000000);
    tick.tv_nsec = static_cast<long>((half % 1000000) * 1000);
  }
  int sig = 0;
  for (;;) {
    sig = sigtimedwait(&signals, nullptr, &tick);
    if (sig > 0) break;
    if (watchdog) Notify("WATCHDOG=1");
  }
  cairn::server::LogInfo("signal received", {{"signal", strsignal(sig)}});
  Notify("STOPPING=1");

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
