// Helpers shared by the server test suites: a client context with a
// deadline, a status matcher that checks the field named in the message,
// Admin Stats and a wait for a server's last_seq, one series of /metrics,
// and a suite base that runs one cairnd for all the tests of a suite.
#ifndef CAIRN_TESTS_SERVER_SERVER_TEST_UTIL_H_
#define CAIRN_TESTS_SERVER_SERVER_TEST_UTIL_H_

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "cairn/v1/admin.grpc.pb.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"

namespace cairn::test {

// A client context whose deadline is `timeout` from now.
inline std::unique_ptr<grpc::ClientContext> Ctx(
    absl::Duration timeout = absl::Seconds(30)) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return c;
}

// A Put that must succeed (else a test failure); returns its sequence, 0 on
// failure.
inline uint64_t Put(v1::KV::Stub* kv, const std::string& key,
                    const std::string& value,
                    v1::Durability durability = v1::DURABILITY_DEFAULT) {
  v1::PutRequest req;
  req.set_key(key);
  req.set_value(value);
  req.set_durability(durability);
  v1::PutResponse resp;
  grpc::Status s = kv->Put(Ctx().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return s.ok() ? resp.seq() : 0;
}

// `status` has `code` and a message of the form "<field>: why" (the field as
// the request spells it). An empty `field` checks the code only.
inline ::testing::AssertionResult IsError(const grpc::Status& status,
                                          grpc::StatusCode code,
                                          const std::string& field) {
  if (status.error_code() != code) {
    return ::testing::AssertionFailure()
           << "code " << status.error_code() << " (want " << code
           << "), message: '" << status.error_message() << "'";
  }
  if (!field.empty() &&
      !absl::StartsWith(status.error_message(), absl::StrCat(field, ": "))) {
    return ::testing::AssertionFailure()
           << "message '" << status.error_message()
           << "' does not name the field '" << field << "'";
  }
  return ::testing::AssertionSuccess();
}

// Base of a suite whose tests share one cairnd: the derived suite's
// SetUpTestSuite calls StartSuiteServer; the server is stopped (and must
// exit cleanly) after the suite's last test.
inline v1::StatsResponse Stats(const std::shared_ptr<grpc::Channel>& channel) {
  v1::StatsResponse r;
  grpc::Status s = v1::Admin::NewStub(channel)->Stats(Ctx().get(), {}, &r);
  EXPECT_TRUE(s.ok()) << s.error_message();
  return r;
}

// Waits (at most `timeout`) until the server's last_seq reaches seq, as a
// replica's does once it applied everything up to seq.
inline bool WaitLastSeq(CairndProcess* server, uint64_t seq,
                        absl::Duration timeout = absl::Seconds(60)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (Stats(server->Channel()).last_seq() >= seq) return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

// The value of one series of cairnd's /metrics, named exactly as the
// exposition writes it (`name` or `name{label="value"}`); -1 if absent.
inline double MetricValue(const CairndProcess& server,
                          const std::string& series) {
  auto page = server.HttpGet("/metrics");
  if (!page.ok() || page->first != 200) return -1;
  const std::string prefix = series + " ";
  for (absl::string_view line : absl::StrSplit(page->second, '\n')) {
    if (absl::ConsumePrefix(&line, prefix)) {
      double v = -1;
      return absl::SimpleAtod(line, &v) ? v : -1;
    }
  }
  return -1;
}

class CairndSuite : public ::testing::Test {
 protected:
  // A server that does not start fails every test of the suite (a fatal
  // failure here would make gtest skip them, which ctest counts as passing).
  static void StartSuiteServer(CairndOptions options = {}) {
    auto p = CairndProcess::Start(std::move(options));
    if (!p.ok()) {
      start_error_ = p.status().ToString();
      return;
    }
    server_ = p->release();
  }
  static void TearDownTestSuite() {
    if (server_ == nullptr) return;
    absl::Status st = server_->StopCleanly();
    EXPECT_TRUE(st.ok()) << st;
    delete server_;
    server_ = nullptr;
  }
  void SetUp() override {
    ASSERT_NE(server_, nullptr) << "cairnd did not start: " << start_error_;
  }

  static inline CairndProcess* server_ = nullptr;
  static inline std::string start_error_;
};

}  // namespace cairn::test

#endif  // CAIRN_TESTS_SERVER_SERVER_TEST_UTIL_H_
