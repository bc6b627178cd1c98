// The results of a level as `cairn bench` prints them: a short block of
// text for people, or (--json) one JSON object on one line for programs.
// bench_main.cc's header documents both, the JSON field names included;
// those names are stable: scripts and docs/benchmarks.md depend on them.
//
// Pure functions; thread-safe.
#ifndef CAIRN_CLIENT_BENCH_REPORT_H_
#define CAIRN_CLIENT_BENCH_REPORT_H_

#include <string>

#include "bench_config.h"
#include "level_result.h"

namespace cairn::bench {

// Both end with a newline. `endpoint` is the server's address.
std::string TextReport(const BenchConfig& config, const std::string& endpoint,
                       const LevelResult& result);
std::string JsonReport(const BenchConfig& config, const std::string& endpoint,
                       const LevelResult& result);

// `s` as a JSON string literal, quotes included.
std::string JsonString(const std::string& s);

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_REPORT_H_
