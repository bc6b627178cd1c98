// TxnReactor: serves one KV.Txn stream, whose lifetime is one optimistic
// transaction of the engine.
//
// Protocol: the first request must be `begin`; each request gets exactly one
// response, in order, and the next request is read only after the response
// is sent (so a transaction holds at most one request and one response in
// memory). `commit` answers `committed` and ends the stream with OK, or ends
// it with ABORTED on a conflict; `rollback` answers `rolled_back` and ends
// it with OK. Any invalid request ends the stream with its error and rolls
// the transaction back, as does a client that closes or cancels the stream.
// Buffered writes count against --max_batch_ops and --max_batch_bytes.
//
// A sync commit runs on the server's write pool, like sync unary writes.
//
// Lifetime: created by Start, deletes itself in OnDone. Thread-safety: gRPC
// reactions are serialized; Cancel (shutdown) and the write pool's commit
// task come from other threads and are synchronized with them by mu_.
#ifndef CAIRN_SERVER_TXN_REACTOR_H_
#define CAIRN_SERVER_TXN_REACTOR_H_

#include <memory>
#include <mutex>

#include "cairn/storage/transaction.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "service_env.h"

namespace cairn::server {

class TxnReactor final
    : public grpc::ServerBidiReactor<v1::TxnRequest, v1::TxnResponse>,
      public CancellableStream {
 public:
  static TxnReactor* Start(ServiceEnv* env,
                           grpc::CallbackServerContext* context);

  void OnReadDone(bool ok) override;
  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void Cancel(const grpc::Status& status) override;

 private:
  TxnReactor(ServiceEnv* env, grpc::CallbackServerContext* context);

  // Handles request_ into response_. Returns OK to send response_ and read
  // on; `*last` set means: send response_ and then finish with OK. A non-OK
  // status ends the stream with it.
  grpc::Status Handle(bool* last);
  grpc::Status Begin(const v1::TxnBegin& begin);
  grpc::Status Scan(const v1::TxnScan& scan);
  grpc::Status Commit(const v1::TxnCommit& commit);
  // Counts one buffered write against the batch limits.
  grpc::Status CountWrite(size_t bytes);
  void FinishLocked(const grpc::Status& status);
  // Handles request_ and sends its response (or ends the stream). mu_ held.
  void RespondLocked();
  // Whether request_ is a sync commit to run on the write pool.
  bool CommitsOnWritePool() const;

  ServiceEnv* const env_;
  grpc::CallbackServerContext* const context_;
  bool registered_ = false;

  std::mutex mu_;
  v1::TxnRequest request_;
  v1::TxnResponse response_;
  SnapshotRegistry::Ref hold_;  // a held snapshot the transaction began at
  std::unique_ptr<storage::Transaction> txn_;
  uint64_t writes_ = 0;
  uint64_t write_bytes_ = 0;
  bool writing_ = false;   // a response is in flight (or being made)
  bool finished_ = false;  // Finish was called
  bool cancelled_ = false;
  grpc::Status cancel_status_;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_TXN_REACTOR_H_
