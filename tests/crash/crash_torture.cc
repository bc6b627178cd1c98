// cairn_crash_torture: kills a real cairnd with SIGKILL over and over while
// concurrent clients write to it, and after every restart checks that the
// server kept its promises (verifier.h). One cycle:
//
//   1. workers (worker.h) send puts, deletes, merges, conditional batches
//      and transactions, recording every op and its outcome;
//   2. at a random moment (--cycle_ms) the driver kills cairnd with
//      SIGKILL: right away, just after asking for a flush, while a manual
//      compaction runs, or as soon as Stats shows a flush or compaction
//      running; ops in flight at that moment stay recorded as "maybe";
//   3. cairnd is restarted on the same data dir (a failed start is a
//      failure); the driver reads its recovered last sequence S, every key
//      (Scan) and the log of the cycle (Tail from the previous S + 1 to S);
//   4. VerifyState and VerifyLog check them against the ops; the state read
//      back becomes the next cycle's baseline.
//
// With --durability=sync every acknowledged op must survive; with async the
// survivors must be exactly the ops up to S (the prefix property).
//
// Prints a line per cycle and a summary; --json writes the summary as JSON.
// Exits 0 when every cycle verified, 1 on the first failure (the work dir
// with the data, cairnd's log and the cycle's ops is kept and named), 2 on
// bad usage. CAIRN_CRASH_CYCLES and CAIRN_CRASH_MAX_SECONDS override
// --cycles and --max_seconds (for slow sanitizer builds).
#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cairn/client/client.h"
#include "cairn/v1/admin.pb.h"
#include "cairnd_process.h"
#include "keyspace.h"
#include "op_record.h"
#include "self_check.h"
#include "server_reads.h"
#include "verifier.h"
#include "worker.h"

ABSL_FLAG(int, cycles, 20, "kill/restart cycles to run");
ABSL_FLAG(double, max_seconds, 0,
          "start no new cycle after this many seconds (0 = no limit)");
ABSL_FLAG(std::string, durability, "sync",
          "cairnd's --durability: sync or async");
ABSL_FLAG(uint64_t, seed, 0, "random seed (0 = from the clock; printed)");
ABSL_FLAG(int, threads, 4, "client worker threads");
ABSL_FLAG(int, keys, 256, "register keys (r/NNNN)");
ABSL_FLAG(std::string, cycle_ms, "200:1500",
          "MIN:MAX milliseconds of load before the kill (uniform)");
ABSL_FLAG(std::string, cairnd, "", "cairnd binary (default: the built one)");
ABSL_FLAG(std::string, data_dir, "",
          "work dir (created; kept); default: a temporary one, removed on "
          "success and kept on failure");
ABSL_FLAG(std::string, json, "", "write the summary as JSON to this file");
ABSL_FLAG(std::string, cairnd_args, "",
          "extra cairnd flags, space-separated (after the torture's own)");
ABSL_FLAG(bool, keep_going, false, "continue after a failed verification");
ABSL_FLAG(std::string, self_check, "",
          "inject a fault the verifier must catch (self_check.h): "
          "stale_value, drop_wal_tail, torn_batch; the run then must fail");

namespace cairn::crash {
namespace {

// cairnd settings that make memtables tiny and compactions constant, so
// that kills land during flushes and compactions.
const std::vector<std::string> kSmallEngineArgs = {
    "--write_buffer_bytes=64KiB",
    "--max_write_buffers=3",
    "--l0_compaction_trigger=2",
    "--target_file_bytes=64KiB",
    "--max_bytes_for_level_base=256KiB",
    "--wal_segment_bytes=1MiB",
    "--block_cache_bytes=1MiB",
    "--tail_retention_bytes=64MiB",
    "--shutdown_grace=1s",
};

enum class KillMode { kPlain, kAfterFlush, kDuringCompact, kWatch };

const char* KillModeName(KillMode m) {
  switch (m) {
    case KillMode::kPlain:
      return "plain";
    case KillMode::kAfterFlush:
      return "flush";
    case KillMode::kDuringCompact:
      return "compact";
    case KillMode::kWatch:
      return "watch";
  }
  return "?";
}

struct Totals {
  int cycles = 0;
  int failed_cycles = 0;
  uint64_t ops = 0;
  uint64_t acked = 0;
  uint64_t maybe = 0;
  uint64_t maybe_applied = 0;
  uint64_t refused = 0;
  uint64_t lost_suffix = 0;
  uint64_t keys_verified = 0;
  uint64_t writes_verified = 0;
  uint64_t log_events = 0;
  int log_checks_skipped = 0;
  uint64_t counter_checks_skipped = 0;
  int kills_flush_running = 0;
  int kills_compaction_running = 0;
  int kills_during_restart = 0;
  double flushes = 0;
  double compactions = 0;
  uint64_t errors_before_kill = 0;
  double max_restart_ms = 0;
  uint64_t last_seq = 0;
};

int EnvInt(const char* name, int fallback) {
  const char* v = getenv(name);
  int n = 0;
  return v != nullptr && absl::SimpleAtoi(v, &n) ? n : fallback;
}

class Torture {
 public:
  Torture() = default;

  int Run();

 private:
  // Parses the flags (false: bad usage).
  bool Setup();
  // Starts cairnd and writes the initial accounts (false: failed).
  bool Start();
  bool RunCycle(int cycle);
  void Kill(KillMode mode, absl::Duration load, std::atomic<bool>* stop,
            std::string* what_ran);
  std::unique_ptr<client::Client> Connect();
  // Runs a read until it is not UNAVAILABLE (a channel still connecting on
  // a loaded machine), for at most a minute; ends early if cairnd died.
  template <typename T>
  absl::StatusOr<T> Retrying(const std::function<absl::StatusOr<T>()>& read);
  void KeepForInspection(int cycle, const CycleInput& in,
                         const std::vector<std::string>& failures);
  void PrintSummary(double seconds, bool ok);

  // Settings.
  int cycles_ = 0;
  double max_seconds_ = 0;
  bool sync_ = true;
  uint64_t seed_ = 0;
  int threads_ = 4;
  int min_ms_ = 200, max_ms_ = 1500;
  std::string work_dir_;
  bool keep_work_dir_ = false;
  SelfCheck self_check_ = SelfCheck::kNone;

  Keyspace keyspace_;
  std::set<std::string> universe_;
  std::mt19937_64 rng_;
  test::CairndOptions server_options_;
  std::unique_ptr<test::CairndProcess> server_;
  std::atomic<uint64_t> next_op_id_{1};

  // State carried from cycle to cycle.
  KeyMap baseline_;
  uint64_t prev_seq_ = 0;
  bool accounts_initialized_ = false;
  std::vector<OpRecord> pending_ops_;  // ops sent before the first cycle
  Totals totals_;
};

std::unique_ptr<client::Client> Torture::Connect() {
  client::ClientOptions o;
  o.target = server_->address();
  o.default_timeout = absl::Seconds(60);
  // Only reads are retried: writes never are, as retry_idempotent_writes
  // stays false (a retried write would blur the ops in flight).
  o.retry.max_attempts = 8;
  absl::StatusOr<std::unique_ptr<client::Client>> c =
      client::Client::Connect(o);
  if (!c.ok()) {
    fprintf(stderr, "connect: %s\n", c.status().ToString().c_str());
    abort();
  }
  return std::move(*c);
}

template <typename T>
absl::StatusOr<T> Torture::Retrying(
    const std::function<absl::StatusOr<T>()>& read) {
  const absl::Time deadline = absl::Now() + absl::Minutes(1);
  for (;;) {
    absl::StatusOr<T> r = read();
    if (!absl::IsUnavailable(r.status()) || absl::Now() > deadline) return r;
    if (!server_->Running()) {
      return absl::InternalError(absl::StrCat(
          "cairnd exited after it reopened (", r.status().ToString(), ")"));
    }
    absl::SleepFor(absl::Milliseconds(100));
  }
}

bool Torture::Setup() {
  cycles_ = EnvInt("CAIRN_CRASH_CYCLES", absl::GetFlag(FLAGS_cycles));
  max_seconds_ = EnvInt("CAIRN_CRASH_MAX_SECONDS",
                        static_cast<int>(absl::GetFlag(FLAGS_max_seconds)));
  const std::string durability = absl::GetFlag(FLAGS_durability);
  if (durability != "sync" && durability != "async") {
    fprintf(stderr, "--durability must be sync or async\n");
    return false;
  }
  sync_ = durability == "sync";
  seed_ = absl::GetFlag(FLAGS_seed);
  if (seed_ == 0) seed_ = absl::ToUnixNanos(absl::Now()) | 1;
  rng_.seed(seed_);
  threads_ = absl::GetFlag(FLAGS_threads);
  keyspace_.registers = absl::GetFlag(FLAGS_keys);
  std::vector<std::string> range =
      absl::StrSplit(absl::GetFlag(FLAGS_cycle_ms), ':');
  if (range.size() != 2 || !absl::SimpleAtoi(range[0], &min_ms_) ||
      !absl::SimpleAtoi(range[1], &max_ms_) || min_ms_ < 0 ||
      max_ms_ < min_ms_ || threads_ < 1 || keyspace_.registers < 1 ||
      cycles_ < 1) {
    fprintf(stderr, "bad --cycle_ms, --threads, --keys or --cycles\n");
    return false;
  }
  absl::StatusOr<SelfCheck> sc =
      ParseSelfCheck(absl::GetFlag(FLAGS_self_check));
  if (!sc.ok()) {
    fprintf(stderr, "%s\n", sc.status().ToString().c_str());
    return false;
  }
  self_check_ = *sc;
  universe_ = keyspace_.Universe();
  if (!absl::GetFlag(FLAGS_cairnd).empty()) {
    setenv("CAIRND", absl::GetFlag(FLAGS_cairnd).c_str(), 1);
  }
  work_dir_ = absl::GetFlag(FLAGS_data_dir);
  if (work_dir_.empty()) {
    work_dir_ = test::MakeTempDir("cairn-crash-");
  } else {
    keep_work_dir_ = true;
    std::filesystem::create_directories(work_dir_);
  }
  return true;
}

bool Torture::Start() {
  const std::string durability = sync_ ? "sync" : "async";

  test::CairndOptions& o = server_options_;
  o.data_dir = work_dir_ + "/data";
  o.args = kSmallEngineArgs;
  o.args.push_back("--durability=" + durability);
  for (absl::string_view a : absl::StrSplit(absl::GetFlag(FLAGS_cairnd_args),
                                            ' ', absl::SkipEmpty())) {
    o.args.emplace_back(a);
  }
  absl::StatusOr<std::unique_ptr<test::CairndProcess>> p =
      test::CairndProcess::Start(o);
  if (!p.ok()) {
    fprintf(stderr, "FAIL: cairnd did not start: %s\n",
            p.status().ToString().c_str());
    return false;
  }
  server_ = std::move(*p);
  printf(
      "cairn_crash_torture: seed=%llu durability=%s cycles=%d threads=%d "
      "keys=%zu cycle_ms=%d:%d cairnd=%s\nwork dir: %s\ncairnd flags: %s\n",
      static_cast<unsigned long long>(seed_), durability.c_str(), cycles_,
      threads_, universe_.size(), min_ms_, max_ms_, test::CairndPath().c_str(),
      work_dir_.c_str(), absl::StrJoin(o.args, " ").c_str());

  // The starting state (empty, or a previous run's data dir) and the
  // accounts, written once with sync durability.
  std::unique_ptr<client::Client> c = Connect();
  absl::StatusOr<cairn::v1::StatsResponse> stats = c->Stats();
  absl::StatusOr<KeyMap> state = ReadState(*c);
  if (!stats.ok() || !state.ok()) {
    fprintf(stderr, "FAIL: reading the initial state\n");
    return false;
  }
  prev_seq_ = stats->last_seq();
  baseline_ = std::move(*state);
  OpRecord init;
  init.id = next_op_id_++;
  init.kind = "init-accounts";
  init.token = "c0.init";
  client::Batch b;
  b.IfAbsent(keyspace_.Account(0));
  for (int i = 0; i < keyspace_.accounts; ++i) {
    std::string value =
        absl::StrCat(init.token, "|", Keyspace::kInitialBalance, "|", i);
    b.Put(keyspace_.Account(i), value);
    init.writes.push_back({Write::Type::kPut, keyspace_.Account(i), value});
  }
  client::WriteOptions wo;
  wo.durability = client::Durability::kSync;
  absl::StatusOr<client::BatchResult> r = c->Write(b, wo);
  if (!r.ok()) {
    fprintf(stderr, "FAIL: initializing the accounts: %s\n",
            r.status().ToString().c_str());
    return false;
  }
  init.outcome = r->succeeded ? Outcome::kAcked : Outcome::kNotApplied;
  init.seq = r->seq;
  pending_ops_.push_back(std::move(init));
  accounts_initialized_ = true;
  return true;
}

// Lets the workers run for `load`, then kills the server the way `mode`
// says. Sets what_ran to what Stats showed running just before the kill.
// `stop` goes up just before SIGKILL: the workers' ops still in flight then
// are the ones the kill interrupts.
void Torture::Kill(KillMode mode, absl::Duration load, std::atomic<bool>* stop,
                   std::string* what_ran) {
  std::unique_ptr<client::Client> admin = Connect();
  std::thread compactor;
  absl::SleepFor(mode == KillMode::kWatch ? load / 2 : load);
  // Flushes and compactions this process completed (counted before the
  // kill: the counters start at zero in every process).
  if (absl::StatusOr<EngineCounters> c = ScrapeCounters(*server_); c.ok()) {
    totals_.flushes += c->flushes;
    totals_.compactions += c->compactions;
  }
  client::CallOptions quick;
  quick.timeout = absl::Seconds(5);
  std::uniform_int_distribution<int> small(0, 20);
  switch (mode) {
    case KillMode::kPlain:
      break;
    case KillMode::kAfterFlush:
      (void)admin->Flush(/*wait=*/false, quick);
      absl::SleepFor(absl::Milliseconds(small(rng_) / 4));
      break;
    case KillMode::kDuringCompact:
      // Compact blocks until done; the kill ends it with UNAVAILABLE.
      compactor = std::thread([&admin] { (void)admin->Compact(); });
      absl::SleepFor(absl::Milliseconds(1 + small(rng_)));
      break;
    case KillMode::kWatch:
      break;
  }
  // The last Stats before the kill says what was running; in watch mode,
  // poll (for at most 2 s) until a flush or compaction runs.
  const absl::Time watch_end = absl::Now() + absl::Seconds(2);
  bool flushing = false, compacting = false;
  for (;;) {
    absl::StatusOr<cairn::v1::StatsResponse> st = admin->Stats(quick);
    if (st.ok()) {
      flushing = st->running_flushes() > 0;
      compacting = st->running_compactions() > 0;
    }
    if (mode != KillMode::kWatch || flushing || compacting ||
        absl::Now() > watch_end) {
      break;
    }
  }
  stop->store(true, std::memory_order_release);
  server_->Kill();
  if (compactor.joinable()) compactor.join();
  *what_ran = absl::StrCat(
      flushing ? "flush" : "", flushing && compacting ? "+" : "",
      compacting ? "compaction" : "", !flushing && !compacting ? "idle" : "");
  totals_.kills_flush_running += flushing;
  totals_.kills_compaction_running += compacting;
}

bool Torture::RunCycle(int cycle) {
  bool restart_killed = false;
  // Load, then kill.
  std::unique_ptr<client::Client> client = Connect();
  std::atomic<bool> stop{false};
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::thread> threads;
  for (int t = 0; t < threads_; ++t) {
    workers.push_back(std::make_unique<Worker>(client.get(), keyspace_, cycle,
                                               t, seed_, &stop, &next_op_id_));
  }
  for (auto& w : workers) threads.emplace_back([&w] { w->Run(); });
  const KillMode mode =
      static_cast<KillMode>(std::uniform_int_distribution<int>(0, 3)(rng_));
  const absl::Duration load = absl::Milliseconds(
      std::uniform_int_distribution<int>(min_ms_, max_ms_)(rng_));
  std::string what_ran;
  Kill(mode, load, &stop, &what_ran);
  for (std::thread& t : threads) t.join();

  CycleInput in;
  in.ops = std::move(pending_ops_);
  pending_ops_.clear();
  uint64_t errors_before = 0;
  std::map<std::string, int> error_codes;
  for (auto& w : workers) {
    for (const OpRecord& op : w->ops()) in.ops.push_back(op);
    for (const auto& [code, n] : w->errors_before_stop()) {
      errors_before += n;
      error_codes[code] += n;
    }
  }
  client.reset();

  if (self_check_ != SelfCheck::kNone && cycle == cycles_) {
    absl::Status s = InjectAfterKill(self_check_, server_->data_dir());
    if (!s.ok())
      fprintf(stderr, "self-check injection: %s\n", s.ToString().c_str());
  }

  // Sometimes a second crash during the restart: start cairnd on the data
  // dir (other ports), kill it within its recovery time, then restart.
  if (std::uniform_int_distribution<int>(0, 99)(rng_) < 15) {
    test::CairndOptions o = server_options_;
    o.wait_ready = false;
    absl::StatusOr<std::unique_ptr<test::CairndProcess>> p =
        test::CairndProcess::Start(o);
    if (p.ok()) {
      absl::SleepFor(
          absl::Milliseconds(std::uniform_int_distribution<int>(0, 80)(rng_)));
      (*p)->Kill();
      ++totals_.kills_during_restart;
      restart_killed = true;
    }
  }
  // Restart: the server must always reopen.
  const absl::Time t0 = absl::Now();
  absl::Status restarted = server_->Restart();
  const double restart_ms = absl::ToDoubleMilliseconds(absl::Now() - t0);
  totals_.max_restart_ms = std::max(totals_.max_restart_ms, restart_ms);
  in.baseline = baseline_;
  in.prev_seq = prev_seq_;
  in.sync = sync_;
  in.invariants = keyspace_.MakeInvariants(accounts_initialized_);
  in.universe = universe_;
  if (!restarted.ok()) {
    KeepForInspection(cycle, in,
                      {absl::StrCat("cairnd failed to reopen after the kill: ",
                                    restarted.ToString())});
    return false;
  }
  client = Connect();
  if (self_check_ != SelfCheck::kNone && cycle == cycles_) {
    absl::Status s = InjectAfterRestart(self_check_, *client, in.ops);
    if (!s.ok())
      fprintf(stderr, "self-check injection: %s\n", s.ToString().c_str());
  }
  absl::StatusOr<cairn::v1::StatsResponse> stats =
      Retrying<cairn::v1::StatsResponse>([&] { return client->Stats(); });
  absl::StatusOr<KeyMap> state =
      stats.ok() ? Retrying<KeyMap>([&] { return ReadState(*client); })
                 : stats.status();
  if (!stats.ok() || !state.ok()) {
    KeepForInspection(cycle, in,
                      {absl::StrCat("reading the restarted server failed: ",
                                    stats.ok() ? state.status().ToString()
                                               : stats.status().ToString())});
    return false;
  }
  in.last_seq = stats->last_seq();
  in.observed = std::move(*state);

  CheckReport state_report = VerifyState(in);
  std::vector<std::string> failures = state_report.failures;
  absl::StatusOr<std::vector<client::ChangeEvent>> log =
      Retrying<std::vector<client::ChangeEvent>>([&] {
        return ReadLog(*client, in.prev_seq + 1, in.last_seq,
                       absl::Seconds(60));
      });
  CheckReport log_report;
  std::string log_note;
  if (log.ok()) {
    log_report = VerifyLog(in, *log);
    failures.insert(failures.end(), log_report.failures.begin(),
                    log_report.failures.end());
    log_note = absl::StrCat("log ", log->size(), " events");
  } else if (absl::IsOutOfRange(log.status())) {
    ++totals_.log_checks_skipped;
    log_note = "log check skipped (WAL retention)";
  } else {
    failures.push_back(absl::StrCat("reading the log (Tail from ",
                                    in.prev_seq + 1,
                                    "): ", log.status().ToString()));
  }

  uint64_t refused = 0;
  for (const OpRecord& op : in.ops)
    refused += op.outcome == Outcome::kNotApplied;
  ++totals_.cycles;
  totals_.ops += in.ops.size();
  totals_.acked += state_report.acked_ops;
  totals_.maybe += state_report.maybe_ops;
  totals_.maybe_applied +=
      log.ok() ? log_report.maybe_applied : state_report.maybe_applied;
  totals_.refused += refused;
  totals_.lost_suffix += state_report.lost_suffix_ops;
  totals_.keys_verified += state_report.keys_checked;
  totals_.writes_verified += state_report.acked_writes_checked;
  totals_.log_events += log_report.log_events;
  totals_.counter_checks_skipped += state_report.counters_unchecked;
  totals_.errors_before_kill += errors_before;
  totals_.last_seq = in.last_seq;

  printf(
      "cycle %d/%d %-7s %5lldms killed during %-16s ops %4zu: %4llu acked, "
      "%llu in flight (%llu applied), %llu refused%s; S=%llu (+%llu) "
      "restart %s%.0fms; %s; %s\n",
      cycle, cycles_, KillModeName(mode),
      static_cast<long long>(absl::ToInt64Milliseconds(load)), what_ran.c_str(),
      in.ops.size(), static_cast<unsigned long long>(state_report.acked_ops),
      static_cast<unsigned long long>(state_report.maybe_ops),
      static_cast<unsigned long long>(log.ok() ? log_report.maybe_applied
                                               : state_report.maybe_applied),
      static_cast<unsigned long long>(refused),
      state_report.lost_suffix_ops > 0
          ? absl::StrCat(", ", state_report.lost_suffix_ops,
                         " acked lost (async suffix)")
                .c_str()
          : "",
      static_cast<unsigned long long>(in.last_seq),
      static_cast<unsigned long long>(in.last_seq - in.prev_seq),
      restart_killed ? "(after a kill during restart) " : "", restart_ms,
      log_note.c_str(), failures.empty() ? "ok" : "FAILED");
  if (errors_before > 0) {
    printf("  note: %llu calls failed before the kill (%s)\n",
           static_cast<unsigned long long>(errors_before),
           absl::StrJoin(error_codes, ", ", absl::PairFormatter(": ")).c_str());
  }
  fflush(stdout);

  if (!failures.empty()) {
    KeepForInspection(cycle, in, failures);
    if (!absl::GetFlag(FLAGS_keep_going)) return false;
  }
  baseline_ = std::move(in.observed);
  prev_seq_ = in.last_seq;
  return true;
}

void Torture::KeepForInspection(int cycle, const CycleInput& in,
                                const std::vector<std::string>& failures) {
  ++totals_.failed_cycles;
  // A self-check's failure is expected: its work dir goes like a passing
  // run's (unless --data_dir named it).
  if (self_check_ == SelfCheck::kNone) keep_work_dir_ = true;
  printf("FAIL: cycle %d: %zu problem(s)\n", cycle, failures.size());
  for (size_t i = 0; i < failures.size() && i < 40; ++i) {
    printf("  %s\n", failures[i].c_str());
  }
  const std::string base = absl::StrCat(work_dir_, "/cycle-", cycle);
  std::ofstream ops(base + "-ops.txt");
  ops << "prev_seq " << in.prev_seq << " last_seq " << in.last_seq << "\n";
  for (const OpRecord& op : in.ops) {
    ops << Describe(op);
    for (const Write& w : op.writes) {
      ops << " | "
          << (w.type == Write::Type::kPut      ? "put "
              : w.type == Write::Type::kDelete ? "del "
                                               : "add ")
          << w.key << " " << w.value.substr(0, 30);
    }
    ops << "\n";
  }
  std::ofstream states(base + "-states.txt");
  for (const std::string& k : in.universe) {
    auto b = in.baseline.find(k);
    auto o = in.observed.find(k);
    states << k << " before "
           << Describe(b == in.baseline.end() ? KeyState{} : b->second)
           << " after "
           << Describe(o == in.observed.end() ? KeyState{} : o->second) << "\n";
  }
  std::ofstream(base + "-failures.txt")
      << absl::StrJoin(failures, "\n") << "\n";
  std::ofstream(work_dir_ + "/cairnd.log") << server_->Log();
  printf("%s: %s (data/, cairnd.log, cycle-%d-*.txt); seed %llu\n",
         keep_work_dir_ ? "kept for inspection" : "self-check, removed",
         work_dir_.c_str(), cycle, static_cast<unsigned long long>(seed_));
}

void Torture::PrintSummary(double seconds, bool ok) {
  const Totals& t = totals_;
  printf(
      "summary: %s durability=%s seed=%llu cycles=%d failed_cycles=%d "
      "seconds=%.0f\n"
      "  ops sent %llu: acknowledged %llu, in flight at kills %llu (found "
      "applied %llu), refused %llu, async lost suffix %llu\n"
      "  verified: %llu keys, %llu applied writes, %llu log events (%d log "
      "checks, %llu counter sums skipped)\n"
      "  kills with a flush running %d, with a compaction running %d, during "
      "a restart %d; flushes %.0f, compactions %.0f; last seq %llu; slowest "
      "restart %.0f ms\n"
      "  calls failed before a kill: %llu\n",
      ok ? "PASS" : "FAIL", sync_ ? "sync" : "async",
      static_cast<unsigned long long>(seed_), t.cycles, t.failed_cycles,
      seconds, static_cast<unsigned long long>(t.ops),
      static_cast<unsigned long long>(t.acked),
      static_cast<unsigned long long>(t.maybe),
      static_cast<unsigned long long>(t.maybe_applied),
      static_cast<unsigned long long>(t.refused),
      static_cast<unsigned long long>(t.lost_suffix),
      static_cast<unsigned long long>(t.keys_verified),
      static_cast<unsigned long long>(t.writes_verified),
      static_cast<unsigned long long>(t.log_events), t.log_checks_skipped,
      static_cast<unsigned long long>(t.counter_checks_skipped),
      t.kills_flush_running, t.kills_compaction_running, t.kills_during_restart,
      t.flushes, t.compactions, static_cast<unsigned long long>(t.last_seq),
      t.max_restart_ms, static_cast<unsigned long long>(t.errors_before_kill));
  const std::string json_path = absl::GetFlag(FLAGS_json);
  if (json_path.empty()) return;
  std::ofstream j(json_path);
  j << absl::StrCat(
      "{\"result\":\"", ok ? "pass" : "fail", "\",\"durability\":\"",
      sync_ ? "sync" : "async", "\",\"seed\":", seed_, ",\"cycles\":", t.cycles,
      ",\"failed_cycles\":", t.failed_cycles,
      ",\"seconds\":", static_cast<int64_t>(seconds), ",\"ops\":", t.ops,
      ",\"acked\":", t.acked, ",\"in_flight_at_kills\":", t.maybe,
      ",\"in_flight_applied\":", t.maybe_applied, ",\"refused\":", t.refused,
      ",\"async_lost_suffix\":", t.lost_suffix,
      ",\"keys_verified\":", t.keys_verified,
      ",\"writes_verified\":", t.writes_verified,
      ",\"log_events\":", t.log_events,
      ",\"log_checks_skipped\":", t.log_checks_skipped,
      ",\"counter_sums_skipped\":", t.counter_checks_skipped,
      ",\"kills_flush_running\":", t.kills_flush_running,
      ",\"kills_compaction_running\":", t.kills_compaction_running,
      ",\"kills_during_restart\":", t.kills_during_restart,
      ",\"flushes\":", static_cast<int64_t>(t.flushes),
      ",\"compactions\":", static_cast<int64_t>(t.compactions),
      ",\"last_seq\":", t.last_seq,
      ",\"max_restart_ms\":", static_cast<int64_t>(t.max_restart_ms),
      ",\"errors_before_kill\":", t.errors_before_kill, "}\n");
}

int Torture::Run() {
  if (!Setup()) return 2;
  const absl::Time start = absl::Now();
  const bool started = Start();
  if (!started) keep_work_dir_ = true;
  bool ok = started;
  for (int cycle = 1; started && cycle <= cycles_; ++cycle) {
    if (max_seconds_ > 0 &&
        absl::ToDoubleSeconds(absl::Now() - start) > max_seconds_) {
      printf("time limit (%.0f s) reached after %d cycles\n", max_seconds_,
             cycle - 1);
      break;
    }
    // False on a failure, unless --keep_going and the server reopened.
    if (!RunCycle(cycle)) {
      ok = false;
      break;
    }
  }
  if (totals_.failed_cycles > 0) ok = false;
  const double seconds = absl::ToDoubleSeconds(absl::Now() - start);
  PrintSummary(seconds, ok);
  if (ok) {
    if (absl::Status s = server_->StopCleanly(); !s.ok()) {
      keep_work_dir_ = true;
      printf("FAIL: cairnd did not stop cleanly at the end: %s\n",
             s.ToString().c_str());
      ok = false;
    }
  }
  server_.reset();
  if (!keep_work_dir_) {
    std::error_code ec;
    std::filesystem::remove_all(work_dir_, ec);
  }
  return ok ? 0 : 1;
}

}  // namespace
}  // namespace cairn::crash

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "kills cairnd with SIGKILL under concurrent writes and verifies every "
      "restart (see tests/crash/crash_torture.cc)");
  absl::ParseCommandLine(argc, argv);
  signal(SIGPIPE, SIG_IGN);
  return cairn::crash::Torture().Run();
}
