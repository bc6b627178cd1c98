// `cairn bench` over mutual TLS: the connection flags (--tls-ca,
// --tls-cert, --tls-key) reach every channel; without them the server
// cannot be reached, and the run says so quickly. A binary of its own
// because making the certificates costs every test process of it.
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "bench_runner.h"
#include "cairnd_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server_test_util.h"
#include "test_certs.h"

namespace cairn::test {
namespace {

using ::testing::HasSubstr;

[[maybe_unused]] ::testing::Environment* const kCertEnv =
    ::testing::AddGlobalTestEnvironment(new TestCertEnvironment);

class BenchTlsTest : public CairndSuite {
 protected:
  static void SetUpTestSuite() {
    if (certs == nullptr) {
      start_error_ = "no test certificates";
      return;
    }
    CairndOptions o;
    o.args = {"--durability=async", "--tls_cert=" + certs->server_cert,
              "--tls_key=" + certs->server_key, "--tls_client_ca=" + certs->ca};
    o.tls_ca_file = certs->ca;
    o.tls_client_cert_file = certs->client_cert;
    o.tls_client_key_file = certs->client_key;
    StartSuiteServer(std::move(o));
  }
};

TEST_F(BenchTlsTest, MutualTlsFlagsReachEveryChannel) {
  for (const char* workload : {"put", "tail"}) {
    RunResult r = RunBench(
        {"--endpoint=" + server_->address(), "--tls-ca=" + certs->ca,
         "--tls-cert=" + certs->client_cert, "--tls-key=" + certs->client_key,
         absl::StrCat("--workload=", workload), "--json", "--duration=500ms",
         "--warmup=0s", "--rate=500", "--channels=3"});
    EXPECT_EQ(r.exit_code, 0) << workload << ": " << r.err << r.out;
    std::vector<Level> levels = ParseLevels(r.out);
    ASSERT_EQ(levels.size(), 1u) << workload << ": " << r.out;
    EXPECT_EQ(Num(levels[0], "errors"), 0)
        << workload << ": " << Str(levels[0], "first_error");
    EXPECT_GT(Num(levels[0], "ops"), 0) << workload;
  }
}

TEST_F(BenchTlsTest, PlaintextCannotReachATlsServer) {
  RunResult r = RunBench(
      {"--endpoint=" + server_->address(), "--timeout=1s", "--workload=put"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach " + server_->address()));
  EXPECT_LT(r.seconds, 10);
}

TEST_F(BenchTlsTest, TlsWithoutTheClientCertificateCannotReachIt) {
  RunResult r =
      RunBench({"--endpoint=" + server_->address(), "--tls-ca=" + certs->ca,
                "--timeout=1s", "--workload=put"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_THAT(r.err, HasSubstr("cannot reach " + server_->address()));
}

}  // namespace
}  // namespace cairn::test
