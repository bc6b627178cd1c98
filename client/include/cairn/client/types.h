// The plain values the cairn client library passes in and out: keys and
// values (arbitrary bytes in std::string), read and write options, and what
// reads return. Mirrors cairn.v1 (proto/cairn/v1) without exposing protobuf.
// Plain data; safe to copy.
#ifndef CAIRN_CLIENT_TYPES_H_
#define CAIRN_CLIENT_TYPES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cairn/client/options.h"

namespace cairn::client {

// A key with its value as read.
struct KeyValue {
  std::string key;
  std::string value;  // empty when the read asked for keys only
  // Sequence of the write that produced the value (usable in
  // Batch::IfRevision).
  uint64_t revision = 0;
  // Absolute expiry in microseconds since the Unix epoch; 0 = never.
  uint64_t expires_at_unix_micros = 0;

  friend bool operator==(const KeyValue&, const KeyValue&) = default;
};

// The answer to a Get: `found` false means the key has no live value.
struct GetResult {
  bool found = false;
  std::string value;
  uint64_t revision = 0;
  uint64_t expires_at_unix_micros = 0;
  // The sequence the read was served at.
  uint64_t read_seq = 0;
};

struct MultiGetResult {
  std::vector<GetResult> results;  // one per key, in request order
  uint64_t read_seq = 0;
};

// Deadline of one call. Zero = ClientOptions::default_timeout;
// absl::InfiniteDuration() = none.
struct CallOptions {
  absl::Duration timeout = absl::ZeroDuration();
};

struct ReadOptions {
  // Read at a snapshot held with Client::AcquireSnapshot; 0 = latest.
  uint64_t snapshot_seq = 0;
  absl::Duration timeout = absl::ZeroDuration();
};

struct WriteOptions {
  Durability durability = Durability::kDefault;
  absl::Duration timeout = absl::ZeroDuration();
};

struct PutOptions {
  // Time to live from the moment the server accepts the write (whole
  // milliseconds); zero = none. At most one of ttl and expires_at.
  absl::Duration ttl = absl::ZeroDuration();
  // Absolute expiry; absl::InfinitePast() = none.
  absl::Time expires_at = absl::InfinitePast();
  Durability durability = Durability::kDefault;
  absl::Duration timeout = absl::ZeroDuration();
};

// A range or prefix scan. [start, end) with empty = unbounded on that side,
// or prefix (not both).
struct ScanOptions {
  std::string start;
  std::string end;
  std::string prefix;
  uint64_t limit = 0;  // 0 = no limit
  bool reverse = false;
  bool keys_only = false;
  uint64_t snapshot_seq = 0;
  // Deadline of the whole stream.
  absl::Duration timeout = absl::ZeroDuration();
};

// A held snapshot (Client::AcquireSnapshot).
struct SnapshotInfo {
  uint64_t seq = 0;
  uint64_t expires_at_unix_micros = 0;
};

// A checkpoint written by the server (Client::Checkpoint): where, and the
// last sequence it holds (a server started on it continues at seq + 1).
struct CheckpointInfo {
  std::string dir;
  uint64_t seq = 0;
};

// A named Tail consumer as the server knows it.
struct ConsumerInfo {
  std::string name;
  uint64_t acked_seq = 0;
  uint64_t lag_seqs = 0;
  double lag_seconds = 0;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_TYPES_H_
