// ServerConfig: every setting of cairnd, gathered from its defaults, the
// config file (--config, TOML) and the command line, in that order of
// increasing precedence.
//
// Each setting is one absl flag (see config.cc for names, defaults and help
// text); the config file uses the same names as top-level keys, e.g.
//
//   listen = "0.0.0.0:7070"
//   max_value_bytes = "8MiB"
//   durability = "async"
//
// A config that names an unknown setting, gives a value of the wrong type or
// an out-of-range value fails LoadConfig with a message naming the setting.
#ifndef CAIRN_SERVER_CONFIG_H_
#define CAIRN_SERVER_CONFIG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cairn/storage/options.h"

namespace cairn::server {

enum class Role : int { kRead = 0, kWrite = 1, kAdmin = 2 };

// Request-size and concurrency limits. A key or value beyond its size limit
// gets INVALID_ARGUMENT; beyond a count or total limit (ops, bytes per
// batch, streams, snapshots) RESOURCE_EXHAUSTED.
struct Limits {
  uint64_t max_key_bytes = 16 << 10;
  uint64_t max_value_bytes = 4 << 20;
  uint64_t max_batch_ops = 10000;
  uint64_t max_batch_bytes = 16 << 20;
  uint64_t max_message_bytes = 24 << 20;
  int max_concurrent_streams = 1024;  // Scan + Txn (+ Tail) streams at once
  int max_txn_streams = 256;
  uint64_t scan_chunk_keys = 1000;
  uint64_t scan_chunk_bytes = 1 << 20;
  int max_snapshots = 1024;
  absl::Duration snapshot_default_ttl = absl::Seconds(60);
  absl::Duration snapshot_max_ttl = absl::Hours(1);
};

// Tail (change data capture) settings. WAL retention for Tail is in
// engine.wal: retain_bytes / retain_age (kept for any Tail reader beyond
// what flushes need) and max_hold_bytes / max_hold_age (the cap on what
// named consumers can keep).
struct TailSettings {
  // An idle stream gets a progress message this often.
  absl::Duration progress_interval = absl::Seconds(1);
  // A response carries events of about this many bytes at most.
  uint64_t chunk_bytes = 256 << 10;
  int max_tail_streams = 256;
  int max_consumers = 1024;
};

// Read replica settings: with primary set, cairnd follows that server's
// Tail stream, applies it to its own engine and refuses writes.
struct ReplicaSettings {
  std::string primary;  // HOST:PORT; empty = this server is a primary
  // TLS to the primary: the CA that signed its certificate (PEM file; empty
  // = plaintext), and a client certificate and key for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string token_file;  // bearer token (read role) for the primary
  bool sync = false;       // sync each applied batch to the replica's WAL
  // How long an empty replica keeps trying to reach the primary for its
  // bootstrap before giving up (cairnd then exits).
  absl::Duration bootstrap_timeout = absl::Minutes(5);
};

struct ServerConfig {
  std::string listen = "127.0.0.1:7070";
  std::string metrics_listen = "127.0.0.1:7071";
  std::string data_dir = "./data";
  bool default_sync = true;  // --durability=sync|async
  Limits limits;
  TailSettings tail;
  ReplicaSettings replica;

  // TLS: server certificate chain and key (PEM); with client_ca set, clients
  // must present a certificate signed by it (mutual TLS).
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_client_ca_file;
  // Bearer tokens with roles; empty = auth off.
  std::string auth_tokens_file;

  absl::Duration shutdown_grace = absl::Seconds(10);
  // Threads that run sync writes (see write_pool.h); 0 = run them inline.
  int write_threads = 64;
  std::string log_level = "info";
  bool log_requests = false;
  // --verify: check the database offline (storage::VerifyDatabase) and exit.
  bool verify = false;

  storage::Options engine;  // engine settings (fs, clock left default)
};

// Parses argv (and the file named by --config). Handles --help and
// --version itself (prints and exits). Positional arguments are refused.
absl::StatusOr<ServerConfig> LoadConfig(int argc, char** argv);

std::string_view RoleName(Role role);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_CONFIG_H_
