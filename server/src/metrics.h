// Metrics: cairnd's Prometheus metrics, rendered in text format 0.0.4 for
// the /metrics endpoint (metrics_http.h). docs/metrics.md lists every
// family: name, type, labels, unit and meaning.
//
// Three sources feed one exposition:
//  - The engine. Its counters, histograms and point-in-time figures
//    (storage::Statistics, DB::GetStats, the WAL's LogStats) are read at
//    scrape time by a collector, so the write path never touches a
//    Prometheus object. What the engine only reports as events (compaction
//    count and duration per level, writers waiting in a stall, background
//    errors) comes from listener(), which keeps its own tallies.
//  - The server. Per-RPC counters and latency histograms with the
//    grpc_server_* names and labels of go-grpc-prometheus (updated by the
//    interceptor from NewRpcMetricsInterceptorFactory), open streams by kind,
//    and cairn_build_info, live in registry().
//  - The process. CPU, memory, file descriptors and start time, read from
//    /proc/self at scrape time under the standard process_* names.
//
// Engine series exist only while a DB is attached: between AttachDb(db) and
// AttachDb(nullptr). The listener's own tallies survive a detach and show
// again once a DB is attached, so they never go backwards within a process.
//
// Thread-safety: every method may be called concurrently from any thread.
// AttachDb(nullptr) waits for a scrape that is reading the DB, so that the
// caller may close the DB as soon as it returns.
#ifndef CAIRN_SERVER_METRICS_H_
#define CAIRN_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "cairn/storage/db.h"
#include "cairn/storage/event_listener.h"
#include "grpcpp/support/server_interceptor.h"
#include "grpcpp/support/status.h"
#include "prometheus/counter.h"
#include "prometheus/family.h"
#include "prometheus/gauge.h"
#include "prometheus/histogram.h"
#include "prometheus/metric_family.h"
#include "prometheus/registry.h"

namespace cairn::server {

class Metrics {
 public:
  // `version` is the value of cairn_build_info's version label; empty: the
  // version CMake generated into version.h.
  explicit Metrics(std::string version = "");
  ~Metrics();

  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Listener to put into storage::Options::listeners before DB::Open. Owned
  // by this object, which must outlive the DB.
  storage::EventListener* listener();

  // Starts (db != nullptr) or stops (nullptr) reading engine figures at
  // scrape time. Call AttachDb(nullptr) before the DB is closed: later
  // scrapes show no engine series.
  void AttachDb(storage::DB* db);

  // Per-RPC metrics. `service` is the full service name ("cairn.v1.KV"),
  // `method` the method ("Put"), `type` one of "unary", "client_stream",
  // "server_stream", "bidi_stream". At most 256 distinct methods get their
  // own series; later ones are counted as service and method "other".
  void RpcStarted(std::string_view service, std::string_view method,
                  std::string_view type);
  void RpcHandled(std::string_view service, std::string_view method,
                  std::string_view type, grpc::StatusCode code,
                  absl::Duration latency);

  // Streams currently open, by kind ("scan", "txn", "tail"; the three are
  // always exported, others appear on first use).
  void StreamOpened(std::string_view kind);
  void StreamClosed(std::string_view kind);

  // Read-only error state of the engine, as the server sees it (the server
  // polls DB::GetStats().background_error), with the error as the reason.
  // The exported cairn_engine_background_error is 1 if this, DB::GetStats()
  // or the listener says so. AttachDb clears it.
  void SetEngineReadOnly(bool read_only, std::string reason = "");
  bool engine_read_only() const;
  std::string engine_read_only_reason() const;

  // A source of families computed at scrape time (e.g. per-consumer Tail
  // lag), included in Collect until removed. RemoveCollector waits for a
  // scrape that is running it.
  using Collector = std::function<std::vector<prometheus::MetricFamily>()>;
  int AddCollector(Collector collector);
  void RemoveCollector(int id);

  // Every family (registry, engine, process, collectors), sorted by name.
  std::vector<prometheus::MetricFamily> Collect() const;
  // The same in the Prometheus text format 0.0.4.
  std::string RenderText() const;

  // Server-side families. Callers may add their own (they then appear in
  // RenderText); their names must not collide with the ones above.
  prometheus::Registry& registry() { return *registry_; }

 private:
  class EngineListener;
  friend class RpcMetricsInterceptor;

  // The grpc_server_* series of one (service, method, type). Lives as long
  // as the Metrics; the counters per code are created on first use.
  struct MethodMetrics {
    prometheus::Counter* started = nullptr;
    prometheus::Histogram* handling_seconds = nullptr;
    std::array<std::atomic<prometheus::Counter*>, 17> handled{};
    prometheus::Labels labels;  // grpc_service, grpc_method, grpc_type
  };

  // Finds or creates the series of a method (a shared lock on the hot path:
  // creation is once per method). Past 256 distinct methods, further ones
  // share the series of service and method "other", so that clients calling
  // made-up method names cannot grow the exposition without bound.
  MethodMetrics* ForMethod(std::string_view service, std::string_view method,
                           std::string_view type);
  void CountHandled(MethodMetrics* m, grpc::StatusCode code,
                    absl::Duration latency);
  prometheus::Gauge* StreamGauge(std::string_view kind);

  // Engine series, read from the attached DB; empty when none is.
  std::vector<prometheus::MetricFamily> CollectEngine() const;

  std::unique_ptr<prometheus::Registry> registry_;
  std::unique_ptr<EngineListener> listener_;

  prometheus::Family<prometheus::Counter>* started_family_;
  prometheus::Family<prometheus::Counter>* handled_family_;
  prometheus::Family<prometheus::Histogram>* handling_family_;
  prometheus::Family<prometheus::Gauge>* streams_family_;

  mutable std::shared_mutex methods_mu_;
  std::unordered_map<std::string, std::unique_ptr<MethodMetrics>> methods_
      ABSL_GUARDED_BY(methods_mu_);
  std::unordered_map<std::string, prometheus::Gauge*> streams_
      ABSL_GUARDED_BY(methods_mu_);

  // Held while a scrape reads the DB, so that AttachDb(nullptr) cannot
  // return while it does.
  mutable std::mutex db_mu_;
  storage::DB* db_ ABSL_GUARDED_BY(db_mu_) = nullptr;

  std::atomic<bool> engine_read_only_{false};
  mutable std::mutex read_only_mu_;
  std::string read_only_reason_ ABSL_GUARDED_BY(read_only_mu_);

  mutable std::mutex collectors_mu_;  // held while collectors run
  std::map<int, Collector> collectors_ ABSL_GUARDED_BY(collectors_mu_);
  int next_collector_ ABSL_GUARDED_BY(collectors_mu_) = 0;
};

// A server interceptor factory that counts every RPC of the server
// (health and reflection included) in `metrics`: started when the call
// arrives, handled with its status code and latency when the status is
// sent (CANCELLED if the call ends without one). `metrics` must outlive the
// server. Register it with
//   builder.experimental().SetInterceptorCreators(...)
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
NewRpcMetricsInterceptorFactory(Metrics* metrics);

// "OK", "INVALID_ARGUMENT", ...: the grpc_code label of a status code.
std::string_view GrpcCodeName(grpc::StatusCode code);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_METRICS_H_
