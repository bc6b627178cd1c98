// libFuzzer target for cairnd's RPC handlers: bytes -> requests -> the real
// KV, Replication and Admin services of a real Server (engine in a temporary
// directory, gRPC on 127.0.0.1 with an ephemeral port), started once per
// process in LLVMFuzzerInitialize. The input format is in rpc_fuzz_format.h:
// up to 8 calls, each a selector byte and a serialized request (a Txn takes
// a sequence of TxnRequests). Bodies that do not parse as the request
// message are rejected (return -1: not added to the corpus).
//
// Every call has a short deadline. Invariants checked on every answer:
//  - the status code is one the API documents for the call: never UNKNOWN,
//    INTERNAL, DATA_LOSS, UNIMPLEMENTED, UNAUTHENTICATED, PERMISSION_DENIED
//    or UNAVAILABLE (auth is off and the server is not shutting down);
//  - INVALID_ARGUMENT names a field: "<field path>: <why>";
//  - responses are consistent: a write has a sequence; a Put is read back by
//    a Get at its revision; MultiGet answers each key; Scan keys are ordered,
//    inside the requested range or prefix and within the limit; Batch's
//    succeeded/seq/failed_condition agree; Tail events come in increasing
//    sequence order; each Txn request gets the response of its kind.
//
// State carries over between inputs (that is the point: reads meet earlier
// writes). To bound disk and memory the server is replaced by a fresh one in
// a new directory every CAIRN_RPC_FUZZ_RESET inputs (default 2000), and
// Checkpoint directories are forced under the fuzzer's own temporary
// directory and removed after each call.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairn/v1/replication.grpc.pb.h"
#include "config.h"
#include "fuzz_support.h"
#include "google/protobuf/stubs/logging.h"
#include "grpcpp/grpcpp.h"
#include "rpc_fuzz_format.h"
#include "server.h"

namespace cairn::fuzz {
namespace {

namespace v1 = ::cairn::v1;

[[noreturn]] void Fail(std::string_view what, std::string_view detail = {}) {
  std::fprintf(stderr, "rpc_fuzzer: %.*s %.*s\n", static_cast<int>(what.size()),
               what.data(), static_cast<int>(detail.size()), detail.data());
  std::abort();
}

void Check(bool ok, std::string_view what, std::string_view detail = {}) {
  if (!ok) Fail(what, detail);
}

// The server under test and the stubs that call it.
struct Harness {
  std::string root;  // the fuzzer's temporary directory
  int generation = 0;
  std::string data_dir;
  std::unique_ptr<server::Server> server;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<v1::KV::Stub> kv;
  std::unique_ptr<v1::Replication::Stub> repl;
  std::unique_ptr<v1::Admin::Stub> admin;
  uint64_t inputs = 0;
  uint64_t reset_every = 2000;
  uint64_t checkpoints = 0;
};

Harness* h = nullptr;

// How often each RPC ended with each status code (printed at exit when
// CAIRN_RPC_FUZZ_STATS is set, to see what the campaign reached).
uint64_t code_counts[kNumRpcs][17] = {};

server::ServerConfig Config(const std::string& data_dir) {
  server::ServerConfig c;
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "";  // no HTTP endpoint
  c.data_dir = data_dir;
  c.default_sync = false;
  c.log_level = "error";
  c.write_threads = 2;
  c.shutdown_grace = absl::Seconds(1);
  // Small limits, so that small inputs reach them.
  c.limits.max_key_bytes = 64;
  c.limits.max_value_bytes = 1024;
  c.limits.max_batch_ops = 16;
  c.limits.max_batch_bytes = 4096;
  c.limits.max_message_bytes = 64 << 10;
  c.limits.max_concurrent_streams = 16;
  c.limits.max_txn_streams = 4;
  c.limits.scan_chunk_keys = 8;
  c.limits.scan_chunk_bytes = 2048;
  c.limits.max_snapshots = 4;
  c.limits.snapshot_max_ttl = absl::Seconds(10);
  c.tail.progress_interval = absl::Milliseconds(20);
  c.tail.chunk_bytes = 4096;
  c.tail.max_tail_streams = 4;
  c.tail.max_consumers = 4;
  // A small engine: flushes and compactions happen with little data.
  c.engine.write_buffer_size = 64 << 10;
  c.engine.target_file_size = 64 << 10;
  c.engine.max_bytes_for_level_base = 256 << 10;
  c.engine.block_cache_bytes = 1 << 20;
  c.engine.max_open_files = 64;
  c.engine.wal.segment_size = 1 << 20;
  return c;
}

void StartServer() {
  h->data_dir = absl::StrCat(h->root, "/db", h->generation++);
  auto s = server::Server::Start(Config(h->data_dir));
  if (!s.ok()) Fail("cannot start the server:", s.status().ToString());
  h->server = std::move(*s);
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(1 << 20);
  h->channel = grpc::CreateCustomChannel(
      absl::StrCat("127.0.0.1:", h->server->grpc_port()),
      grpc::InsecureChannelCredentials(), args);
  h->kv = v1::KV::NewStub(h->channel);
  h->repl = v1::Replication::NewStub(h->channel);
  h->admin = v1::Admin::NewStub(h->channel);
}

void StopServer() {
  h->kv.reset();
  h->repl.reset();
  h->admin.reset();
  h->channel.reset();
  if (h->server != nullptr) {
    absl::Status s = h->server->Shutdown();
    Check(s.ok(), "engine close failed:", s.ToString());
    h->server.reset();
  }
  std::error_code ec;
  std::filesystem::remove_all(h->data_dir, ec);
}

std::unique_ptr<grpc::ClientContext> Ctx(absl::Duration timeout) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return ctx;
}

constexpr absl::Duration kCallTimeout = absl::Seconds(3);
constexpr absl::Duration kAdminTimeout = absl::Seconds(10);
constexpr absl::Duration kTailTimeout = absl::Milliseconds(300);

// "<field path>: <why>", the field path made of identifier characters,
// dots and indexes ("ops[3].merge.operator").
bool NamesField(const std::string& message) {
  const size_t colon = message.find(": ");
  if (colon == 0 || colon == std::string::npos) return false;
  for (size_t i = 0; i < colon; ++i) {
    const char c = message[i];
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' ||
          c == '[' || c == ']')) {
      return false;
    }
  }
  return true;
}

// The status invariants shared by every call.
void Count(Rpc rpc, grpc::StatusCode code) {
  const int c = static_cast<int>(code);
  if (c >= 0 && c < 17) ++code_counts[static_cast<int>(rpc)][c];
}

void CheckStatus(Rpc rpc, const grpc::Status& s) {
  Count(rpc, s.error_code());
  const std::string where = absl::StrCat(
      "rpc ", static_cast<int>(rpc), ": code ",
      static_cast<int>(s.error_code()), " \"", s.error_message(), "\"");
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      break;
    case grpc::StatusCode::INVALID_ARGUMENT:
      Check(NamesField(s.error_message()),
            "INVALID_ARGUMENT does not name a field:", where);
      break;
    case grpc::StatusCode::ABORTED:
      Check(rpc == Rpc::kTxn, "ABORTED outside a transaction:", where);
      break;
    case grpc::StatusCode::OUT_OF_RANGE:
      Check(rpc == Rpc::kTail, "OUT_OF_RANGE outside Tail:", where);
      break;
    default:
      Fail("undocumented status:", where);
  }
}

template <typename Request>
bool Parse(std::string_view body, Request* req) {
  return req->ParseFromArray(body.data(), static_cast<int>(body.size()));
}

void CheckWriteSeq(const grpc::Status& s, uint64_t seq) {
  if (s.ok()) Check(seq > 0, "a write answered OK without a sequence");
}

bool InRange(const std::string& key, const std::string& start,
             const std::string& end, const std::string& prefix) {
  if (!prefix.empty()) return key.compare(0, prefix.size(), prefix) == 0;
  if (!start.empty() && key < start) return false;
  if (!end.empty() && key >= end) return false;
  return true;
}

int CallGet(std::string_view body) {
  v1::GetRequest req;
  if (!Parse(body, &req)) return -1;
  v1::GetResponse resp;
  grpc::Status s = h->kv->Get(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kGet, s);
  if (s.ok() && !resp.found()) {
    Check(resp.value().empty() && resp.revision() == 0,
          "Get: not found but a value or revision");
  }
  if (s.ok() && resp.found()) {
    Check(resp.revision() > 0 && resp.revision() <= resp.read_seq(),
          "Get: revision not in (0, read_seq]");
  }
  return 0;
}

int CallMultiGet(std::string_view body) {
  v1::MultiGetRequest req;
  if (!Parse(body, &req)) return -1;
  v1::MultiGetResponse resp;
  grpc::Status s = h->kv->MultiGet(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kMultiGet, s);
  if (s.ok()) {
    Check(resp.results_size() == req.keys_size(),
          "MultiGet: not one result per key");
  }
  return 0;
}

int CallScan(std::string_view body) {
  v1::ScanRequest req;
  if (!Parse(body, &req)) return -1;
  auto ctx = Ctx(kCallTimeout);
  auto reader = h->kv->Scan(ctx.get(), req);
  v1::ScanResponse chunk;
  std::string last;
  uint64_t n = 0;
  while (reader->Read(&chunk)) {
    for (const v1::KeyValue& kv : chunk.kvs()) {
      Check(InRange(kv.key(), req.start(), req.end(), req.prefix()),
            "Scan: key outside the range");
      if (n > 0) {
        Check(req.reverse() ? kv.key() < last : kv.key() > last,
              "Scan: keys out of order");
      }
      if (req.keys_only()) Check(kv.value().empty(), "Scan: keys_only value");
      last = kv.key();
      ++n;
    }
  }
  grpc::Status s = reader->Finish();
  CheckStatus(Rpc::kScan, s);
  if (req.limit() > 0) Check(n <= req.limit(), "Scan: more keys than limit");
  return 0;
}

int CallPut(std::string_view body) {
  v1::PutRequest req;
  if (!Parse(body, &req)) return -1;
  v1::PutResponse resp;
  grpc::Status s = h->kv->Put(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kPut, s);
  CheckWriteSeq(s, resp.seq());
  if (s.ok() && req.ttl_millis() == 0 && req.expires_at_unix_micros() == 0) {
    // Read your write (nothing else writes in between).
    v1::GetRequest get;
    get.set_key(req.key());
    v1::GetResponse got;
    grpc::Status g = h->kv->Get(Ctx(kCallTimeout).get(), get, &got);
    Check(g.ok(), "Get after Put:", g.error_message());
    Check(got.found() && got.value() == req.value() &&
              got.revision() == resp.seq(),
          "Get after Put: not the value just written");
  }
  return 0;
}

int CallDelete(std::string_view body) {
  v1::DeleteRequest req;
  if (!Parse(body, &req)) return -1;
  v1::DeleteResponse resp;
  grpc::Status s = h->kv->Delete(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kDelete, s);
  CheckWriteSeq(s, resp.seq());
  return 0;
}

int CallDeleteRange(std::string_view body) {
  v1::DeleteRangeRequest req;
  if (!Parse(body, &req)) return -1;
  v1::DeleteRangeResponse resp;
  grpc::Status s = h->kv->DeleteRange(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kDeleteRange, s);
  CheckWriteSeq(s, resp.seq());
  return 0;
}

int CallMerge(std::string_view body) {
  v1::MergeRequest req;
  if (!Parse(body, &req)) return -1;
  v1::MergeResponse resp;
  grpc::Status s = h->kv->Merge(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kMerge, s);
  CheckWriteSeq(s, resp.seq());
  return 0;
}

int CallBatch(std::string_view body) {
  v1::BatchRequest req;
  if (!Parse(body, &req)) return -1;
  v1::BatchResponse resp;
  grpc::Status s = h->kv->Batch(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kBatch, s);
  if (s.ok() && resp.succeeded()) {
    Check(resp.failed_condition() == -1, "Batch: succeeded with a condition");
    if (req.ops_size() > 0) {
      Check(resp.seq() >= static_cast<uint64_t>(req.ops_size()),
            "Batch: seq below the op count");
    }
  }
  if (s.ok() && !resp.succeeded()) {
    Check(resp.seq() == 0 && resp.failed_condition() >= 0 &&
              resp.failed_condition() < req.conditions_size(),
          "Batch: failed without a valid failed_condition");
  }
  return 0;
}

// The response kind a Txn request must get.
v1::TxnResponse::ResponseCase Expected(const v1::TxnRequest& r) {
  switch (r.request_case()) {
    case v1::TxnRequest::kBegin:
      return v1::TxnResponse::kBegun;
    case v1::TxnRequest::kGet:
      return v1::TxnResponse::kGet;
    case v1::TxnRequest::kScan:
      return v1::TxnResponse::kScan;
    case v1::TxnRequest::kPut:
    case v1::TxnRequest::kDelete:
    case v1::TxnRequest::kMerge:
      return v1::TxnResponse::kBuffered;
    case v1::TxnRequest::kCommit:
      return v1::TxnResponse::kCommitted;
    case v1::TxnRequest::kRollback:
      return v1::TxnResponse::kRolledBack;
    default:
      return v1::TxnResponse::RESPONSE_NOT_SET;
  }
}

int CallTxn(std::string_view body) {
  std::vector<v1::TxnRequest> reqs;
  std::string_view piece;
  while (reqs.size() < kMaxTxnRequests && TakeSized(&body, &piece)) {
    reqs.emplace_back();
    if (!Parse(piece, &reqs.back())) return -1;
  }
  auto ctx = Ctx(kCallTimeout);
  auto stream = h->kv->Txn(ctx.get());
  bool ended = false;
  for (const v1::TxnRequest& r : reqs) {
    v1::TxnResponse resp;
    if (!stream->Write(r) || !stream->Read(&resp)) {
      ended = true;
      break;
    }
    Check(resp.response_case() == Expected(r),
          "Txn: response of the wrong kind");
    if (r.has_scan() && r.scan().limit() > 0) {
      Check(static_cast<uint64_t>(resp.scan().kvs_size()) <= r.scan().limit(),
            "Txn scan: more keys than limit");
    }
    if (r.has_commit() || r.has_rollback()) break;
  }
  if (!ended) stream->WritesDone();
  v1::TxnResponse extra;
  while (stream->Read(&extra)) {
  }
  CheckStatus(Rpc::kTxn, stream->Finish());
  return 0;
}

int CallTail(std::string_view body) {
  v1::TailRequest req;
  if (!Parse(body, &req)) return -1;
  auto ctx = Ctx(kTailTimeout);
  auto reader = h->repl->Tail(ctx.get(), req);
  v1::TailResponse resp;
  uint64_t last = 0;
  bool open = true;  // the server has not ended the stream
  for (int n = 0; n < 4; ++n) {
    if (!reader->Read(&resp)) {
      open = false;
      break;
    }
    for (const v1::ChangeEvent& e : resp.events()) {
      Check(e.seq() > last, "Tail: events out of order");
      if (req.from_seq() > 0) Check(e.seq() >= req.from_seq(), "Tail: early");
      last = e.seq();
    }
    if (resp.has_progress()) break;  // caught up
  }
  // Cancelled only when still open, so that an error the server ended the
  // stream with is what Finish reports (and is checked).
  if (open) {
    ctx->TryCancel();
    while (reader->Read(&resp)) {
    }
  }
  const grpc::Status s = reader->Finish();
  if (!open || s.error_code() != grpc::StatusCode::CANCELLED) {
    CheckStatus(Rpc::kTail, s);
  } else {
    Count(Rpc::kTail, grpc::StatusCode::CANCELLED);
  }
  return 0;
}

int CallAck(std::string_view body) {
  v1::AckRequest req;
  if (!Parse(body, &req)) return -1;
  v1::AckResponse resp;
  CheckStatus(Rpc::kAck, h->repl->Ack(Ctx(kCallTimeout).get(), req, &resp));
  return 0;
}

int CallListConsumers(std::string_view body) {
  v1::ListConsumersRequest req;
  if (!Parse(body, &req)) return -1;
  v1::ListConsumersResponse resp;
  grpc::Status s = h->repl->ListConsumers(Ctx(kCallTimeout).get(), req, &resp);
  CheckStatus(Rpc::kListConsumers, s);
  return 0;
}

int CallDropConsumer(std::string_view body) {
  v1::DropConsumerRequest req;
  if (!Parse(body, &req)) return -1;
  v1::DropConsumerResponse resp;
  CheckStatus(Rpc::kDropConsumer,
              h->repl->DropConsumer(Ctx(kCallTimeout).get(), req, &resp));
  return 0;
}

int CallFlush(std::string_view body) {
  v1::FlushRequest req;
  if (!Parse(body, &req)) return -1;
  v1::FlushResponse resp;
  CheckStatus(Rpc::kFlush,
              h->admin->Flush(Ctx(kAdminTimeout).get(), req, &resp));
  return 0;
}

int CallCompact(std::string_view body) {
  v1::CompactRequest req;
  if (!Parse(body, &req)) return -1;
  v1::CompactResponse resp;
  CheckStatus(Rpc::kCompact,
              h->admin->Compact(Ctx(kAdminTimeout).get(), req, &resp));
  return 0;
}

int CallStats(std::string_view body) {
  v1::StatsRequest req;
  if (!Parse(body, &req)) return -1;
  v1::StatsResponse resp;
  CheckStatus(Rpc::kStats,
              h->admin->Stats(Ctx(kCallTimeout).get(), req, &resp));
  return 0;
}

// The request's dir is kept when the server must refuse it without touching
// the file system (empty, relative, NUL byte); any other absolute path is
// replaced by a new directory under the fuzzer's own, or by an existing one
// when it names "/" (ALREADY_EXISTS), and removed after the call.
int CallCheckpoint(std::string_view body) {
  v1::CheckpointRequest req;
  if (!Parse(body, &req)) return -1;
  const std::string& dir = req.dir();
  std::string made;
  if (!dir.empty() && dir[0] == '/' && dir.find('\0') == std::string::npos) {
    if (dir == "/") {
      req.set_dir(h->root);
    } else {
      made = absl::StrCat(h->root, "/checkpoint", h->checkpoints++);
      req.set_dir(made);
    }
  }
  v1::CheckpointResponse resp;
  grpc::Status s = h->admin->Checkpoint(Ctx(kAdminTimeout).get(), req, &resp);
  CheckStatus(Rpc::kCheckpoint, s);
  if (s.ok()) Check(resp.dir() == req.dir(), "Checkpoint: another dir");
  if (!made.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(made, ec);
  }
  return 0;
}

int CallAcquireSnapshot(std::string_view body) {
  v1::AcquireSnapshotRequest req;
  if (!Parse(body, &req)) return -1;
  v1::AcquireSnapshotResponse resp;
  CheckStatus(Rpc::kAcquireSnapshot,
              h->admin->AcquireSnapshot(Ctx(kCallTimeout).get(), req, &resp));
  return 0;
}

int CallReleaseSnapshot(std::string_view body) {
  v1::ReleaseSnapshotRequest req;
  if (!Parse(body, &req)) return -1;
  v1::ReleaseSnapshotResponse resp;
  CheckStatus(Rpc::kReleaseSnapshot,
              h->admin->ReleaseSnapshot(Ctx(kCallTimeout).get(), req, &resp));
  return 0;
}

int Call(Rpc rpc, std::string_view body) {
  switch (rpc) {
    case Rpc::kGet:
      return CallGet(body);
    case Rpc::kMultiGet:
      return CallMultiGet(body);
    case Rpc::kScan:
      return CallScan(body);
    case Rpc::kPut:
      return CallPut(body);
    case Rpc::kDelete:
      return CallDelete(body);
    case Rpc::kDeleteRange:
      return CallDeleteRange(body);
    case Rpc::kMerge:
      return CallMerge(body);
    case Rpc::kBatch:
      return CallBatch(body);
    case Rpc::kTxn:
      return CallTxn(body);
    case Rpc::kTail:
      return CallTail(body);
    case Rpc::kAck:
      return CallAck(body);
    case Rpc::kListConsumers:
      return CallListConsumers(body);
    case Rpc::kDropConsumer:
      return CallDropConsumer(body);
    case Rpc::kFlush:
      return CallFlush(body);
    case Rpc::kCompact:
      return CallCompact(body);
    case Rpc::kStats:
      return CallStats(body);
    case Rpc::kCheckpoint:
      return CallCheckpoint(body);
    case Rpc::kAcquireSnapshot:
      return CallAcquireSnapshot(body);
    case Rpc::kReleaseSnapshot:
      return CallReleaseSnapshot(body);
  }
  return -1;
}

void Cleanup() {
  if (h == nullptr) return;
  if (std::getenv("CAIRN_RPC_FUZZ_STATS") != nullptr) {
    static constexpr const char* kNames[kNumRpcs] = {"Get",
                                                     "MultiGet",
                                                     "Scan",
                                                     "Put",
                                                     "Delete",
                                                     "DeleteRange",
                                                     "Merge",
                                                     "Batch",
                                                     "Txn",
                                                     "Tail",
                                                     "Ack",
                                                     "ListConsumers",
                                                     "DropConsumer",
                                                     "Flush",
                                                     "Compact",
                                                     "Stats",
                                                     "Checkpoint",
                                                     "AcquireSnapshot",
                                                     "ReleaseSnapshot"};
    for (int r = 0; r < kNumRpcs; ++r) {
      std::fprintf(stderr, "rpc_fuzzer: %-16s", kNames[r]);
      for (int c = 0; c < 17; ++c) {
        if (code_counts[r][c] > 0) {
          std::fprintf(stderr, " code%d=%llu", c,
                       static_cast<unsigned long long>(code_counts[r][c]));
        }
      }
      std::fprintf(stderr, "\n");
    }
  }
  StopServer();
  std::error_code ec;
  std::filesystem::remove_all(h->root, ec);
}

}  // namespace
}  // namespace cairn::fuzz

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  using namespace cairn::fuzz;
  // Per-input leak checks race with gRPC's threads (see fuzz_support.h).
  DisablePerInputLeakCheck(argc, argv);
  // Bodies with invalid UTF-8 in string fields fail to parse (and are
  // rejected); protobuf would log each one.
  google::protobuf::SetLogHandler(nullptr);
  h = new Harness;
  h->root = MakeFuzzTempDir("cairn-rpc-fuzz");
  if (const char* every = std::getenv("CAIRN_RPC_FUZZ_RESET")) {
    h->reset_every = std::strtoull(every, nullptr, 10);
  }
  StartServer();
  std::atexit(Cleanup);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace cairn::fuzz;
  if (h->reset_every > 0 && ++h->inputs % h->reset_every == 0) {
    StopServer();
    StartServer();
  }
  std::string_view in(reinterpret_cast<const char*>(data), size);
  int result = 0;
  for (int calls = 0; calls < kMaxCalls && !in.empty(); ++calls) {
    const Rpc rpc = static_cast<Rpc>(static_cast<uint8_t>(in[0]) % kNumRpcs);
    in.remove_prefix(1);
    std::string_view body;
    TakeSized(&in, &body);
    if (Call(rpc, body) < 0) result = -1;
  }
  return result;
}
