// Helpers for the client library tests: one cairnd per test suite (started
// with the tests/server harness) and a Client connected to it.
#ifndef CAIRN_TESTS_CLIENT_LIB_CLIENT_TEST_UTIL_H_
#define CAIRN_TESTS_CLIENT_LIB_CLIENT_TEST_UTIL_H_

#include <memory>
#include <string>
#include <vector>

#include "cairn/client/client.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"

namespace cairn::test {

inline client::ClientOptions OptionsFor(const CairndProcess& server) {
  client::ClientOptions o;
  o.target = server.address();
  o.default_timeout = absl::Seconds(30);
  return o;
}

inline std::unique_ptr<client::Client> ConnectTo(
    const CairndProcess& server,
    client::ClientOptions options = client::ClientOptions()) {
  if (options.target == client::ClientOptions().target) {
    options.target = server.address();
  }
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(options);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// A suite with one cairnd started with `Args()`; every test gets client_.
class ClientSuite : public ::testing::Test {
 protected:
  static void StartServer(std::vector<std::string> args) {
    CairndOptions o;
    o.args = std::move(args);
    absl::StatusOr<std::unique_ptr<CairndProcess>> p = CairndProcess::Start(o);
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = std::move(*p).release();
  }
  static void StopServer() {
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "cairnd did not start";
    client_ = ConnectTo(*server_, OptionsFor(*server_));
    ASSERT_NE(client_, nullptr);
  }

  static CairndProcess* server_;
  std::unique_ptr<client::Client> client_;
};

inline CairndProcess* ClientSuite::server_ = nullptr;

}  // namespace cairn::test

#endif  // CAIRN_TESTS_CLIENT_LIB_CLIENT_TEST_UTIL_H_
