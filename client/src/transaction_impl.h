// Transaction::Impl: one KV.Txn stream. Each call writes one request and
// reads its one response; when the stream breaks, Finish() gives the status
// and the transaction is over.
#ifndef CAIRN_CLIENT_SRC_TRANSACTION_IMPL_H_
#define CAIRN_CLIENT_SRC_TRANSACTION_IMPL_H_

#include <memory>

#include "cairn/client/transaction.h"
#include "connection.h"

namespace cairn::client {

class Transaction::Impl {
 public:
  explicit Impl(std::shared_ptr<Connection> conn);
  ~Impl();

  // Opens the stream and sends begin.
  absl::Status Begin(const TransactionOptions& options);
  uint64_t snapshot_seq() const { return snapshot_seq_; }
  bool finished() const { return finished_; }

  // Sends `request` and reads its response; expects the response case
  // `expected`. On a broken stream returns the stream's status.
  absl::Status Exchange(const cairn::v1::TxnRequest& request,
                        cairn::v1::TxnResponse::ResponseCase expected,
                        cairn::v1::TxnResponse* response);
  // Closes the sending side and collects the final status.
  absl::Status Close();

 private:
  std::shared_ptr<Connection> conn_;
  grpc::ClientContext context_;
  std::unique_ptr<
      grpc::ClientReaderWriter<cairn::v1::TxnRequest, cairn::v1::TxnResponse>>
      stream_;
  uint64_t snapshot_seq_ = 0;
  bool finished_ = false;
};

}  // namespace cairn::client

#endif  // CAIRN_CLIENT_SRC_TRANSACTION_IMPL_H_
