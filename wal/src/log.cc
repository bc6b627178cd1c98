#include "cairn/wal/log.h"

#include "log_core.h"

namespace cairn::wal {

Log::Log(std::shared_ptr<LogCore> core) : core_(std::move(core)) {}

Log::~Log() { core_->Close().IgnoreError(); }

absl::StatusOr<std::unique_ptr<Log>> Log::Open(const Options& options,
                                               const std::string& dir) {
  auto core = std::make_shared<LogCore>(options, dir);
  if (absl::Status s = core->Open(); !s.ok()) return s;
  return std::unique_ptr<Log>(new Log(std::move(core)));
}

absl::StatusOr<AppendResult> Log::Append(std::string_view payload,
                                         uint32_t seq_count,
                                         const AppendOptions& options) {
  return core_->Append(payload, seq_count, options);
}

absl::Status Log::Sync() { return core_->Sync(); }
absl::Status Log::Close() { return core_->Close(); }
void Log::SimulateCrashForTesting() { core_->SimulateCrash(); }
uint64_t Log::FirstSequence() const { return core_->FirstSequence(); }
uint64_t Log::LastSequence() const { return core_->LastSequence(); }

absl::StatusOr<Position> Log::Find(uint64_t seq) const {
  return core_->Find(seq);
}

absl::StatusOr<std::unique_ptr<Reader>> Log::NewReader(
    uint64_t from_seq) const {
  return core_->NewReader(from_seq);
}

void Log::SetDeletableBelow(uint64_t seq) { core_->SetDeletableBelow(seq); }
void Log::SetRetentionHold(uint64_t seq) { core_->SetRetentionHold(seq); }
absl::Status Log::EnforceRetention() { return core_->EnforceRetention(); }
absl::Status Log::TruncateAfter(uint64_t seq) {
  return core_->TruncateAfter(seq);
}

absl::StatusOr<std::vector<std::string>> Log::CopySealedSegments(
    const std::string& dest_dir) const {
  return core_->CopySealedSegments(dest_dir);
}

std::vector<SegmentInfo> Log::ListSegments() const {
  return core_->ListSegments();
}
LogStats Log::GetStats() const { return core_->GetStats(); }
const RecoveryReport& Log::recovery_report() const {
  return core_->recovery_report();
}

}  // namespace cairn::wal
