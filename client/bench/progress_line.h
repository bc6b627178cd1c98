// ProgressLine: the live status of a running level, updated about once a
// second: "put inflight=64  4s measuring  61234 ops/s  errors 0" (ops/s over
// the last update's interval; with --count, how many of the count have been
// issued; with tail, the events/s the streams receive).
//
// On a terminal the line is rewritten in place (\r, then erase to the end
// of the line) and erased at the end of the level, so that the results
// print on a clean line; elsewhere each update is a line of its own.
//
// Thread-safety: none; used by the thread that runs the levels.
#ifndef CAIRN_CLIENT_BENCH_PROGRESS_LINE_H_
#define CAIRN_CLIENT_BENCH_PROGRESS_LINE_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "bench_config.h"
#include "driver.h"

namespace cairn::bench {

class ProgressLine {
 public:
  enum class Style { kOff, kInPlace, kLines };

  // --progress=auto: in place on a terminal, off otherwise; on: in place on
  // a terminal, lines otherwise; off: off.
  static Style Choose(ProgressSetting setting, std::FILE* out);

  ProgressLine(Style style, std::FILE* out) : style_(style), out_(out) {}

  // A new level starts; `label` names it ("put inflight=64").
  void Begin(std::string label, uint64_t count, bool tail);
  void Update(const LiveStatus& live);
  // The level has ended: erases an in-place line.
  void End();

 private:
  Style style_;
  std::FILE* out_;
  std::string label_;
  uint64_t count_ = 0;
  bool tail_ = false;
  bool shown_ = false;  // an in-place line is on the screen
  double last_elapsed_s_ = 0;
  uint64_t last_completed_ = 0;
  uint64_t last_tail_events_ = 0;
};

}  // namespace cairn::bench

#endif  // CAIRN_CLIENT_BENCH_PROGRESS_LINE_H_
