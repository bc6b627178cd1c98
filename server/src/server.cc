#include "server.h"

#include <pthread.h>
#include <sys/statvfs.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "admin_service.h"
#include "auth.h"
#include "consumer_registry.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "kv_service.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "prometheus/client_metric.h"
#include "prometheus/metric_family.h"
#include "replica_follower.h"
#include "replication_service.h"
#include "request_log.h"
#include "service_env.h"
#include "tail_metrics.h"
#include "tail_reactor.h"
#include "version.h"

namespace cairn::server {
namespace {

// A family of one sample without labels.
prometheus::MetricFamily OneSample(std::string name, std::string help,
                                   prometheus::MetricType type, double value) {
  prometheus::ClientMetric m;
  if (type == prometheus::MetricType::Counter) {
    m.counter.value = value;
  } else {
    m.gauge.value = value;
  }
  return prometheus::MetricFamily{std::move(name), std::move(help), type, {m}};
}

// Space on the data dir's file system, read at scrape time, and the
// --min_free_disk_bytes threshold below which writes are refused: what a
// disk-full alert compares.
std::vector<prometheus::MetricFamily> DataDirFamilies(const std::string& dir,
                                                      uint64_t min_free) {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> out;
  struct statvfs st;
  if (statvfs(dir.c_str(), &st) == 0) {
    const double unit = static_cast<double>(st.f_frsize);
    out.push_back(
        OneSample("cairn_data_dir_free_bytes",
                  "bytes available to cairnd on the data dir's file system",
                  MetricType::Gauge, static_cast<double>(st.f_bavail) * unit));
    out.push_back(OneSample(
        "cairn_data_dir_size_bytes", "size of the data dir's file system",
        MetricType::Gauge, static_cast<double>(st.f_blocks) * unit));
  }
  out.push_back(OneSample("cairn_min_free_disk_bytes",
                          "writes are refused below this much free space "
                          "(--min_free_disk_bytes; 0 = never)",
                          MetricType::Gauge, static_cast<double>(min_free)));
  return out;
}

// The replica series (docs/metrics.md, "Read replicas").
std::vector<prometheus::MetricFamily> ReplicaFamilies(
    const ReplicaFollower& follower) {
  const ReplicaStatus s = follower.Status();
  using prometheus::MetricType;
  return {
      OneSample("cairn_replica_connected",
                "1 while the replica streams from its primary",
                MetricType::Gauge, s.connected ? 1 : 0),
      OneSample("cairn_replica_applied_sequence",
                "last sequence the replica applied", MetricType::Gauge,
                static_cast<double>(s.applied_seq)),
      OneSample("cairn_replica_primary_sequence",
                "the primary's last committed sequence, as last seen",
                MetricType::Gauge, static_cast<double>(s.primary_seq)),
      OneSample(
          "cairn_replica_lag_sequences",
          "sequences the primary committed that the replica has not applied",
          MetricType::Gauge, static_cast<double>(s.lag_seqs)),
      OneSample("cairn_replica_lag_seconds",
                "age of the newest applied commit while the replica is behind",
                MetricType::Gauge, s.lag_seconds),
      OneSample("cairn_replica_applied_batches_total",
                "batches applied from the primary", MetricType::Counter,
                static_cast<double>(s.applied_batches)),
      OneSample("cairn_replica_reconnects_total",
                "times the stream to the primary ended and was opened again",
                MetricType::Counter, static_cast<double>(s.reconnects)),
      OneSample("cairn_replica_out_of_range",
                "1 when the primary no longer holds what the replica needs (it "
                "must be bootstrapped again)",
                MetricType::Gauge, s.out_of_range ? 1 : 0),
  };
}

// Puts the server into the engine's read-only error state once the engine
// reports a background error (a failed WAL write, flush or compaction; it
// lasts until a restart): metrics and /healthz say so, gRPC health turns
// NOT_SERVING for the server as a whole ("") and for cairn.v1.KV, whose
// writes now fail (its reads are still served), while cairn.v1.Admin and
// cairn.v1.Replication (Tail) stay SERVING. Logs one error line.
void ReportEngineErrorState(storage::DB* db, Metrics* metrics,
                            grpc::Server* grpc) {
  if (metrics->engine_read_only()) return;  // reported already
  const absl::Status error = db->GetStats().background_error;
  if (error.ok()) return;
  metrics->SetEngineReadOnly(true, error.ToString());
  LogError(
      "engine is read-only after a background error; writes fail, "
      "reads are served; restart cairnd once the cause is fixed",
      {{"error", error.ToString()}});
  grpc::HealthCheckServiceInterface* health = grpc->GetHealthCheckService();
  health->SetServingStatus("", false);
  health->SetServingStatus("cairn.v1.KV", false);
}

bool IsLoopback(const std::string& addr) {
  return absl::StartsWith(addr, "127.") ||
         absl::StartsWith(addr, "localhost:") ||
         absl::StartsWith(addr, "[::1]:") || absl::StartsWith(addr, "unix:");
}

}  // namespace

Server::Server(const ServerConfig& config) : config_(config) {}

absl::StatusOr<std::unique_ptr<Server>> Server::Start(
    const ServerConfig& config) {
  std::unique_ptr<Server> server(new Server(config));
  absl::Status s = server->Init();
  if (!s.ok()) {
    server->Shutdown().IgnoreError();
    return s;
  }
  return server;
}

absl::Status Server::Init() {
  SetLogLevel(config_.log_level);
  const absl::Time started = absl::Now();
  // Before anything is served, so the warning is in the log by then.
  if (!IsLoopback(config_.listen) && config_.tls_cert_file.empty()) {
    LogWarn(
        "listening beyond loopback without TLS: traffic and tokens are "
        "readable on the network",
        {{"listen", config_.listen}});
  }

  std::unique_ptr<TokenAuth> auth;
  if (!config_.auth_tokens_file.empty()) {
    absl::StatusOr<std::unique_ptr<TokenAuth>> a =
        TokenAuth::LoadFile(config_.auth_tokens_file);
    if (!a.ok()) return a.status();
    auth = std::move(*a);
  }
  absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> creds =
      MakeServerCredentials(config_);
  if (!creds.ok()) return creds.status();

  metrics_ = std::make_unique<Metrics>();
  storage::Options options = config_.engine;
  options.listeners.push_back(metrics_->listener());
  std::error_code ec;
  std::filesystem::create_directories(config_.data_dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("setting 'data_dir': cannot create ", config_.data_dir,
                     ": ", ec.message()));
  }
  std::unique_ptr<PrimaryStream> primary_stream;
  if (!config_.replica.primary.empty()) {
    absl::Status s = ReplicaFollower::BootstrapIfEmpty(
        config_.replica, options, config_.data_dir, &primary_stream);
    if (!s.ok()) return s;
  }
  absl::StatusOr<std::unique_ptr<storage::DB>> db =
      storage::DB::Open(options, config_.data_dir);
  if (!db.ok()) {
    return absl::Status(db.status().code(),
                        absl::StrCat("opening ", config_.data_dir, ": ",
                                     db.status().message()));
  }
  db_ = std::move(*db);
  metrics_->AttachDb(db_.get());
  LogInfo("engine open", {{"data_dir", config_.data_dir},
                          {"last_seq", absl::StrCat(db_->LastSequence())}});

  env_ = std::make_unique<ServiceEnv>(db_.get(), config_, std::move(auth),
                                      metrics_.get());
  kv_ = std::make_unique<KvService>(env_.get());
  admin_ = std::make_unique<AdminService>(env_.get(), started);
  absl::StatusOr<std::unique_ptr<ConsumerRegistry>> consumers =
      ConsumerRegistry::Open(options.fs, config_.data_dir, db_.get(),
                             config_.tail.max_consumers);
  if (!consumers.ok()) return consumers.status();
  consumers_ = std::move(*consumers);
  metrics_->AddCollector(
      [dir = config_.data_dir, min_free = config_.engine.min_free_disk_bytes] {
        return DataDirFamilies(dir, min_free);
      });
  tail_metrics_ = std::make_unique<TailMetrics>(metrics_.get(), db_.get(),
                                                consumers_.get());
  tail_shared_ = std::make_unique<TailShared>();
  tail_shared_->env = env_.get();
  tail_shared_->consumers = consumers_.get();
  tail_shared_->metrics = tail_metrics_.get();
  tail_shared_->settings = config_.tail;
  replication_ = std::make_unique<ReplicationService>(tail_shared_.get());
  if (!config_.replica.primary.empty()) {
    follower_ = std::make_unique<ReplicaFollower>(config_.replica, db_.get(),
                                                  std::move(primary_stream));
    env_->set_replica(follower_.get());
    replica_collector_ = metrics_->AddCollector(
        [follower = follower_.get()] { return ReplicaFamilies(*follower); });
    LogInfo("following the primary",
            {{"primary", config_.replica.primary},
             {"from_seq", absl::StrCat(db_->LastSequence() + 1)}});
  }

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config_.listen, *creds, &port_);
  builder.SetMaxReceiveMessageSize(
      static_cast<int>(config_.limits.max_message_bytes));
  builder.SetMaxSendMessageSize(
      static_cast<int>(config_.limits.max_message_bytes));
  // Health and reflection are synchronous services; their pollers wake this
  // often, which bounds how long shutdown waits for them (default: 10 s).
  builder.SetSyncServerOption(
      grpc::ServerBuilder::SyncServerOption::CQ_TIMEOUT_MSEC, 100);
  builder.RegisterService(kv_.get());
  builder.RegisterService(admin_.get());
  builder.RegisterService(replication_.get());
  std::vector<
      std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>
      interceptors;
  interceptors.push_back(NewRpcMetricsInterceptorFactory(metrics_.get()));
  if (config_.log_requests)
    interceptors.push_back(NewRequestLogInterceptorFactory());
  builder.experimental().SetInterceptorCreators(std::move(interceptors));
  grpc_ = builder.BuildAndStart();
  if (grpc_ == nullptr || port_ == 0) {
    return absl::UnavailableError(
        absl::StrCat("setting 'listen': cannot listen on ", config_.listen,
                     " (address in use, or not an address of this machine)"));
  }
  // "" stands for the whole server; the services can be asked by name too.
  grpc::HealthCheckServiceInterface* health = grpc_->GetHealthCheckService();
  health->SetServingStatus(true);
  for (const char* service :
       {"cairn.v1.KV", "cairn.v1.Admin", "cairn.v1.Replication"}) {
    health->SetServingStatus(service, true);
  }

  if (!config_.metrics_listen.empty()) {
    auto health = [this]() -> std::pair<bool, std::string> {
      if (stopping_.load()) return {false, "shutting down"};
      if (metrics_->engine_read_only()) {
        return {false,
                "engine read-only: " + metrics_->engine_read_only_reason()};
      }
      return {true, "ok"};
    };
    absl::StatusOr<std::unique_ptr<MetricsHttpServer>> http =
        MetricsHttpServer::Start(config_.metrics_listen, metrics_.get(),
                                 health);
    if (!http.ok()) {
      return absl::Status(
          http.status().code(),
          absl::StrCat("setting 'metrics_listen': ", http.status().message()));
    }
    http_ = std::move(*http);
  }
  heartbeat_unix_nanos_.store(absl::ToUnixNanos(absl::Now()));
  housekeeping_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "cairn-housekeep");
    Housekeeping();
  });
  LogInfo("serving",
          {{"version", kCairnVersion},
           {"listen", config_.listen},
           {"metrics", config_.metrics_listen},
           {"tls", config_.tls_cert_file.empty() ? "off" : "on"},
           {"mtls", config_.tls_client_ca_file.empty() ? "off" : "on"},
           {"auth", config_.auth_tokens_file.empty() ? "off" : "on"},
           {"durability", config_.default_sync ? "sync" : "async"}});
  return absl::OkStatus();
}

void Server::Housekeeping() {
  // Expired snapshots are dropped even when no call touches the registry,
  // so an abandoned one does not pin old versions past its TTL.
  // The engine's read-only error state is noticed here too (within a
  // second).
  while (!stop_housekeeping_.WaitForNotificationWithTimeout(absl::Seconds(1))) {
    env_->snapshots().ExpireOld();
    if (!stopping_.load()) {
      ReportEngineErrorState(db_.get(), metrics_.get(), grpc_.get());
    }
    heartbeat_unix_nanos_.store(absl::ToUnixNanos(absl::Now()));
  }
}

bool Server::EngineReadOnly() const { return metrics_->engine_read_only(); }

absl::Status Server::Shutdown() {
  if (shut_down_) return absl::OkStatus();
  shut_down_ = true;
  stopping_.store(true);
  absl::Time start = absl::Now();
  if (grpc_ != nullptr) {
    LogInfo("shutting down",
            {{"grace", absl::FormatDuration(config_.shutdown_grace)}});
    grpc_->GetHealthCheckService()->SetServingStatus(false);
  }
  // New calls are answered UNAVAILABLE by our handlers while the running
  // ones finish; only then is gRPC shut down, so that clients see
  // UNAVAILABLE rather than calls cut off by the transport. A handler
  // blocked in a write stall only returns when the engine lets it: after
  // the grace period writes are stopped, which fails such writers (and any
  // write racing with the shutdown) with UNAVAILABLE. Nothing refused was
  // acknowledged, so nothing acknowledged is lost.
  const absl::Time deadline = absl::Now() + config_.shutdown_grace;
  // The follower writes to the engine: it stops first.
  if (follower_ != nullptr) {
    if (replica_collector_ >= 0) metrics_->RemoveCollector(replica_collector_);
    follower_->Stop();
  }
  if (env_ != nullptr) {
    env_->BeginShutdown();
    bool idle = env_->WaitIdle(deadline, absl::Milliseconds(100));
    if (!idle) {
      LogWarn("calls still running after the grace period; stopping writes");
    }
    if (db_ != nullptr) db_->StopWrites();
    if (!idle)
      env_->WaitIdle(absl::Now() + absl::Seconds(1), absl::ZeroDuration());
  }
  if (grpc_ != nullptr) {
    grpc_->Shutdown(absl::ToChronoTime(absl::Now() + absl::Seconds(1)));
    grpc_->Wait();
  }
  if (env_ != nullptr) env_->StopWritePool();
  if (housekeeping_.joinable()) {
    stop_housekeeping_.Notify();
    housekeeping_.join();
  }
  if (env_ != nullptr) env_->snapshots().Clear();
  absl::Status closed;
  // Scrapes stop reading consumer lag from the WAL before it closes.
  tail_metrics_.reset();
  if (db_ != nullptr) {
    if (metrics_ != nullptr) metrics_->AttachDb(nullptr);
    closed = db_->Close();
    if (closed.ok()) {
      LogInfo("engine closed",
              {{"drain", absl::FormatDuration(absl::Now() - start)}});
    } else {
      LogError("engine close failed", {{"error", closed.ToString()}});
    }
  }
  http_.reset();
  return closed;
}

Server::~Server() { Shutdown().IgnoreError(); }

}  // namespace cairn::server
