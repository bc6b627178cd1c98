#include "progress_line.h"

#include <unistd.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace cairn::bench {
namespace {

const char* PhaseName(LiveStatus::Phase p) {
  switch (p) {
    case LiveStatus::Phase::kWarmup:
      return "warm-up";
    case LiveStatus::Phase::kMeasuring:
      return "measuring";
    case LiveStatus::Phase::kDraining:
      return "draining";
  }
  return "?";
}

}  // namespace

ProgressLine::Style ProgressLine::Choose(ProgressSetting setting,
                                         std::FILE* out) {
  const bool terminal = isatty(fileno(out)) != 0;
  switch (setting) {
    case ProgressSetting::kOff:
      return Style::kOff;
    case ProgressSetting::kOn:
      return terminal ? Style::kInPlace : Style::kLines;
    case ProgressSetting::kAuto:
      return terminal ? Style::kInPlace : Style::kOff;
  }
  return Style::kOff;
}

void ProgressLine::Begin(std::string label, uint64_t count, bool tail) {
  label_ = std::move(label);
  count_ = count;
  tail_ = tail;
  last_elapsed_s_ = 0;
  last_completed_ = 0;
  last_tail_events_ = 0;
}

void ProgressLine::Update(const LiveStatus& live) {
  if (style_ == Style::kOff) return;
  const double dt = live.elapsed_s - last_elapsed_s_;
  auto rate = [dt](uint64_t now, uint64_t before) {
    return dt > 0 ? static_cast<double>(now - before) / dt : 0.0;
  };
  std::string line =
      absl::StrFormat("%s  %.0fs %s  %.0f ops/s  errors %u", label_,
                      live.elapsed_s, PhaseName(live.phase),
                      rate(live.completed, last_completed_), live.failed);
  if (count_ > 0) {
    absl::StrAppend(&line, "  issued ", live.issued_measured, "/", count_);
  }
  if (tail_) {
    absl::StrAppend(
        &line, "  tail ",
        absl::StrFormat("%.0f", rate(live.tail_events, last_tail_events_)),
        " events/s");
  }
  last_elapsed_s_ = live.elapsed_s;
  last_completed_ = live.completed;
  last_tail_events_ = live.tail_events;
  if (style_ == Style::kInPlace) {
    std::fprintf(out_, "\r%s\033[K", line.c_str());
    shown_ = true;
  } else {
    std::fprintf(out_, "%s\n", line.c_str());
  }
  std::fflush(out_);
}

void ProgressLine::End() {
  if (style_ == Style::kInPlace && shown_) {
    std::fprintf(out_, "\r\033[K");
    std::fflush(out_);
  }
  shown_ = false;
}

}  // namespace cairn::bench
