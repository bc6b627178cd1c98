// KvService: the cairn.v1.KV gRPC service (callback API). Each handler
// admits the call (shutdown, auth), validates the request, makes one engine
// call and translates its status; Scan and Txn are streams handled by
// ScanReactor and TxnReactor.
//
// Thread-safe: handlers run concurrently on gRPC's threads.
#ifndef CAIRN_SERVER_KV_SERVICE_H_
#define CAIRN_SERVER_KV_SERVICE_H_

#include "cairn/v1/kv.grpc.pb.h"
#include "service_env.h"

namespace cairn::server {

class KvService final : public v1::KV::CallbackService {
 public:
  explicit KvService(ServiceEnv* env) : env_(env) {}

  grpc::ServerUnaryReactor* Get(grpc::CallbackServerContext* context,
                                const v1::GetRequest* request,
                                v1::GetResponse* response) override;
  grpc::ServerUnaryReactor* MultiGet(grpc::CallbackServerContext* context,
                                     const v1::MultiGetRequest* request,
                                     v1::MultiGetResponse* response) override;
  grpc::ServerWriteReactor<v1::ScanResponse>* Scan(
      grpc::CallbackServerContext* context,
      const v1::ScanRequest* request) override;
  grpc::ServerUnaryReactor* Put(grpc::CallbackServerContext* context,
                                const v1::PutRequest* request,
                                v1::PutResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* DeleteRange(
      grpc::CallbackServerContext* context,
      const v1::DeleteRangeRequest* request,
      v1::DeleteRangeResponse* response) override;
  grpc::ServerUnaryReactor* Merge(grpc::CallbackServerContext* context,
                                  const v1::MergeRequest* request,
                                  v1::MergeResponse* response) override;
  grpc::ServerUnaryReactor* Batch(grpc::CallbackServerContext* context,
                                  const v1::BatchRequest* request,
                                  v1::BatchResponse* response) override;
  grpc::ServerBidiReactor<v1::TxnRequest, v1::TxnResponse>* Txn(
      grpc::CallbackServerContext* context) override;

 private:
  ServiceEnv* const env_;
};

// Fills a GetResponse from an engine lookup (NotFound -> found=false).
grpc::Status FillGet(const absl::StatusOr<storage::GetResult>& result,
                     uint64_t read_seq, v1::GetResponse* response);

}  // namespace cairn::server

#endif  // CAIRN_SERVER_KV_SERVICE_H_
