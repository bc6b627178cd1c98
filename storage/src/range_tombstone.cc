#include "range_tombstone.h"

#include <algorithm>

namespace cairn::storage {

FragmentedRangeTombstones::FragmentedRangeTombstones(
    std::vector<RangeTombstone> tombstones) {
  // Cut points: every begin and end. Between two consecutive cut points the
  // set of covering tombstones is constant.
  std::vector<std::string_view> cuts;
  cuts.reserve(tombstones.size() * 2);
  for (const RangeTombstone& t : tombstones) {
    if (t.begin >= t.end) continue;
    cuts.push_back(t.begin);
    cuts.push_back(t.end);
  }
  std::sort(cuts.begin(), cuts.end());
  cuts.erase(std::unique(cuts.begin(), cuts.end()), cuts.end());
  if (cuts.size() < 2) return;

  // For each elementary interval [cuts[i], cuts[i+1]), the covering seqs.
  std::vector<std::vector<uint64_t>> cover(cuts.size() - 1);
  for (const RangeTombstone& t : tombstones) {
    if (t.begin >= t.end) continue;
    size_t lo =
        std::lower_bound(cuts.begin(), cuts.end(), std::string_view(t.begin)) -
        cuts.begin();
    size_t hi =
        std::lower_bound(cuts.begin(), cuts.end(), std::string_view(t.end)) -
        cuts.begin();
    for (size_t i = lo; i < hi; ++i) cover[i].push_back(t.seq);
  }
  for (size_t i = 0; i + 1 < cuts.size(); ++i) {
    std::vector<uint64_t>& seqs = cover[i];
    if (seqs.empty()) continue;
    std::sort(seqs.begin(), seqs.end(), std::greater<>());
    seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
    // Merge with the previous fragment when it ends here with equal seqs.
    if (!fragments_.empty() && fragments_.back().end == cuts[i] &&
        fragments_.back().seqs == seqs) {
      fragments_.back().end.assign(cuts[i + 1]);
      continue;
    }
    fragments_.push_back(Fragment{std::string(cuts[i]),
                                  std::string(cuts[i + 1]), std::move(seqs)});
  }
}

const FragmentedRangeTombstones::Fragment*
FragmentedRangeTombstones::FragmentFor(std::string_view user_key) const {
  // First fragment whose end is > user_key.
  auto it = std::upper_bound(
      fragments_.begin(), fragments_.end(), user_key,
      [](std::string_view k, const Fragment& f) { return k < f.end; });
  if (it == fragments_.end() || user_key < std::string_view(it->begin)) {
    return nullptr;
  }
  return &*it;
}

uint64_t FragmentedRangeTombstones::MaxCoveringSeq(std::string_view user_key,
                                                   uint64_t snapshot) const {
  const Fragment* f = FragmentFor(user_key);
  if (f == nullptr) return 0;
  for (uint64_t s : f->seqs) {  // descending
    if (s <= snapshot) return s;
  }
  return 0;
}

std::vector<RangeTombstone> FragmentedRangeTombstones::ToTombstones() const {
  std::vector<RangeTombstone> out;
  for (const Fragment& f : fragments_) {
    for (uint64_t s : f.seqs) out.push_back(RangeTombstone{f.begin, f.end, s});
  }
  return out;
}

}  // namespace cairn::storage
