// LoadConfig: defaults, the TOML config file, command-line precedence and
// errors that name the setting.
#include "config.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "absl/flags/reflection.h"
#include "gtest/gtest.h"

namespace cairn::server {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-config-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  void TearDown() override {
    std::string cmd = "rm -rf '" + dir_ + "'";
    ASSERT_EQ(system(cmd.c_str()), 0);
  }

  std::string WriteConfig(const std::string& text) {
    std::string path = dir_ + "/cairnd.toml";
    std::ofstream(path) << text;
    return path;
  }

  absl::StatusOr<ServerConfig> Load(std::vector<std::string> args) {
    args.insert(args.begin(), "cairnd");
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    return LoadConfig(static_cast<int>(args.size()), argv.data());
  }

  absl::FlagSaver saver_;  // each test starts from the flag defaults
  std::string dir_;
};

TEST_F(ConfigTest, DefaultsMatchTheDocumentedOnes) {
  absl::StatusOr<ServerConfig> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "127.0.0.1:7070");
  EXPECT_EQ(c->metrics_listen, "127.0.0.1:7071");
  EXPECT_EQ(c->data_dir, "./data");
  EXPECT_TRUE(c->default_sync);
  EXPECT_EQ(c->limits.max_key_bytes, 16u << 10);
  EXPECT_EQ(c->limits.max_value_bytes, 4u << 20);
  EXPECT_EQ(c->engine.write_buffer_size, 16u << 20);
  EXPECT_TRUE(c->auth_tokens_file.empty());
  EXPECT_TRUE(c->tls_cert_file.empty());
}

TEST_F(ConfigTest, FileSetsValuesAndCommandLineOverridesIt) {
  std::string path = WriteConfig(
      "# a comment\n"
      "listen = \"0.0.0.0:9000\"\n"
      "max_value_bytes = \"8MiB\"\n"
      "max_batch_ops = 50\n"
      "durability = \"async\"\n"
      "disable_auto_compactions = true\n"
      "shutdown_grace = \"3s\"\n");
  absl::StatusOr<ServerConfig> c =
      Load({"--config=" + path, "--max_batch_ops=70"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->listen, "0.0.0.0:9000");
  EXPECT_EQ(c->limits.max_value_bytes, 8u << 20);
  EXPECT_EQ(c->limits.max_batch_ops, 70u);  // the command line wins
  EXPECT_FALSE(c->default_sync);
  EXPECT_TRUE(c->engine.disable_auto_compactions);
  EXPECT_EQ(c->shutdown_grace, absl::Seconds(3));
}

TEST_F(ConfigTest, FlagNamesMayUseDashes) {
  absl::StatusOr<ServerConfig> c =
      Load({"--replica-of=primary.example:7070", "--max-key-bytes=2KiB",
            "-tail-progress-interval=250ms"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->replica.primary, "primary.example:7070");
  EXPECT_EQ(c->limits.max_key_bytes, 2048u);
  EXPECT_EQ(c->tail.progress_interval, absl::Milliseconds(250));
  // Only the name: a dash in a value stays.
  c = Load({"--data-dir=/tmp/a-b"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->data_dir, "/tmp/a-b");
}

TEST_F(ConfigTest, ByteSizesAcceptUnits) {
  absl::StatusOr<ServerConfig> c =
      Load({"--max_key_bytes=2KiB", "--write_buffer_bytes=1m",
            "--block_cache_bytes=1G", "--max_batch_bytes=12345"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->limits.max_key_bytes, 2048u);
  EXPECT_EQ(c->engine.write_buffer_size, 1u << 20);
  EXPECT_EQ(c->engine.block_cache_bytes, 1ull << 30);
  EXPECT_EQ(c->limits.max_batch_bytes, 12345u);
}

TEST_F(ConfigTest, TuningSettingsReachTheEngine) {
  std::string path = WriteConfig(
      "level_size_multiplier = 8.0\n"
      "soft_pending_compaction_bytes = \"16GiB\"\n"
      "hard_pending_compaction_bytes = \"64GiB\"\n"
      "block_bytes = \"16KiB\"\n"
      "max_open_files = 5000\n"
      "max_background_compactions = 3\n");
  absl::StatusOr<ServerConfig> c = Load({"--config=" + path});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->engine.max_bytes_for_level_multiplier, 8.0);
  EXPECT_EQ(c->engine.soft_pending_compaction_bytes_limit, 16ull << 30);
  EXPECT_EQ(c->engine.hard_pending_compaction_bytes_limit, 64ull << 30);
  EXPECT_EQ(c->engine.block_size, 16u << 10);
  EXPECT_EQ(c->engine.max_open_files, 5000);
  EXPECT_EQ(c->engine.max_background_compactions, 3);
}

TEST_F(ConfigTest, TuningDefaultsAreTheEnginesOwn) {
  absl::StatusOr<ServerConfig> c = Load({});
  ASSERT_TRUE(c.ok()) << c.status();
  const storage::Options engine;
  EXPECT_EQ(c->engine.max_bytes_for_level_multiplier,
            engine.max_bytes_for_level_multiplier);
  EXPECT_EQ(c->engine.soft_pending_compaction_bytes_limit,
            engine.soft_pending_compaction_bytes_limit);
  EXPECT_EQ(c->engine.hard_pending_compaction_bytes_limit,
            engine.hard_pending_compaction_bytes_limit);
  EXPECT_EQ(c->engine.block_size, engine.block_size);
  EXPECT_EQ(c->engine.max_open_files, engine.max_open_files);
}

TEST_F(ConfigTest, HardPendingCompactionLimitBelowSoftIsRefused) {
  absl::StatusOr<ServerConfig> c =
      Load({"--soft_pending_compaction_bytes=8GiB",
            "--hard_pending_compaction_bytes=4GiB"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("hard_pending_compaction_bytes"),
            std::string::npos)
      << c.status();
  // 0 turns a limit off, whatever the other.
  absl::FlagSaver saver;
  c = Load({"--soft_pending_compaction_bytes=8GiB",
            "--hard_pending_compaction_bytes=0"});
  EXPECT_TRUE(c.ok()) << c.status();
}

TEST_F(ConfigTest, UnknownSettingInFileIsNamed) {
  std::string path =
      WriteConfig("listen = \"127.0.0.1:1\"\nmax_vaule_bytes = 5\n");
  absl::StatusOr<ServerConfig> c = Load({"--config=" + path});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("max_vaule_bytes"), std::string::npos)
      << c.status();
}

TEST_F(ConfigTest, BadValueInFileIsNamed) {
  std::string path = WriteConfig("max_value_bytes = \"lots\"\n");
  absl::StatusOr<ServerConfig> c = Load({"--config=" + path});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("max_value_bytes"), std::string::npos)
      << c.status();
}

TEST_F(ConfigTest, SyntaxErrorGivesLine) {
  std::string path = WriteConfig("listen = \"a\"\nthis is not toml\n");
  absl::StatusOr<ServerConfig> c = Load({"--config=" + path});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find(":2:"), std::string::npos) << c.status();
}

TEST_F(ConfigTest, MissingFileFails) {
  absl::StatusOr<ServerConfig> c = Load({"--config=" + dir_ + "/nope.toml"});
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("nope.toml"), std::string::npos);
}

TEST_F(ConfigTest, OutOfRangeValuesAreNamed) {
  struct Case {
    std::string flag;
    std::string setting;
  } cases[] = {
      {"--durability=sometimes", "durability"},
      {"--compression=gzip", "compression"},
      {"--log_level=loud", "log_level"},
      {"--max_key_bytes=0", "max_key_bytes"},
      {"--max_value_bytes=100MiB", "max_value_bytes"},
      {"--l0_stop_trigger=2", "l0_stop_trigger"},
      {"--tls_cert=/x.pem", "tls"},
      {"--tls_client_ca=/ca.pem", "tls_client_ca"},
      {"--scan_chunk_keys=0", "scan_chunk_keys"},
      {"--snapshot_max_ttl=1s", "snapshot_max_ttl"},
      {"--write_threads=-1", "write_threads"},
      {"--level_size_multiplier=1", "level_size_multiplier"},
      {"--block_bytes=100", "block_bytes"},
      {"--max_open_files=3", "max_open_files"},
  };
  for (const Case& c : cases) {
    absl::FlagSaver saver;
    absl::StatusOr<ServerConfig> r = Load({c.flag});
    ASSERT_FALSE(r.ok()) << c.flag;
    EXPECT_NE(r.status().message().find(c.setting), std::string::npos)
        << c.flag << ": " << r.status();
  }
}

}  // namespace
}  // namespace cairn::server
