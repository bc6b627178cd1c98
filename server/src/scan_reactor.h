// ScanReactor: serves one KV.Scan stream. It holds one engine iterator (at a
// held snapshot or at the sequence current when the scan began) and writes
// chunks of at most --scan_chunk_keys keys / about --scan_chunk_bytes bytes,
// one at a time: the next chunk is read only after gRPC has taken the
// previous one, so the server's memory per scan is one chunk whatever the
// range, and a slow client slows only its own scan.
//
// Lifetime: created by Start, deletes itself in OnDone. Thread-safety: gRPC
// reactions are serialized; Cancel (shutdown) may come from another thread
// and is synchronized with them by mu_.
#ifndef CAIRN_SERVER_SCAN_REACTOR_H_
#define CAIRN_SERVER_SCAN_REACTOR_H_

#include <memory>
#include <mutex>

#include "cairn/storage/iterator.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "service_env.h"

namespace cairn::server {

class ScanReactor final : public grpc::ServerWriteReactor<v1::ScanResponse>,
                          public CancellableStream {
 public:
  static ScanReactor* Start(ServiceEnv* env,
                            grpc::CallbackServerContext* context,
                            const v1::ScanRequest* request);

  void OnWriteDone(bool ok) override;
  void OnDone() override;
  void Cancel(const grpc::Status& status) override;

 private:
  explicit ScanReactor(ServiceEnv* env);
  grpc::Status Init(const v1::ScanRequest& request);
  // Reads the next chunk and writes it, or finishes. Requires mu_.
  void SendNextLocked();
  void FinishLocked(const grpc::Status& status);

  ServiceEnv* const env_;
  bool registered_ = false;

  std::mutex mu_;
  SnapshotRegistry::Ref hold_;
  std::unique_ptr<storage::Iterator> iter_;
  bool reverse_ = false;
  bool keys_only_ = false;
  uint64_t remaining_ = 0;  // keys still allowed by the limit; 0 = no limit
  bool limited_ = false;
  v1::ScanResponse chunk_;  // the chunk being written
  bool finished_ = false;
  grpc::Status cancel_status_;
  bool cancelled_ = false;
};

}  // namespace cairn::server

#endif  // CAIRN_SERVER_SCAN_REACTOR_H_
