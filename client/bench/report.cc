#include "report.h"

#include <cstdint>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::bench {
namespace {

double PerSecond(uint64_t n, double seconds) {
  return seconds > 0 ? static_cast<double>(n) / seconds : 0;
}

double Micros(double nanos) { return nanos / 1e3; }

// The settings that shape the figures: "put inflight=64 channels=4 ...".
std::string Describe(const BenchConfig& c, const LevelResult& r) {
  std::string s = absl::StrCat(
      WorkloadName(c.workload), " inflight=", r.inflight,
      " channels=", c.channels, " durability=", ReportedDurability(c));
  if (c.workload != Workload::kNoop) {
    absl::StrAppend(&s, " keys=", c.keys, " ",
                    DistributionName(c.distribution));
    if (c.distribution == Distribution::kZipfian) {
      absl::StrAppend(&s, "(", absl::StrFormat("%g", c.zipf_theta), ")");
    }
    absl::StrAppend(&s, " key_bytes=", c.key_bytes);
  }
  if (Writes(c.workload) && c.workload != Workload::kMerge) {
    absl::StrAppend(&s, " value_bytes=", c.value_bytes);
  }
  switch (c.workload) {
    case Workload::kBatch:
      absl::StrAppend(&s, " batch_ops=", c.batch_ops);
      break;
    case Workload::kScan:
      absl::StrAppend(&s, " scan_limit=", c.scan_limit);
      break;
    case Workload::kMixed:
      absl::StrAppend(&s, " read_ratio=", absl::StrFormat("%g", c.read_ratio));
      break;
    case Workload::kTail:
      absl::StrAppend(&s, " tail_streams=", c.tail_streams);
      break;
    default:
      break;
  }
  if (c.rate > 0) absl::StrAppend(&s, " rate=", absl::StrFormat("%g", c.rate));
  if (c.count > 0) absl::StrAppend(&s, " count=", c.count);
  return s;
}

std::string Percentiles(const LatencyHistogram& h) {
  return absl::StrFormat("p50 %.1f  p90 %.1f  p99 %.1f  p99.9 %.1f  max %.1f",
                         Micros(h.Percentile(50)), Micros(h.Percentile(90)),
                         Micros(h.Percentile(99)), Micros(h.Percentile(99.9)),
                         Micros(static_cast<double>(h.max())));
}

}  // namespace

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      // Control characters, and bytes outside ASCII (messages are not
      // guaranteed to be UTF-8): the output stays valid JSON.
      absl::StrAppend(&out, absl::StrFormat("\\u%04x", c));
    } else {
      out.push_back(ch);
    }
  }
  out.push_back('"');
  return out;
}

std::string TextReport(const BenchConfig& c, const std::string& endpoint,
                       const LevelResult& r) {
  std::string out = absl::StrCat(Describe(c, r), "  (", endpoint, ")\n");
  absl::StrAppendFormat(&out, "  window      %.2f s, %u requests", r.window_s,
                        r.ops);
  if (c.workload == Workload::kMixed) {
    absl::StrAppend(&out, " (", r.reads, " Get, ", r.writes, " Put)");
  }
  absl::StrAppend(&out, "\n");
  absl::StrAppendFormat(&out, "  throughput  %.1f ops/s",
                        PerSecond(r.ops, r.window_s));
  if (c.workload == Workload::kBatch || c.workload == Workload::kScan) {
    absl::StrAppendFormat(&out, ", %.1f keys/s", PerSecond(r.keys, r.window_s));
  }
  absl::StrAppend(&out, "\n  latency us  ", Percentiles(r.latency), "\n");
  if (c.workload == Workload::kTail) {
    absl::StrAppendFormat(&out, "  tail lag us %s\n", Percentiles(r.tail_lag));
    absl::StrAppendFormat(&out,
                          "  tail        %.1f events/s received, %u events "
                          "over %d stream(s)\n",
                          PerSecond(r.tail_events, r.window_s), r.tail_events,
                          r.tail_streams);
  }
  if (c.workload == Workload::kGet || c.workload == Workload::kMixed) {
    absl::StrAppend(&out, "  misses      ", r.misses, "\n");
  }
  if (r.errors.total() == 0) {
    absl::StrAppend(&out, "  errors      0\n");
  } else {
    absl::StrAppend(&out, "  errors      ", r.errors.total(), " (");
    bool first = true;
    for (const auto& [code, n] : r.errors.by_code()) {
      absl::StrAppend(&out, first ? "" : ", ", code, " ", n);
      first = false;
    }
    // Escaped: a message may hold control characters.
    absl::StrAppend(&out, "); first: ", absl::CHexEscape(r.errors.first()),
                    "\n  INVALID: a run with errors is not a figure to "
                    "publish\n");
  }
  absl::StrAppendFormat(&out, "  client CPU  %.2f cores\n", r.client_cores);
  return out;
}

std::string JsonReport(const BenchConfig& c, const std::string& endpoint,
                       const LevelResult& r) {
  std::string out = "{";
  auto field = [&out](const char* name, const std::string& json_value) {
    if (out.size() > 1) out.push_back(',');
    absl::StrAppend(&out, "\"", name, "\":", json_value);
  };
  auto number = [](double v) { return absl::StrFormat("%.3f", v); };
  auto integer = [](uint64_t v) { return absl::StrCat(v); };
  auto percentiles = [&](const char* prefix, const LatencyHistogram& h) {
    field(absl::StrCat(prefix, "p50_us").c_str(),
          number(Micros(h.Percentile(50))));
    field(absl::StrCat(prefix, "p90_us").c_str(),
          number(Micros(h.Percentile(90))));
    field(absl::StrCat(prefix, "p99_us").c_str(),
          number(Micros(h.Percentile(99))));
    field(absl::StrCat(prefix, "p999_us").c_str(),
          number(Micros(h.Percentile(99.9))));
    field(absl::StrCat(prefix, "max_us").c_str(),
          number(Micros(static_cast<double>(h.max()))));
  };

  field("workload", JsonString(WorkloadName(c.workload)));
  field("endpoint", JsonString(endpoint));
  field("durability", JsonString(ReportedDurability(c)));
  field("distribution", JsonString(DistributionName(c.distribution)));
  field("zipf_theta", number(c.zipf_theta));
  field("keys", integer(c.keys));
  field("key_bytes", integer(static_cast<uint64_t>(c.key_bytes)));
  field("value_bytes", integer(static_cast<uint64_t>(c.value_bytes)));
  field("batch_ops", integer(static_cast<uint64_t>(c.batch_ops)));
  field("scan_limit", integer(static_cast<uint64_t>(c.scan_limit)));
  field("read_ratio", number(c.read_ratio));
  field("channels", integer(static_cast<uint64_t>(c.channels)));
  field("pollers", integer(static_cast<uint64_t>(c.pollers)));
  field("inflight", integer(static_cast<uint64_t>(r.inflight)));
  field("rate", number(c.rate));
  field("count", integer(c.count));
  field("warmup_s", number(absl::ToDoubleSeconds(c.warmup)));
  field("window_s", number(r.window_s));
  field("ops", integer(r.ops));
  field("reads", integer(r.reads));
  field("writes", integer(r.writes));
  field("ops_per_s", number(PerSecond(r.ops, r.window_s)));
  field("keys_per_s", number(PerSecond(r.keys, r.window_s)));
  field("misses", integer(r.misses));
  percentiles("", r.latency);
  field("errors", integer(r.errors.total()));
  std::string by_code = "{";
  for (const auto& [code, n] : r.errors.by_code()) {
    if (by_code.size() > 1) by_code.push_back(',');
    absl::StrAppend(&by_code, JsonString(code), ":", n);
  }
  by_code.push_back('}');
  field("errors_by_code", by_code);
  field("first_error", JsonString(r.errors.first()));
  field("client_cores", number(r.client_cores));
  field("tail_streams", integer(static_cast<uint64_t>(r.tail_streams)));
  field("tail_events", integer(r.tail_events));
  field("tail_events_per_s", number(PerSecond(r.tail_events, r.window_s)));
  percentiles("lag_", r.tail_lag);
  out.append("}\n");
  return out;
}

}  // namespace cairn::bench
