// Scanner::Impl: the state of one KV.Scan stream: the current chunk and the
// position in it; restarts the stream while no key was delivered yet.
#ifndef CAIRN_CLIENT_SRC_SCANNER_IMPL_H_
#define CAIRN_CLIENT_SRC_SCANNER_IMPL_H_

#include <memory>

#include "cairn/client/scanner.h"
#include "connection.h"
#include "grpc_status.h"
#include "proto_convert.h"

namespace cairn::client {

class Scanner::Impl {
 public:
  Impl(std::shared_ptr<Connection> conn, const ScanOptions& options);
  ~Impl();

  bool Next(KeyValue* kv);
  const absl::Status& status() const { return status_; }
  uint64_t read_seq() const { return read_seq_; }

 private:
  void Start();

  std::shared_ptr<Connection> conn_;
  const absl::Time deadline_;
  cairn::v1::ScanRequest request_;
  std::unique_ptr<grpc::ClientContext> context_;
  std::unique_ptr<grpc::ClientReader<cairn::v1::ScanResponse>> reader_;
  cairn::v1::ScanResponse chunk_;
  int index_ = 0;
  int attempts_ = 0;
  bool delivered_ = false;
  bool done_ = false;
  uint64_t read_seq_ = 0;
  absl::Status status_;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_SCANNER_IMPL_H_
