#include "consumer_registry.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cairn/storage/change_reader.h"
#include "cairn/util/crc32c.h"
#include "cairn/wal/log.h"
#include "string_view_bridge.h"

namespace cairn::server {
namespace {

constexpr char kFileName[] = "CONSUMERS";
constexpr char kNewFileName[] = "CONSUMERS.new";
constexpr char kHeaderLine[] = "cairn-consumers 1";

int64_t Micros(absl::Time t) { return absl::ToUnixMicros(t); }

// The file's text: a header line, one line per consumer, and a closing line
// with the count and the CRC32C of everything before it.
std::string Encode(const std::map<std::string, ConsumerState>& consumers) {
  std::string out = absl::StrCat(kHeaderLine, "\n");
  for (const auto& [name, c] : consumers) {
    absl::StrAppend(&out, name, " ", c.acked_seq, " ", Micros(c.registered),
                    " ", Micros(c.last_ack), "\n");
  }
  absl::StrAppend(&out, "end ", consumers.size(), " ",
                  crc32c::Value(out.data(), out.size()), "\n");
  return out;
}

absl::Status Corrupt(const std::string& path, std::string_view why) {
  return absl::DataLossError(absl::StrCat(path, ": ", Sv(why)));
}

}  // namespace

ConsumerLag ComputeLag(storage::DB* db, const ConsumerState& consumer,
                       absl::Time now) {
  ConsumerLag lag;
  const uint64_t last = db->LastSequence();
  if (consumer.acked_seq >= last) return lag;
  lag.sequences = last - consumer.acked_seq;
  absl::Time since = consumer.last_ack;
  auto reader = storage::ChangeReader::Open(db, consumer.acked_seq + 1);
  if (reader.ok()) {
    absl::StatusOr<storage::ChangeBatch> b =
        (*reader)->Next(absl::InfinitePast());
    if (b.ok()) {
      since = absl::FromUnixMicros(static_cast<int64_t>(b->commit_micros));
    }
  }
  lag.seconds = std::max(0.0, absl::ToDoubleSeconds(now - since));
  return lag;
}

ConsumerRegistry::ConsumerRegistry(FileSystem* fs, std::string dir,
                                   storage::DB* db, int max_consumers)
    : fs_(fs), dir_(std::move(dir)), db_(db), max_consumers_(max_consumers) {}

absl::StatusOr<std::unique_ptr<ConsumerRegistry>> ConsumerRegistry::Open(
    FileSystem* fs, const std::string& dir, storage::DB* db,
    int max_consumers) {
  std::unique_ptr<ConsumerRegistry> r(
      new ConsumerRegistry(fs, dir, db, max_consumers));
  if (absl::Status s = r->Load(); !s.ok()) return s;
  std::lock_guard<std::mutex> lock(r->mu_);
  r->UpdateHoldLocked();
  return r;
}

absl::Status ConsumerRegistry::ValidateName(std::string_view field,
                                            std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(
        Sv(field), ": a consumer name has 1 to 128 bytes, not ", name.size()));
  }
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                    (c >= '0' && c <= '9') || c == '.' || c == '_' ||
                    c == ':' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          Sv(field),
          ": a consumer name uses only letters, digits and . _ : -"));
    }
  }
  return absl::OkStatus();
}

absl::Status ConsumerRegistry::Load() {
  const std::string path = absl::StrCat(dir_, "/", kFileName);
  const std::string fresh = absl::StrCat(dir_, "/", kNewFileName);
  // A rewrite that a crash interrupted before its rename: never current.
  if (fs_->Exists(fresh)) {
    if (absl::Status s = fs_->Remove(fresh); !s.ok()) return s;
  }
  if (!fs_->Exists(path)) return absl::OkStatus();
  OpenOptions ro;
  ro.read_only = true;
  absl::StatusOr<std::unique_ptr<File>> f = fs_->Open(path, ro);
  if (!f.ok()) return f.status();
  absl::StatusOr<uint64_t> size = (*f)->Size();
  if (!size.ok()) return size.status();
  if (*size > (64u << 20)) return Corrupt(path, "larger than 64 MiB");
  std::string text(*size, '\0');
  absl::StatusOr<size_t> n = (*f)->ReadAt(0, text.data(), text.size());
  if (!n.ok()) return n.status();
  if (*n != text.size()) return Corrupt(path, "short read");

  const size_t end_at = text.rfind("end ");
  if (text.empty() || text.back() != '\n' || end_at == std::string::npos ||
      (end_at != 0 && text[end_at - 1] != '\n')) {
    return Corrupt(path, "no closing line");
  }
  std::vector<absl::string_view> closing = absl::StrSplit(
      absl::string_view(text).substr(end_at, text.size() - end_at - 1), ' ');
  uint64_t count = 0;
  uint32_t crc = 0;
  if (closing.size() != 3 || !absl::SimpleAtoi(closing[1], &count) ||
      !absl::SimpleAtoi(closing[2], &crc)) {
    return Corrupt(path, "malformed closing line");
  }
  if (crc != crc32c::Value(text.data(), end_at)) {
    return Corrupt(path, "checksum mismatch");
  }
  std::vector<absl::string_view> lines = absl::StrSplit(
      absl::string_view(text).substr(0, end_at), '\n', absl::SkipEmpty());
  if (lines.empty() || lines[0] != kHeaderLine) {
    return Corrupt(path, "unknown header");
  }
  if (lines.size() - 1 != count) {
    return Corrupt(path, "consumer count differs from the closing line");
  }
  for (size_t i = 1; i < lines.size(); ++i) {
    std::vector<absl::string_view> f4 = absl::StrSplit(lines[i], ' ');
    ConsumerState c;
    int64_t registered = 0, last_ack = 0;
    if (f4.size() != 4 ||
        !ValidateName("name", std::string_view(f4[0].data(), f4[0].size()))
             .ok() ||
        !absl::SimpleAtoi(f4[1], &c.acked_seq) ||
        !absl::SimpleAtoi(f4[2], &registered) ||
        !absl::SimpleAtoi(f4[3], &last_ack)) {
      return Corrupt(path, absl::StrCat("malformed line ", i + 1));
    }
    c.name = std::string(f4[0]);
    c.registered = absl::FromUnixMicros(registered);
    c.last_ack = absl::FromUnixMicros(last_ack);
    consumers_[c.name] = c;
  }
  return absl::OkStatus();
}

absl::Status ConsumerRegistry::CommitLocked(
    std::map<std::string, ConsumerState> next) {
  const std::string path = absl::StrCat(dir_, "/", kFileName);
  const std::string fresh = absl::StrCat(dir_, "/", kNewFileName);
  OpenOptions wo;
  wo.create = true;
  wo.truncate = true;
  absl::StatusOr<std::unique_ptr<File>> f = fs_->Open(fresh, wo);
  if (!f.ok()) return f.status();
  absl::Status s = (*f)->Append(Encode(next));
  if (s.ok()) s = (*f)->Sync();
  absl::Status closed = (*f)->Close();
  if (s.ok()) s = closed;
  if (s.ok()) s = fs_->Rename(fresh, path);
  if (s.ok()) s = fs_->SyncDir(dir_);
  if (!s.ok()) {
    fs_->Remove(fresh).IgnoreError();
    return absl::Status(s.code(),
                        absl::StrCat("saving named consumers: ", s.message()));
  }
  consumers_ = std::move(next);
  UpdateHoldLocked();
  return absl::OkStatus();
}

void ConsumerRegistry::UpdateHoldLocked() {
  uint64_t hold = 0;
  for (const auto& [name, c] : consumers_) {
    const uint64_t need = c.acked_seq + 1;
    if (hold == 0 || need < hold) hold = need;
  }
  db_->wal()->SetRetentionHold(hold);
}

absl::StatusOr<ConsumerState> ConsumerRegistry::Register(std::string_view name,
                                                         uint64_t start_seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(std::string(name));
  if (it != consumers_.end()) return it->second;
  if (static_cast<int>(consumers_.size()) >= max_consumers_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(consumers_.size(),
                     " named consumers already registered (--max_consumers); "
                     "drop one with DropConsumer"));
  }
  ConsumerState c;
  c.name = std::string(name);
  c.acked_seq = start_seq == 0 ? 0 : start_seq - 1;
  c.registered = absl::Now();
  c.last_ack = c.registered;
  std::map<std::string, ConsumerState> next = consumers_;
  next[c.name] = c;
  if (absl::Status s = CommitLocked(std::move(next)); !s.ok()) return s;
  return c;
}

absl::Status ConsumerRegistry::Ack(std::string_view name, uint64_t seq) {
  const uint64_t last = db_->LastSequence();
  if (seq > last) {
    return absl::InvalidArgumentError(absl::StrCat(
        "seq: ", seq, " is above the last committed sequence ", last));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(std::string(name));
  if (it == consumers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("consumer: no consumer named '", Sv(name), "'"));
  }
  if (seq <= it->second.acked_seq) return absl::OkStatus();
  std::map<std::string, ConsumerState> next = consumers_;
  ConsumerState& c = next[it->first];
  c.acked_seq = seq;
  c.last_ack = absl::Now();
  return CommitLocked(std::move(next));
}

absl::Status ConsumerRegistry::Drop(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (consumers_.count(std::string(name)) == 0) {
    return absl::NotFoundError(
        absl::StrCat("consumer: no consumer named '", Sv(name), "'"));
  }
  std::map<std::string, ConsumerState> next = consumers_;
  next.erase(std::string(name));
  return CommitLocked(std::move(next));
}

std::vector<ConsumerState> ConsumerRegistry::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ConsumerState> out;
  out.reserve(consumers_.size());
  for (const auto& [name, c] : consumers_) out.push_back(c);
  return out;
}

absl::StatusOr<ConsumerState> ConsumerRegistry::Get(
    std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = consumers_.find(std::string(name));
  if (it == consumers_.end()) {
    return absl::NotFoundError(
        absl::StrCat("consumer: no consumer named '", Sv(name), "'"));
  }
  return it->second;
}

}  // namespace cairn::server
