// Security of cairnd against the real binary: bearer-token auth and its
// roles (--auth_tokens), refusal to start with a bad token file, TLS
// (--tls_cert/--tls_key), mutual TLS (--tls_client_ca), refusal to start
// with missing or garbage certificate files, and the warning when listening
// beyond loopback without TLS.
//
// Certificates are made at test time with the openssl CLI: a CA, a server
// certificate for "localhost" and a client certificate it signed, and a
// second, unrelated CA with a client certificate of its own.
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "test_certs.h"

namespace cairn::test {
namespace {

using grpc::StatusCode;
using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using v1::Admin;
using v1::KV;

std::unique_ptr<grpc::ClientContext> Ctx(
    const std::string& token = "", absl::Duration timeout = absl::Seconds(30)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
  return c;
}

[[maybe_unused]] ::testing::Environment* const kCertEnv =
    ::testing::AddGlobalTestEnvironment(new TestCertEnvironment);

// A channel to `address` with TLS trusting `ca_file` (target name
// "localhost"), presenting a client certificate when given; insecure when
// `ca_file` is empty.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address,
                                           const std::string& ca_file,
                                           const std::string& cert_file = "",
                                           const std::string& key_file = "") {
  grpc::ChannelArguments args;
  if (ca_file.empty()) {
    return grpc::CreateCustomChannel(address,
                                     grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadTextFile(ca_file);
  if (!cert_file.empty()) {
    ssl.pem_cert_chain = ReadTextFile(cert_file);
    ssl.pem_private_key = ReadTextFile(key_file);
  }
  args.SetSslTargetNameOverride("localhost");
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

// Waits (bounded) for a cairnd started with wait_ready=false to exit, and
// returns its wait status. The process is left unreaped until Stop, which
// then only collects it.
absl::StatusOr<int> WaitExit(CairndProcess* p,
                             absl::Duration timeout = absl::Seconds(30)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    siginfo_t info{};
    if (waitid(P_PID, p->pid(), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
        info.si_pid == p->pid()) {
      return p->Stop(SIGKILL, absl::Seconds(10));
    }
    absl::SleepFor(absl::Milliseconds(10));
  }
  return absl::DeadlineExceededError("cairnd is still running");
}

// Starts cairnd with `args`, expects it to refuse to start: exit status 2
// and a log naming `setting`.
void ExpectStartFails(const std::vector<std::string>& args,
                      const std::string& setting) {
  SCOPED_TRACE(absl::StrCat("args: ", args.empty() ? "" : args.back()));
  CairndOptions o;
  o.args = args;
  o.wait_ready = false;
  auto p = CairndProcess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();
  absl::StatusOr<int> st = WaitExit(p->get());
  ASSERT_TRUE(st.ok()) << st.status() << "\n" << (*p)->Log();
  EXPECT_TRUE(WIFEXITED(*st) && WEXITSTATUS(*st) == 2)
      << "wait status " << *st << "\n"
      << (*p)->Log();
  EXPECT_TRUE(absl::StrContains((*p)->Log(), absl::StrCat("'", setting, "'")))
      << "the log does not name " << setting << ":\n"
      << (*p)->Log();
}

void StopCleanly(CairndProcess* p) {
  auto st = p->Stop();
  EXPECT_TRUE(st.ok() && WIFEXITED(*st) && WEXITSTATUS(*st) == 0) << p->Log();
}

// --- bearer tokens ---

constexpr char kReadToken[] = "read-token-0123456789abcdef";
constexpr char kWriteToken[] = "write-token-0123456789abcdef";
constexpr char kAdminToken[] = "admin-token-0123456789abcdef";

class AuthTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(MakeTempDir("cairn-auth-"));
    std::string file = *dir_ + "/tokens";
    WriteFile(file, absl::StrCat("# role token\n\n", "read ", kReadToken, "\n",
                                 "write\t", kWriteToken, "\n", "  admin ",
                                 kAdminToken, "  \n"));
    CairndOptions o;
    o.args = {"--durability=async", "--auth_tokens=" + file};
    auto p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = p->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      StopCleanly(server_);
      delete server_;
      server_ = nullptr;
    }
    if (dir_ != nullptr) {
      std::filesystem::remove_all(*dir_);
      delete dir_;
      dir_ = nullptr;
    }
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr);
    channel_ = server_->Channel();
    kv_ = KV::NewStub(channel_);
    admin_ = Admin::NewStub(channel_);
    key_ = absl::StrCat(
        ::testing::UnitTest::GetInstance()->current_test_info()->name(), "/k");
  }

  grpc::Status Put(const std::string& token, const std::string& key,
                   const std::string& value) {
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    v1::PutResponse resp;
    return kv_->Put(Ctx(token).get(), req, &resp);
  }
  grpc::Status Get(const std::string& token, const std::string& key,
                   v1::GetResponse* resp) {
    v1::GetRequest req;
    req.set_key(key);
    return kv_->Get(Ctx(token).get(), req, resp);
  }
  grpc::Status Flush(const std::string& token) {
    v1::FlushResponse resp;
    return admin_->Flush(Ctx(token).get(), v1::FlushRequest(), &resp);
  }
  grpc::Status ScanStatus(const std::string& token) {
    auto ctx = Ctx(token);
    v1::ScanRequest req;
    req.set_prefix("a");
    auto reader = kv_->Scan(ctx.get(), req);
    v1::ScanResponse chunk;
    while (reader->Read(&chunk)) {
    }
    return reader->Finish();
  }
  grpc::Status TxnStatus(const std::string& token) {
    auto ctx = Ctx(token);
    auto stream = kv_->Txn(ctx.get());
    v1::TxnRequest begin;
    begin.mutable_begin();
    v1::TxnResponse resp;
    if (stream->Write(begin)) stream->Read(&resp);
    stream->WritesDone();
    while (stream->Read(&resp)) {
    }
    return stream->Finish();
  }
  uint64_t LastSeq() {
    v1::StatsResponse st;
    grpc::Status s =
        admin_->Stats(Ctx(kReadToken).get(), v1::StatsRequest(), &st);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return st.last_seq();
  }

  static std::string* dir_;
  static CairndProcess* server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<KV::Stub> kv_;
  std::unique_ptr<Admin::Stub> admin_;
  std::string key_;
};

std::string* AuthTest::dir_ = nullptr;
CairndProcess* AuthTest::server_ = nullptr;

TEST_F(AuthTest, NoTokenIsUnauthenticated) {
  v1::GetResponse g;
  EXPECT_EQ(Get("", key_, &g).error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Put("", key_, "v").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Flush("").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(ScanStatus("").error_code(), StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(TxnStatus("").error_code(), StatusCode::UNAUTHENTICATED);
  v1::StatsResponse st;
  EXPECT_EQ(admin_->Stats(Ctx().get(), v1::StatsRequest(), &st).error_code(),
            StatusCode::UNAUTHENTICATED);
  ASSERT_TRUE(Get(kAdminToken, key_, &g).ok());
  EXPECT_FALSE(g.found());
}

TEST_F(AuthTest, WrongTokenIsUnauthenticated) {
  uint64_t seq = LastSeq();
  v1::GetResponse g;
  EXPECT_EQ(Get("not-a-token-0123456789", key_, &g).error_code(),
            StatusCode::UNAUTHENTICATED);
  // A prefix or an extension of a real token is not the token.
  EXPECT_EQ(Put(std::string(kAdminToken).substr(0, 20), key_, "v").error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Put(absl::StrCat(kAdminToken, "x"), key_, "v").error_code(),
            StatusCode::UNAUTHENTICATED);
  // Not the Bearer scheme.
  auto ctx = Ctx();
  ctx->AddMetadata("authorization", absl::StrCat("Basic ", kAdminToken));
  v1::GetRequest req;
  req.set_key(key_);
  EXPECT_EQ(kv_->Get(ctx.get(), req, &g).error_code(),
            StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(LastSeq(), seq);
}

TEST_F(AuthTest, ReadTokenReadsOnly) {
  ASSERT_TRUE(Put(kAdminToken, key_, "old").ok());
  uint64_t seq = LastSeq();
  v1::GetResponse g;
  ASSERT_TRUE(Get(kReadToken, key_, &g).ok());
  EXPECT_EQ(g.value(), "old");
  EXPECT_TRUE(ScanStatus(kReadToken).ok());
  // The snapshot calls and Stats need only read.
  v1::AcquireSnapshotResponse ar;
  ASSERT_TRUE(admin_
                  ->AcquireSnapshot(Ctx(kReadToken).get(),
                                    v1::AcquireSnapshotRequest(), &ar)
                  .ok());
  v1::ReleaseSnapshotRequest rel;
  rel.set_seq(ar.seq());
  v1::ReleaseSnapshotResponse rr;
  EXPECT_TRUE(admin_->ReleaseSnapshot(Ctx(kReadToken).get(), rel, &rr).ok());

  grpc::Status s = Put(kReadToken, key_, "new");
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  v1::DeleteRequest d;
  d.set_key(key_);
  v1::DeleteResponse dr;
  EXPECT_EQ(kv_->Delete(Ctx(kReadToken).get(), d, &dr).error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::BatchRequest b;
  b.add_ops()->mutable_delete_()->set_key(key_);
  v1::BatchResponse br;
  EXPECT_EQ(kv_->Batch(Ctx(kReadToken).get(), b, &br).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(TxnStatus(kReadToken).error_code(), StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(Flush(kReadToken).error_code(), StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(Get(kAdminToken, key_, &g).ok());
  EXPECT_EQ(g.value(), "old");
  EXPECT_EQ(LastSeq(), seq);
}

TEST_F(AuthTest, WriteTokenWritesButIsNoAdmin) {
  ASSERT_TRUE(Put(kWriteToken, key_, "w").ok());
  v1::GetResponse g;
  ASSERT_TRUE(Get(kWriteToken, key_, &g).ok());  // write includes read
  EXPECT_EQ(g.value(), "w");
  EXPECT_TRUE(TxnStatus(kWriteToken).ok());
  grpc::Status s = Flush(kWriteToken);
  EXPECT_EQ(s.error_code(), StatusCode::PERMISSION_DENIED) << s.error_message();
  v1::CompactResponse cr;
  EXPECT_EQ(admin_->Compact(Ctx(kWriteToken).get(), v1::CompactRequest(), &cr)
                .error_code(),
            StatusCode::PERMISSION_DENIED);
  v1::CheckpointRequest c;
  c.set_dir(MakeTempDir("cairn-auth-ckpt-") + "/copy");
  v1::CheckpointResponse ckr;
  EXPECT_EQ(admin_->Checkpoint(Ctx(kWriteToken).get(), c, &ckr).error_code(),
            StatusCode::PERMISSION_DENIED);
  EXPECT_FALSE(std::filesystem::exists(c.dir()));
  std::filesystem::remove_all(std::filesystem::path(c.dir()).parent_path());
}

TEST_F(AuthTest, AdminTokenDoesEverything) {
  ASSERT_TRUE(Put(kAdminToken, key_, "a").ok());
  v1::GetResponse g;
  ASSERT_TRUE(Get(kAdminToken, key_, &g).ok());
  EXPECT_EQ(g.value(), "a");
  EXPECT_TRUE(ScanStatus(kAdminToken).ok());
  EXPECT_TRUE(TxnStatus(kAdminToken).ok());
  EXPECT_TRUE(Flush(kAdminToken).ok());
  v1::CompactResponse cr;
  EXPECT_TRUE(
      admin_->Compact(Ctx(kAdminToken).get(), v1::CompactRequest(), &cr).ok());
  v1::StatsResponse st;
  EXPECT_TRUE(
      admin_->Stats(Ctx(kAdminToken).get(), v1::StatsRequest(), &st).ok());
}

TEST_F(AuthTest, HealthNeedsNoToken) {
  auto health = Health::NewStub(channel_);
  HealthCheckRequest req;
  HealthCheckResponse resp;
  grpc::Status s = health->Check(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.status(), HealthCheckResponse::SERVING);
}

TEST(AuthStartTest, BadTokenFilesFailTheStart) {
  std::string dir = MakeTempDir("cairn-badtokens-");
  const std::string good = "0123456789abcdef";
  std::vector<std::string> bad_contents = {
      "",                                         // no tokens
      "# only a comment\n\n",                     // no tokens
      "reader " + good + "\n",                    // unknown role
      "read 0123456789abcde\n",                   // 15 characters
      "read " + good + " extra\n",                // three fields
      "read\n",                                   // no token
      "read " + good + "\nadmin " + good + "\n",  // token listed twice
      "read " + good + "\xc3\xa9\n",              // not ASCII
  };
  for (size_t i = 0; i < bad_contents.size(); ++i) {
    std::string file = absl::StrCat(dir, "/tokens", i);
    WriteFile(file, bad_contents[i]);
    SCOPED_TRACE(absl::StrCat("token file #", i));
    ExpectStartFails({"--auth_tokens=" + file}, "auth_tokens");
  }
  ExpectStartFails({"--auth_tokens=" + dir + "/missing"}, "auth_tokens");
  std::filesystem::remove_all(dir);
}

// --- TLS ---

class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_NE(certs, nullptr);
    CairndOptions o;
    o.args = {"--durability=async", "--tls_cert=" + certs->server_cert,
              "--tls_key=" + certs->server_key};
    o.tls_ca_file = certs->ca;
    auto p = CairndProcess::Start(o);  // ready: a TLS health check passed
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = p->release();
  }
  static void TearDownTestSuite() {
    if (server_ != nullptr) {
      StopCleanly(server_);
      delete server_;
      server_ = nullptr;
    }
  }
  void SetUp() override { ASSERT_NE(server_, nullptr); }

  static grpc::Status PutGet(const std::shared_ptr<grpc::Channel>& channel,
                             absl::Duration timeout = absl::Seconds(30)) {
    auto kv = KV::NewStub(channel);
    v1::PutRequest p;
    p.set_key("tls/k");
    p.set_value("secret");
    v1::PutResponse pr;
    grpc::Status s = kv->Put(Ctx("", timeout).get(), p, &pr);
    if (!s.ok()) return s;
    v1::GetRequest g;
    g.set_key("tls/k");
    v1::GetResponse gr;
    s = kv->Get(Ctx("", timeout).get(), g, &gr);
    if (s.ok() && gr.value() != "secret") {
      return grpc::Status(StatusCode::INTERNAL, "wrong value read back");
    }
    return s;
  }

  static CairndProcess* server_;
};

CairndProcess* TlsTest::server_ = nullptr;

TEST_F(TlsTest, TlsChannelTrustingTheCaWorks) {
  grpc::Status s = PutGet(server_->Channel());
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::StrContains(server_->Log(), "tls=on")) << server_->Log();
}

TEST_F(TlsTest, InsecureChannelFails) {
  grpc::Status s =
      PutGet(MakeChannel(server_->address(), ""), absl::Seconds(10));
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(TlsTest, ChannelTrustingAnotherCaFails) {
  grpc::Status s = PutGet(MakeChannel(server_->address(), certs->other_ca),
                          absl::Seconds(10));
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
}

class MutualTlsTest : public TlsTest {
 protected:
  static void SetUpTestSuite() {
    ASSERT_NE(certs, nullptr);
    CairndOptions o;
    o.args = {"--durability=async", "--tls_cert=" + certs->server_cert,
              "--tls_key=" + certs->server_key, "--tls_client_ca=" + certs->ca};
    o.tls_ca_file = certs->ca;
    o.tls_client_cert_file = certs->client_cert;
    o.tls_client_key_file = certs->client_key;
    auto p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = p->release();
  }
};

TEST_F(MutualTlsTest, ClientWithCaSignedCertificateWorks) {
  grpc::Status s = PutGet(server_->Channel());
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_TRUE(absl::StrContains(server_->Log(), "mtls=on")) << server_->Log();
}

TEST_F(MutualTlsTest, ClientWithoutCertificateFails) {
  grpc::Status s =
      PutGet(MakeChannel(server_->address(), certs->ca), absl::Seconds(10));
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(MutualTlsTest, ClientWithAnotherCasCertificateFails) {
  grpc::Status s =
      PutGet(MakeChannel(server_->address(), certs->ca,
                         certs->other_client_cert, certs->other_client_key),
             absl::Seconds(10));
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
}

TEST_F(MutualTlsTest, InsecureChannelFails) {
  grpc::Status s =
      PutGet(MakeChannel(server_->address(), ""), absl::Seconds(10));
  EXPECT_EQ(s.error_code(), StatusCode::UNAVAILABLE) << s.error_message();
}

TEST(TlsStartTest, MissingOrGarbageFilesFailTheStart) {
  ASSERT_NE(certs, nullptr);
  std::string dir = MakeTempDir("cairn-badtls-");
  std::string garbage = dir + "/garbage.pem";
  WriteFile(garbage, "this is not PEM\n");
  const std::string cert = "--tls_cert=" + certs->server_cert;
  const std::string key = "--tls_key=" + certs->server_key;
  ExpectStartFails({"--tls_cert=" + dir + "/missing.pem", key}, "tls_cert");
  ExpectStartFails({"--tls_cert=" + garbage, key}, "tls_cert");
  ExpectStartFails({cert, "--tls_key=" + dir + "/missing.key"}, "tls_key");
  ExpectStartFails({cert, "--tls_key=" + garbage}, "tls_key");
  // A certificate where the key belongs.
  ExpectStartFails({cert, "--tls_key=" + certs->server_cert}, "tls_key");
  // Only one half of the pair.
  ExpectStartFails({cert}, "tls_key");
  ExpectStartFails({key}, "tls_cert");
  // A client CA without a server certificate, or one that cannot be read.
  ExpectStartFails({"--tls_client_ca=" + certs->ca}, "tls_client_ca");
  ExpectStartFails({cert, key, "--tls_client_ca=" + dir + "/missing.pem"},
                   "tls_client_ca");
  std::filesystem::remove_all(dir);
}

// --- listening beyond loopback ---

TEST(ListenTest, BeyondLoopbackWithoutTlsWarns) {
  int port = FreePort();
  ASSERT_GT(port, 0);
  CairndOptions o;
  // The harness passes its own loopback --listen first; the last one wins.
  o.args = {"--durability=async", absl::StrCat("--listen=0.0.0.0:", port)};
  o.wait_ready = false;  // the harness would probe its own address
  auto started = CairndProcess::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  CairndProcess* p = started->get();
  const std::string address = absl::StrCat("127.0.0.1:", port);
  bool serving = false;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!serving && absl::Now() < deadline && p->Running()) {
    // A fresh channel each time, as the harness does.
    auto health = Health::NewStub(MakeChannel(address, ""));
    HealthCheckResponse resp;
    grpc::Status s = health->Check(Ctx("", absl::Seconds(1)).get(),
                                   HealthCheckRequest(), &resp);
    serving = s.ok() && resp.status() == HealthCheckResponse::SERVING;
    if (!serving) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(serving) << p->Log();
  EXPECT_TRUE(absl::StrContains(p->Log(), "without TLS")) << p->Log();
  // It serves on the address given, not the harness's.
  auto kv = KV::NewStub(MakeChannel(address, ""));
  v1::PutRequest req;
  req.set_key("k");
  req.set_value("v");
  v1::PutResponse resp;
  grpc::Status s = kv->Put(Ctx().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  StopCleanly(p);
}

TEST(ListenTest, LoopbackAndTlsDoNotWarn) {
  ASSERT_NE(certs, nullptr);
  {
    auto p = CairndProcess::Start(CairndOptions{});
    ASSERT_TRUE(p.ok()) << p.status();
    EXPECT_FALSE(absl::StrContains((*p)->Log(), "without TLS")) << (*p)->Log();
    StopCleanly(p->get());
  }
  int port = FreePort();
  ASSERT_GT(port, 0);
  CairndOptions o;
  o.args = {"--tls_cert=" + certs->server_cert,
            "--tls_key=" + certs->server_key,
            absl::StrCat("--listen=0.0.0.0:", port)};
  o.wait_ready = false;
  auto started = CairndProcess::Start(o);
  ASSERT_TRUE(started.ok()) << started.status();
  CairndProcess* p = started->get();
  bool serving = false;
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (!serving && absl::Now() < deadline && p->Running()) {
    auto health = Health::NewStub(
        MakeChannel(absl::StrCat("127.0.0.1:", port), certs->ca));
    HealthCheckResponse resp;
    grpc::Status s = health->Check(Ctx("", absl::Seconds(1)).get(),
                                   HealthCheckRequest(), &resp);
    serving = s.ok() && resp.status() == HealthCheckResponse::SERVING;
    if (!serving) absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(serving) << p->Log();
  EXPECT_FALSE(absl::StrContains(p->Log(), "without TLS")) << p->Log();
  StopCleanly(p);
}

}  // namespace
}  // namespace cairn::test
