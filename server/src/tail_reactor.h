// TailReactor: serves one Replication.Tail stream.
//
// A pump thread of its own follows the WAL through a storage::ChangeReader:
// it turns each committed batch into events (skipping those below from_seq
// and those the filter rejects), packs them into a response of at most
// about --tail_chunk_bytes, writes it, and waits until gRPC has taken it
// before reading on. So a stream holds one response in memory whatever its
// lag, reads a slow consumer's backlog from the WAL at the consumer's pace,
// and never makes a writer wait. At the end of the log the thread sleeps on
// the WAL's append notification; after --tail_progress_interval without a
// message it sends a progress message with the last sequence it has passed.
//
// Lifetime: created by Start; the pump thread calls Finish; OnDone joins the
// thread, unregisters the stream and deletes the reactor. Cancel (shutdown)
// and OnCancel (the client went away) wake the thread from any wait.
#ifndef CAIRN_SERVER_TAIL_REACTOR_H_
#define CAIRN_SERVER_TAIL_REACTOR_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "cairn/storage/change_reader.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "config.h"
#include "consumer_registry.h"
#include "service_env.h"
#include "tail_filter.h"
#include "tail_metrics.h"

namespace cairn::server {

// What every Tail stream of a server shares.
struct TailShared {
  ServiceEnv* env = nullptr;
  ConsumerRegistry* consumers = nullptr;
  TailMetrics* metrics = nullptr;
  TailSettings settings;
};

class TailReactor final : public grpc::ServerWriteReactor<v1::TailResponse>,
                          public CancellableStream {
 public:
  static TailReactor* Start(const TailShared* shared,
                            grpc::CallbackServerContext* context,
                            const v1::TailRequest* request);

  void OnWriteDone(bool ok) override;
  void OnCancel() override;
  void OnDone() override;
  void Cancel(const grpc::Status& status) override;

 private:
  explicit TailReactor(const TailShared* shared);
  // Validates the request, resolves the start and opens the reader.
  grpc::Status Init(const v1::TailRequest& request);
  void Pump();
  // Adds the events of batch_ from resume_seq_ on to response_ until it is
  // full; returns whether the whole batch went in. Fails on a corrupt batch.
  absl::StatusOr<bool> FillFromBatch(uint64_t* bytes);
  // Writes response_ and waits until gRPC took it; false if the stream must
  // end (client gone or cancelled), with the status to end it with.
  bool WriteAndWait(grpc::Status* end);

  const TailShared* const shared_;
  bool registered_ = false;
  std::thread pump_;

  // Owned by the pump thread once it runs.
  std::unique_ptr<storage::ChangeReader> reader_;
  std::optional<TailFilter> filter_;
  bool keys_only_ = false;
  uint64_t from_seq_ = 0;
  std::optional<storage::ChangeBatch> batch_;  // being sent, maybe in parts
  uint64_t resume_seq_ = 0;  // first sequence of batch_ not yet considered
  v1::TailResponse response_;

  std::mutex mu_;
  std::condition_variable cv_;
  bool write_pending_ = false;  // guarded by mu_
  bool write_ok_ = true;        // guarded by mu_
  bool stop_ = false;           // guarded by mu_: cancelled or client gone
  grpc::Status stop_status_;    // guarded by mu_
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_TAIL_REACTOR_H_
