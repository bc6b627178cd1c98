// The change-data-capture subcommands: tail, consumers, ack, drop-consumer.
#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <mutex>
#include <optional>
#include <thread>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "command.h"
#include "commands.h"
#include "exit_code.h"
#include "json_writer.h"
#include "result_format.h"

namespace cairn::cli {
namespace {

absl::StatusOr<std::vector<client::ChangeOp>> ParseOps(
    const std::string& list) {
  std::vector<client::ChangeOp> ops;
  for (absl::string_view raw : absl::StrSplit(list, ',', absl::SkipEmpty())) {
    std::string name =
        absl::AsciiStrToLower(std::string(absl::StripAsciiWhitespace(raw)));
    std::replace(name.begin(), name.end(), '-', '_');
    if (name == "put") {
      ops.push_back(client::ChangeOp::kPut);
    } else if (name == "delete" || name == "del") {
      ops.push_back(client::ChangeOp::kDelete);
    } else if (name == "delete_range" || name == "del_range") {
      ops.push_back(client::ChangeOp::kDeleteRange);
    } else if (name == "merge") {
      ops.push_back(client::ChangeOp::kMerge);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("--ops: unknown operation '", raw,
                       "' (put, delete, delete-range, merge)"));
    }
  }
  if (ops.empty()) return absl::InvalidArgumentError("--ops: empty list");
  return ops;
}

// Cancels a TailConsumer when a duration has passed, unless stopped first.
class TailTimer {
 public:
  TailTimer(client::TailConsumer* tail, absl::Duration after)
      : thread_([this, tail, after] {
          std::unique_lock<std::mutex> lock(mu_);
          if (!cv_.wait_for(lock, absl::ToChronoMilliseconds(after),
                            [this] { return stopped_; })) {
            fired_ = true;
            tail->Cancel();
          }
        }) {}
  ~TailTimer() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopped_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  bool fired() {
    std::lock_guard<std::mutex> lock(mu_);
    return fired_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopped_ = false;
  bool fired_ = false;
  std::thread thread_;  // last: starts after the members it uses
};

}  // namespace

int RunTail(const Args& args) {
  CommandContext ctx(
      {"tail", "cairn tail [flags]",
       "Follows the committed changes, in sequence order, one event per line:\n"
       "  SEQ<TAB>put<TAB>KEY<TAB>VALUE[<TAB>expires=TIME]\n"
       "  SEQ<TAB>delete<TAB>KEY\n"
       "  SEQ<TAB>delete_range<TAB>START<TAB>END\n"
       "  SEQ<TAB>merge<TAB>KEY<TAB>OPERATOR<TAB>OPERAND[<TAB>ARGUMENT]\n"
       "or one JSON object per line with --json. Starts at the next commit\n"
       "(--from-now, the default), at --from-seq N, or where the named\n"
       "--consumer left off (its last acknowledged sequence + 1; a new\n"
       "consumer starts at the next commit). With --ack, each printed event\n"
       "is acknowledged for the consumer after it is written out (at most\n"
       "every --ack-interval, when caught up, and at exit), so a\n"
       "later run resumes after it. Reconnects by itself if the stream\n"
       "breaks. Runs until interrupted, --count events, or --for elapsed.",
       "  cairn tail --prefix user/\n"
       "  cairn tail --from-seq 1 --count 100 --json\n"
       "  cairn tail --consumer indexer --ack --count 10\n"
       "  cairn tail --ops put,delete --start a --end m --for 30s"},
      kJsonFlag | kByteArgFlags | kConnectionFlags);
  std::string prefix;
  std::string start;
  std::string end;
  std::string ops;
  std::string consumer;
  int64_t from_seq = 0;
  int64_t count = 0;
  int64_t max_reconnects = 5;
  bool from_now = false;
  bool ack = false;
  bool keys_only = false;
  absl::Duration run_for = absl::ZeroDuration();
  absl::Duration ack_interval = absl::Milliseconds(200);
  ctx.flags().String("prefix", &prefix, "only keys starting with this");
  ctx.flags().String("start", &start, "only keys >= this");
  ctx.flags().String("end", &end, "only keys < this");
  ctx.flags().String("ops", &ops,
                     "only these operations: put,delete,delete-range,merge");
  ctx.flags().Bool("keys-only", &keys_only, "leave out values and operands");
  ctx.flags().Int("from-seq", &from_seq, "first sequence to print (>= 1)");
  ctx.flags().Bool("from-now", &from_now, "start at the next commit");
  ctx.flags().String("consumer", &consumer,
                     "named consumer: resume after its acknowledged sequence");
  ctx.flags().Bool("ack", &ack,
                   "acknowledge each event for --consumer once printed");
  ctx.flags().Duration("ack-interval", &ack_interval,
                       "with --ack: acknowledge at most this often (and when "
                       "caught up, and at exit); 0 = after every response");
  ctx.flags().Int("count", &count, "exit after printing this many events");
  ctx.flags().Duration("for", &run_for,
                       "exit after this long (like 30s); 0 = no limit");
  ctx.flags().Int("max-reconnects", &max_reconnects,
                  "give up after this many failed reconnects in a row "
                  "(-1: never)");
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;

  client::TailOptions o;
  if (ctx.flags().IsSet("from-seq")) {
    if (from_seq < 1) return ctx.UsageError("--from-seq: must be >= 1");
    if (from_now) return ctx.UsageError("--from-seq excludes --from-now");
    o.from_seq = static_cast<uint64_t>(from_seq);
  }
  o.from_now = from_now || (o.from_seq == 0 && consumer.empty());
  if (ack && consumer.empty()) return ctx.UsageError("--ack needs --consumer");
  if (count < 0) return ctx.UsageError("--count: must be >= 0");
  if (max_reconnects < -1) {
    return ctx.UsageError("--max-reconnects: must be -1 or more");
  }
  if (ctx.flags().IsSet("prefix") &&
      (ctx.flags().IsSet("start") || ctx.flags().IsSet("end"))) {
    return ctx.UsageError("--prefix excludes --start and --end");
  }
  for (auto [name, text, bytes] : {std::tuple{"--prefix", &prefix, &o.prefix},
                                   std::tuple{"--start", &start, &o.start},
                                   std::tuple{"--end", &end, &o.end}}) {
    absl::StatusOr<std::string> b = ctx.DecodeBytes(name, *text);
    if (!b.ok()) return ctx.UsageError(b.status());
    *bytes = std::move(*b);
  }
  if (!ops.empty()) {
    absl::StatusOr<std::vector<client::ChangeOp>> parsed = ParseOps(ops);
    if (!parsed.ok()) return ctx.UsageError(parsed.status());
    o.ops = std::move(*parsed);
  }
  o.consumer = consumer;
  o.keys_only = keys_only;
  o.max_reconnects = static_cast<int>(max_reconnects);

  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  std::unique_ptr<client::TailConsumer> tail = client->Tail(o);
  std::optional<TailTimer> timer;
  if (run_for > absl::ZeroDuration()) timer.emplace(tail.get(), run_for);

  // Acknowledgements: one Ack round trip per response would hold a busy
  // stream back, so the newest printed sequence is acknowledged at most
  // every --ack-interval, as soon as the stream is caught up (a response
  // without events), and before exiting.
  uint64_t unacked = 0;
  absl::Time last_ack = absl::InfinitePast();
  const auto send_ack = [&]() -> absl::Status {
    if (!ack || unacked == 0) return absl::OkStatus();
    absl::Status s = tail->Ack(unacked);
    unacked = 0;
    last_ack = absl::Now();
    return s;
  };
  int64_t printed = 0;
  while (count == 0 || printed < count) {
    absl::StatusOr<client::TailUpdate> update = tail->Next();
    if (!update.ok()) {
      if (timer.has_value() && timer->fired()) break;
      // What was printed is acknowledged even when the stream failed.
      send_ack().IgnoreError();
      if (std::optional<uint64_t> earliest =
              client::TailEarliestSeq(update.status())) {
        std::fprintf(stderr,
                     "cairn tail: the server's WAL starts at sequence %llu "
                     "now; resume from there (--from-seq) after copying the "
                     "data with scan\n",
                     static_cast<unsigned long long>(*earliest));
      }
      return ctx.Fail(update.status());
    }
    uint64_t last_seq = 0;
    for (const client::ChangeEvent& e : update->events) {
      if (count != 0 && printed >= count) break;
      ctx.out().Line(ctx.json() ? ChangeEventJson(e, keys_only)
                                : ChangeEventText(e, keys_only));
      last_seq = e.seq;
      ++printed;
    }
    ctx.out().Flush();
    if (last_seq != 0) unacked = last_seq;
    if (update->events.empty() || absl::Now() - last_ack >= ack_interval) {
      if (absl::Status s = send_ack(); !s.ok()) return ctx.Fail(s);
    }
  }
  if (absl::Status s = send_ack(); !s.ok()) return ctx.Fail(s);
  if (count != 0 && printed < count) {
    std::fprintf(
        stderr, "cairn tail: --for elapsed after %lld of %lld events\n",
        static_cast<long long>(printed), static_cast<long long>(count));
    return kExitNotFound;
  }
  return kExitOk;
}

int RunConsumers(const Args& args) {
  CommandContext ctx(
      {"consumers", "cairn consumers [flags]",
       "Lists the named tail consumers the server keeps: the sequence each\n"
       "acknowledged and how far behind it is (committed sequences not yet\n"
       "acknowledged, and the age of the oldest of them).",
       "  cairn consumers\n"
       "  cairn consumers --json | jq '.consumers[] | select(.lag_seqs > "
       "1000)'"},
      kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 0, 0, &pos)) return *rc;
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  absl::StatusOr<std::vector<client::ConsumerInfo>> list =
      client->ListConsumers();
  if (!list.ok()) return ctx.Fail(list.status());
  if (ctx.json()) {
    JsonWriter j;
    j.BeginArray("consumers");
    for (const client::ConsumerInfo& c : *list) {
      j.AddElement(JsonWriter()
                       .AddString("name", c.name)
                       .AddUint("acked_seq", c.acked_seq)
                       .AddUint("lag_seqs", c.lag_seqs)
                       .AddDouble("lag_seconds", c.lag_seconds)
                       .Finish());
    }
    ctx.out().Line(j.EndArray().Finish());
    return kExitOk;
  }
  size_t width = 4;
  for (const client::ConsumerInfo& c : *list) {
    width = std::max(width, c.name.size());
  }
  const auto row = [&](const std::string& name, const std::string& acked,
                       const std::string& lag, const std::string& seconds) {
    ctx.out().Line(absl::StrFormat("%-*s  %12s  %10s  %11s",
                                   static_cast<int>(width), name, acked, lag,
                                   seconds));
  };
  row("NAME", "ACKED_SEQ", "LAG_SEQS", "LAG_SECONDS");
  for (const client::ConsumerInfo& c : *list) {
    row(c.name, absl::StrCat(c.acked_seq), absl::StrCat(c.lag_seqs),
        absl::StrFormat("%.3f", c.lag_seconds));
  }
  return kExitOk;
}

int RunAck(const Args& args) {
  CommandContext ctx(
      {"ack", "cairn ack [flags] CONSUMER SEQ",
       "Records that the named consumer processed everything up to SEQ (its\n"
       "next tail resumes at SEQ + 1). An ack below the current one changes\n"
       "nothing. Exits 1 for an unknown consumer.",
       "  cairn ack indexer 1200"},
      kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 2, 2, &pos)) return *rc;
  uint64_t seq = 0;
  if (!absl::SimpleAtoi(pos[1], &seq)) {
    return ctx.UsageError(
        absl::StrCat("SEQ: not a sequence number: '", pos[1], "'"));
  }
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  if (absl::Status s = client->Ack(pos[0], seq); !s.ok()) return ctx.Fail(s);
  ctx.out().Line(ctx.json() ? JsonWriter()
                                  .AddString("consumer", pos[0])
                                  .AddUint("acked_seq", seq)
                                  .Finish()
                            : "OK");
  return kExitOk;
}

int RunDropConsumer(const Args& args) {
  CommandContext ctx(
      {"drop-consumer", "cairn drop-consumer [flags] CONSUMER",
       "Forgets a named consumer and releases the WAL kept for it. Exits 1\n"
       "for an unknown consumer.",
       "  cairn drop-consumer old-indexer"},
      kJsonFlag | kConnectionFlags);
  Args pos;
  if (auto rc = ctx.Parse(args, 1, 1, &pos)) return *rc;
  int rc = 0;
  auto client = ctx.Connect(&rc);
  if (!client) return rc;
  if (absl::Status s = client->DropConsumer(pos[0]); !s.ok()) {
    return ctx.Fail(s);
  }
  ctx.out().Line(ctx.json() ? JsonWriter().AddString("dropped", pos[0]).Finish()
                            : "OK");
  return kExitOk;
}

}  // namespace cairn::cli
