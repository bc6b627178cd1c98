// MetricsHttpServer: the plain-HTTP side of cairnd, for Prometheus and for
// load balancers or orchestrators probing liveness:
//
//   GET /metrics  200, Content-Type "text/plain; version=0.0.4", the body of
//                 Metrics::RenderText()
//   GET /healthz  200 "ok\n" while health().first is true; otherwise 503
//                 with health().second and a newline
//   anything else 404 (405 for another method on the two paths above)
//
// It runs on civetweb with a few threads of its own, so a slow scrape never
// takes a gRPC thread. It is not meant to face untrusted networks: there is
// no TLS or authentication, so listen on loopback or a private interface.
//
// Thread-safety: `health` is called from the HTTP threads, possibly
// concurrently, and must be thread-safe. Destruction stops serving and waits
// for requests in progress, after which neither `metrics` nor `health` is
// called again.
#ifndef CAIRN_SERVER_METRICS_HTTP_H_
#define CAIRN_SERVER_METRICS_HTTP_H_

#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "metrics.h"

struct mg_context;
struct mg_connection;

namespace cairn::server {

class MetricsHttpServer {
 public:
  using HealthFn = std::function<std::pair<bool, std::string>()>;

  // Starts serving on `listen`, "host:port" with a numeric IPv4 host, an
  // IPv6 one in brackets ("[::1]:7071"), "localhost", or an empty host for
  // every interface (":7071"). Port 0 picks a free port (see port()).
  // InvalidArgument for a malformed address, Unavailable if it cannot bind.
  // `metrics` must outlive the server.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(
      const std::string& listen, Metrics* metrics, HealthFn health);

  // Whether the HTTP library was built with IPv6. Debian 12's civetweb is
  // not: a bracketed IPv6 address then gets InvalidArgument saying so.
  static bool SupportsIpv6();

  ~MetricsHttpServer();  // stops serving

  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // The port actually listened on.
  int port() const { return port_; }

 private:
  MetricsHttpServer(Metrics* metrics, HealthFn health);

  // civetweb's request callback; `self` is the server.
  static int HandleRequest(mg_connection* conn, void* self);
  int Handle(mg_connection* conn);

  // Connects to the listener and hangs up at once, to wake civetweb's
  // accept loop (see the destructor).
  void Poke() const;

  Metrics* const metrics_;
  const HealthFn health_;
  mg_context* context_ = nullptr;
  std::string host_;  // the numeric host listened on; "" for every interface
  int port_ = 0;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_METRICS_HTTP_H_
