// The client library when things go wrong: deadlines (per call and the
// default) against a server that stops answering, retries of idempotent
// calls across a server restart (and no retries of the others), a TLS and
// mutual-TLS connection with a bearer token, and bad options.
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <thread>

#include "absl/strings/str_cat.h"
#include "client_test_util.h"
#include "test_certs.h"

namespace cairn::test {
namespace {

using client::ClientOptions;

// Sends SIGSTOP and waits until the kernel shows the process stopped (the
// signal is delivered asynchronously: a busy process may still answer a call
// right after kill() returned).
void Freeze(pid_t pid) {
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  std::string path = absl::StrCat("/proc/", pid, "/stat");
  for (int i = 0; i < 5000; ++i) {
    std::ifstream in(path);
    std::string stat((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
    size_t paren = stat.rfind(')');
    if (paren != std::string::npos && paren + 2 < stat.size() &&
        (stat[paren + 2] == 'T' || stat[paren + 2] == 't')) {
      return;
    }
    absl::SleepFor(absl::Milliseconds(1));
  }
  FAIL() << "cairnd did not stop";
}

// One cairnd per test: these tests stop and restart it.
class ClientResilienceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    CairndOptions o;
    o.args = {"--durability=sync"};
    absl::StatusOr<std::unique_ptr<CairndProcess>> p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = *std::move(p);
  }
  std::unique_ptr<CairndProcess> server_;
};

TEST_F(ClientResilienceTest, DeadlinesBoundCallsToAFrozenServer) {
  ClientOptions o = OptionsFor(*server_);
  o.default_timeout = absl::Seconds(1);
  std::unique_ptr<client::Client> c = ConnectTo(*server_, o);
  ASSERT_TRUE(c->Put("k", "v").ok());  // connected

  Freeze(server_->pid());
  absl::Time start = absl::Now();
  absl::StatusOr<client::GetResult> r = c->Get("k");  // the default deadline
  absl::Duration took = absl::Now() - start;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kDeadlineExceeded)
      << r.status();
  EXPECT_GE(took, absl::Milliseconds(900));
  EXPECT_LT(took, absl::Seconds(10));

  start = absl::Now();
  absl::StatusOr<uint64_t> w =
      c->Put("k", "w", {.timeout = absl::Milliseconds(100)});  // its own
  took = absl::Now() - start;
  EXPECT_EQ(w.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_LT(took, absl::Milliseconds(900));  // not the default second

  std::unique_ptr<client::Scanner> s = c->Scan({});
  client::KeyValue kv;
  EXPECT_FALSE(s->Next(&kv));
  EXPECT_EQ(s->status().code(), absl::StatusCode::kDeadlineExceeded);

  absl::StatusOr<std::unique_ptr<client::Transaction>> t =
      c->BeginTransaction();
  EXPECT_EQ(t.status().code(), absl::StatusCode::kDeadlineExceeded);

  ASSERT_EQ(kill(server_->pid(), SIGCONT), 0);
  EXPECT_EQ(c->Get("k")->value, "v");
}

TEST_F(ClientResilienceTest, IdempotentCallsRetryAcrossARestart) {
  std::unique_ptr<client::Client> c = ConnectTo(*server_, OptionsFor(*server_));
  ASSERT_TRUE(c->Put("k", "v1").ok());
  ASSERT_TRUE(server_->StopCleanly().ok());

  // While the server is down, a call that may not be repeated fails fast.
  absl::StatusOr<uint64_t> m = c->Merge("n", "add", "1");
  EXPECT_EQ(m.status().code(), absl::StatusCode::kUnavailable) << m.status();
  ClientOptions no_retry = OptionsFor(*server_);
  no_retry.retry.max_attempts = 1;
  std::unique_ptr<client::Client> once = ConnectTo(*server_, no_retry);
  EXPECT_EQ(once->Get("k").status().code(), absl::StatusCode::kUnavailable);

  // A read (and, when allowed, an idempotent write) started while the
  // server is down succeeds once it is back, inside the call's deadline.
  absl::Status restarted;
  std::thread restarter([&] {
    absl::SleepFor(absl::Milliseconds(700));
    restarted = server_->Restart();
  });
  ClientOptions retrying = OptionsFor(*server_);
  retrying.retry.max_attempts = 100;
  retrying.retry.max_backoff = absl::Milliseconds(200);
  retrying.retry.retry_idempotent_writes = true;
  std::unique_ptr<client::Client> r = ConnectTo(*server_, retrying);
  absl::Time start = absl::Now();
  absl::StatusOr<client::GetResult> got = r->Get("k");
  absl::Duration took = absl::Now() - start;
  restarter.join();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->value, "v1");
  EXPECT_GE(took, absl::Milliseconds(500));  // it did wait for the restart

  // The first client (default policy) works again too.
  EXPECT_EQ(c->Get("k")->value, "v1");

  ASSERT_TRUE(server_->Stop(SIGKILL).ok());
  std::thread again([&] {
    absl::SleepFor(absl::Milliseconds(500));
    restarted = server_->Restart();
  });
  absl::StatusOr<uint64_t> put = r->Put("k", "v2");
  again.join();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ(c->Get("k")->value, "v2");
}

TEST_F(ClientResilienceTest, RetriesStopAtTheDeadline) {
  ClientOptions o = OptionsFor(*server_);
  o.retry.max_attempts = 1000;
  std::unique_ptr<client::Client> c = ConnectTo(*server_, o);
  ASSERT_TRUE(server_->StopCleanly().ok());
  absl::Time start = absl::Now();
  absl::StatusOr<client::GetResult> r =
      c->Get("k", {.timeout = absl::Milliseconds(800)});
  absl::Duration took = absl::Now() - start;
  EXPECT_FALSE(r.ok());
  EXPECT_TRUE(absl::IsUnavailable(r.status()) ||
              absl::IsDeadlineExceeded(r.status()))
      << r.status();
  EXPECT_LT(took, absl::Seconds(3));
}

TEST(ClientOptionsTest, BadTlsFilesAreNamed) {
  ClientOptions o;
  o.tls.enabled = true;
  o.tls.ca_file = "/nonexistent/ca.pem";
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(o);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("tls.ca_file"), std::string::npos);

  o.tls.ca_file.clear();
  o.tls.cert_file = "/tmp/x.pem";  // without a key
  c = client::Client::Connect(o);
  ASSERT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(c.status().message().find("tls.key_file"), std::string::npos);
}

TEST(ClientOptionsTest, EnvironmentOverridesDefaults) {
  std::string dir = MakeTempDir("client-env");
  WriteFile(dir + "/token", "secret-token\n");
  setenv("CAIRN_ENDPOINT", "127.0.0.1:9", 1);
  setenv("CAIRN_TOKEN_FILE", (dir + "/token").c_str(), 1);
  setenv("CAIRN_TIMEOUT", "750ms", 1);
  setenv("CAIRN_TLS_CA", "/etc/ca.pem", 1);
  absl::StatusOr<ClientOptions> o = ClientOptions::FromEnvironment();
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->target, "127.0.0.1:9");
  EXPECT_EQ(o->token, "secret-token");
  EXPECT_EQ(o->default_timeout, absl::Milliseconds(750));
  EXPECT_TRUE(o->tls.enabled);
  EXPECT_EQ(o->tls.ca_file, "/etc/ca.pem");
  setenv("CAIRN_TIMEOUT", "soon", 1);
  o = ClientOptions::FromEnvironment();
  ASSERT_EQ(o.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(o.status().message().find("CAIRN_TIMEOUT"), std::string::npos);
  for (const char* v : {"CAIRN_ENDPOINT", "CAIRN_TOKEN_FILE", "CAIRN_TIMEOUT",
                        "CAIRN_TLS_CA"}) {
    unsetenv(v);
  }
  std::filesystem::remove_all(dir);
}

TEST(ClientSecurityTest, MutualTlsWithABearerToken) {
  ASSERT_NE(certs, nullptr);
  std::string dir = MakeTempDir("client-auth");
  WriteFile(dir + "/tokens", "admin admin-token-0123456789abcdef\n");
  CairndOptions o;
  o.args = {"--durability=async", "--tls_cert=" + certs->server_cert,
            "--tls_key=" + certs->server_key, "--tls_client_ca=" + certs->ca,
            "--auth_tokens=" + dir + "/tokens"};
  o.tls_ca_file = certs->ca;
  o.tls_client_cert_file = certs->client_cert;
  o.tls_client_key_file = certs->client_key;
  absl::StatusOr<std::unique_ptr<CairndProcess>> p = CairndProcess::Start(o);
  ASSERT_TRUE(p.ok()) << p.status();

  ClientOptions co;
  co.target = (*p)->address();
  co.tls.enabled = true;
  co.tls.ca_file = certs->ca;
  co.tls.cert_file = certs->client_cert;
  co.tls.key_file = certs->client_key;
  co.tls.server_name = "localhost";
  co.retry.max_attempts = 3;
  co.default_timeout = absl::Seconds(30);
  co.token = "admin-token-0123456789abcdef";
  std::unique_ptr<client::Client> c = ConnectTo(**p, co);
  absl::StatusOr<std::string> h = c->Health();
  ASSERT_TRUE(h.ok()) << h.status();
  ASSERT_TRUE(c->Put("secure", "yes").ok());
  EXPECT_EQ(c->Get("secure")->value, "yes");

  co.token = "wrong-token";
  co.retry.max_attempts = 1;
  std::unique_ptr<client::Client> bad = ConnectTo(**p, co);
  EXPECT_EQ(bad->Get("secure").status().code(),
            absl::StatusCode::kUnauthenticated);

  co.token = "admin-token-0123456789abcdef";
  co.tls.cert_file.clear();
  co.tls.key_file.clear();  // no client certificate: refused by mTLS
  std::unique_ptr<client::Client> anon = ConnectTo(**p, co);
  EXPECT_FALSE(anon->Get("secure").ok());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace cairn::test

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new cairn::test::TestCertEnvironment);
  return RUN_ALL_TESTS();
}
