#include "metrics_http.h"

#include <civetweb.h>
#include <netdb.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace cairn::server {
namespace {

// Scrapes and probes are short; a few threads keep a slow scraper from
// blocking health probes without costing much.
constexpr char kThreads[] = "4";
constexpr char kRequestTimeoutMs[] = "10000";

const char* ReasonPhrase(int code) {
  switch (code) {
    case 200:
      return "OK";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Error";
  }
}

// Writes a whole response; the connection closes after it, since scrapers
// come back every few seconds at most.
int Respond(mg_connection* conn, int code, std::string_view content_type,
            std::string_view body, bool head_only) {
  const std::string head = absl::StrCat(
      "HTTP/1.1 ", code, " ", ReasonPhrase(code), "\r\nContent-Type: ",
      absl::string_view(content_type.data(), content_type.size()),
      "\r\nContent-Length: ", body.size(),
      "\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n");
  mg_write(conn, head.data(), head.size());
  if (!head_only && !body.empty()) mg_write(conn, body.data(), body.size());
  return code;
}

// civetweb's messages while Start runs on this thread, to explain a failure
// better than mg_start2's summary does ("cannot bind to ...: Address already
// in use").
thread_local std::string* start_log = nullptr;

int LogMessage(const mg_connection*, const char* message) {
  if (start_log != nullptr && message != nullptr) {
    if (!start_log->empty()) start_log->append("; ");
    start_log->append(message);
  }
  return 1;  // handled: do not print
}

// Turns "host:port" into civetweb's listening_ports syntax; sets *host to
// the host part ("" for every interface) and *port.
absl::StatusOr<std::string> ListeningPorts(const std::string& listen,
                                           std::string* host_out, int* port) {
  const size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics listen address \"", listen, "\" is not host:port"));
  }
  std::string host = listen.substr(0, colon);
  const std::string port_text = listen.substr(colon + 1);
  if (port_text.empty() ||
      port_text.find_first_not_of("0123456789") != std::string::npos ||
      !absl::SimpleAtoi(port_text, port) || *port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address \"", listen, "\" has a bad port"));
  }
  if (host == "localhost") host = "127.0.0.1";
  // An IPv6 host must be bracketed, or its colons would be ambiguous.
  if (host.find(':') != std::string::npos &&
      (host.front() != '[' || host.back() != ']')) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics listen address \"", listen,
                     "\": write an IPv6 host in brackets, e.g. [::1]:7071"));
  }
  // Say so, rather than pass on civetweb's "invalid port spec".
  if (!host.empty() && host.front() == '[' &&
      !MetricsHttpServer::SupportsIpv6()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metrics listen address \"", listen,
        "\": this build's HTTP server (civetweb) has no IPv6; listen on an "
        "IPv4 address such as 0.0.0.0:",
        port_text));
  }
  *host_out = host;
  return host.empty() ? port_text : absl::StrCat(host, ":", port_text);
}

}  // namespace

bool MetricsHttpServer::SupportsIpv6() {
  constexpr unsigned kCivetwebIpv6 = 8;  // mg_check_feature's bit for IPv6
  return mg_check_feature(kCivetwebIpv6) != 0;
}

MetricsHttpServer::MetricsHttpServer(Metrics* metrics, HealthFn health)
    : metrics_(metrics), health_(std::move(health)) {}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& listen, Metrics* metrics, HealthFn health) {
  std::string host;
  int requested_port = 0;
  absl::StatusOr<std::string> ports =
      ListeningPorts(listen, &host, &requested_port);
  if (!ports.ok()) return ports.status();

  static std::once_flag init_once;
  std::call_once(init_once, [] { mg_init_library(0); });

  std::unique_ptr<MetricsHttpServer> server(
      new MetricsHttpServer(metrics, std::move(health)));
  const char* options[] = {"listening_ports",
                           ports->c_str(),
                           "num_threads",
                           kThreads,
                           "request_timeout_ms",
                           kRequestTimeoutMs,
                           "enable_keep_alive",
                           "no",
                           nullptr};
  mg_callbacks callbacks;
  std::memset(&callbacks, 0, sizeof(callbacks));
  // civetweb would print connection-level errors (a scraper hanging up) on
  // stderr, which belongs to cairnd's own log; a failed start is reported
  // through the returned status instead.
  callbacks.log_message = &LogMessage;
  mg_init_data init{};
  init.callbacks = &callbacks;
  init.user_data = server.get();
  init.configuration_options = options;
  char error_text[256] = {};
  unsigned error_code = 0;
  mg_error_data error{};
  error.code = &error_code;
  error.text = error_text;
  error.text_buffer_size = sizeof(error_text);
  std::string log;
  start_log = &log;
  server->context_ = mg_start2(&init, &error);
  start_log = nullptr;
  if (server->context_ == nullptr) {
    // The log names the cause; the summary repeats the last of it.
    std::string why = log.empty() ? error_text : log;
    const std::string summary = absl::StrCat("; ", error_text);
    if (why.size() > summary.size() &&
        why.compare(why.size() - summary.size(), summary.size(), summary) ==
            0) {
      why.resize(why.size() - summary.size());
    }
    if (why.empty()) why = "civetweb could not start";
    return absl::UnavailableError(
        absl::StrCat("cannot serve metrics on ", listen, ": ", why));
  }
  // "**" matches every path, so that the answer to unknown ones is ours.
  mg_set_request_handler(server->context_, "**", &HandleRequest, server.get());

  mg_server_port listening[4] = {};
  const int n = mg_get_server_ports(server->context_, 4, listening);
  server->port_ = n > 0 ? listening[0].port : requested_port;
  server->host_ = std::move(host);
  return server;
}

MetricsHttpServer::~MetricsHttpServer() {
  if (context_ == nullptr) return;
  // mg_stop joins civetweb's threads, after which no handler runs. Its
  // accept loop only looks at the stop flag between polls of up to 2 s, so
  // connections are made until it returns: each one ends the poll at once.
  std::atomic<bool> stopped{false};
  std::thread stopper([this, &stopped] {
    mg_stop(context_);
    stopped.store(true);
  });
  for (int i = 0; !stopped.load() && i < 200; ++i) {
    Poke();
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  stopper.join();
}

void MetricsHttpServer::Poke() const {
  std::string host = host_;
  if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
  if (host == "[::]") host = "[::1]";
  if (host.size() > 1 && host.front() == '[') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  addrinfo* addrs = nullptr;
  if (getaddrinfo(host.c_str(), std::to_string(port_).c_str(), &hints,
                  &addrs) != 0) {
    return;
  }
  const int fd = socket(addrs->ai_family, addrs->ai_socktype | SOCK_CLOEXEC, 0);
  if (fd >= 0) {
    (void)connect(fd, addrs->ai_addr, addrs->ai_addrlen);
    close(fd);
  }
  freeaddrinfo(addrs);
}

int MetricsHttpServer::HandleRequest(mg_connection* conn, void* self) {
  return static_cast<MetricsHttpServer*>(self)->Handle(conn);
}

int MetricsHttpServer::Handle(mg_connection* conn) {
  const mg_request_info* info = mg_get_request_info(conn);
  const std::string_view path =
      info->local_uri != nullptr ? info->local_uri : "";
  const std::string_view method =
      info->request_method != nullptr ? info->request_method : "";
  const bool head = method == "HEAD";
  constexpr std::string_view kText = "text/plain; charset=utf-8";
  if (path != "/metrics" && path != "/healthz") {
    return Respond(conn, 404, kText, "not found\n", head);
  }
  if (method != "GET" && !head) {
    return Respond(conn, 405, kText, "only GET and HEAD\n", false);
  }
  if (path == "/metrics") {
    return Respond(conn, 200, "text/plain; version=0.0.4; charset=utf-8",
                   metrics_->RenderText(), head);
  }
  const auto [healthy, why] =
      health_ ? health_() : std::pair<bool, std::string>(true, "");
  if (healthy) return Respond(conn, 200, kText, "ok\n", head);
  return Respond(conn, 503, kText, why + "\n", head);
}

}  // namespace cairn::server
