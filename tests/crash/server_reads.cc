#include "server_reads.h"

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace cairn::crash {

absl::StatusOr<KeyMap> ReadState(client::Client& client) {
  client::ScanOptions o;
  absl::StatusOr<std::vector<client::KeyValue>> kvs = client.ScanAll(o);
  if (!kvs.ok()) return kvs.status();
  KeyMap state;
  for (client::KeyValue& kv : *kvs) {
    state[kv.key] = KeyState{true, std::move(kv.value), kv.revision};
  }
  return state;
}

absl::StatusOr<std::vector<client::ChangeEvent>> ReadLog(
    client::Client& client, uint64_t from, uint64_t to,
    absl::Duration timeout) {
  std::vector<client::ChangeEvent> events;
  if (to < from) return events;
  client::TailOptions o;
  o.from_seq = from;
  o.auto_resume = false;
  std::unique_ptr<client::TailConsumer> tail = client.Tail(o);
  // Next() has no deadline of its own: a watchdog cancels the stream.
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  bool timed_out = false;
  std::thread watchdog([&] {
    std::unique_lock<std::mutex> lock(mu);
    if (!cv.wait_for(lock, absl::ToChronoNanoseconds(timeout),
                     [&] { return done; })) {
      timed_out = true;
      tail->Cancel();
    }
  });
  absl::Status status;
  for (;;) {
    absl::StatusOr<client::TailUpdate> u = tail->Next();
    if (!u.ok()) {
      status = u.status();
      break;
    }
    bool reached = u->events.empty() && u->committed_seq >= to;
    for (client::ChangeEvent& e : u->events) {
      if (e.seq > to) {
        reached = true;
        break;
      }
      events.push_back(std::move(e));
      if (events.back().seq == to) reached = true;
    }
    if (reached) break;
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  watchdog.join();
  if (!status.ok()) {
    if (timed_out) {
      return absl::DeadlineExceededError(absl::StrCat(
          "Tail from ", from, " did not reach ", to, " in ",
          absl::FormatDuration(timeout), " (", events.size(), " events)"));
    }
    return status;
  }
  return events;
}

absl::StatusOr<EngineCounters> ScrapeCounters(
    const test::CairndProcess& process) {
  absl::StatusOr<std::pair<int, std::string>> r = process.HttpGet("/metrics");
  if (!r.ok()) return r.status();
  if (r->first != 200) {
    return absl::UnavailableError(absl::StrCat("/metrics: HTTP ", r->first));
  }
  EngineCounters c;
  for (absl::string_view line : absl::StrSplit(r->second, '\n')) {
    double* sum = nullptr;
    if (absl::StartsWith(line, "cairn_flushes_total")) {
      sum = &c.flushes;
    } else if (absl::StartsWith(line, "cairn_compactions_total")) {
      sum = &c.compactions;
    } else {
      continue;
    }
    size_t sp = line.rfind(' ');
    double v = 0;
    if (sp != absl::string_view::npos &&
        absl::SimpleAtod(line.substr(sp + 1), &v)) {
      *sum += v;
    }
  }
  return c;
}

}  // namespace cairn::crash
