// Leveled compaction: picking work, merging, and manual compaction.
#include <algorithm>

#include "absl/strings/str_format.h"
#include "compaction.h"
#include "compaction_stream.h"
#include "db_impl.h"
#include "dbformat.h"
#include "filename.h"
#include "level_iterator.h"
#include "merging_iterator.h"
#include "table_file_writer.h"

namespace cairn::storage {

void FileRange(const FileList& files, std::string* smallest,
               std::string* largest) {
  bool first = true;
  for (const auto& f : files) {
    std::string_view lo = ExtractUserKey(f->smallest);
    std::string_view hi = ExtractUserKey(f->largest);
    if (first || lo < std::string_view(*smallest)) smallest->assign(lo);
    if (first || hi > std::string_view(*largest)) largest->assign(hi);
    first = false;
  }
}

namespace {

bool RangesOverlap(const Compaction& a, std::string_view lo,
                   std::string_view hi) {
  return !(std::string_view(a.largest_user_key) < lo ||
           hi < std::string_view(a.smallest_user_key));
}

bool AnyBeingCompacted(const FileList& files,
                       const std::set<uint64_t>& being_compacted) {
  return std::any_of(files.begin(), files.end(), [&](const auto& f) {
    return being_compacted.count(f->number) > 0;
  });
}

// Whether any level below `level` may hold user_key (binary search per
// level; levels >= 1 are sorted and disjoint).
bool KeyMayExistBelow(const Version& v, int level, std::string_view user_key) {
  for (int l = level + 1; l < v.num_levels(); ++l) {
    const FileList& files = v.files(l);
    auto it = std::lower_bound(
        files.begin(), files.end(), user_key,
        [](const std::shared_ptr<FileMetaData>& f, std::string_view k) {
          return ExtractUserKey(f->largest) < k;
        });
    if (it != files.end() && ExtractUserKey((*it)->smallest) <= user_key) {
      return true;
    }
  }
  return false;
}

}  // namespace

std::unique_ptr<Compaction> DBImpl::PickCompaction() {
  if (options_.disable_auto_compactions || manual_compactions_ > 0 ||
      !background_error_.ok() || shutting_down_) {
    return nullptr;
  }
  std::shared_ptr<Version> v = versions_->current();
  // Levels by score, highest first.
  std::vector<int> levels;
  for (int l = 0; l + 1 < v->num_levels(); ++l) {
    if (v->score(l) >= 1) levels.push_back(l);
  }
  std::sort(levels.begin(), levels.end(),
            [&](int a, int b) { return v->score(a) > v->score(b); });
  for (int level : levels) {
    auto c = std::make_unique<Compaction>();
    c->level = level;
    c->output_level = level + 1;
    c->version = v;
    if (level == 0) {
      if (AnyBeingCompacted(v->files(0), being_compacted_)) continue;
      c->inputs[0] = v->files(0);
    } else {
      // Round-robin through the level, from where the last compaction of
      // this level stopped.
      const FileList& files = v->files(level);
      std::string& pointer = compact_pointer_[level];
      size_t start = 0;
      while (start < files.size() && !pointer.empty() &&
             CompareInternalKeys(files[start]->largest, pointer) <= 0) {
        ++start;
      }
      bool found = false;
      for (size_t k = 0; k < files.size() && !found; ++k) {
        const auto& f = files[(start + k) % files.size()];
        if (being_compacted_.count(f->number)) continue;
        std::string lo, hi;
        FileRange({f}, &lo, &hi);
        std::string_view lo_v(lo), hi_v(hi);
        if (AnyBeingCompacted(v->Overlapping(level + 1, &lo_v, &hi_v),
                              being_compacted_)) {
          continue;
        }
        c->inputs[0] = {f};
        found = true;
      }
      if (!found) continue;
    }
    FileRange(c->inputs[0], &c->smallest_user_key, &c->largest_user_key);
    std::string_view lo(c->smallest_user_key), hi(c->largest_user_key);
    c->inputs[1] = v->Overlapping(c->output_level, &lo, &hi);
    if (AnyBeingCompacted(c->inputs[1], being_compacted_)) continue;
    FileList all = c->inputs[0];
    all.insert(all.end(), c->inputs[1].begin(), c->inputs[1].end());
    FileRange(all, &c->smallest_user_key, &c->largest_user_key);
    bool conflict = false;
    for (const Compaction* r : running_compaction_list_) {
      if (r->output_level == c->output_level &&
          RangesOverlap(*r, c->smallest_user_key, c->largest_user_key)) {
        conflict = true;
      }
    }
    if (conflict) continue;
    c->trivial_move = c->inputs[0].size() == 1 && c->inputs[1].empty();
    if (level > 0) compact_pointer_[level] = c->inputs[0].back()->largest;
    return c;
  }
  return nullptr;
}

void DBImpl::MaybeScheduleCompaction() {
  if (running_compactions_ < std::max(1, options_.max_background_compactions)) {
    bg_cv_.notify_all();
  }
}

void DBImpl::CompactionThread() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!shutting_down_) {
    std::unique_ptr<Compaction> c;
    if (running_compactions_ <
        std::max(1, options_.max_background_compactions)) {
      c = PickCompaction();
    }
    if (!c) {
      // Files that a reader (iterator, Get) still held when the last job
      // ended are deleted once idle.
      if (bg_cv_.wait_for(lock, std::chrono::seconds(1)) ==
          std::cv_status::timeout) {
        DeleteObsoleteFiles(lock);
      }
      continue;
    }
    RunCompaction(lock, c.get()).IgnoreError();  // it records its error
  }
}

absl::Status DBImpl::RunCompaction(std::unique_lock<std::mutex>& lock,
                                   Compaction* c) {
  ++running_compactions_;
  running_compaction_list_.push_back(c);
  c->MarkInputs(&being_compacted_, true);
  const std::vector<uint64_t> snapshots = SnapshotSequences();
  const uint64_t smallest_snapshot =
      snapshots.empty() ? kMaxSequenceNumber : snapshots.front();
  const absl::Time start = absl::Now();
  CompactionJobInfo info;
  info.level = c->level;
  info.output_level = c->output_level;
  info.input_files =
      static_cast<int>(c->inputs[0].size() + c->inputs[1].size());
  info.input_bytes = c->InputBytes();
  info.manual = c->manual;
  lock.unlock();
  for (EventListener* l : options_.listeners) l->OnCompactionBegin(info);

  VersionEdit edit;
  absl::Status s;
  std::vector<FileMetaData> outputs;
  std::vector<uint64_t> allocated;  // output file numbers, written or not
  if (c->trivial_move) {
    const FileMetaData& f = *c->inputs[0][0];
    edit.DeleteFile(c->level, f.number);
    edit.AddFile(c->output_level, f);
    outputs.push_back(f);
  } else {
    s = MergeCompactionInputs(lock, *c, snapshots, smallest_snapshot, &outputs,
                              &allocated, &info.entries_dropped);
    for (int which = 0; which < 2; ++which) {
      for (const auto& f : c->inputs[which]) {
        edit.DeleteFile(which == 0 ? c->level : c->output_level, f->number);
      }
    }
    for (const FileMetaData& f : outputs) edit.AddFile(c->output_level, f);
  }
  if (s.ok() && !outputs.empty() && !c->trivial_move) s = fs_->SyncDir(path_);

  lock.lock();
  bool edit_outcome_unknown = false;
  if (s.ok()) {
    s = versions_->LogAndApply(&edit, &lock);
    edit_outcome_unknown = !s.ok();
  }
  // After a failed MANIFEST write the edit may still be on disk, naming the
  // outputs: they stay protected from deletion.
  if (!edit_outcome_unknown) {
    for (uint64_t number : allocated) pending_outputs_.erase(number);
  }
  c->MarkInputs(&being_compacted_, false);
  running_compaction_list_.erase(std::find(running_compaction_list_.begin(),
                                           running_compaction_list_.end(), c));
  --running_compactions_;
  if (s.ok()) {
    InstallSuperVersion();
    if (!c->trivial_move) {
      stats_.Add(Ticker::kCompactions);
      stats_.Add(Ticker::kCompactReadBytes, info.input_bytes);
    }
  }
  info.output_files = static_cast<int>(outputs.size());
  for (const FileMetaData& f : outputs) info.output_bytes += f.file_size;
  if (s.ok() && !c->trivial_move) {
    stats_.Add(Ticker::kCompactWriteBytes, info.output_bytes);
    sst_bytes_written_ += info.output_bytes;
  }
  info.duration = absl::Now() - start;
  info.status = s;
  stats_.Record(HistogramType::kCompactionMicros,
                absl::ToInt64Microseconds(info.duration));
  c->version.reset();  // let the replaced files go
  // The error state first: it stops DeleteObsoleteFiles.
  if (!s.ok() && !(shutting_down_ && absl::IsAborted(s))) {
    SetBackgroundError(s);
  }
  DeleteObsoleteFiles(lock);
  NotifyBackgroundDone();
  bg_cv_.notify_all();  // the new shape may call for more work
  lock.unlock();
  for (EventListener* l : options_.listeners) l->OnCompactionEnd(info);
  lock.lock();
  return s;
}

absl::Status DBImpl::MergeCompactionInputs(
    std::unique_lock<std::mutex>& lock, const Compaction& c,
    const std::vector<uint64_t>& snapshots, uint64_t smallest_snapshot,
    std::vector<FileMetaData>* outputs, std::vector<uint64_t>* allocated,
    uint64_t* dropped) {
  const Version& v = *c.version;
  // Inputs: each L0 file on its own (they overlap), a level as one stream.
  std::vector<std::unique_ptr<InternalIterator>> children;
  std::vector<RangeTombstone> tombstones;
  FileList level_inputs[2] = {c.inputs[0], c.inputs[1]};
  for (int which = 0; which < 2; ++which) {
    const int level = which == 0 ? c.level : c.output_level;
    for (const auto& f : level_inputs[which]) {
      auto table = table_cache_->Get(f->number, f->file_size);
      if (!table.ok()) return table.status();
      if (f->num_range_deletions > 0) {
        auto list = (*table)->range_tombstones().ToTombstones();
        tombstones.insert(tombstones.end(), list.begin(), list.end());
      }
      if (level == 0) children.push_back((*table)->NewIterator(false));
    }
    if (level > 0 && !level_inputs[which].empty()) {
      children.push_back(
          NewLevelIterator(table_cache_.get(), &level_inputs[which], false));
    }
  }
  auto input = NewMergingIterator(InternalKeyComparator(), std::move(children));
  const FragmentedRangeTombstones frags(std::move(tombstones));
  const bool to_last_level =
      c.output_level == v.num_levels() - 1 ||
      !v.OverlapsBelow(c.output_level, c.smallest_user_key, c.largest_user_key);

  std::unique_ptr<TableFileWriter> out;
  std::vector<std::string> cut_points;  // first user key of outputs 2..n
  std::vector<std::unique_ptr<TableFileWriter>> writers;
  auto new_output = [&]() -> absl::Status {
    lock.lock();
    const uint64_t number = versions_->NewFileNumber();
    pending_outputs_.insert(number);
    allocated->push_back(number);
    lock.unlock();
    auto w = TableFileWriter::Create(fs_, TableFileName(path_, number), number,
                                     TableBuilderOptions::From(options_));
    if (!w.ok()) return w.status();
    writers.push_back(std::move(*w));
    return absl::OkStatus();
  };

  CompactionStreamOptions so;
  so.snapshots = snapshots;
  so.tombstones = &frags;
  so.merges = merges_.get();
  so.now_micros = NowMicros();
  so.key_may_exist_below = [&](std::string_view user_key) {
    return !to_last_level && KeyMayExistBelow(v, c.output_level, user_key);
  };
  CompactionStream stream(input.get(), std::move(so));
  std::string last_output_key;
  for (stream.SeekToFirst(); stream.Valid(); stream.Next()) {
    if (shutting_down_flag_.load(std::memory_order_relaxed)) {
      return absl::AbortedError("compaction interrupted by shutdown");
    }
    const std::string_view user_key = ExtractUserKey(stream.key());
    if (writers.empty() ||
        (writers.back()->FileSize() >= options_.target_file_size &&
         user_key != std::string_view(last_output_key))) {
      if (!writers.empty()) cut_points.emplace_back(user_key);
      if (absl::Status s = new_output(); !s.ok()) return s;
    }
    writers.back()->Add(stream.key(), stream.value());
    last_output_key.assign(user_key);
  }
  if (!stream.status().ok()) return stream.status();
  *dropped += stream.dropped();

  // Range tombstones: each output gets the fragments of its key span (the
  // first from -inf, the last to +inf), clipped at the cut points. At the
  // bottom, those visible to every reader and with nothing below are dropped.
  for (const auto& frag : frags.fragments()) {
    const bool bottom =
        to_last_level || !v.OverlapsBelow(c.output_level, frag.begin, frag.end);
    std::vector<uint64_t> keep;
    size_t last_stripe = SIZE_MAX;
    for (uint64_t t : frag.seqs) {  // newest first
      const size_t stripe = Stripe(snapshots, t);
      if (stripe == last_stripe) continue;  // shadowed by a newer one
      last_stripe = stripe;
      if (bottom && t <= smallest_snapshot) continue;
      keep.push_back(t);
    }
    *dropped += frag.seqs.size() - keep.size();
    if (keep.empty()) continue;
    if (writers.empty()) {
      if (absl::Status s = new_output(); !s.ok()) return s;
    }
    for (size_t i = 0; i < writers.size(); ++i) {
      std::string_view lo = i == 0 ? std::string_view() : cut_points[i - 1];
      std::optional<std::string_view> hi;
      if (i < cut_points.size()) hi = cut_points[i];
      std::string_view b = std::max(std::string_view(frag.begin), lo);
      std::string_view e = frag.end;
      if (hi && *hi < e) e = *hi;
      if (!(b < e)) continue;
      for (uint64_t t : keep) {
        writers[i]->AddTombstone(
            RangeTombstone{std::string(b), std::string(e), t});
      }
    }
  }
  for (auto& w : writers) {
    auto meta = w->Finish();
    if (!meta.ok()) return meta.status();
    outputs->push_back(std::move(*meta));
  }
  return absl::OkStatus();
}

absl::Status DBImpl::CompactRange(const std::string* begin,
                                  const std::string* end) {
  if (absl::Status s = Flush(FlushOptions{.wait = true}); !s.ok()) return s;
  std::unique_lock<std::mutex> lock(mu_);
  ++manual_compactions_;
  // Wait for running compactions (automatic ones start no more meanwhile),
  // and for any other CompactRange: one runs at a time.
  while ((running_compactions_ > 0 || manual_running_) &&
         background_error_.ok() && !shutting_down_) {
    bg_done_cv_.wait(lock);
  }
  manual_running_ = true;
  absl::Status s = background_error_;
  std::optional<std::string_view> lo, hi;
  if (begin) lo = *begin;
  if (end) hi = *end;
  const int last = versions_->current()->LastNonEmptyLevel();
  for (int level = 0; s.ok() && level <= last; ++level) {
    auto c = std::make_unique<Compaction>();
    c->manual = true;
    c->version = versions_->current();
    const Version& v = *c->version;
    c->level = level;
    // Everything moves down to the last level holding data; that level is
    // then rewritten in place so its tombstones can go.
    c->output_level = level < last ? level + 1 : last;
    c->inputs[0] =
        v.Overlapping(level, lo ? &*lo : nullptr, hi ? &*hi : nullptr);
    if (c->inputs[0].empty()) continue;
    // Older L0 files must not stay above newer data moved down: take them
    // all.
    if (level == 0) c->inputs[0] = v.files(0);
    if (c->output_level == level && last == 0) {
      c->output_level = 1;  // only L0 holds data: compact it into L1
    }
    if (c->output_level != level) {
      FileRange(c->inputs[0], &c->smallest_user_key, &c->largest_user_key);
      std::string_view a(c->smallest_user_key), b(c->largest_user_key);
      c->inputs[1] = v.Overlapping(c->output_level, &a, &b);
    }
    FileList all = c->inputs[0];
    all.insert(all.end(), c->inputs[1].begin(), c->inputs[1].end());
    FileRange(all, &c->smallest_user_key, &c->largest_user_key);
    s = RunCompaction(lock, c.get());
  }
  --manual_compactions_;
  manual_running_ = false;
  if (!s.ok() && !shutting_down_) SetBackgroundError(s);
  NotifyBackgroundDone();
  bg_cv_.notify_all();
  return s;
}

}  // namespace cairn::storage
