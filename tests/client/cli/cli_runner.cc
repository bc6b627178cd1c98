#include "cli_runner.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

extern char** environ;

namespace cairn::test {

std::string CairnPath() {
  if (const char* p = std::getenv("CAIRN_CLI")) return p;
  return CAIRN_CLI_PATH;
}

std::ostream& operator<<(std::ostream& os, const CliResult& r) {
  return os << "exit " << r.exit_code << (r.timed_out ? " (timed out)" : "")
            << "\n--- stdout:\n"
            << r.out << "\n--- stderr:\n"
            << r.err;
}

std::unique_ptr<CliProcess> CliProcess::Start(
    const std::vector<std::string>& args, const CliOptions& options) {
  std::unique_ptr<CliProcess> p(new CliProcess());
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(out, O_CLOEXEC) != 0 ||
      pipe2(err, O_CLOEXEC) != 0) {
    return nullptr;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);

  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!absl::StartsWith(*e, "CAIRN_")) env_strings.push_back(*e);
  }
  for (const auto& [k, v] : options.env) {
    env_strings.push_back(absl::StrCat(k, "=", v));
  }
  std::vector<char*> envp;
  envp.reserve(env_strings.size() + 1);
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::vector<std::string> argv_strings = {CairnPath()};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  argv.reserve(argv_strings.size() + 1);
  for (std::string& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);

  int rc = posix_spawn(&p->pid_, argv[0], &actions, nullptr, argv.data(),
                       envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(in[0]);
  close(out[1]);
  close(err[1]);
  p->stdin_fd_ = in[1];
  p->stdout_fd_ = out[0];
  p->stderr_fd_ = err[0];
  if (rc != 0) {
    p->pid_ = -1;
    p->err_ = absl::StrCat("posix_spawn ", argv[0], ": ", strerror(rc));
    p->CloseStdin();
    close(p->stdout_fd_);
    close(p->stderr_fd_);
    p->stdout_fd_ = p->stderr_fd_ = -1;
    p->eof_ = true;
    return p;
  }
  // A child that exits without reading stdin must not kill the test.
  signal(SIGPIPE, SIG_IGN);
  p->reader_ = std::thread([raw = p.get()] { raw->ReadLoop(); });
  if (!options.stdin_data.empty()) p->WriteStdin(options.stdin_data);
  if (!options.keep_stdin_open) p->CloseStdin();
  return p;
}

CliProcess::~CliProcess() {
  CloseStdin();
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  if (reader_.joinable()) reader_.join();
}

void CliProcess::ReadLoop() {
  pollfd fds[2] = {{stdout_fd_, POLLIN, 0}, {stderr_fd_, POLLIN, 0}};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      ssize_t n = read(fds[i].fd, buf, sizeof(buf));
      if (n <= 0) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
        continue;
      }
      std::lock_guard<std::mutex> lock(mu_);
      (i == 0 ? out_ : err_).append(buf, static_cast<size_t>(n));
      cv_.notify_all();
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  eof_ = true;
  cv_.notify_all();
}

void CliProcess::WriteStdin(const std::string& data) {
  size_t done = 0;
  while (stdin_fd_ >= 0 && done < data.size()) {
    ssize_t n = write(stdin_fd_, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // the child closed its stdin
    done += static_cast<size_t>(n);
  }
}

void CliProcess::CloseStdin() {
  if (stdin_fd_ >= 0) close(stdin_fd_);
  stdin_fd_ = -1;
}

bool CliProcess::WaitForOutput(const std::string& text,
                               absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, absl::ToChronoMilliseconds(timeout), [&] {
    return out_.find(text) != std::string::npos || eof_;
  }) && out_.find(text) != std::string::npos;
}

size_t CliProcess::OutputLines() {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (char c : out_) n += c == '\n';
  return n;
}

CliResult CliProcess::Wait(absl::Duration timeout) {
  CliResult r;
  CloseStdin();
  if (pid_ > 0) {
    const absl::Time deadline = absl::Now() + timeout;
    int status = 0;
    pid_t done = 0;
    while ((done = waitpid(pid_, &status, WNOHANG)) == 0 &&
           absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    if (done == 0) {
      r.timed_out = true;
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
    }
    pid_ = -1;
    r.exit_code = !r.timed_out && WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  if (reader_.joinable()) reader_.join();
  std::lock_guard<std::mutex> lock(mu_);
  r.out = out_;
  r.err = err_;
  return r;
}

CliResult RunCli(const std::vector<std::string>& args,
                 const CliOptions& options) {
  std::unique_ptr<CliProcess> p = CliProcess::Start(args, options);
  if (p == nullptr) return CliResult{};
  return p->Wait(options.timeout);
}

}  // namespace cairn::test
