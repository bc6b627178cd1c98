// Checks a write-group leader runs before writing its batch: the conditions
// of a conditional batch and the conflict set of a transaction commit. The
// leader runs them with no write in flight, so they see exactly the state
// its batch will follow.
#include <algorithm>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "db_impl.h"
#include "dbformat.h"

namespace cairn::storage {
namespace {

// The payload that carries a failed condition's index on the status.
constexpr char kFailedConditionUrl[] =
    "type.cairn.dev/cairn.storage.FailedCondition";

const char* KindName(Condition::Kind kind) {
  switch (kind) {
    case Condition::Kind::kExists:
      return "exists";
    case Condition::Kind::kAbsent:
      return "absent";
    case Condition::Kind::kSequenceEquals:
      return "sequence equals";
    case Condition::Kind::kValueEquals:
      return "value equals";
  }
  return "?";
}

absl::Status ConditionFailed(int index, const Condition& c,
                             std::string_view why) {
  absl::Status s = absl::FailedPreconditionError(
      absl::StrFormat("condition %d (%s, key '%s') failed: %s", index,
                      KindName(c.kind), EscapeBytes(c.key), why));
  s.SetPayload(kFailedConditionUrl, absl::Cord(absl::StrCat(index)));
  return s;
}

bool Overlaps(std::string_view b, std::string_view e, const KeyRange& r) {
  return (!r.end || b < std::string_view(*r.end)) &&
         std::string_view(r.begin) < e;
}

bool FileOverlaps(const FileMetaData& f, const KeyRange& r) {
  return ExtractUserKey(f.largest) >= std::string_view(r.begin) &&
         (!r.end || ExtractUserKey(f.smallest) < std::string_view(*r.end));
}

}  // namespace

std::optional<int> FailedConditionIndex(const absl::Status& status) {
  if (!absl::IsFailedPrecondition(status)) return std::nullopt;
  auto payload = status.GetPayload(kFailedConditionUrl);
  int index = 0;
  if (!payload || !absl::SimpleAtoi(std::string(*payload), &index)) {
    return std::nullopt;
  }
  return index;
}

absl::Status DBImpl::RunWriteCheck(const WriteCheck& check,
                                   const SuperVersion& sv, uint64_t seq) {
  if (check.expected_first_seq != 0 && seq + 1 != check.expected_first_seq) {
    return absl::FailedPreconditionError(absl::StrFormat(
        "a replicated batch starts at sequence %d, but the next sequence is "
        "%d",
        check.expected_first_seq, seq + 1));
  }
  const uint64_t now = NowMicros();
  if (check.conditions != nullptr) {
    for (size_t i = 0; i < check.conditions->size(); ++i) {
      const Condition& c = (*check.conditions)[i];
      absl::StatusOr<GetResult> r = GetImpl(sv, c.key, seq, now);
      if (!r.ok() && !absl::IsNotFound(r.status())) return r.status();
      const int index = static_cast<int>(i);
      switch (c.kind) {
        case Condition::Kind::kExists:
          if (!r.ok()) return ConditionFailed(index, c, "the key is absent");
          break;
        case Condition::Kind::kAbsent:
          if (r.ok()) {
            return ConditionFailed(
                index, c,
                absl::StrFormat("the key exists (sequence %d)", r->seq));
          }
          break;
        case Condition::Kind::kSequenceEquals: {
          const uint64_t actual = r.ok() ? r->seq : 0;
          if (actual != c.sequence) {
            return ConditionFailed(index, c,
                                   absl::StrFormat("its sequence is %d, not %d",
                                                   actual, c.sequence));
          }
          break;
        }
        case Condition::Kind::kValueEquals:
          if (!r.ok()) return ConditionFailed(index, c, "the key is absent");
          if (r->value != c.value) {
            return ConditionFailed(index, c, "its value differs");
          }
          break;
      }
    }
  }
  if (check.conflicts != nullptr) {
    const ConflictSet& cs = *check.conflicts;
    if (cs.min_expiry_micros != 0 && cs.min_expiry_micros <= now) {
      return absl::AbortedError(
          "transaction conflict: a value it read has expired since");
    }
    for (const std::string& key : cs.keys) {
      absl::StatusOr<uint64_t> changed = NewestChange(sv, key, cs.snapshot);
      if (!changed.ok()) return changed.status();
      if (*changed > cs.snapshot) {
        return absl::AbortedError(absl::StrFormat(
            "transaction conflict: key '%s' changed at sequence %d, after "
            "the transaction's snapshot %d",
            EscapeBytes(key), *changed, cs.snapshot));
      }
    }
    for (const KeyRange& range : cs.ranges) {
      absl::StatusOr<bool> changed = RangeChangedSince(sv, range, cs.snapshot);
      if (!changed.ok()) return changed.status();
      if (*changed) {
        return absl::AbortedError(absl::StrFormat(
            "transaction conflict: a key in the scanned range ['%s', %s) "
            "changed after the transaction's snapshot %d",
            EscapeBytes(range.begin),
            range.end ? "'" + EscapeBytes(*range.end) + "'" : "end",
            cs.snapshot));
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<uint64_t> DBImpl::NewestChange(const SuperVersion& sv,
                                              std::string_view key,
                                              uint64_t since) {
  uint64_t newest = 0;
  LookupResult r;
  auto from_memtable = [&](const MemTable& m) {
    if (m.last_seq() <= since) return;
    if (m.num_range_deletes() > 0) {
      if (auto t = m.RangeTombstones()) {
        newest = std::max(newest, t->MaxCoveringSeq(key, kMaxSequenceNumber));
      }
    }
    if (m.Get(key, kMaxSequenceNumber, &r)) newest = std::max(newest, r.seq);
  };
  from_memtable(*sv.mem);
  for (const auto& imm : sv.imms) from_memtable(*imm);
  auto from_file = [&](const FileMetaData& f) -> absl::Status {
    if (f.largest_seq <= since) return absl::OkStatus();
    auto table = table_cache_->Get(f.number, f.file_size);
    if (!table.ok()) return table.status();
    if (f.num_range_deletions > 0) {
      newest = std::max(newest, (*table)->range_tombstones().MaxCoveringSeq(
                                    key, kMaxSequenceNumber));
    }
    auto found = (*table)->Get(key, kMaxSequenceNumber, &r, false);
    if (!found.ok()) return found.status();
    if (*found) newest = std::max(newest, r.seq);
    return absl::OkStatus();
  };
  const Version& v = *sv.version;
  for (const auto& f : v.files(0)) {
    if (CompareUserKeys(key, ExtractUserKey(f->smallest)) < 0 ||
        CompareUserKeys(key, ExtractUserKey(f->largest)) > 0) {
      continue;
    }
    if (absl::Status s = from_file(*f); !s.ok()) return s;
  }
  const std::string lookup = MakeLookupKey(key, kMaxSequenceNumber);
  for (int level = 1; level < v.num_levels(); ++level) {
    if (v.files(level).empty()) continue;
    const auto* f = v.FindFile(level, lookup);
    if (f == nullptr) continue;
    if (absl::Status s = from_file(**f); !s.ok()) return s;
  }
  return newest;
}

absl::StatusOr<bool> DBImpl::RangeChangedSince(const SuperVersion& sv,
                                               const KeyRange& range,
                                               uint64_t since) {
  const std::string start =
      MakeInternalKey(range.begin, kMaxSequenceNumber, kValueTypeForSeek);
  // Any entry in the range newer than `since`, in one source.
  auto scan = [&](InternalIterator* it) -> absl::StatusOr<bool> {
    for (it->Seek(start); it->Valid(); it->Next()) {
      std::string_view user_key = ExtractUserKey(it->key());
      if (range.end && user_key >= std::string_view(*range.end)) break;
      if (TagSequence(ExtractTag(it->key())) > since) return true;
    }
    if (!it->status().ok()) return it->status();
    return false;
  };
  auto tombstones = [&](const FragmentedRangeTombstones& t) {
    for (const auto& frag : t.fragments()) {
      if (!frag.seqs.empty() && frag.seqs.front() > since &&
          Overlaps(frag.begin, frag.end, range)) {
        return true;
      }
    }
    return false;
  };
  auto from_memtable = [&](const MemTable& m) -> absl::StatusOr<bool> {
    if (m.last_seq() <= since) return false;
    if (m.num_range_deletes() > 0) {
      if (auto t = m.RangeTombstones(); t && tombstones(*t)) return true;
    }
    return scan(m.NewIterator().get());
  };
  auto changed = from_memtable(*sv.mem);
  for (size_t i = 0; changed.ok() && !*changed && i < sv.imms.size(); ++i) {
    changed = from_memtable(*sv.imms[i]);
  }
  if (!changed.ok() || *changed) return changed;
  const Version& v = *sv.version;
  for (int level = 0; level < v.num_levels(); ++level) {
    for (const auto& f : v.files(level)) {
      if (f->largest_seq <= since || !FileOverlaps(*f, range)) continue;
      auto table = table_cache_->Get(f->number, f->file_size);
      if (!table.ok()) return table.status();
      if (f->num_range_deletions > 0 &&
          tombstones((*table)->range_tombstones())) {
        return true;
      }
      changed = scan((*table)->NewIterator(false).get());
      if (!changed.ok() || *changed) return changed;
    }
  }
  return false;
}

}  // namespace cairn::storage
