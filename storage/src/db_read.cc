// The read path of DBImpl: point lookups, iterators and snapshots.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "db_impl.h"
#include "db_iter.h"
#include "dbformat.h"
#include "get_context.h"
#include "level_iterator.h"
#include "merging_iterator.h"

namespace cairn::storage {

class DBImpl::SnapshotImpl final : public Snapshot {
 public:
  explicit SnapshotImpl(uint64_t seq) : Snapshot(seq) {}
  std::list<SnapshotImpl*>::iterator position;
};

std::shared_ptr<SuperVersion> DBImpl::GetSuperVersion() const {
  std::lock_guard<std::mutex> lock(sv_mu_);
  return super_version_;
}

void DBImpl::InstallSuperVersion() {
  auto sv = std::make_shared<SuperVersion>();
  sv->number = super_version_number_.load(std::memory_order_relaxed) + 1;
  sv->mem = mem_;
  sv->imms.assign(imms_.rbegin(), imms_.rend());
  sv->version = versions_->current();
  std::lock_guard<std::mutex> lock(sv_mu_);
  super_version_number_.store(sv->number, std::memory_order_release);
  super_version_.swap(sv);  // the old one is released outside the lock
}

// A read without a snapshot takes the SuperVersion first and the sequence
// second, and keeps the pair only if that SuperVersion was still the
// current one after the sequence was read:
//   - Flushes and compactions drop the versions no snapshot can see. A
//     file installed before the read took its sequence holds nothing newer
//     than that sequence, so nothing it dropped was visible to the read.
//     (Sequence first, SuperVersion second loses this: a reader delayed
//     between the two could meet a file that dropped the version it
//     should see, and answer with an older one.)
//   - A write is published only after the SuperVersion holding its
//     memtable is installed. If the SuperVersion is still current after
//     the sequence was read, every write up to the sequence is in it.
// The SuperVersion changes on memtable switches, flushes and compactions,
// so the retry is rare. A registered snapshot protects its versions from
// flushes and compactions: any SuperVersion serves it.
DBImpl::ReadView DBImpl::AcquireReadView(const ReadOptions& options) const {
  ReadView view;
  if (options.snapshot != nullptr) {
    view.sv = GetSuperVersion();
    view.seq = options.snapshot->sequence();
    return view;
  }
  while (true) {
    view.sv = GetSuperVersion();
    if (view.sv == nullptr) return view;
    view.seq = last_sequence_.load(std::memory_order_acquire);
    if (super_version_number_.load(std::memory_order_acquire) ==
        view.sv->number) {
      return view;
    }
  }
}

absl::StatusOr<GetResult> DBImpl::GetImpl(const SuperVersion& sv,
                                          std::string_view key,
                                          uint64_t snapshot,
                                          uint64_t now_micros,
                                          uint64_t* newest_seq) {
  stats_.Add(Ticker::kKeysRead);
  // Sources from newest to oldest. For one user key, every version in a
  // newer source is newer than every version (and covering range tombstone)
  // in an older one, so once a source settles the base, older sources
  // cannot change the answer.
  GetContext ctx(key, merges_.get(), now_micros);
  auto finish = [&]() -> absl::StatusOr<GetResult> {
    auto result = ctx.Finish();
    if (newest_seq != nullptr) *newest_seq = ctx.newest_seq();
    if (result.ok()) stats_.Add(Ticker::kKeysFound);
    return result;
  };
  auto from_memtable = [&](const MemTable& m) {
    if (m.num_range_deletes() > 0) {
      if (auto t = m.RangeTombstones()) {
        ctx.CoverBelow(t->MaxCoveringSeq(key, snapshot));
      }
    }
    m.Get(key, snapshot, &ctx);
    return ctx.SourceDone();
  };
  if (from_memtable(*sv.mem)) return finish();
  for (const auto& imm : sv.imms) {
    if (from_memtable(*imm)) return finish();
  }

  auto from_file = [&](const FileMetaData& f) -> absl::StatusOr<bool> {
    auto table = table_cache_->Get(f.number, f.file_size);
    if (!table.ok()) return table.status();
    if (f.num_range_deletions > 0) {
      ctx.CoverBelow(
          (*table)->range_tombstones().MaxCoveringSeq(key, snapshot));
    }
    auto found = (*table)->Get(key, snapshot, &ctx);
    if (!found.ok()) return found.status();
    return ctx.SourceDone();
  };
  const Version& v = *sv.version;
  for (const auto& f : v.files(0)) {
    if (CompareUserKeys(key, ExtractUserKey(f->smallest)) < 0 ||
        CompareUserKeys(key, ExtractUserKey(f->largest)) > 0) {
      continue;
    }
    auto done = from_file(*f);
    if (!done.ok()) return done.status();
    if (*done) return finish();
  }
  const std::string lookup = MakeLookupKey(key, snapshot);
  for (int level = 1; level < v.num_levels(); ++level) {
    if (v.files(level).empty()) continue;
    const auto* f = v.FindFile(level, lookup);
    if (f == nullptr) continue;
    auto done = from_file(**f);
    if (!done.ok()) return done.status();
    if (*done) return finish();
  }
  return finish();
}

uint64_t DBImpl::NowMicros() const {
  return static_cast<uint64_t>(absl::ToUnixMicros(options_.clock()));
}

absl::StatusOr<GetResult> DBImpl::Get(const ReadOptions& options,
                                      std::string_view key) {
  ReadView view = AcquireReadView(options);
  if (view.sv == nullptr) return absl::FailedPreconditionError("DB is closed");
  return GetImpl(*view.sv, key, view.seq, NowMicros());
}

std::vector<absl::StatusOr<GetResult>> DBImpl::MultiGet(
    const ReadOptions& options, const std::vector<std::string_view>& keys) {
  ReadView view = AcquireReadView(options);
  const uint64_t seq = view.seq;
  const std::shared_ptr<SuperVersion>& sv = view.sv;
  std::vector<absl::StatusOr<GetResult>> out;
  out.reserve(keys.size());
  if (sv == nullptr) {
    out.assign(keys.size(), absl::FailedPreconditionError("DB is closed"));
    return out;
  }
  const uint64_t now = NowMicros();
  for (std::string_view k : keys) out.push_back(GetImpl(*sv, k, seq, now));
  return out;
}

std::unique_ptr<Iterator> DBImpl::NewIterator(const ReadOptions& options) {
  DBIterOptions o;
  ReadView view = AcquireReadView(options);
  o.sequence = view.seq;
  std::shared_ptr<SuperVersion> sv = std::move(view.sv);
  if (sv == nullptr) {
    return NewDBIterator(
        NewEmptyIterator(absl::FailedPreconditionError("DB is closed")), o);
  }
  o.lower_bound = options.lower_bound;
  o.upper_bound = options.upper_bound;
  ApplyPrefix(options.prefix, &o.lower_bound, &o.upper_bound);
  stats_.Add(Ticker::kIterSeeks);

  std::vector<std::unique_ptr<InternalIterator>> children;
  std::vector<RangeTombstone> tombstones;
  auto add_memtable = [&](const MemTable& m) {
    children.push_back(m.NewIterator());
    if (m.num_range_deletes() > 0) {
      if (auto t = m.RangeTombstones()) {
        auto list = t->ToTombstones();
        tombstones.insert(tombstones.end(), list.begin(), list.end());
      }
    }
  };
  add_memtable(*sv->mem);
  for (const auto& imm : sv->imms) add_memtable(*imm);
  const Version& v = *sv->version;
  absl::Status error;
  auto add_file_tombstones = [&](const FileMetaData& f) -> bool {
    if (f.num_range_deletions == 0) return true;
    auto table = table_cache_->Get(f.number, f.file_size);
    if (!table.ok()) {
      error = table.status();
      return false;
    }
    auto list = (*table)->range_tombstones().ToTombstones();
    tombstones.insert(tombstones.end(), list.begin(), list.end());
    return true;
  };
  for (const auto& f : v.files(0)) {
    auto table = table_cache_->Get(f->number, f->file_size);
    if (!table.ok()) {
      error = table.status();
      break;
    }
    children.push_back((*table)->NewIterator(options.fill_cache));
    if (!add_file_tombstones(*f)) break;
  }
  for (int level = 1; error.ok() && level < v.num_levels(); ++level) {
    if (v.files(level).empty()) continue;
    children.push_back(NewLevelIterator(table_cache_.get(), &v.files(level),
                                        options.fill_cache));
    for (const auto& f : v.files(level)) {
      if (!add_file_tombstones(*f)) break;
    }
  }
  std::unique_ptr<InternalIterator> merged =
      error.ok()
          ? NewMergingIterator(InternalKeyComparator(), std::move(children))
          : NewEmptyIterator(error);
  if (!tombstones.empty()) {
    o.tombstones =
        std::make_shared<FragmentedRangeTombstones>(std::move(tombstones));
  }
  o.pinned = sv;
  o.merges = merges_.get();
  o.now_micros = NowMicros();
  return NewDBIterator(std::move(merged), std::move(o));
}

const Snapshot* DBImpl::GetSnapshot() { return RegisterSnapshot(0); }

const Snapshot* DBImpl::RegisterSnapshot(uint64_t seq) {
  std::lock_guard<std::mutex> lock(mu_);
  auto* s = new SnapshotImpl(seq == 0 ? LastSequence() : seq);
  snapshots_.push_back(s);
  s->position = std::prev(snapshots_.end());
  return s;
}

void DBImpl::ReleaseSnapshot(const Snapshot* snapshot) {
  if (snapshot == nullptr) return;
  auto* s = static_cast<SnapshotImpl*>(const_cast<Snapshot*>(snapshot));
  {
    std::lock_guard<std::mutex> lock(mu_);
    snapshots_.erase(s->position);
  }
  delete s;
}

std::vector<uint64_t> DBImpl::SnapshotSequences() const {
  std::vector<uint64_t> seqs;
  seqs.reserve(snapshots_.size());
  for (const SnapshotImpl* s : snapshots_) seqs.push_back(s->sequence());
  std::sort(seqs.begin(), seqs.end());
  return seqs;
}

}  // namespace cairn::storage
