#include "cairnd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "grpc/health/v1/health.grpc.pb.h"

namespace cairn::test {

std::string CairndPath() {
  if (const char* p = getenv("CAIRND")) return p;
  return CAIRND_PATH;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return -1;
  }
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

std::string MakeTempDir(const std::string& prefix) {
  std::string tmpl = absl::StrCat(
      std::filesystem::temp_directory_path().string(), "/", prefix, "XXXXXX");
  char* d = mkdtemp(tmpl.data());
  return d == nullptr ? "" : std::string(d);
}

void WriteFile(const std::string& path, const std::string& contents) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << contents;
}

int RunShell(const std::string& command) {
  int rc = system(command.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
}

CairndProcess::CairndProcess(CairndOptions options)
    : options_(std::move(options)) {}

CairndProcess::~CairndProcess() {
  if (pid_ > 0) Kill();
  if (!temp_root_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(temp_root_, ec);
  }
}

absl::StatusOr<std::unique_ptr<CairndProcess>> CairndProcess::Start(
    CairndOptions options) {
  std::unique_ptr<CairndProcess> p(new CairndProcess(std::move(options)));
  p->temp_root_ = MakeTempDir("cairnd-test-");
  p->log_path_ = p->temp_root_ + "/cairnd.log";
  p->data_dir_ = p->options_.data_dir.empty() ? p->temp_root_ + "/data"
                                              : p->options_.data_dir;
  // A port that was free when chosen can be taken by another test before
  // cairnd binds it: then start again on new ports.
  absl::Status s;
  for (int attempt = 0; attempt < 5; ++attempt) {
    p->address_ = absl::StrCat("127.0.0.1:", FreePort());
    p->metrics_ = absl::StrCat("127.0.0.1:", FreePort());
    s = p->Launch();
    if (s.ok()) return p;
    const bool port_taken =
        s.message().find("Address already in use") != std::string_view::npos ||
        s.message().find("address in use") != std::string_view::npos;
    if (!p->options_.wait_ready || !port_taken) return s;
    std::ofstream(p->log_path_, std::ios::trunc).close();
  }
  return s;
}

absl::Status CairndProcess::Restart() {
  if (pid_ > 0) return absl::FailedPreconditionError("still running");
  return Launch();
}

absl::Status CairndProcess::Launch() {
  std::vector<std::string> args = {CairndPath(), "--listen=" + address_,
                                   "--metrics_listen=" + metrics_,
                                   "--data_dir=" + data_dir_};
  for (const std::string& a : options_.args) args.push_back(a);
  // posix_spawn, not fork: fork would run gRPC's fork handlers in this
  // process, which wait for its in-flight calls to quiesce.
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 2, log_path_.c_str(),
                                   O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&actions, 2, 1);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("posix_spawn ", argv[0], ": ", strerror(rc)));
  }
  pid_ = pid;
  if (!options_.wait_ready) return absl::OkStatus();
  absl::Status s = WaitReady();
  if (!s.ok()) {
    std::string log = Log();
    Kill();
    return absl::Status(s.code(),
                        absl::StrCat(s.message(), "\n--- cairnd log:\n", log));
  }
  return absl::OkStatus();
}

std::shared_ptr<grpc::Channel> CairndProcess::Channel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  // Reconnect quickly: a test channel often connects while cairnd starts.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 250);
  if (options_.tls_ca_file.empty()) {
    return grpc::CreateCustomChannel(address_,
                                     grpc::InsecureChannelCredentials(), args);
  }
  auto read = [](const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read(options_.tls_ca_file);
  if (!options_.tls_client_cert_file.empty()) {
    ssl.pem_cert_chain = read(options_.tls_client_cert_file);
    ssl.pem_private_key = read(options_.tls_client_key_file);
  }
  // Certificates in the tests are issued for "localhost".
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(address_, grpc::SslCredentials(ssl), args);
}

absl::Status CairndProcess::WaitReady() {
  absl::Time deadline = absl::Now() + options_.start_timeout;
  while (absl::Now() < deadline) {
    // A fresh channel each time: a channel that failed to connect waits out
    // its reconnect backoff (seconds) before trying again.
    auto stub = grpc::health::v1::Health::NewStub(Channel());
    if (!Running()) {
      return absl::InternalError("cairnd exited during start");
    }
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    grpc::health::v1::HealthCheckRequest req;
    grpc::health::v1::HealthCheckResponse resp;
    grpc::Status s = stub->Check(&ctx, req, &resp);
    if (s.ok() &&
        resp.status() == grpc::health::v1::HealthCheckResponse::SERVING) {
      return absl::OkStatus();
    }
    usleep(20 * 1000);
  }
  return absl::DeadlineExceededError("cairnd did not become SERVING");
}

bool CairndProcess::Running() {
  if (pid_ <= 0) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

absl::StatusOr<int> CairndProcess::Stop(int sig, absl::Duration timeout) {
  if (pid_ <= 0) return absl::FailedPreconditionError("not running");
  kill(pid_, sig);
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return status;
    }
    usleep(10 * 1000);
  }
  return absl::DeadlineExceededError("cairnd did not exit in time");
}

absl::Status CairndProcess::StopCleanly(absl::Duration timeout) {
  absl::StatusOr<int> st = Stop(SIGTERM, timeout);
  if (!st.ok()) return st.status();
  if (!WIFEXITED(*st) || WEXITSTATUS(*st) != 0) {
    return absl::InternalError(absl::StrCat("cairnd ended with wait status ",
                                            *st, "\n--- cairnd log:\n", Log()));
  }
  return absl::OkStatus();
}

void CairndProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int status = 0;
  waitpid(pid_, &status, 0);
  pid_ = -1;
}

std::string CairndProcess::Log() const {
  std::ifstream f(log_path_);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

absl::StatusOr<std::pair<int, std::string>> CairndProcess::HttpGet(
    const std::string& path) const {
  std::vector<std::string> hp = absl::StrSplit(metrics_, ':');
  int port = 0;
  if (hp.size() != 2 || !absl::SimpleAtoi(hp[1], &port)) {
    return absl::InvalidArgumentError("bad metrics address");
  }
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, hp[0].c_str(), &addr.sin_addr);
  timeval tv{10, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    close(fd);
    return absl::UnavailableError("connect to the metrics port failed");
  }
  std::string req = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: ", metrics_,
                                 "\r\nConnection: close\r\n\r\n");
  if (write(fd, req.data(), req.size()) != static_cast<ssize_t>(req.size())) {
    close(fd);
    return absl::UnavailableError("write failed");
  }
  std::string resp;
  char buf[65536];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) resp.append(buf, n);
  close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  size_t sp = resp.find(' ');
  size_t body = resp.find("\r\n\r\n");
  int code = 0;
  if (sp == std::string::npos || body == std::string::npos ||
      !absl::SimpleAtoi(resp.substr(sp + 1, 3), &code)) {
    return absl::InternalError(absl::StrCat("bad HTTP response: ", resp));
  }
  return std::make_pair(code, resp.substr(body + 4));
}

}  // namespace cairn::test
