// End to end: `cairnd --verify` on clean and corrupted copies of the golden
// database (exit 0 / 1 naming the damaged file / 2 on usage), and the real
// cairnd started on corrupted copies: it refuses to start with a log line
// naming the file, or serves reads of damaged data as DATA_LOSS, never a
// wrong value.
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cairn/storage/verify.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "corruption_util.h"
#include "gtest/gtest.h"

namespace cairn::corruption {
namespace {

using test::CairndOptions;
using test::CairndProcess;

// Runs a command; returns its exit code and sets *out to its stdout.
int RunCapture(const std::string& command, std::string* out) {
  out->clear();
  std::FILE* p = popen(command.c_str(), "r");
  if (p == nullptr) return -1;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out->append(buf, n);
  const int status = pclose(p);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int CairndVerify(const std::string& dir, std::string* out) {
  return RunCapture(
      absl::StrCat(test::CairndPath(), " --verify --data_dir=", dir, " 2>&1"),
      out);
}

class CorruptionServerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    root_ = new ScratchDir;
    model_ = new Model;
    map_ = new StructureMap;
    golden_ = root_->Sub("golden");
    absl::Status s = BuildGoldenDb(golden_, model_);
    ASSERT_TRUE(s.ok()) << s;
    s = MapStructures(golden_, map_);
    ASSERT_TRUE(s.ok()) << s;
  }
  static void TearDownTestSuite() {
    delete map_;
    delete model_;
    delete root_;
  }

  // A copy of the golden database with one bit of structure s flipped, at
  // the first sampled offset that makes verify report corruption (or a
  // torn tail, if want_corrupt is false).
  Flip CorruptCopy(Structure s, const std::string& dir, bool want_corrupt) {
    std::mt19937_64 rng(static_cast<uint64_t>(s) + 1);
    for (int attempt = 0; attempt < 50; ++attempt) {
      std::filesystem::remove_all(dir);
      CopyDir(golden_, dir);
      Flip flip = PickFlip(*map_, s, &rng);
      FlipBit(dir + "/" + flip.file, flip.offset, flip.bit);
      auto report = storage::VerifyDatabase(dir);
      if (report.ok() && report->corrupt() == want_corrupt &&
          !report->problems.empty()) {
        return flip;
      }
    }
    ADD_FAILURE() << "no suitable flip in " << StructureName(s);
    return {};
  }

  static ScratchDir* root_;
  static Model* model_;
  static StructureMap* map_;
  static std::string golden_;
};

ScratchDir* CorruptionServerTest::root_ = nullptr;
Model* CorruptionServerTest::model_ = nullptr;
StructureMap* CorruptionServerTest::map_ = nullptr;
std::string CorruptionServerTest::golden_;

TEST_F(CorruptionServerTest, VerifyOfACleanDatabaseExitsZero) {
  std::string out;
  EXPECT_EQ(CairndVerify(golden_, &out), 0) << out;
  EXPECT_TRUE(out.starts_with("OK: ")) << out;
}

TEST_F(CorruptionServerTest, VerifyOfEachCorruptedStructureExitsOneNamingIt) {
  for (int i = 0; i < static_cast<int>(Structure::kCount); ++i) {
    const Structure s = static_cast<Structure>(i);
    if (s == Structure::kWalZeroTail) continue;  // a torn tail: below
    SCOPED_TRACE(StructureName(s));
    ScratchDir scratch;
    const std::string dir = scratch.Sub("db");
    const Flip flip = CorruptCopy(s, dir, /*want_corrupt=*/true);
    std::string out;
    EXPECT_EQ(CairndVerify(dir, &out), 1) << out;
    EXPECT_TRUE(out.starts_with("CORRUPT: ")) << out;
    const std::string named =
        s == Structure::kCurrent ? std::string("CURRENT") : flip.file;
    EXPECT_NE(out.find(absl::StrCat("corruption: ", dir, "/", named)),
              std::string::npos)
        << out;
  }
}

TEST_F(CorruptionServerTest, VerifyReportsATornTailAndExitsZero) {
  ScratchDir scratch;
  const std::string dir = scratch.Sub("db");
  const Flip flip =
      CorruptCopy(Structure::kWalZeroTail, dir, /*want_corrupt=*/false);
  std::string out;
  EXPECT_EQ(CairndVerify(dir, &out), 0) << out;
  EXPECT_NE(out.find(absl::StrCat("torn tail: ", dir, "/", flip.file)),
            std::string::npos)
      << out;
}

TEST_F(CorruptionServerTest, VerifyUsageErrorsExitTwo) {
  ScratchDir empty;
  std::string out;
  EXPECT_EQ(CairndVerify(empty.path(), &out), 2) << out;
  EXPECT_NE(out.find("not a database"), std::string::npos) << out;
  EXPECT_EQ(CairndVerify(empty.Sub("missing"), &out), 2) << out;

  // A database a running cairnd holds is not verified under its feet.
  ScratchDir scratch;
  CopyDir(golden_, scratch.Sub("db"));
  CairndOptions o;
  o.data_dir = scratch.Sub("db");
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_EQ(CairndVerify(o.data_dir, &out), 2) << out;
  EXPECT_NE(out.find("open in another process"), std::string::npos) << out;
  EXPECT_TRUE((*server)->StopCleanly().ok());
}

TEST_F(CorruptionServerTest, CairndRefusesADamagedManifestNamingIt) {
  ScratchDir scratch;
  const std::string dir = scratch.Sub("db");
  const Flip flip = CorruptCopy(Structure::kManifestPayload, dir, true);
  CairndOptions o;
  o.data_dir = dir;
  o.wait_ready = false;
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto status = (*server)->Stop(/*sig=*/0);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 2)
      << (*server)->Log();
  const std::string log = (*server)->Log();
  EXPECT_NE(log.find("start failed"), std::string::npos) << log;
  EXPECT_NE(log.find(flip.file), std::string::npos) << log;
}

TEST_F(CorruptionServerTest, CairndServesDamagedTableDataAsDataLoss) {
  ScratchDir scratch;
  const std::string dir = scratch.Sub("db");
  CorruptCopy(Structure::kSstDataBlock, dir, true);
  CairndOptions o;
  o.data_dir = dir;
  auto server = CairndProcess::Start(o);
  ASSERT_TRUE(server.ok()) << server.status();
  auto kv = v1::KV::NewStub((*server)->Channel());
  int data_loss = 0;
  for (const std::string& key : model_->universe) {
    v1::GetRequest req;
    req.set_key(key);
    v1::GetResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() +
                     std::chrono::seconds(30));
    grpc::Status s = kv->Get(&ctx, req, &resp);
    auto m = model_->live.find(key);
    if (s.ok()) {
      if (resp.found()) {
        ASSERT_TRUE(m != model_->live.end()) << "found deleted key " << key;
        ASSERT_EQ(resp.value(), m->second) << "wrong value of " << key;
      } else {
        ASSERT_TRUE(m == model_->live.end()) << "lost key " << key;
      }
    } else {
      ASSERT_EQ(s.error_code(), grpc::StatusCode::DATA_LOSS)
          << s.error_message();
      ++data_loss;
    }
  }
  EXPECT_GT(data_loss, 0);
  EXPECT_TRUE((*server)->StopCleanly().ok()) << (*server)->Log();
}

}  // namespace
}  // namespace cairn::corruption
