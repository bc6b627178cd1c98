// TestCerts: certificates made at test time with the openssl CLI, for the
// TLS tests: a CA, a server certificate for "localhost" and 127.0.0.1 and a
// client certificate it signed, and a second, unrelated CA with a client
// certificate of its own. Register TestCertEnvironment with
// ::testing::AddGlobalTestEnvironment; `certs` is set once it has run.
#ifndef CAIRN_TESTS_SERVER_TEST_CERTS_H_
#define CAIRN_TESTS_SERVER_TEST_CERTS_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "cairnd_process.h"
#include "gtest/gtest.h"

namespace cairn::test {

struct Certs {
  std::string dir;
  std::string ca, server_cert, server_key, client_cert, client_key;
  std::string other_ca, other_client_cert, other_client_key;
};
inline Certs* certs = nullptr;

inline std::string ReadTextFile(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Makes the certificates once for the whole binary, with the openssl CLI.
class TestCertEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    auto* c = new Certs;
    c->dir = MakeTempDir("cairn-certs-");
    ASSERT_FALSE(c->dir.empty());
    const std::string& d = c->dir;
    WriteFile(d + "/ca.cnf",
              "[req]\ndistinguished_name = dn\nprompt = no\n"
              "[dn]\nCN = Cairn Test CA\n"
              "[v3_ca]\nbasicConstraints = critical,CA:TRUE\n"
              "keyUsage = critical,keyCertSign,cRLSign\n"
              "subjectKeyIdentifier = hash\n");
    WriteFile(d + "/server.ext",
              "subjectAltName = DNS:localhost,IP:127.0.0.1\n"
              "basicConstraints = CA:FALSE\nextendedKeyUsage = serverAuth\n");
    WriteFile(d + "/client.ext",
              "basicConstraints = CA:FALSE\nextendedKeyUsage = clientAuth\n");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1";
    auto ca = [&](const std::string& name) {
      return absl::StrCat("openssl req -x509 -config ", d, "/ca.cnf ",
                          "-extensions v3_ca -subj /CN=", name, " ", ec,
                          " -nodes -days 2 -keyout ", d, "/", name, ".key ",
                          "-out ", d, "/", name, ".pem");
    };
    auto leaf = [&](const std::string& name, const std::string& cn,
                    const std::string& ca_name, const std::string& ext) {
      return absl::StrCat("openssl req ", ec, " -nodes -subj /CN=", cn,
                          " -keyout ", d, "/", name, ".key -out ", d, "/", name,
                          ".csr && openssl x509 -req -in ", d, "/", name,
                          ".csr -CA ", d, "/", ca_name, ".pem -CAkey ", d, "/",
                          ca_name, ".key -CAcreateserial -days 2 -extfile ", d,
                          "/", ext, " -out ", d, "/", name, ".pem");
    };
    for (const std::string& cmd :
         {ca("ca"), ca("otherca"),
          leaf("server", "localhost", "ca", "server.ext"),
          leaf("client", "cairn-client", "ca", "client.ext"),
          leaf("otherclient", "cairn-client", "otherca", "client.ext")}) {
      ASSERT_EQ(RunShell("(" + cmd + ") >>" + d + "/openssl.log 2>&1"), 0)
          << cmd << "\n"
          << ReadTextFile(d + "/openssl.log");
    }
    c->ca = d + "/ca.pem";
    c->server_cert = d + "/server.pem";
    c->server_key = d + "/server.key";
    c->client_cert = d + "/client.pem";
    c->client_key = d + "/client.key";
    c->other_ca = d + "/otherca.pem";
    c->other_client_cert = d + "/otherclient.pem";
    c->other_client_key = d + "/otherclient.key";
    certs = c;
  }
  void TearDown() override {
    if (certs == nullptr) return;
    std::error_code ec;
    std::filesystem::remove_all(certs->dir, ec);
    delete certs;
    certs = nullptr;
  }
};

}  // namespace cairn::test

#endif  // CAIRN_TESTS_SERVER_TEST_CERTS_H_
