// TailConsumer: follows cairnd's committed changes (Replication.Tail) in
// sequence order, and survives reconnects: when the stream breaks with a
// retryable status (UNAVAILABLE: the server restarted, is shutting down or
// the connection dropped; or the stream ended without a status) it opens a
// new one, after a jittered backoff, from the sequence after the last one it
// delivered (or after the last progress message's committed sequence, which
// says everything before it matching the filter was delivered). So the
// consumer sees every committed change exactly once, without gaps, across
// server restarts.
//
// When the position is no longer in the server's WAL (retention removed it)
// Next() fails with OUT_OF_RANGE; TailEarliestSeq(status) gives the earliest
// sequence the server can still deliver, for a consumer that wants to
// re-bootstrap from a Scan. Any other error ends the consumer.
//
//   TailOptions o; o.consumer = "indexer"; o.prefix = "user/";
//   std::unique_ptr<TailConsumer> t = client->Tail(o);
//   for (;;) {
//     absl::StatusOr<TailUpdate> u = t->Next();
//     if (!u.ok()) break;
//     for (const ChangeEvent& e : u->events) Apply(e);
//     if (!u->events.empty()) t->Ack(u->events.back().seq);
//   }
//
// Thread-safety: Next and Ack from one thread at a time; Cancel() from any
// thread (a blocked Next returns CANCELLED).
#ifndef CAIRN_CLIENT_TAIL_CONSUMER_H_
#define CAIRN_CLIENT_TAIL_CONSUMER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace cairn::client {

enum class ChangeOp { kPut, kDelete, kDeleteRange, kMerge };

// "put", "delete", "delete_range", "merge".
const char* ChangeOpName(ChangeOp op);

// One committed change.
struct ChangeEvent {
  uint64_t seq = 0;
  ChangeOp op = ChangeOp::kPut;
  std::string key;        // the start, for kDeleteRange
  std::string value;      // put: the value; merge: the operand
  std::string range_end;  // kDeleteRange: the exclusive end
  std::string merge_operator;
  std::string merge_argument;
  uint64_t expires_at_unix_micros = 0;   // 0 = none
  uint64_t commit_time_unix_micros = 0;  // the batch's commit time
  // Events of one atomic batch or transaction share group_first_seq and
  // group_size; the group ends at group_first_seq + group_size - 1.
  uint64_t group_first_seq = 0;
  uint32_t group_size = 0;

  bool ends_group() const { return seq + 1 == group_first_seq + group_size; }
};

struct TailOptions {
  // Where to start (see docs/api.md, "Tail"): from_seq >= 1; or from_now;
  // or, with a consumer name and from_seq 0, after the consumer's
  // acknowledged sequence (a new consumer starts at the next commit). With
  // none of them: from_now.
  uint64_t from_seq = 0;
  bool from_now = false;
  // A named consumer: the server remembers what Ack records, and keeps the
  // WAL for it (up to its caps).
  std::string consumer;
  // Server-side filters: a prefix, or a range [start, end); operations
  // (empty = all).
  std::string prefix;
  std::string start;
  std::string end;
  std::vector<ChangeOp> ops;
  bool keys_only = false;
  // Reconnect on retryable failures (see above); false: any break is final.
  bool auto_resume = true;
  // Give up after this many reconnects in a row without a response
  // (-1: never).
  int max_reconnects = -1;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
};

// What one Next() returns: a chunk of events in sequence order, or (events
// empty) a progress message of an idle stream.
struct TailUpdate {
  std::vector<ChangeEvent> events;
  // Progress messages only: every change up to this sequence that matches
  // the filter has been delivered. 0 for a chunk of events.
  uint64_t committed_seq = 0;
  // The server's last committed sequence when it sent this; with the
  // events' seq, how far behind the consumer is.
  uint64_t last_committed_seq = 0;
};

class TailConsumer {
 public:
  class Impl;
  explicit TailConsumer(std::unique_ptr<Impl> impl);
  ~TailConsumer();  // cancels the stream
  TailConsumer(const TailConsumer&) = delete;
  TailConsumer& operator=(const TailConsumer&) = delete;

  // Blocks until the next chunk or progress message. Errors: OUT_OF_RANGE
  // (see TailEarliestSeq), CANCELLED after Cancel(), or the status that
  // ended the stream when it is not retryable or reconnecting gave up.
  absl::StatusOr<TailUpdate> Next();

  // Records durably that the named consumer processed everything up to seq
  // (Replication.Ack). FAILED_PRECONDITION without a consumer name.
  absl::Status Ack(uint64_t seq);

  // Ends the stream; a blocked or later Next() returns CANCELLED.
  void Cancel();

  // The sequence the next stream would start at (after the last delivered
  // event or progress); 0 before the first response of a from_now stream.
  uint64_t next_seq() const;
  // Streams opened again after a break.
  int reconnects() const;

 private:
  std::unique_ptr<Impl> impl_;
};

// For an OUT_OF_RANGE status from TailConsumer::Next (or Client calls
// carrying the server's cairn.v1.TailOutOfRange detail): the earliest
// sequence the server can deliver; nullopt for any other status.
std::optional<uint64_t> TailEarliestSeq(const absl::Status& status);

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_TAIL_CONSUMER_H_
