// Disk full, end to end: the real cairnd with its data directory on a small
// tmpfs mounted by the test (skipped, saying why, where mount is not
// permitted), next to a filler file that takes the free space.
//
// DiskFullTest.ReadOnlyUntilRestart: without --min_free_disk_bytes, writes
// go on until the file system refuses one (a WAL segment or an SSTable that
// cannot be allocated): that write fails RESOURCE_EXHAUSTED, the engine turns
// read-only (its background error), every later write fails the same way,
// reads return every acknowledged value, gRPC health says NOT_SERVING for ""
// and cairn.v1.KV (SERVING for Admin), /healthz answers 503 with the reason,
// cairn_engine_background_error is 1, and one error line is logged. Freeing
// the space does not end the read-only state; a restart does, and brings
// back everything acknowledged.
//
// DiskFullTest.MinFreeDiskBytesRefusesAndResumes: with --min_free_disk_bytes,
// writes are refused (RESOURCE_EXHAUSTED naming the setting) while free
// space is below it, before anything fails; the engine stays writable, and
// writes resume by themselves once space is freed (here: the tmpfs remounted
// bigger), without a restart.
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "cairn/v1/kv.grpc.pb.h"
#include "cairnd_process.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server/server_test_util.h"

namespace cairn::faults {
namespace {

using grpc::health::v1::Health;
using grpc::health::v1::HealthCheckRequest;
using grpc::health::v1::HealthCheckResponse;
using test::CairndOptions;
using test::CairndProcess;
using test::Ctx;

// A tmpfs of a given size mounted on a fresh directory; unmounted (lazily,
// so that a leftover process cannot keep it) and removed on destruction.
class SmallTmpfs {
 public:
  // Empty `error()` on success.
  explicit SmallTmpfs(uint64_t bytes) {
    char tmpl[] = "/tmp/cairn-diskfull-XXXXXX";
    if (::mkdtemp(tmpl) == nullptr) {
      error_ = absl::StrCat("mkdtemp: ", std::strerror(errno));
      return;
    }
    dir_ = tmpl;
    const std::string opts = absl::StrCat("size=", bytes, ",mode=0700");
    if (::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      error_ =
          absl::StrCat("mount -t tmpfs ", dir_, ": ", std::strerror(errno));
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
    if (!dir_.empty()) ::rmdir(dir_.c_str());
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  const std::string& error() const { return error_; }
  const std::string& dir() const { return dir_; }

  uint64_t FreeBytes() const {
    struct statvfs st;
    if (::statvfs(dir_.c_str(), &st) != 0) return 0;
    return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  }

  // Grows (or shrinks) the file system in place.
  bool Resize(uint64_t bytes) {
    const std::string opts = absl::StrCat("size=", bytes);
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) ==
           0;
  }

  // Creates `name` holding `bytes` (allocated, so the space is taken).
  bool Fill(const std::string& name, uint64_t bytes) {
    const std::string path = dir_ + "/" + name;
    const int fd = ::open(path.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0) return false;
    const int err = ::posix_fallocate(fd, 0, static_cast<off_t>(bytes));
    ::close(fd);
    return err == 0;
  }

 private:
  std::string dir_;
  std::string error_;
  bool mounted_ = false;
};

// GTEST_SKIP with the reason unless tmpfs can be mounted here (root, or a
// container that allows it).
#define MOUNT_OR_SKIP(fs)                                                     \
  if (!(fs).error().empty()) {                                                \
    std::printf("SKIPPED: cannot mount a tmpfs: %s\n", (fs).error().c_str()); \
    GTEST_SKIP() << "cannot mount a tmpfs: " << (fs).error();                 \
  }

class DiskFullTest : public ::testing::Test {
 protected:
  // cairnd on `tmpfs`, with WAL segments and memtables small enough that a
  // few MiB of writes rotate and flush.
  void StartServer(const SmallTmpfs& tmpfs, std::vector<std::string> extra) {
    CairndOptions o;
    o.data_dir = tmpfs.dir() + "/data";
    o.args = {"--wal_segment_bytes=1MiB", "--write_buffer_bytes=256KiB",
              "--target_file_bytes=256KiB", "--tail_retention_bytes=0",
              "--shutdown_grace=2s"};
    for (std::string& a : extra) o.args.push_back(std::move(a));
    auto p = CairndProcess::Start(std::move(o));
    ASSERT_TRUE(p.ok()) << p.status();
    server_ = std::move(*p);
    Connect();
  }
  void Connect() {
    channel_ = server_->Channel();
    kv_ = v1::KV::NewStub(channel_);
    health_ = Health::NewStub(channel_);
  }

  grpc::Status Put(const std::string& key, const std::string& value) {
    v1::PutRequest req;
    req.set_key(key);
    req.set_value(value);
    v1::PutResponse resp;
    return kv_->Put(Ctx().get(), req, &resp);
  }

  // Every acknowledged key reads back its value.
  void ExpectAcknowledged(const std::string& when) {
    for (const auto& [key, value] : acked_) {
      v1::GetRequest req;
      req.set_key(key);
      v1::GetResponse resp;
      grpc::Status s = kv_->Get(Ctx().get(), req, &resp);
      ASSERT_TRUE(s.ok()) << when << ": Get " << key << ": "
                          << s.error_message();
      ASSERT_TRUE(resp.found()) << when << ": lost " << key;
      ASSERT_EQ(resp.value(), value) << when << ": " << key;
    }
  }

  HealthCheckResponse::ServingStatus HealthOf(const std::string& service) {
    HealthCheckRequest req;
    req.set_service(service);
    HealthCheckResponse resp;
    grpc::Status s = health_->Check(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << service << ": " << s.error_message();
    return resp.status();
  }

  // Waits (bounded) for the server to report `status` for "".
  bool WaitForHealth(HealthCheckResponse::ServingStatus status) {
    const absl::Time deadline = absl::Now() + absl::Seconds(10);
    while (absl::Now() < deadline) {
      if (HealthOf("") == status) return true;
      absl::SleepFor(absl::Milliseconds(50));  // the server polls each second
    }
    return false;
  }

  std::string Metric(const std::string& name) {
    auto r = server_->HttpGet("/metrics");
    if (!r.ok() || r->first != 200) return "<no metrics>";
    // "<name> <value>" on a line of its own.
    const std::string& text = r->second;
    const std::string prefix = name + " ";
    for (size_t at = 0; at < text.size();) {
      size_t end = text.find('\n', at);
      if (end == std::string::npos) end = text.size();
      if (text.compare(at, prefix.size(), prefix) == 0) {
        return text.substr(at + prefix.size(), end - at - prefix.size());
      }
      at = end + 1;
    }
    return "<missing>";
  }

  std::unique_ptr<CairndProcess> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::KV::Stub> kv_;
  std::unique_ptr<Health::Stub> health_;
  std::map<std::string, std::string> acked_;
};

TEST_F(DiskFullTest, ReadOnlyUntilRestart) {
  SmallTmpfs tmpfs(24 << 20);
  MOUNT_OR_SKIP(tmpfs);
  StartServer(tmpfs, {});
  if (HasFatalFailure()) return;
  for (int i = 0; i < 200; ++i) {
    const std::string key = absl::StrCat("before-", i);
    const std::string value = std::string(1000, 'a' + i % 26);
    ASSERT_TRUE(Put(key, value).ok());
    acked_[key] = value;
  }
  // Leave less than a WAL segment free: the log cannot rotate and tables
  // cannot be written for long.
  const uint64_t free = tmpfs.FreeBytes();
  ASSERT_GT(free, 2u << 20);
  ASSERT_TRUE(tmpfs.Fill("filler", free - (512 << 10)));

  grpc::Status failed;
  for (int i = 0; i < 5000 && failed.ok(); ++i) {
    const std::string key = absl::StrCat("fill-", i);
    const std::string value(4000, 'b' + i % 20);
    failed = Put(key, value);
    if (failed.ok()) acked_[key] = value;
  }
  ASSERT_FALSE(failed.ok()) << "5000 writes of 4 KB fit in 512 KiB";
  EXPECT_EQ(failed.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << failed.error_message();
  std::printf("first refused write after %zu acknowledged: %s\n", acked_.size(),
              failed.error_message().c_str());

  // The read-only error state, reported.
  ASSERT_TRUE(WaitForHealth(HealthCheckResponse::NOT_SERVING));
  EXPECT_EQ(HealthOf("cairn.v1.KV"), HealthCheckResponse::NOT_SERVING);
  EXPECT_EQ(HealthOf("cairn.v1.Admin"), HealthCheckResponse::SERVING);
  auto healthz = server_->HttpGet("/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->first, 503);
  EXPECT_TRUE(absl::StrContains(healthz->second, "engine read-only"))
      << healthz->second;
  EXPECT_TRUE(absl::StrContains(healthz->second, "RESOURCE_EXHAUSTED"))
      << healthz->second;
  EXPECT_EQ(Metric("cairn_engine_background_error"), "1");
  // Later writes fail the same way; reads go on.
  grpc::Status again = Put("after-full", "x");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << again.error_message();
  ExpectAcknowledged("read-only");
  if (HasFatalFailure()) return;

  // Space comes back; the state lasts until a restart.
  ASSERT_EQ(::unlink((tmpfs.dir() + "/filler").c_str()), 0);
  again = Put("after-free", "x");
  EXPECT_EQ(again.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED)
      << again.error_message();
  const std::string log = server_->Log();
  size_t lines = 0;
  for (size_t at = 0;
       (at = log.find("engine is read-only", at)) != std::string::npos; ++at) {
    ++lines;
  }
  EXPECT_EQ(lines, 1u) << log;

  auto stopped = server_->Stop(SIGTERM, absl::Seconds(30));
  ASSERT_TRUE(stopped.ok()) << stopped.status() << server_->Log();
  ASSERT_TRUE(server_->Restart().ok()) << server_->Log();
  Connect();
  ExpectAcknowledged("after restart");
  if (HasFatalFailure()) return;
  EXPECT_TRUE(Put("after-restart", "ok").ok());
  EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(HealthOf("cairn.v1.KV"), HealthCheckResponse::SERVING);
  healthz = server_->HttpGet("/healthz");
  ASSERT_TRUE(healthz.ok());
  EXPECT_EQ(healthz->first, 200);
  EXPECT_EQ(Metric("cairn_engine_background_error"), "0");
  EXPECT_TRUE(server_->StopCleanly().ok()) << server_->Log();
}

TEST_F(DiskFullTest, MinFreeDiskBytesRefusesAndResumes) {
  SmallTmpfs tmpfs(32 << 20);
  MOUNT_OR_SKIP(tmpfs);
  StartServer(tmpfs, {"--min_free_disk_bytes=8MiB"});
  if (HasFatalFailure()) return;
  for (int i = 0; i < 100; ++i) {
    const std::string key = absl::StrCat("k", i);
    const std::string value(1000, 'a' + i % 26);
    ASSERT_TRUE(Put(key, value).ok());
    acked_[key] = value;
  }
  // Below the setting, with real space left.
  const uint64_t free = tmpfs.FreeBytes();
  ASSERT_GT(free, 12u << 20);
  ASSERT_TRUE(tmpfs.Fill("filler", free - (4 << 20)));
  // The engine looks at the free space at most every 100 ms.
  grpc::Status refused;
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline) {
    refused = Put("while-low", "x");
    if (!refused.ok()) break;
    acked_["while-low"] = "x";
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_TRUE(absl::StrContains(refused.error_message(), "min_free_disk_bytes"))
      << refused.error_message();
  // Not an error state: reads work, health stays SERVING.
  ExpectAcknowledged("low on space");
  if (HasFatalFailure()) return;
  EXPECT_EQ(HealthOf(""), HealthCheckResponse::SERVING);
  EXPECT_EQ(Metric("cairn_engine_background_error"), "0");
  // What an alert sees: the file system's size, free space under the
  // threshold, and the threshold.
  EXPECT_EQ(Metric("cairn_data_dir_size_bytes"), absl::StrCat(32 << 20));
  double free_now = -1;
  EXPECT_TRUE(absl::SimpleAtod(Metric("cairn_data_dir_free_bytes"), &free_now))
      << Metric("cairn_data_dir_free_bytes");
  EXPECT_GE(free_now, 0);
  EXPECT_LT(free_now, 8 << 20);
  EXPECT_EQ(Metric("cairn_min_free_disk_bytes"), absl::StrCat(8 << 20));

  // More space (the file system grown in place): writes resume, no restart.
  ASSERT_TRUE(tmpfs.Resize(64 << 20)) << std::strerror(errno);
  grpc::Status resumed;
  const absl::Time deadline2 = absl::Now() + absl::Seconds(10);
  while (absl::Now() < deadline2) {
    resumed = Put("resumed", "yes");
    if (resumed.ok()) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(resumed.ok()) << resumed.error_message();
  acked_["resumed"] = "yes";
  ExpectAcknowledged("resumed");
  EXPECT_TRUE(server_->StopCleanly().ok()) << server_->Log();
}

}  // namespace
}  // namespace cairn::faults
