// The standard gRPC services cairnd serves besides its own, against the real
// binary: grpc.health.v1.Health (Check of the server and of each Cairn
// service, Watch, and what a watcher and new calls see once SIGTERM starts
// the shutdown) and grpc.reflection.v1alpha.ServerReflection (the service
// list and the file descriptor of cairn.v1.KV), through the subset of the
// reflection protocol in tests/server/proto/reflection_subset.proto.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "google/protobuf/descriptor.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "reflection_subset.grpc.pb.h"
#include "server_test_util.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using grpc::reflection::v1alpha::ServerReflection;
using grpc::reflection::v1alpha::ServerReflectionRequest;
using grpc::reflection::v1alpha::ServerReflectionResponse;

HealthCheckRequest ForService(const std::string& service) {
  HealthCheckRequest req;
  req.set_service(service);
  return req;
}

class HealthReflectionTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() { StartSuiteServer(); }
  void SetUp() override {
    CairndSuite::SetUp();
    if (HasFatalFailure()) return;  // no server
    channel_ = server_->Channel();
  }

  // Sends one reflection request on a new stream and returns its response.
  ServerReflectionResponse Reflect(const ServerReflectionRequest& req) {
    auto stub = ServerReflection::NewStub(channel_);
    auto ctx = Ctx();
    auto stream = stub->ServerReflectionInfo(ctx.get());
    ServerReflectionResponse resp;
    EXPECT_TRUE(stream->Write(req));
    EXPECT_TRUE(stream->Read(&resp));
    stream->WritesDone();
    ServerReflectionResponse extra;
    while (stream->Read(&extra)) {
    }
    grpc::Status s = stream->Finish();
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(HealthReflectionTest, CheckServerAndServices) {
  auto health = Health::NewStub(channel_);
  for (const std::string service :
       {"", "cairn.v1.KV", "cairn.v1.Admin", "cairn.v1.Replication"}) {
    SCOPED_TRACE(service);
    HealthCheckResponse resp;
    grpc::Status s = health->Check(Ctx().get(), ForService(service), &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
  }
  for (const std::string service :
       {"cairn.v1.Nope", "cairn.v1.replication", "grpc.health.v1.Health "}) {
    SCOPED_TRACE(service);
    HealthCheckResponse resp;
    grpc::Status s = health->Check(Ctx().get(), ForService(service), &resp);
    EXPECT_EQ(s.error_code(), StatusCode::NOT_FOUND) << s.error_message();
  }
}

TEST_F(HealthReflectionTest, WatchStreamsServing) {
  auto health = Health::NewStub(channel_);
  for (const std::string service : {"", "cairn.v1.KV"}) {
    SCOPED_TRACE(service);
    auto ctx = Ctx(absl::Seconds(10));
    auto reader = health->Watch(ctx.get(), ForService(service));
    HealthCheckResponse resp;
    ASSERT_TRUE(reader->Read(&resp));
    EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
    ctx->TryCancel();
    while (reader->Read(&resp)) {
    }
    EXPECT_EQ(reader->Finish().error_code(), StatusCode::CANCELLED);
  }
  // An unknown service is not an error for Watch: it says SERVICE_UNKNOWN.
  auto ctx = Ctx(absl::Seconds(10));
  auto reader = health->Watch(ctx.get(), ForService("cairn.v1.Nope"));
  HealthCheckResponse resp;
  ASSERT_TRUE(reader->Read(&resp));
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVICE_UNKNOWN);
  ctx->TryCancel();
  while (reader->Read(&resp)) {
  }
  reader->Finish();
}

TEST_F(HealthReflectionTest, ReflectionListsServices) {
  ServerReflectionRequest req;
  req.set_list_services("");
  ServerReflectionResponse resp = Reflect(req);
  ASSERT_TRUE(resp.has_list_services_response()) << resp.DebugString();
  std::vector<std::string> names;
  for (const auto& s : resp.list_services_response().service()) {
    names.push_back(s.name());
  }
  for (const char* want : {"cairn.v1.KV", "cairn.v1.Admin",
                           "cairn.v1.Replication", "grpc.health.v1.Health"}) {
    EXPECT_NE(std::find(names.begin(), names.end(), want), names.end())
        << want << " not in the list: " << resp.DebugString();
  }
}

TEST_F(HealthReflectionTest, ReflectionDescribesKv) {
  ServerReflectionRequest req;
  req.set_file_containing_symbol("cairn.v1.KV");
  ServerReflectionResponse resp = Reflect(req);
  ASSERT_TRUE(resp.has_file_descriptor_response()) << resp.DebugString();
  // The file that defines the symbol, possibly followed by its imports.
  const google::protobuf::ServiceDescriptorProto* kv = nullptr;
  google::protobuf::FileDescriptorProto kv_file;
  std::vector<google::protobuf::FileDescriptorProto> files;
  for (const std::string& bytes :
       resp.file_descriptor_response().file_descriptor_proto()) {
    google::protobuf::FileDescriptorProto f;
    ASSERT_TRUE(f.ParseFromString(bytes));
    files.push_back(f);
  }
  ASSERT_FALSE(files.empty());
  for (const auto& f : files) {
    for (const auto& service : f.service()) {
      if (service.name() == "KV") kv_file = f;
    }
  }
  for (const auto& service : kv_file.service()) {
    if (service.name() == "KV") kv = &service;
  }
  ASSERT_NE(kv, nullptr) << "no file with service KV";
  EXPECT_EQ(kv_file.package(), "cairn.v1");
  EXPECT_EQ(kv_file.name(), "cairn/v1/kv.proto");
  const google::protobuf::MethodDescriptorProto* txn = nullptr;
  const google::protobuf::MethodDescriptorProto* get = nullptr;
  for (const auto& m : kv->method()) {
    if (m.name() == "Txn") txn = &m;
    if (m.name() == "Get") get = &m;
  }
  ASSERT_NE(txn, nullptr);
  EXPECT_TRUE(txn->client_streaming());
  EXPECT_TRUE(txn->server_streaming());
  EXPECT_EQ(txn->input_type(), ".cairn.v1.TxnRequest");
  EXPECT_EQ(txn->output_type(), ".cairn.v1.TxnResponse");
  ASSERT_NE(get, nullptr);
  EXPECT_FALSE(get->client_streaming());
  EXPECT_FALSE(get->server_streaming());
}

TEST_F(HealthReflectionTest, ReflectionUnknownSymbolIsNotFound) {
  ServerReflectionRequest req;
  req.set_file_containing_symbol("cairn.v1.NoSuchService");
  ServerReflectionResponse resp = Reflect(req);
  ASSERT_TRUE(resp.has_error_response()) << resp.DebugString();
  EXPECT_EQ(resp.error_response().error_code(),
            static_cast<int>(StatusCode::NOT_FOUND));
}

// A server of its own: the test ends it.
TEST(HealthShutdownTest, SigtermEndsWatchAndRefusesNewCalls) {
  auto started = CairndProcess::Start(CairndOptions{});
  ASSERT_TRUE(started.ok()) << started.status();
  CairndProcess* p = started->get();
  auto channel = p->Channel();
  auto health = Health::NewStub(channel);
  auto watch_ctx = Ctx(absl::Seconds(30));
  auto watch = health->Watch(watch_ctx.get(), ForService(""));
  HealthCheckResponse resp;
  ASSERT_TRUE(watch->Read(&resp));
  ASSERT_EQ(resp.status(), HealthCheckResponse::SERVING);

  ASSERT_EQ(kill(p->pid(), SIGTERM), 0);
  // Either NOT_SERVING arrives, or the stream ends; at least one of them
  // within the watch's deadline.
  std::string seen;
  absl::Time sent = absl::Now();
  while (seen.empty()) {
    if (!watch->Read(&resp)) {
      grpc::Status s = watch->Finish();
      ASSERT_NE(s.error_code(), StatusCode::DEADLINE_EXCEEDED)
          << "the watch saw neither NOT_SERVING nor its end\n"
          << p->Log();
      seen = absl::StrCat("stream ended: ", s.error_code(), " ",
                          s.error_message());
      break;
    }
    if (resp.status() == HealthCheckResponse::NOT_SERVING) {
      seen = "NOT_SERVING";
      watch_ctx->TryCancel();
      while (watch->Read(&resp)) {
      }
      watch->Finish();
    }
  }
  std::cout << "[ INFO     ] after SIGTERM the watch saw " << seen << " after "
            << absl::FormatDuration(absl::Now() - sent) << "\n";
  ::testing::Test::RecordProperty("watch_after_sigterm", seen);

  // Health turns NOT_SERVING a moment before the services refuse calls, so
  // a call right after it may still be served. Within a bound, new calls on
  // the existing channel become UNAVAILABLE (refused by the server, or no
  // longer connectable), and nothing else but OK comes before that.
  auto kv = v1::KV::NewStub(channel);
  v1::GetRequest g;
  g.set_key("k");
  v1::GetResponse gr;
  grpc::Status s;
  int served = 0;
  absl::Time refuse_deadline = absl::Now() + absl::Seconds(10);
  do {
    s = kv->Get(Ctx(absl::Seconds(10)).get(), g, &gr);
    if (s.ok()) ++served;
  } while (s.ok() && absl::Now() < refuse_deadline);
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
  std::cout << "[ INFO     ] calls served after NOT_SERVING: " << served
            << "\n";
  // After that, every new call is UNAVAILABLE, on a new channel too.
  s = kv->Get(Ctx(absl::Seconds(10)).get(), g, &gr);
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
  auto fresh = v1::KV::NewStub(p->Channel());
  s = fresh->Get(Ctx(absl::Seconds(10)).get(), g, &gr);
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
  HealthCheckResponse hr;
  s = Health::NewStub(p->Channel())
          ->Check(Ctx(absl::Seconds(10)).get(), ForService(""), &hr);
  EXPECT_TRUE(s.error_code() == StatusCode::UNAVAILABLE ||
              (s.ok() && hr.status() == HealthCheckResponse::NOT_SERVING))
      << s.error_code() << " " << s.error_message() << " " << hr.status();

  // A second SIGTERM would force an unclean exit: wait for the first one.
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  siginfo_t info{};
  while (absl::Now() < deadline &&
         !(waitid(P_PID, p->pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
           info.si_pid == p->pid())) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_EQ(info.si_pid, p->pid()) << "cairnd did not exit\n" << p->Log();
  auto st = p->Stop(SIGKILL, absl::Seconds(10));  // only collects the exit
  ASSERT_TRUE(st.ok()) << st.status() << "\n" << p->Log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p->Log();
}

}  // namespace
}  // namespace cairn::test
