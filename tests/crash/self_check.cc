#include "self_check.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace cairn::crash {

absl::StatusOr<SelfCheck> ParseSelfCheck(const std::string& name) {
  if (name.empty()) return SelfCheck::kNone;
  if (name == "stale_value") return SelfCheck::kStaleValue;
  if (name == "torn_batch") return SelfCheck::kTornBatch;
  if (name == "drop_wal_tail") return SelfCheck::kDropWalTail;
  return absl::InvalidArgumentError(
      absl::StrCat("--self_check: unknown '", name,
                   "' (stale_value, torn_batch, drop_wal_tail)"));
}

namespace {

// Zeroes the last `bytes` of frames of the newest segment that has any.
absl::Status ZeroWalTail(const std::string& data_dir, size_t bytes) {
  std::vector<std::string> segments;
  for (const auto& e : std::filesystem::directory_iterator(data_dir + "/wal")) {
    const std::string name = e.path().filename().string();
    if (absl::EndsWith(name, ".wal")) segments.push_back(e.path().string());
  }
  std::sort(segments.rbegin(), segments.rend());  // newest first
  for (const std::string& path : segments) {
    int fd = open(path.c_str(), O_RDWR);
    if (fd < 0) continue;
    struct stat st;
    fstat(fd, &st);
    std::string data(st.st_size, '\0');
    if (pread(fd, data.data(), data.size(), 0) !=
        static_cast<ssize_t>(data.size())) {
      close(fd);
      continue;
    }
    size_t end = data.find_last_not_of('\0');
    if (end == std::string::npos || end < 64) {
      close(fd);
      continue;  // no frame
    }
    size_t from = std::max<size_t>(64, end + 1 > bytes ? end + 1 - bytes : 0);
    std::string zeros(end + 1 - from, '\0');
    ssize_t n = pwrite(fd, zeros.data(), zeros.size(), from);
    close(fd);
    if (n != static_cast<ssize_t>(zeros.size())) {
      return absl::InternalError("pwrite failed");
    }
    fprintf(stderr, "self-check: zeroed bytes %zu..%zu of %s\n", from, end,
            path.c_str());
    return absl::OkStatus();
  }
  return absl::NotFoundError("no WAL segment with frames");
}

}  // namespace

absl::Status InjectAfterKill(SelfCheck check, const std::string& data_dir) {
  if (check != SelfCheck::kDropWalTail) return absl::OkStatus();
  return ZeroWalTail(data_dir, 16 << 10);
}

absl::Status InjectAfterRestart(SelfCheck check, client::Client& client,
                                const std::vector<OpRecord>& ops) {
  if (check == SelfCheck::kStaleValue) {
    // The first acknowledged put to a register that a later acknowledged
    // put overwrote: write it back.
    std::map<std::string, const OpRecord*> first_put;
    for (const OpRecord& op : ops) {
      if (op.kind != "put" || op.outcome != Outcome::kAcked) continue;
      const std::string& key = op.writes[0].key;
      auto it = first_put.find(key);
      if (it == first_put.end()) {
        first_put[key] = &op;
      } else if (it->second->seq < op.seq) {
        absl::StatusOr<uint64_t> s =
            client.Put(key, it->second->writes[0].value);
        fprintf(stderr, "self-check: wrote back %s's value of %s\n",
                key.c_str(), Describe(*it->second).c_str());
        return s.status();
      }
    }
    return absl::NotFoundError("no register overwritten this cycle");
  }
  if (check == SelfCheck::kTornBatch) {
    for (const OpRecord& op : ops) {
      if (op.kind != "batch" || op.outcome != Outcome::kAcked) continue;
      for (const Write& w : op.writes) {
        if (w.type != Write::Type::kPut) continue;
        absl::StatusOr<client::GetResult> r = client.Get(w.key);
        if (r.ok() && r->found) {
          fprintf(stderr, "self-check: deleted %s\n", w.key.c_str());
          return client.Delete(w.key).status();
        }
      }
    }
    return absl::NotFoundError("no batch group holds a value");
  }
  return absl::OkStatus();
}

}  // namespace cairn::crash
