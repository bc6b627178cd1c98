#include "config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "string_view_bridge.h"
#include "toml++/toml.h"
#include "version.h"

namespace cairn::server {

// A byte count flag: "4096", "64KiB", "16MiB", "1GiB" (K/M/G/T and KB/MB
// spellings mean the same powers of 1024).
struct ByteSize {
  uint64_t bytes = 0;
};

bool AbslParseFlag(absl::string_view text, ByteSize* out, std::string* error) {
  std::string t(absl::StripAsciiWhitespace(text));
  size_t i = 0;
  while (i < t.size() && absl::ascii_isdigit(static_cast<unsigned char>(t[i])))
    ++i;
  uint64_t n = 0;
  if (i == 0 || !absl::SimpleAtoi(absl::string_view(t).substr(0, i), &n)) {
    *error = "expected a byte count such as 4096, 64KiB or 16MiB";
    return false;
  }
  std::string unit = absl::AsciiStrToLower(absl::string_view(t).substr(i));
  int shift = 0;
  if (unit.empty() || unit == "b") {
    shift = 0;
  } else if (unit == "k" || unit == "kb" || unit == "kib") {
    shift = 10;
  } else if (unit == "m" || unit == "mb" || unit == "mib") {
    shift = 20;
  } else if (unit == "g" || unit == "gb" || unit == "gib") {
    shift = 30;
  } else if (unit == "t" || unit == "tb" || unit == "tib") {
    shift = 40;
  } else {
    *error = absl::StrCat("unknown unit '", unit, "' (use B, KiB, MiB, GiB)");
    return false;
  }
  if (shift > 0 && n > (UINT64_MAX >> shift)) {
    *error = "byte count too large";
    return false;
  }
  out->bytes = n << shift;
  return true;
}

// The largest binary unit that divides the count exactly: 64MiB, not
// 67108864 (so --help shows defaults as a config file would write them).
std::string AbslUnparseFlag(ByteSize b) {
  static constexpr std::pair<const char*, int> kUnits[] = {
      {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}};
  if (b.bytes != 0) {
    for (const auto& [suffix, shift] : kUnits) {
      if (b.bytes % (uint64_t{1} << shift) == 0) {
        return absl::StrCat(b.bytes >> shift, suffix);
      }
    }
  }
  return absl::StrCat(b.bytes);
}

}  // namespace cairn::server

using cairn::server::ByteSize;

// --- server ---
ABSL_FLAG(std::string, config, "",
          "TOML file with settings (same names as these flags); command-line "
          "flags override it");
ABSL_FLAG(std::string, listen, "127.0.0.1:7070", "gRPC listen address");
ABSL_FLAG(std::string, metrics_listen, "127.0.0.1:7071",
          "HTTP address for /metrics and /healthz; empty disables it");
ABSL_FLAG(std::string, data_dir, "./data", "database directory");
ABSL_FLAG(std::string, durability, "sync",
          "default durability of writes that do not choose: sync (fdatasync "
          "before the ack) or async (ack once in the mapped WAL)");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM/SIGINT, how long in-flight calls may take to finish");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warn or error");
ABSL_FLAG(int, write_threads, 64,
          "threads that run sync transaction commits and durable consumer "
          "acks, so that many can share one WAL fdatasync; 0 runs them on "
          "gRPC's own threads (plain sync writes need no thread)");
ABSL_FLAG(bool, log_requests, false, "log one line per RPC");
ABSL_FLAG(bool, verify, false,
          "check every checksum of the database in --data_dir offline, print "
          "a report and exit (0: clean, 1: corruption, 2: no database, or it "
          "is open in a running cairnd); serves nothing");

// --- security ---
ABSL_FLAG(std::string, tls_cert, "",
          "PEM certificate chain; with --tls_key enables TLS");
ABSL_FLAG(std::string, tls_key, "", "PEM private key of --tls_cert");
ABSL_FLAG(std::string, tls_client_ca, "",
          "PEM CA bundle; when set clients must present a certificate it "
          "signed (mutual TLS)");
ABSL_FLAG(std::string, auth_tokens, "",
          "file of bearer tokens, one 'role token' pair per line (role: read, "
          "write or admin); empty disables auth");

// --- limits ---
ABSL_FLAG(ByteSize, max_key_bytes, ByteSize{16 << 10}, "largest key");
ABSL_FLAG(ByteSize, max_value_bytes, ByteSize{4 << 20},
          "largest value, merge operand or condition value");
ABSL_FLAG(uint64_t, max_batch_ops, 10000,
          "most ops (and conditions) in a Batch, keys in a MultiGet, writes "
          "in a transaction");
ABSL_FLAG(ByteSize, max_batch_bytes, ByteSize{16 << 20},
          "most key+value bytes in a Batch or a transaction");
ABSL_FLAG(ByteSize, max_message_bytes, ByteSize{24 << 20},
          "largest gRPC message received or sent");
ABSL_FLAG(int, max_concurrent_streams, 1024,
          "most streaming calls (Scan, Txn, Tail) open at once");
ABSL_FLAG(int, max_txn_streams, 256, "most Txn streams open at once");
ABSL_FLAG(uint64_t, scan_chunk_keys, 1000, "most keys in one Scan chunk");
ABSL_FLAG(ByteSize, scan_chunk_bytes, ByteSize{1 << 20},
          "a Scan chunk ends once it holds this many bytes");
ABSL_FLAG(int, max_snapshots, 1024, "most snapshots held through Admin");
ABSL_FLAG(absl::Duration, snapshot_default_ttl, absl::Seconds(60),
          "lifetime of an acquired snapshot when the call gives none");
ABSL_FLAG(absl::Duration, snapshot_max_ttl, absl::Hours(1),
          "longest lifetime of an acquired snapshot");

// --- engine ---
ABSL_FLAG(ByteSize, write_buffer_bytes, ByteSize{16 << 20},
          "memtable size that triggers a flush");
ABSL_FLAG(int, max_write_buffers, 4,
          "memtables (active + immutable) before writes stop");
ABSL_FLAG(ByteSize, block_cache_bytes, ByteSize{64 << 20},
          "block cache capacity");
ABSL_FLAG(std::string, compression, "none", "SSTable blocks: none, lz4, zstd");
ABSL_FLAG(int, bloom_bits_per_key, 10, "bloom filter bits per key; 0 = off");
ABSL_FLAG(ByteSize, target_file_bytes, ByteSize{64 << 20},
          "SSTable size at which compaction output is split");
ABSL_FLAG(int, l0_compaction_trigger, 4, "L0 files that start a compaction");
ABSL_FLAG(int, l0_slowdown_trigger, 20, "L0 files that slow writes down");
ABSL_FLAG(int, l0_stop_trigger, 36, "L0 files that stop writes");
ABSL_FLAG(ByteSize, max_bytes_for_level_base, ByteSize{256 << 20},
          "target size of L1");
ABSL_FLAG(double, level_size_multiplier, 10,
          "each level below L1 targets this many times the size of the one "
          "above");
ABSL_FLAG(ByteSize, soft_pending_compaction_bytes, ByteSize{64ull << 30},
          "writes slow down while compaction is this far behind (estimated "
          "bytes to rewrite); 0 = never");
ABSL_FLAG(ByteSize, hard_pending_compaction_bytes, ByteSize{256ull << 30},
          "writes stop while compaction is this far behind; 0 = never");
ABSL_FLAG(ByteSize, block_bytes, ByteSize{4 << 10},
          "uncompressed size of an SSTable data block");
ABSL_FLAG(int, max_open_files, 1000,
          "SSTables kept open in the table cache (keep well under the "
          "process's file limit)");
ABSL_FLAG(int, max_background_compactions, 1, "compaction threads");
ABSL_FLAG(bool, disable_auto_compactions, false,
          "only compact on Admin.Compact (for tests and bulk loads)");
ABSL_FLAG(ByteSize, delayed_write_rate, ByteSize{16 << 20},
          "write rate (bytes/s) while writes are slowed down");
ABSL_FLAG(ByteSize, memory_budget_bytes, ByteSize{0},
          "memtables + block cache budget; 0 = none");
ABSL_FLAG(ByteSize, min_free_disk_bytes, ByteSize{0},
          "refuse writes when the data dir's file system has less free");
ABSL_FLAG(ByteSize, wal_segment_bytes, ByteSize{64 << 20}, "WAL segment size");

// --- Tail ---
ABSL_FLAG(ByteSize, tail_retention_bytes, ByteSize{256 << 20},
          "WAL kept for Tail beyond what flushes need (the newest segments "
          "adding up to this); 0 = none");
ABSL_FLAG(absl::Duration, tail_retention_age, absl::ZeroDuration(),
          "WAL segments younger than this are kept for Tail; 0 = no age rule");
ABSL_FLAG(ByteSize, consumer_retention_bytes, ByteSize{4ull << 30},
          "cap on the WAL kept for named consumers' unacknowledged changes; "
          "0 = no cap");
ABSL_FLAG(absl::Duration, consumer_retention_age, absl::Hours(168),
          "WAL segments older than this are not kept for named consumers; "
          "0 = no cap");
ABSL_FLAG(absl::Duration, tail_progress_interval, absl::Seconds(1),
          "an idle Tail stream gets a progress message this often");
ABSL_FLAG(ByteSize, tail_chunk_bytes, ByteSize{256 << 10},
          "most event bytes in one Tail response (at most half of "
          "max_message_bytes)");
ABSL_FLAG(int, max_tail_streams, 256, "most Tail streams open at once");
ABSL_FLAG(int, max_consumers, 1024, "most named Tail consumers");

// --- Read replica ---
ABSL_FLAG(
    std::string, replica_of, "",
    "HOST:PORT of a primary to follow as a read replica; empty = primary");
ABSL_FLAG(std::string, replica_tls_ca, "",
          "PEM CA that signed the primary's certificate (enables TLS to it)");
ABSL_FLAG(std::string, replica_tls_cert, "",
          "PEM client certificate for mutual TLS with the primary");
ABSL_FLAG(std::string, replica_tls_key, "", "PEM key of --replica_tls_cert");
ABSL_FLAG(std::string, replica_token_file, "",
          "file holding the bearer token (read role) for the primary");
ABSL_FLAG(std::string, replica_durability, "async",
          "sync or async: whether each applied batch is synced to the "
          "replica's WAL (a replica that loses unsynced batches fetches them "
          "again)");
ABSL_FLAG(absl::Duration, replica_bootstrap_timeout, absl::Minutes(5),
          "how long an empty replica tries to reach the primary for its "
          "initial copy before exiting");

namespace cairn::server {
namespace {

// Where --config is, found before flag parsing so that the file's values can
// be loaded first and the command line can override them.
std::string FindConfigArg(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--") break;
    for (std::string_view p : {"--config=", "-config="}) {
      if (a.substr(0, p.size()) == p) return std::string(a.substr(p.size()));
    }
    if ((a == "--config" || a == "-config") && i + 1 < argc) return argv[i + 1];
  }
  return "";
}

// TOML value -> the text the flag's parser expects.
absl::StatusOr<std::string> TomlToFlagText(const toml::node& node,
                                           std::string_view name) {
  if (auto s = node.value<std::string>()) return *s;
  if (node.is_boolean())
    return std::string(*node.value<bool>() ? "true" : "false");
  if (node.is_integer()) return absl::StrCat(*node.value<int64_t>());
  if (node.is_floating_point()) return absl::StrCat(*node.value<double>());
  return absl::InvalidArgumentError(
      absl::StrCat("config: setting '", Sv(name),
                   "': expected a string, number or boolean"));
}

absl::Status ApplyConfigFile(const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return absl::InvalidArgumentError(
        absl::StrCat("config: ", path, ":", where.line, ":", where.column, ": ",
                     std::string(e.description())));
  }
  for (const auto& [key, node] : table) {
    std::string name(key.str());
    std::replace(name.begin(), name.end(), '-', '_');  // replica-of, too
    if (name == "config") {
      return absl::InvalidArgumentError(
          "config: setting 'config' is not allowed inside a config file");
    }
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr || flag->IsRetired() ||
        flag->Filename().find("server/src/config.cc") == std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("config: unknown setting '", name, "' in ", path));
    }
    absl::StatusOr<std::string> text = TomlToFlagText(node, name);
    if (!text.ok()) return text.status();
    std::string error;
    if (!flag->ParseFrom(*text, &error)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "config: setting '", name, "': bad value '", *text, "': ", error));
    }
  }
  return absl::OkStatus();
}

absl::Status Bad(std::string_view flag, std::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("setting '", Sv(flag), "': ", Sv(why)));
}

// A certificate and its key are given together or not at all.
absl::Status CertAndKey(const std::string& cert, std::string_view cert_flag,
                        const std::string& key, std::string_view key_flag) {
  if (cert.empty() == key.empty()) return absl::OkStatus();
  return Bad(cert.empty() ? cert_flag : key_flag,
             absl::StrCat(Sv(cert_flag), " and ", Sv(key_flag),
                          " must be given together"));
}

absl::Status Validate(const ServerConfig& c) {
  if (c.listen.empty()) return Bad("listen", "must not be empty");
  if (c.data_dir.empty()) return Bad("data_dir", "must not be empty");
  const Limits& l = c.limits;
  if (l.max_key_bytes == 0) return Bad("max_key_bytes", "must be > 0");
  if (l.max_key_bytes > (1u << 20)) {
    return Bad("max_key_bytes", "must be at most 1MiB");
  }
  if (l.max_batch_ops == 0) return Bad("max_batch_ops", "must be > 0");
  if (l.max_message_bytes < 4096 || l.max_message_bytes > (1ull << 31) - 1) {
    return Bad("max_message_bytes", "must be in [4KiB, 2GiB)");
  }
  if (l.max_value_bytes + l.max_key_bytes > l.max_message_bytes) {
    return Bad("max_value_bytes",
               "a key and a value of the largest sizes must fit in "
               "max_message_bytes");
  }
  if (l.max_concurrent_streams <= 0) {
    return Bad("max_concurrent_streams", "must be > 0");
  }
  if (l.max_txn_streams <= 0) return Bad("max_txn_streams", "must be > 0");
  if (l.scan_chunk_keys == 0) return Bad("scan_chunk_keys", "must be > 0");
  if (l.scan_chunk_bytes == 0) return Bad("scan_chunk_bytes", "must be > 0");
  if (l.scan_chunk_bytes > l.max_message_bytes / 2) {
    return Bad("scan_chunk_bytes", "must be at most half of max_message_bytes");
  }
  if (l.max_snapshots <= 0) return Bad("max_snapshots", "must be > 0");
  if (l.snapshot_default_ttl <= absl::ZeroDuration()) {
    return Bad("snapshot_default_ttl", "must be positive");
  }
  if (l.snapshot_max_ttl < l.snapshot_default_ttl) {
    return Bad("snapshot_max_ttl", "must be >= snapshot_default_ttl");
  }
  if (c.write_threads < 0 || c.write_threads > 1024) {
    return Bad("write_threads", "must be in [0, 1024]");
  }
  if (c.shutdown_grace < absl::ZeroDuration()) {
    return Bad("shutdown_grace", "must not be negative");
  }
  if (absl::Status s =
          CertAndKey(c.tls_cert_file, "tls_cert", c.tls_key_file, "tls_key");
      !s.ok()) {
    return s;
  }
  if (!c.tls_client_ca_file.empty() && c.tls_cert_file.empty()) {
    return Bad("tls_client_ca", "needs tls_cert and tls_key");
  }
  const storage::Options& e = c.engine;
  if (e.write_buffer_size < (64 << 10)) {
    return Bad("write_buffer_bytes", "must be at least 64KiB");
  }
  if (e.max_write_buffer_number < 2) {
    return Bad("max_write_buffers", "must be at least 2");
  }
  if (e.bloom_bits_per_key < 0 || e.bloom_bits_per_key > 64) {
    return Bad("bloom_bits_per_key", "must be in [0, 64]");
  }
  if (e.level0_file_num_compaction_trigger < 1) {
    return Bad("l0_compaction_trigger", "must be >= 1");
  }
  if (e.level0_slowdown_writes_trigger < e.level0_file_num_compaction_trigger) {
    return Bad("l0_slowdown_trigger", "must be >= l0_compaction_trigger");
  }
  if (e.level0_stop_writes_trigger < e.level0_slowdown_writes_trigger) {
    return Bad("l0_stop_trigger", "must be >= l0_slowdown_trigger");
  }
  if (e.max_background_compactions < 1) {
    return Bad("max_background_compactions", "must be >= 1");
  }
  if (!(e.max_bytes_for_level_multiplier >= 2 &&
        e.max_bytes_for_level_multiplier <= 100)) {
    return Bad("level_size_multiplier", "must be in [2, 100]");
  }
  if (e.soft_pending_compaction_bytes_limit != 0 &&
      e.hard_pending_compaction_bytes_limit != 0 &&
      e.hard_pending_compaction_bytes_limit <
          e.soft_pending_compaction_bytes_limit) {
    return Bad("hard_pending_compaction_bytes",
               "must be >= soft_pending_compaction_bytes (or 0)");
  }
  if (e.block_size < 512 || e.block_size > (4 << 20)) {
    return Bad("block_bytes", "must be in [512, 4MiB]");
  }
  if (e.max_open_files < 16) return Bad("max_open_files", "must be >= 16");
  if (e.delayed_write_rate == 0)
    return Bad("delayed_write_rate", "must be > 0");
  if (e.wal.segment_size < (1 << 20)) {
    return Bad("wal_segment_bytes", "must be at least 1MiB");
  }
  if (e.target_file_size < (64 << 10)) {
    return Bad("target_file_bytes", "must be at least 64KiB");
  }
  if (e.wal.retain_age < absl::ZeroDuration()) {
    return Bad("tail_retention_age", "must not be negative");
  }
  if (e.wal.max_hold_age < absl::ZeroDuration()) {
    return Bad("consumer_retention_age", "must not be negative");
  }
  const TailSettings& t = c.tail;
  if (t.progress_interval < absl::Milliseconds(10) ||
      t.progress_interval > absl::Hours(1)) {
    return Bad("tail_progress_interval", "must be in [10ms, 1h]");
  }
  if (t.chunk_bytes < 1024) return Bad("tail_chunk_bytes", "must be >= 1KiB");
  if (t.max_tail_streams <= 0) return Bad("max_tail_streams", "must be > 0");
  if (t.max_consumers <= 0) return Bad("max_consumers", "must be > 0");
  const ReplicaSettings& r = c.replica;
  if (!r.primary.empty() && r.primary.find(':') == std::string::npos) {
    return Bad("replica_of", "must be HOST:PORT");
  }
  if (r.primary.empty() &&
      (!r.tls_ca_file.empty() || !r.tls_cert_file.empty() ||
       !r.token_file.empty())) {
    return Bad("replica_of", "the replica_* settings need replica_of");
  }
  if (absl::Status s = CertAndKey(r.tls_cert_file, "replica_tls_cert",
                                  r.tls_key_file, "replica_tls_key");
      !s.ok()) {
    return s;
  }
  if (!r.tls_cert_file.empty() && r.tls_ca_file.empty()) {
    return Bad("replica_tls_ca", "mutual TLS to the primary needs its CA");
  }
  if (r.primary == c.listen) {
    return Bad("replica_of", "a server cannot replicate itself");
  }
  return absl::OkStatus();
}

}  // namespace

std::string_view RoleName(Role role) {
  switch (role) {
    case Role::kRead:
      return "read";
    case Role::kWrite:
      return "write";
    case Role::kAdmin:
      return "admin";
  }
  return "?";
}

namespace {

void SetUpUsage() {
  absl::FlagsUsageConfig usage;
  usage.contains_help_flags = [](absl::string_view file) {
    return file.find("server/src/config.cc") != absl::string_view::npos;
  };
  usage.contains_helpshort_flags = usage.contains_help_flags;
  usage.version_string = [] {
    return absl::StrCat("cairnd ", kCairnVersion, "\n");
  };
  usage.normalize_filename = [](absl::string_view f) {
    size_t at = f.rfind("server/src/");
    return std::string(at == absl::string_view::npos ? f : f.substr(at));
  };
  absl::SetFlagsUsageConfig(usage);
  absl::SetProgramUsageMessage(
      "cairnd: the Cairn key-value database server.\n\n"
      "Usage: cairnd [--flag=value ...]\n"
      "       cairnd --verify --data_dir=DIR\n\n"
      "Every flag can also be set in the TOML file named by --config, with\n"
      "the flag's name as the key; the command line overrides the file.\n"
      "Names may be written with dashes or underscores (--replica-of).\n"
      "Sizes: 4096, 64KiB, 16MiB, 1GiB. Durations: 500ms, 10s, 5m, 168h.");
}

// cairnd's own flags (those defined in this file), sorted by name.
std::vector<absl::CommandLineFlag*> ServerFlags() {
  std::vector<absl::CommandLineFlag*> flags;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (flag->Filename().find("server/src/config.cc") != std::string::npos) {
      flags.push_back(flag);
    }
  }
  std::sort(flags.begin(), flags.end(),
            [](const auto* a, const auto* b) { return a->Name() < b->Name(); });
  return flags;
}

// Appends `text` to `out`, wrapped at 79 columns, each line indented by
// `indent` spaces.
void AppendWrapped(const std::string& text, int indent, std::string* out) {
  constexpr size_t kWidth = 79;
  const std::string pad(indent, ' ');
  std::string line = pad;
  for (const std::string& word :
       std::vector<std::string>(absl::StrSplit(text, ' ', absl::SkipEmpty()))) {
    if (line.size() > pad.size() && line.size() + 1 + word.size() > kWidth) {
      absl::StrAppend(out, line, "\n");
      line = pad;
    }
    if (line.size() > pad.size()) line.push_back(' ');
    absl::StrAppend(&line, word);
  }
  if (line.size() > pad.size()) absl::StrAppend(out, line, "\n");
}

// The --help text: usage, then every flag with its help and default, or
// only the flags whose name or help contains `filter`.
std::string HelpText(const std::string& filter) {
  std::string out =
      absl::StrCat(absl::ProgramUsageMessage(), "\n\nFlags",
                   filter.empty() ? "" : " matching ", filter, ":\n");
  for (const absl::CommandLineFlag* flag : ServerFlags()) {
    const std::string name(flag->Name());
    const std::string help = flag->Help();
    if (!filter.empty() && !absl::StrContains(name, filter) &&
        !absl::StrContains(help, filter)) {
      continue;
    }
    std::string def = flag->DefaultValue();
    if (def.empty()) def = "\"\"";
    absl::StrAppend(&out, "  --", name, "  (default: ", def, ")\n");
    AppendWrapped(help, 6, &out);
  }
  return out;
}

// If argv asks for help (--help, -h, --helpfull, --helpshort or
// --help=SUBSTRING before any "--"), the filter it gives ("" for all).
std::optional<std::string> HelpRequest(const std::vector<std::string>& args) {
  for (size_t i = 1; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "--") break;
    if (a.rfind("--", 0) == 0) a.erase(0, 1);
    if (a == "-h" || a == "-help" || a == "-helpfull" || a == "-helpshort") {
      return std::string();
    }
    if (a.rfind("-help=", 0) == 0) return a.substr(6);
  }
  return std::nullopt;
}

}  // namespace

absl::StatusOr<ServerConfig> LoadConfig(int argc, char** argv) {
  // absl refuses a second usage message; tests load configs repeatedly.
  static std::once_flag usage_once;
  std::call_once(usage_once, SetUpUsage);

  // Flag names may be written with dashes (--replica-of) as well as
  // underscores (--replica_of).
  std::vector<std::string> args(argv, argv + argc);
  for (size_t i = 1; i < args.size(); ++i) {
    std::string& a = args[i];
    if (a == "--") break;
    if (a.size() < 2 || a[0] != '-') continue;
    const size_t name_start = a[1] == '-' ? 2 : 1;
    const size_t name_end = std::min(a.find('='), a.size());
    std::replace(a.begin() + name_start, a.begin() + name_end, '-', '_');
  }
  // absl's own --help handling exits with status 1; asking for help is not
  // an error.
  if (std::optional<std::string> filter = HelpRequest(args)) {
    fputs(HelpText(*filter).c_str(), stdout);
    std::exit(0);
  }
  std::string config_path = FindConfigArg(argc, argv);
  if (!config_path.empty()) {
    absl::Status s = ApplyConfigFile(config_path);
    if (!s.ok()) return s;
  }
  std::vector<char*> arg_ptrs;
  for (std::string& a : args) arg_ptrs.push_back(a.data());
  std::vector<char*> positional = absl::ParseCommandLine(
      static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  if (positional.size() > 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "unexpected argument '", positional[1], "' (settings are --flags)"));
  }

  ServerConfig c;
  c.listen = absl::GetFlag(FLAGS_listen);
  c.metrics_listen = absl::GetFlag(FLAGS_metrics_listen);
  c.data_dir = absl::GetFlag(FLAGS_data_dir);
  std::string durability = absl::GetFlag(FLAGS_durability);
  if (durability == "sync") {
    c.default_sync = true;
  } else if (durability == "async") {
    c.default_sync = false;
  } else {
    return Bad("durability",
               absl::StrCat("'", durability, "' is not 'sync' or 'async'"));
  }
  c.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  c.log_level = absl::GetFlag(FLAGS_log_level);
  if (c.log_level != "debug" && c.log_level != "info" &&
      c.log_level != "warn" && c.log_level != "error") {
    return Bad("log_level",
               absl::StrCat("'", c.log_level,
                            "' is not one of debug, info, warn, error"));
  }
  c.log_requests = absl::GetFlag(FLAGS_log_requests);
  c.verify = absl::GetFlag(FLAGS_verify);
  c.write_threads = absl::GetFlag(FLAGS_write_threads);
  c.tls_cert_file = absl::GetFlag(FLAGS_tls_cert);
  c.tls_key_file = absl::GetFlag(FLAGS_tls_key);
  c.tls_client_ca_file = absl::GetFlag(FLAGS_tls_client_ca);
  c.auth_tokens_file = absl::GetFlag(FLAGS_auth_tokens);

  Limits& l = c.limits;
  l.max_key_bytes = absl::GetFlag(FLAGS_max_key_bytes).bytes;
  l.max_value_bytes = absl::GetFlag(FLAGS_max_value_bytes).bytes;
  l.max_batch_ops = absl::GetFlag(FLAGS_max_batch_ops);
  l.max_batch_bytes = absl::GetFlag(FLAGS_max_batch_bytes).bytes;
  l.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes).bytes;
  l.max_concurrent_streams = absl::GetFlag(FLAGS_max_concurrent_streams);
  l.max_txn_streams = absl::GetFlag(FLAGS_max_txn_streams);
  l.scan_chunk_keys = absl::GetFlag(FLAGS_scan_chunk_keys);
  l.scan_chunk_bytes = absl::GetFlag(FLAGS_scan_chunk_bytes).bytes;
  l.max_snapshots = absl::GetFlag(FLAGS_max_snapshots);
  l.snapshot_default_ttl = absl::GetFlag(FLAGS_snapshot_default_ttl);
  l.snapshot_max_ttl = absl::GetFlag(FLAGS_snapshot_max_ttl);

  storage::Options& e = c.engine;
  e.write_buffer_size = absl::GetFlag(FLAGS_write_buffer_bytes).bytes;
  e.max_write_buffer_number = absl::GetFlag(FLAGS_max_write_buffers);
  e.block_cache_bytes = absl::GetFlag(FLAGS_block_cache_bytes).bytes;
  std::string compression = absl::GetFlag(FLAGS_compression);
  if (compression == "none") {
    e.compression = storage::CompressionType::kNone;
  } else if (compression == "lz4") {
    e.compression = storage::CompressionType::kLZ4;
  } else if (compression == "zstd") {
    e.compression = storage::CompressionType::kZstd;
  } else {
    return Bad("compression",
               absl::StrCat("'", compression, "' is not none, lz4 or zstd"));
  }
  e.bloom_bits_per_key = absl::GetFlag(FLAGS_bloom_bits_per_key);
  e.target_file_size = absl::GetFlag(FLAGS_target_file_bytes).bytes;
  e.level0_file_num_compaction_trigger =
      absl::GetFlag(FLAGS_l0_compaction_trigger);
  e.level0_slowdown_writes_trigger = absl::GetFlag(FLAGS_l0_slowdown_trigger);
  e.level0_stop_writes_trigger = absl::GetFlag(FLAGS_l0_stop_trigger);
  e.max_bytes_for_level_base =
      absl::GetFlag(FLAGS_max_bytes_for_level_base).bytes;
  e.max_bytes_for_level_multiplier = absl::GetFlag(FLAGS_level_size_multiplier);
  e.soft_pending_compaction_bytes_limit =
      absl::GetFlag(FLAGS_soft_pending_compaction_bytes).bytes;
  e.hard_pending_compaction_bytes_limit =
      absl::GetFlag(FLAGS_hard_pending_compaction_bytes).bytes;
  e.block_size = absl::GetFlag(FLAGS_block_bytes).bytes;
  e.max_open_files = absl::GetFlag(FLAGS_max_open_files);
  e.max_background_compactions =
      absl::GetFlag(FLAGS_max_background_compactions);
  e.disable_auto_compactions = absl::GetFlag(FLAGS_disable_auto_compactions);
  e.delayed_write_rate = absl::GetFlag(FLAGS_delayed_write_rate).bytes;
  e.memory_budget_bytes = absl::GetFlag(FLAGS_memory_budget_bytes).bytes;
  e.min_free_disk_bytes = absl::GetFlag(FLAGS_min_free_disk_bytes).bytes;
  e.wal.segment_size = absl::GetFlag(FLAGS_wal_segment_bytes).bytes;
  e.wal.retain_bytes = absl::GetFlag(FLAGS_tail_retention_bytes).bytes;
  e.wal.retain_age = absl::GetFlag(FLAGS_tail_retention_age);
  e.wal.max_hold_bytes = absl::GetFlag(FLAGS_consumer_retention_bytes).bytes;
  e.wal.max_hold_age = absl::GetFlag(FLAGS_consumer_retention_age);

  ReplicaSettings& r = c.replica;
  r.primary = absl::GetFlag(FLAGS_replica_of);
  r.tls_ca_file = absl::GetFlag(FLAGS_replica_tls_ca);
  r.tls_cert_file = absl::GetFlag(FLAGS_replica_tls_cert);
  r.tls_key_file = absl::GetFlag(FLAGS_replica_tls_key);
  r.token_file = absl::GetFlag(FLAGS_replica_token_file);
  r.bootstrap_timeout = absl::GetFlag(FLAGS_replica_bootstrap_timeout);
  const std::string rd = absl::GetFlag(FLAGS_replica_durability);
  if (rd != "sync" && rd != "async") {
    return Bad("replica_durability",
               absl::StrCat("'", rd, "' is not 'sync' or 'async'"));
  }
  r.sync = rd == "sync";

  TailSettings& t = c.tail;
  t.progress_interval = absl::GetFlag(FLAGS_tail_progress_interval);
  t.chunk_bytes = std::min(absl::GetFlag(FLAGS_tail_chunk_bytes).bytes,
                           l.max_message_bytes / 2);
  t.max_tail_streams = absl::GetFlag(FLAGS_max_tail_streams);
  t.max_consumers = absl::GetFlag(FLAGS_max_consumers);

  absl::Status s = Validate(c);
  if (!s.ok()) return s;
  return c;
}

}  // namespace cairn::server
