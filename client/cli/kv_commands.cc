// The key-value subcommands: put, get (and mget), del, del-range, scan,
// merge.
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "command.h"
#include "commands.h"
#include "escaping.h"
#include "exit_code.h"
#include "json_writer.h"
#include "result_format.h"
#include "script.h"

namespace cairn::cli {
namespace {

constexpr unsigned kWriteFlags =
    kJsonFlag | kByteArgFlags | kDurabilityFlag | kConnectionFlags;
constexpr unsigned kReadFlags = kJsonFlag | kByteArgFlags | kConnectionFlags;

// The acknowledgement of a write: "OK seq=N" or {"seq":N}.
int PrintWrite(CommandContext& ctx, uint64_t seq) {
  ctx.out().Line(ctx.json() ? JsonWriter().AddUint("seq", seq).Finish()
                            : absl::StrCat("OK seq=", seq));
  return kExitOk;
}

// --snapshot as a sequence; false after reporting a negative value.
bool SnapshotFlag(CommandContext& ctx, int64_t value, uint64_t* seq, int* rc) {
  if (value < 0) {
    *rc = ctx.UsageError("--snapshot: must be a sequence number (>= 1)");
    return false;
  }
  *seq = static_cast<uint64_t>(value);
  return true;
}

// A stream with no deadline unless the user asked for one: a scan into a
// pager or a big file must not be cut off after the default 10s.
absl::Duration StreamTimeout(const CommandContext& ctx) {
  return ctx.timeout_explicit() ? absl::ZeroDuration()
                                : absl::InfiniteDuration();
}

}  // namespace

int RunPut(const Args& args) {
  CommandContext ctx(
      {"put", "cairn put [flags] KEY [VALUE]",
       "Sets KEY to VALUE. Without VALUE (and without --value-file) the value\n"
       "is read from standard input, byte for byte. Prints the sequence the\n"
       "write committed at (the key's new revision).",
       "  cairn put greeting hello\n"
       "  cairn put --ttl 30s session/42 token\n"
       "  cairn put --hex 00ff 6869               # binary key, value \"hi\"\n"
       "  cairn put photo < photo.jpg\n"
       "  cairn put --durability async counter 0 --json   # {\"seq\":7}"},
      kWriteFlags);
  absl::Duration ttl = absl::ZeroDuration();
  std::string expires_at;
  std::string value_file;
  ctx.flags().Duration("ttl", &ttl, "time to live (like 30s, 5m, 24h)");
  ctx.flags().String("expires-at", &expires_at,
                     "absolute expiry, RFC 3339 (2030-01-02T15:04:05Z)");
  ctx.flags().String("value-file", &value_file,
                     "read the value from this file (- = stdin), raw");
  Args pos;
  if (auto rc = ctx.Parse(args, 1, 2, &pos)) return *rc;

  client::PutOptions o;
  o.durability = ctx.durability();
  if (ctx.flags().IsSet("ttl")) {
    if (ttl <= absl::ZeroDuration() || ttl == absl::InfiniteDuration()) {
      return ctx.UsageError("--ttl: must be a positive, finite duration");
    }
    o.ttl = ttl;
  }
  if (!expires_at.empty()) {
    if (ctx.flags().IsSet("ttl")) {
      return ctx.UsageError("--ttl and --expires-at exclude each other");
    }
    std::string err;
    if (!absl::ParseTime(absl::RFC3339_full, expires_at, &o.expires_at, &err)) {
      return ctx.UsageError(absl::StrCat(
          "--expires-at: not an RFC 3339 time (2030-01-02T15:04:05Z): '",
          expires_at, "'"));
    }
  }
  absl::StatusOr<std::string> key = ctx.DecodeKey("KEY", pos[0]);
  if (!key.ok()) return ctx.UsageError(key.status());
  absl::StatusOr<std::string> value;
  if (pos.size() == 2) {
    if (!value_file.empty()) {
      return ctx.UsageError("give VALUE or --value-file, not both");
    }
    value = ctx.DecodeBytes("VALUE", pos[1]);
  } else {
    value = ReadInput(value_file.empty() ? "-" : value_file);
    if (!value.ok()) {
      value = absl::InvalidArgumentError(
          absl::StrCat("VALUE: ", value.status().message()));
    }
  }
  if (!value.ok()) return ctx.UsageError(value.status());

  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<uint64_t> seq = client->Put(*key, *value, o);
  if (!seq.ok()) return ctx.Fail(seq.status());
  return PrintWrite(ctx, *seq);
}

int RunGet(const Args& args) {
  CommandContext ctx(
      {"get", "cairn get [flags] KEY [KEY...]",
       "Reads keys. With one key, prints its value; with several (one\n"
       "MultiGet, all read at one sequence), prints KEY<TAB>VALUE per key in\n"
       "the order given, \"(not found)\" for an absent one. Exits 1 if any\n"
       "key is absent. Values that are not printable text are shown quoted\n"
       "with escapes (see docs/cli.md); --raw prints the bytes as they are.",
       "  cairn get greeting\n"
       "  cairn get --raw photo > photo.jpg\n"
       "  cairn get user/1 user/2 user/3\n"
       "  cairn get --json greeting   # "
       "{\"key\":\"greeting\",\"found\":true,...}\n"
       "  cairn get --snapshot \"$(cairn snapshot acquire)\" greeting"},
      kReadFlags);
  int64_t snapshot = 0;
  bool raw = false;
  bool verbose = false;
  ctx.flags().Int("snapshot", &snapshot,
                  "read at this held snapshot (cairn snapshot acquire)");
  ctx.flags().Bool("raw", &raw,
                   "print the value's bytes unchanged, no newline (one key)");
  ctx.flags().Bool("verbose", &verbose,
                   "also print revision, expiry, size and read sequence");
  Args pos;
  if (auto rc = ctx.Parse(args, 1, -1, &pos)) return *rc;
  int rc = 0;
  client::ReadOptions o;
  if (!SnapshotFlag(ctx, snapshot, &o.snapshot_seq, &rc)) return rc;
  if (raw && (pos.size() != 1 || ctx.json() || verbose)) {
    return ctx.UsageError("--raw takes one KEY, without --json or --verbose");
  }
  std::vector<std::string> keys;
  for (const std::string& a : pos) {
    absl::StatusOr<std::string> k = ctx.DecodeKey("KEY", a);
    if (!k.ok()) return ctx.UsageError(k.status());
    keys.push_back(std::move(*k));
  }
  auto client = ctx.Connect(&rc);
  if (!client) return rc;

  std::vector<client::GetResult> results;
  uint64_t read_seq = 0;
  if (keys.size() == 1) {
    absl::StatusOr<client::GetResult> r = client->Get(keys[0], o);
    if (!r.ok()) return ctx.Fail(r.status());
    read_seq = r->read_seq;
    results.push_back(std::move(*r));
  } else {
    absl::StatusOr<client::MultiGetResult> r = client->MultiGet(keys, o);
    if (!r.ok()) return ctx.Fail(r.status());
    read_seq = r->read_seq;
    results = std::move(r->results);
  }
  bool all_found = true;
  for (client::GetResult& r : results) {
    r.read_seq = read_seq;
    all_found = all_found && r.found;
  }

  if (ctx.json() && keys.size() == 1) {
    ctx.out().Line(GetResultJson(keys[0], results[0], true));
  } else if (ctx.json()) {
    JsonWriter j;
    j.AddUint("read_seq", read_seq).BeginArray("results");
    for (size_t i = 0; i < keys.size(); ++i) {
      j.AddElement(GetResultJson(keys[i], results[i], false));
    }
    ctx.out().Line(j.EndArray().Finish());
  } else if (verbose) {
    for (size_t i = 0; i < keys.size(); ++i) {
      if (i > 0) ctx.out().Line("");
      ctx.out().Line(GetResultVerbose(keys[i], results[i]));
    }
  } else if (keys.size() == 1) {
    if (results[0].found && raw) {
      ctx.out().Write(results[0].value);
    } else if (results[0].found) {
      ctx.out().Line(DisplayBytes(results[0].value));
    } else {
      std::fprintf(stderr, "cairn get: %s: not found\n",
                   DisplayBytes(keys[0]).c_str());
    }
  } else {
    for (size_t i = 0; i < keys.size(); ++i) {
      ctx.out().Line(GetResultText(keys[i], results[i]));
    }
  }
  return all_found ? kExitOk : kExitNotFound;
}

int RunDelete(const Args& args) {
  CommandContext ctx(
      {"del", "cairn del [flags] KEY [KEY...]",
       "Deletes keys. Several keys are deleted atomically (one batch).\n"
       "Deleting an absent key succeeds. Prints the commit sequence.",
       "  cairn del greeting\n"
       "  cairn del user/1 user/2\n"
       "  cairn del --hex 00ff"},
      kWriteFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 1, -1, &pos)) return *rc;
  std::vector<std::string> keys;
  for (const std::string& a : pos) {
    absl::StatusOr<std::string> k = ctx.DecodeKey("KEY", a);
    if (!k.ok()) return ctx.UsageError(k.status());
    keys.push_back(std::move(*k));
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  client::WriteOptions o;
  o.durability = ctx.durability();
  if (keys.size() == 1) {
    absl::StatusOr<uint64_t> seq = client->Delete(keys[0], o);
    if (!seq.ok()) return ctx.Fail(seq.status());
    return PrintWrite(ctx, *seq);
  }
  client::Batch batch;
  for (std::string& k : keys) batch.Delete(std::move(k));
  absl::StatusOr<client::BatchResult> r = client->Write(batch, o);
  if (!r.ok()) return ctx.Fail(r.status());
  return PrintWrite(ctx, r->seq);
}

int RunDeleteRange(const Args& args) {
  CommandContext ctx(
      {"del-range", "cairn del-range [flags] START END | --prefix PREFIX",
       "Deletes every key in [START, END) (END excluded), or every key that\n"
       "starts with PREFIX, with one range tombstone: the cost does not\n"
       "depend on how many keys the range holds.",
       "  cairn del-range user/ user0\n"
       "  cairn del-range --prefix session/"},
      kWriteFlags);
  std::string prefix;
  ctx.flags().String("prefix", &prefix, "delete the keys with this prefix");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 2, &pos)) return *rc;
  std::string start;
  std::string end;
  if (ctx.flags().IsSet("prefix")) {
    if (!pos.empty()) return ctx.UsageError("give START END or --prefix");
    absl::StatusOr<std::string> p = ctx.DecodeKey("--prefix", prefix);
    if (!p.ok()) return ctx.UsageError(p.status());
    start = *p;
    end = PrefixEnd(*p);
    if (end.empty()) {
      return ctx.UsageError(
          "--prefix: a prefix of only 0xff bytes has no end; use START END");
    }
  } else {
    if (pos.size() != 2) {
      return ctx.UsageError(absl::StrCat("expected START and END, got ",
                                         pos.size(), " arguments"));
    }
    absl::StatusOr<std::string> s = ctx.DecodeKey("START", pos[0]);
    if (!s.ok()) return ctx.UsageError(s.status());
    absl::StatusOr<std::string> e = ctx.DecodeKey("END", pos[1]);
    if (!e.ok()) return ctx.UsageError(e.status());
    start = *s;
    end = *e;
    if (start >= end) {
      return ctx.UsageError("START must be less than END (END is excluded)");
    }
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  client::WriteOptions o;
  o.durability = ctx.durability();
  absl::StatusOr<uint64_t> seq = client->DeleteRange(start, end, o);
  if (!seq.ok()) return ctx.Fail(seq.status());
  return PrintWrite(ctx, *seq);
}

int RunScan(const Args& args) {
  CommandContext ctx(
      {"scan", "cairn scan [flags]",
       "Lists keys in order: all of them, those with --prefix, or those in\n"
       "[--start, --end). Prints KEY<TAB>VALUE per line (KEY with\n"
       "--keys-only), or one JSON object per line with --json. The whole\n"
       "scan reads at one sequence, streamed in chunks (any size, bounded\n"
       "memory). No deadline unless --timeout or CAIRN_TIMEOUT is set.",
       "  cairn scan --prefix user/\n"
       "  cairn scan --start a --end b --limit 10 --reverse\n"
       "  cairn scan --keys-only --json | jq -r .key\n"
       "  cairn scan --prefix user/ --count"},
      kReadFlags);
  std::string prefix;
  std::string start;
  std::string end;
  int64_t limit = 0;
  int64_t snapshot = 0;
  bool reverse = false;
  bool keys_only = false;
  bool count = false;
  ctx.flags().String("prefix", &prefix, "only keys starting with this");
  ctx.flags().String("start", &start, "first key (inclusive)");
  ctx.flags().String("end", &end, "end key (exclusive)");
  ctx.flags().Int("limit", &limit, "at most this many keys (0 = all)");
  ctx.flags().Bool("reverse", &reverse, "descending key order");
  ctx.flags().Bool("keys-only", &keys_only, "print keys, not values");
  ctx.flags().Bool("count", &count, "print only the number of keys");
  ctx.flags().Int("snapshot", &snapshot, "read at this held snapshot");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  int rc = 0;
  client::ScanOptions o;
  if (!SnapshotFlag(ctx, snapshot, &o.snapshot_seq, &rc)) return rc;
  if (limit < 0) return ctx.UsageError("--limit: must be >= 0");
  if (ctx.flags().IsSet("prefix") &&
      (ctx.flags().IsSet("start") || ctx.flags().IsSet("end"))) {
    return ctx.UsageError("--prefix excludes --start and --end");
  }
  struct {
    const char* name;
    const std::string& text;
    std::string* bytes;
  } byte_flags[] = {{"--prefix", prefix, &o.prefix},
                    {"--start", start, &o.start},
                    {"--end", end, &o.end}};
  for (auto& f : byte_flags) {
    absl::StatusOr<std::string> b = ctx.DecodeBytes(f.name, f.text);
    if (!b.ok()) return ctx.UsageError(b.status());
    *f.bytes = std::move(*b);
  }
  if (!o.end.empty() && o.start >= o.end) {
    return ctx.UsageError(
        "--start must be less than --end (--end is excluded)");
  }
  o.limit = static_cast<uint64_t>(limit);
  o.reverse = reverse;
  o.keys_only = keys_only || count;
  o.timeout = StreamTimeout(ctx);
  auto client = ctx.Connect(&rc);
  if (!client) return rc;

  std::unique_ptr<client::Scanner> scanner = client->Scan(o);
  client::KeyValue kv;
  uint64_t n = 0;
  while (scanner->Next(&kv)) {
    ++n;
    if (count) continue;
    ctx.out().Line(ctx.json() ? KeyValueJson(kv, keys_only)
                              : KeyValueText(kv, keys_only));
  }
  ctx.out().Flush();
  if (!scanner->status().ok()) return ctx.Fail(scanner->status());
  if (count) {
    ctx.out().Line(ctx.json() ? JsonWriter()
                                    .AddUint("count", n)
                                    .AddUint("read_seq", scanner->read_seq())
                                    .Finish()
                              : absl::StrCat(n));
  }
  return kExitOk;
}

int RunMerge(const Args& args) {
  CommandContext ctx(
      {"merge", "cairn merge [flags] KEY OPERATOR OPERAND [ARGUMENT]",
       "Adds a merge operand to KEY; the server folds it into the value.\n"
       "Operators: add, max, min (decimal int64 operands, no ARGUMENT) and\n"
       "append (ARGUMENT: the delimiter put before the operand when the key\n"
       "already has a value).",
       "  cairn merge visits add 1\n"
       "  cairn merge visits add -5\n"
       "  cairn merge tags append red ,"},
      kWriteFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 3, 4, &pos)) return *rc;
  absl::StatusOr<std::string> key = ctx.DecodeKey("KEY", pos[0]);
  if (!key.ok()) return ctx.UsageError(key.status());
  absl::StatusOr<std::string> operand = ctx.DecodeBytes("OPERAND", pos[2]);
  if (!operand.ok()) return ctx.UsageError(operand.status());
  absl::StatusOr<std::string> argument =
      pos.size() == 4 ? ctx.DecodeBytes("ARGUMENT", pos[3])
                      : absl::StatusOr<std::string>("");
  if (!argument.ok()) return ctx.UsageError(argument.status());
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  client::WriteOptions o;
  o.durability = ctx.durability();
  absl::StatusOr<uint64_t> seq =
      client->Merge(*key, pos[1], *operand, *argument, o);
  if (!seq.ok()) return ctx.Fail(seq.status());
  return PrintWrite(ctx, seq.value());
}

}  // namespace cairn::cli
