// The operations subcommands: stats, flush, compact, checkpoint, health and
// snapshot acquire/release.
#include <algorithm>
#include <cstdio>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/v1/admin.pb.h"
#include "command.h"
#include "commands.h"
#include "exit_code.h"
#include "json_writer.h"
#include "result_format.h"
#include "script.h"

namespace cairn::cli {
namespace {

// Admin calls that may take long (a compaction of everything, a checkpoint
// of a big database) get no deadline unless the user chose one.
client::CallOptions LongCall(const CommandContext& ctx) {
  client::CallOptions o;
  if (!ctx.timeout_explicit()) o.timeout = absl::InfiniteDuration();
  return o;
}

std::string HumanBytes(uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int unit = 0;
  while (v >= 1024 && unit < 4) {
    v /= 1024;
    ++unit;
  }
  return unit == 0 ? absl::StrCat(bytes, " B")
                   : absl::StrFormat("%.1f %s", v, kUnits[unit]);
}

bool IsByteCount(const std::string& field) {
  return absl::EndsWith(field, "_bytes") ||
         absl::StartsWith(field, "block_cache_") ||
         field == "delayed_write_rate";
}

// `name: value` per scalar field of StatsResponse, then the levels.
std::string StatsText(const v1::StatsResponse& stats) {
  using google::protobuf::FieldDescriptor;
  const google::protobuf::Descriptor* d = stats.GetDescriptor();
  const google::protobuf::Reflection* r = stats.GetReflection();
  std::string out;
  for (int i = 0; i < d->field_count(); ++i) {
    const FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) continue;
    if (absl::StartsWith(f->name(), "replica_") && stats.replica_of().empty()) {
      continue;  // a primary
    }
    std::string value;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_UINT64: {
        uint64_t v = r->GetUInt64(stats, f);
        value = absl::StrCat(v);
        if (IsByteCount(f->name()) && v >= 1024) {
          absl::StrAppend(&value, " (", HumanBytes(v),
                          f->name() == "delayed_write_rate" ? "/s)" : ")");
        }
        break;
      }
      case FieldDescriptor::CPPTYPE_INT32:
        value = absl::StrCat(r->GetInt32(stats, f));
        break;
      case FieldDescriptor::CPPTYPE_DOUBLE:
        value = absl::StrFormat("%.3f", r->GetDouble(stats, f));
        break;
      case FieldDescriptor::CPPTYPE_BOOL:
        value = r->GetBool(stats, f) ? "true" : "false";
        break;
      case FieldDescriptor::CPPTYPE_STRING:
        value = r->GetString(stats, f);
        if (value.empty()) value = "-";
        break;
      default:
        continue;
    }
    absl::StrAppendFormat(&out, "%-26s %s\n", absl::StrCat(f->name(), ":"),
                          value);
  }
  absl::StrAppendFormat(&out, "\n%-6s %6s %14s %14s %7s %10s\n", "LEVEL",
                        "FILES", "BYTES", "TARGET", "SCORE", "COMPACTING");
  for (const v1::LevelInfo& l : stats.levels()) {
    absl::StrAppendFormat(
        &out, "%-6s %6d %14s %14s %7.2f %10d\n", absl::StrCat("L", l.level()),
        l.files(), HumanBytes(l.bytes()),
        l.target_bytes() == 0 ? "-" : HumanBytes(l.target_bytes()), l.score(),
        l.files_being_compacted());
  }
  return out;
}

int RunSnapshotAcquire(const Args& args) {
  CommandContext ctx(
      {"snapshot acquire", "cairn snapshot acquire [flags]",
       "Pins the current state on the server and prints its sequence, to\n"
       "pass to get/scan/txn --snapshot. It lives until released or until\n"
       "its TTL (the server's --snapshot_default_ttl unless --ttl).",
       "  SNAP=$(cairn snapshot acquire --ttl 5m)\n"
       "  cairn scan --snapshot \"$SNAP\" --prefix user/\n"
       "  cairn snapshot release \"$SNAP\""},
      kJsonFlag | kConnectionFlags);
  absl::Duration ttl = absl::ZeroDuration();
  ctx.flags().Duration("ttl", &ttl, "lifetime (0 = the server's default)");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  if (ttl == absl::InfiniteDuration()) {
    return ctx.UsageError("--ttl: must be finite");
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<client::SnapshotInfo> s = client->AcquireSnapshot(ttl);
  if (!s.ok()) return ctx.Fail(s.status());
  ctx.out().Line(ctx.json() ? JsonWriter()
                                  .AddUint("seq", s->seq)
                                  .AddUint("expires_at_unix_micros",
                                           s->expires_at_unix_micros)
                                  .Finish()
                            : absl::StrCat(s->seq));
  return kExitOk;
}

int RunSnapshotRelease(const Args& args) {
  CommandContext ctx({"snapshot release", "cairn snapshot release [flags] SEQ",
                      "Releases a snapshot acquired with cairn snapshot "
                      "acquire.",
                      "  cairn snapshot release 1234"},
                     kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 1, 1, &pos)) return *rc;
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(pos[0], &seq) || seq == 0) {
    return ctx.UsageError(
        absl::StrCat("SEQ: not a snapshot sequence: '", pos[0], "'"));
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  if (absl::Status s = client->ReleaseSnapshot(seq); !s.ok()) {
    return ctx.Fail(s);
  }
  ctx.out().Line(ctx.json() ? JsonWriter().AddUint("released", seq).Finish()
                            : "OK");
  return kExitOk;
}

}  // namespace

int RunStats(const Args& args) {
  CommandContext ctx(
      {"stats", "cairn stats [flags]",
       "Prints the engine's state: sequences, memtables, levels, compaction\n"
       "debt, write stalls, cache, WAL, replication lag (on a replica).\n"
       "--json prints every field of cairn.v1.StatsResponse by its .proto\n"
       "name, with 64-bit integers as JSON numbers.",
       "  cairn stats\n"
       "  cairn stats --json | jq .last_seq"},
      kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<v1::StatsResponse> stats = client->Stats();
  if (!stats.ok()) return ctx.Fail(stats.status());
  if (ctx.json()) {
    ctx.out().Line(MessageToJson(*stats));
  } else {
    ctx.out().Write(StatsText(*stats));
  }
  return kExitOk;
}

int RunFlush(const Args& args) {
  CommandContext ctx(
      {"flush", "cairn flush [flags]",
       "Writes the active memtable to an SSTable and, unless --no-wait,\n"
       "waits until it is durable; prints the flushed sequence (every write\n"
       "up to it is in SSTables).",
       "  cairn flush\n"
       "  cairn flush --no-wait"},
      kJsonFlag | kConnectionFlags);
  bool wait = true;
  ctx.flags().Bool("wait", &wait,
                   "wait for the flush (--no-wait: just start it)");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<uint64_t> seq = client->Flush(wait, LongCall(ctx));
  if (!seq.ok()) return ctx.Fail(seq.status());
  ctx.out().Line(ctx.json() ? JsonWriter().AddUint("flushed_seq", *seq).Finish()
                            : absl::StrCat("OK flushed_seq=", *seq));
  return kExitOk;
}

int RunCompact(const Args& args) {
  CommandContext ctx(
      {"compact", "cairn compact [flags]",
       "Compacts a key range ([--start, --end), or --prefix; everything by\n"
       "default) down the levels, and returns when it is done. No deadline\n"
       "unless --timeout or CAIRN_TIMEOUT is set.",
       "  cairn compact\n"
       "  cairn compact --start user/ --end user0\n"
       "  cairn compact --prefix session/"},
      kJsonFlag | kByteArgFlags | kConnectionFlags);
  std::string start;
  std::string end;
  std::string prefix;
  ctx.flags().String("start", &start, "first key (inclusive; empty = first)");
  ctx.flags().String("end", &end, "end key (exclusive; empty = last)");
  ctx.flags().String("prefix", &prefix, "the keys with this prefix");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  if (ctx.flags().IsSet("prefix") &&
      (ctx.flags().IsSet("start") || ctx.flags().IsSet("end"))) {
    return ctx.UsageError("--prefix excludes --start and --end");
  }
  absl::StatusOr<std::string> s = ctx.DecodeBytes("--start", start);
  if (!s.ok()) return ctx.UsageError(s.status());
  absl::StatusOr<std::string> e = ctx.DecodeBytes("--end", end);
  if (!e.ok()) return ctx.UsageError(e.status());
  absl::StatusOr<std::string> p = ctx.DecodeBytes("--prefix", prefix);
  if (!p.ok()) return ctx.UsageError(p.status());
  if (!p->empty()) {
    *s = *p;
    *e = PrefixEnd(*p);
  }
  if (!e->empty() && *s >= *e) {
    return ctx.UsageError("--start must be less than --end");
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  if (absl::Status st = client->Compact(*s, *e, LongCall(ctx)); !st.ok()) {
    return ctx.Fail(st);
  }
  ctx.out().Line(ctx.json() ? JsonWriter().AddBool("compacted", true).Finish()
                            : "OK");
  return kExitOk;
}

int RunCheckpoint(const Args& args) {
  CommandContext ctx(
      {"checkpoint", "cairn checkpoint [flags] DIR",
       "Writes a consistent copy of the database, online, into DIR: an\n"
       "absolute path on the server's machine that must not exist yet, on\n"
       "the file system of the data directory. Prints DIR and the last\n"
       "sequence the copy holds; a cairnd started with --data_dir=DIR\n"
       "opens the copy and continues after that sequence.",
       "  cairn checkpoint /var/lib/cairn/backup-$(date +%F)"},
      kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 1, 1, &pos)) return *rc;
  if (pos[0].empty() || pos[0][0] != '/') {
    return ctx.UsageError(absl::StrCat(
        "DIR: must be an absolute path (on the server's machine): '", pos[0],
        "'"));
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<client::CheckpointInfo> ckpt =
      client->Checkpoint(pos[0], LongCall(ctx));
  if (!ckpt.ok()) return ctx.Fail(ckpt.status());
  ctx.out().Line(ctx.json()
                     ? JsonWriter()
                           .AddString("dir", ckpt->dir)
                           .AddUint("seq", ckpt->seq)
                           .Finish()
                     : absl::StrCat(ckpt->dir, " at sequence ", ckpt->seq));
  return kExitOk;
}

int RunHealth(const Args& args) {
  CommandContext ctx(
      {"health", "cairn health [flags]",
       "Asks the server's health service whether it serves (or --service\n"
       "NAME, e.g. cairn.v1.KV). Prints the status; exits 0 for SERVING, 3\n"
       "otherwise (or when unreachable), 1 for an unknown service. --wait\n"
       "keeps asking until SERVING or the time is up (for start scripts).",
       "  cairn health\n"
       "  cairn health --wait 30s && echo up"},
      kJsonFlag | kConnectionFlags);
  std::string service;
  absl::Duration wait = absl::ZeroDuration();
  ctx.flags().String("service", &service, "service to check (empty = server)");
  ctx.flags().Duration("wait", &wait, "retry until SERVING for this long");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  const absl::Time deadline = absl::Now() + wait;
  absl::StatusOr<std::string> status;
  for (;;) {
    client::CallOptions o;
    if (wait > absl::ZeroDuration()) {
      o.timeout = std::clamp(deadline - absl::Now(), absl::Milliseconds(100),
                             client->options().default_timeout);
    }
    status = client->Health(service, o);
    if (status.ok() && *status == "SERVING") break;
    if (absl::Now() >= deadline) break;
    absl::SleepFor(absl::Milliseconds(100));
  }
  if (!status.ok()) return ctx.Fail(status.status());
  ctx.out().Line(ctx.json() ? JsonWriter()
                                  .AddString("service", service)
                                  .AddString("status", *status)
                                  .Finish()
                            : *status);
  if (*status == "SERVING") return kExitOk;
  std::fprintf(stderr, "cairn: %s: the server is not serving%s\n",
               status->c_str(),
               wait > absl::ZeroDuration() ? " (--wait elapsed)" : "");
  return kExitServer;
}

int RunSnapshot(const Args& args) {
  static constexpr char kUsage[] =
      "usage: cairn snapshot acquire [flags]\n"
      "       cairn snapshot release [flags] SEQ\n"
      "\n"
      "Holds a consistent state of the database on the server for reads\n"
      "with --snapshot (get, scan, txn). 'cairn snapshot acquire --help'\n"
      "and 'cairn snapshot release --help' show the flags.\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h" ||
      args[0] == "help") {
    std::fputs(kUsage, args.empty() ? stderr : stdout);
    return args.empty() ? kExitUsage : kExitOk;
  }
  const Args rest(args.begin() + 1, args.end());
  if (args[0] == "acquire") return RunSnapshotAcquire(rest);
  if (args[0] == "release") return RunSnapshotRelease(rest);
  std::fprintf(stderr,
               "cairn snapshot: unknown subcommand '%s' (acquire or "
               "release)\n%s",
               args[0].c_str(), kUsage);
  return kExitUsage;
}

}  // namespace cairn::cli
