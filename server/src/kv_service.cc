#include "kv_service.h"

#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "scan_reactor.h"
#include "status_map.h"
#include "txn_reactor.h"

namespace cairn::server {

grpc::Status FillGet(const absl::StatusOr<storage::GetResult>& result,
                     uint64_t read_seq, v1::GetResponse* response) {
  response->set_read_seq(read_seq);
  if (!result.ok()) {
    if (absl::IsNotFound(result.status())) {
      response->set_found(false);
      return grpc::Status::OK;
    }
    return ToGrpc(result.status());
  }
  response->set_found(true);
  response->set_value(result->value);
  response->set_revision(result->seq);
  response->set_expires_at_unix_micros(result->expires_at_micros);
  return grpc::Status::OK;
}

grpc::ServerUnaryReactor* KvService::Get(grpc::CallbackServerContext* context,
                                         const v1::GetRequest* request,
                                         v1::GetResponse* response) {
  return RunUnary(env_, context, Role::kRead, [&]() -> grpc::Status {
    absl::Status s = env_->validator().Key("key", request->key());
    if (!s.ok()) return ToGrpc(s);
    storage::ReadOptions ro;
    SnapshotRegistry::Ref hold;
    s = env_->ReadPoint(request->snapshot_seq(), "snapshot_seq", &ro, &hold);
    if (!s.ok()) return ToGrpc(s);
    return FillGet(env_->db()->Get(ro, request->key()), hold->sequence(),
                   response);
  });
}

grpc::ServerUnaryReactor* KvService::MultiGet(
    grpc::CallbackServerContext* context, const v1::MultiGetRequest* request,
    v1::MultiGetResponse* response) {
  return RunUnary(env_, context, Role::kRead, [&]() -> grpc::Status {
    const RequestValidator& v = env_->validator();
    if (static_cast<uint64_t>(request->keys_size()) >
        v.limits().max_batch_ops) {
      return grpc::Status(
          grpc::StatusCode::RESOURCE_EXHAUSTED,
          absl::StrCat("keys: ", request->keys_size(), " keys exceed ",
                       v.limits().max_batch_ops, " (--max_batch_ops)"));
    }
    std::vector<std::string_view> keys;
    keys.reserve(request->keys_size());
    for (int i = 0; i < request->keys_size(); ++i) {
      absl::Status s = v.Key(IndexField("keys", i), request->keys(i));
      if (!s.ok()) return ToGrpc(s);
      keys.emplace_back(request->keys(i));
    }
    storage::ReadOptions ro;
    SnapshotRegistry::Ref hold;
    absl::Status s =
        env_->ReadPoint(request->snapshot_seq(), "snapshot_seq", &ro, &hold);
    if (!s.ok()) return ToGrpc(s);
    std::vector<absl::StatusOr<storage::GetResult>> results =
        env_->db()->MultiGet(ro, keys);
    response->set_read_seq(hold->sequence());
    for (const auto& r : results) {
      grpc::Status gs = FillGet(r, hold->sequence(), response->add_results());
      if (!gs.ok()) {
        response->Clear();
        return gs;
      }
    }
    return grpc::Status::OK;
  });
}

grpc::ServerWriteReactor<v1::ScanResponse>* KvService::Scan(
    grpc::CallbackServerContext* context, const v1::ScanRequest* request) {
  return ScanReactor::Start(env_, context, request);
}

namespace {

// The reply of a write whose response holds only its sequence.
template <typename Response>
auto ReplySeq(Response* response) {
  return [response](const absl::StatusOr<uint64_t>& seq) -> grpc::Status {
    if (!seq.ok()) return ToGrpc(seq.status());
    response->set_seq(*seq);
    return grpc::Status::OK;
  };
}

}  // namespace

grpc::ServerUnaryReactor* KvService::Put(grpc::CallbackServerContext* context,
                                         const v1::PutRequest* request,
                                         v1::PutResponse* response) {
  return RunUnaryWrite(
      env_, context, request->durability(),
      [&](storage::WriteBatch* batch) -> grpc::Status {
        const RequestValidator& v = env_->validator();
        absl::Status s = v.Key("key", request->key());
        if (s.ok()) s = v.Value("value", request->value());
        if (!s.ok()) return ToGrpc(s);
        absl::StatusOr<uint64_t> expiry = v.Expiry(
            "", request->ttl_millis(), request->expires_at_unix_micros());
        if (!expiry.ok()) return ToGrpc(expiry.status());
        if (*expiry == 0) {
          batch->Put(request->key(), request->value());
        } else {
          batch->PutWithExpiry(request->key(), request->value(), *expiry);
        }
        return grpc::Status::OK;
      },
      ReplySeq(response));
}

grpc::ServerUnaryReactor* KvService::Delete(
    grpc::CallbackServerContext* context, const v1::DeleteRequest* request,
    v1::DeleteResponse* response) {
  return RunUnaryWrite(
      env_, context, request->durability(),
      [&](storage::WriteBatch* batch) -> grpc::Status {
        absl::Status s = env_->validator().Key("key", request->key());
        if (!s.ok()) return ToGrpc(s);
        batch->Delete(request->key());
        return grpc::Status::OK;
      },
      ReplySeq(response));
}

grpc::ServerUnaryReactor* KvService::DeleteRange(
    grpc::CallbackServerContext* context, const v1::DeleteRangeRequest* request,
    v1::DeleteRangeResponse* response) {
  return RunUnaryWrite(
      env_, context, request->durability(),
      [&](storage::WriteBatch* batch) -> grpc::Status {
        v1::BatchOp op;
        op.mutable_delete_range()->set_start(request->start());
        op.mutable_delete_range()->set_end(request->end());
        absl::Status s = env_->validator().AddOp("", op, batch);
        if (!s.ok()) {
          // Report the request's own field names ("start", not
          // "delete_range.start").
          std::string msg(s.message());
          constexpr std::string_view kPrefix = "delete_range.";
          if (msg.rfind(kPrefix, 0) == 0) msg.erase(0, kPrefix.size());
          return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, msg);
        }
        return grpc::Status::OK;
      },
      ReplySeq(response));
}

grpc::ServerUnaryReactor* KvService::Merge(grpc::CallbackServerContext* context,
                                           const v1::MergeRequest* request,
                                           v1::MergeResponse* response) {
  return RunUnaryWrite(
      env_, context, request->durability(),
      [&](storage::WriteBatch* batch) -> grpc::Status {
        const RequestValidator& v = env_->validator();
        absl::Status s = v.Key("key", request->key());
        if (s.ok()) {
          s = v.Merge("", request->operator_(), request->operand(),
                      request->argument());
        }
        if (!s.ok()) return ToGrpc(s);
        batch->Merge(request->key(), request->operator_(), request->operand(),
                     request->argument());
        return grpc::Status::OK;
      },
      ReplySeq(response));
}

grpc::ServerUnaryReactor* KvService::Batch(grpc::CallbackServerContext* context,
                                           const v1::BatchRequest* request,
                                           v1::BatchResponse* response) {
  return RunUnaryWrite(
      env_, context, request->durability(),
      [&](storage::WriteBatch* batch) -> grpc::Status {
        return ToGrpc(env_->validator().BuildBatch(*request, batch));
      },
      [response](const absl::StatusOr<uint64_t>& seq) -> grpc::Status {
        if (!seq.ok()) {
          std::optional<int> failed =
              storage::FailedConditionIndex(seq.status());
          if (failed.has_value()) {
            // A failed condition is an answer, not an error.
            response->set_succeeded(false);
            response->set_seq(0);
            response->set_failed_condition(*failed);
            return grpc::Status::OK;
          }
          return ToGrpc(seq.status());
        }
        response->set_succeeded(true);
        response->set_seq(*seq);
        response->set_failed_condition(-1);
        return grpc::Status::OK;
      });
}

grpc::ServerBidiReactor<v1::TxnRequest, v1::TxnResponse>* KvService::Txn(
    grpc::CallbackServerContext* context) {
  return TxnReactor::Start(env_, context);
}

}  // namespace cairn::server
