// The merge keeps the positioned children in a binary heap: a min-heap going
// forward, a max-heap going backward. For the 2..20 children the engine
// merges (memtables plus level-0 files plus levels), a step usually costs one
// or two comparisons: the child that just moved sifts down and stops at once
// when it is still the smallest.
//
// Entries are totally ordered by (key, child index): equal keys in several
// children come out lowest child first going forward and highest child first
// going backward, so that changing direction yields each entry exactly once.
#include "merging_iterator.h"

#include <cassert>
#include <string_view>
#include <utility>

namespace cairn::storage {
namespace {

class MergingIterator final : public InternalIterator {
 public:
  MergingIterator(const Comparator* comparator,
                  std::vector<std::unique_ptr<InternalIterator>> children)
      : comparator_(comparator), owned_(std::move(children)) {
    if (comparator == InternalKeyComparator()) {
      kind_ = Kind::kInternal;
    } else if (comparator == BytewiseComparator()) {
      kind_ = Kind::kBytewise;
    }
    children_.reserve(owned_.size());
    for (size_t i = 0; i < owned_.size(); i++) {
      children_.push_back(Child{owned_[i].get(), {}, i});
    }
    heap_.reserve(children_.size());
  }

  bool Valid() const override { return !heap_.empty(); }

  void SeekToFirst() override {
    StartPositioning(Direction::kForward);
    for (Child& c : children_) c.iter->SeekToFirst();
    Rebuild();
  }
  void SeekToLast() override {
    StartPositioning(Direction::kBackward);
    for (Child& c : children_) c.iter->SeekToLast();
    Rebuild();
  }
  void Seek(std::string_view target) override {
    StartPositioning(Direction::kForward);
    for (Child& c : children_) c.iter->Seek(target);
    Rebuild();
  }
  void SeekForPrev(std::string_view target) override {
    StartPositioning(Direction::kBackward);
    for (Child& c : children_) c.iter->SeekForPrev(target);
    Rebuild();
  }

  void Next() override {
    assert(Valid());
    if (direction_ != Direction::kForward) {
      SwitchToForward();
      return;
    }
    Child* top = heap_[0];
    top->iter->Next();
    AfterTopMoved(top);
  }

  void Prev() override {
    assert(Valid());
    if (direction_ != Direction::kBackward) {
      SwitchToBackward();
      return;
    }
    Child* top = heap_[0];
    top->iter->Prev();
    AfterTopMoved(top);
  }

  std::string_view key() const override {
    assert(Valid());
    return heap_[0]->key;
  }
  std::string_view value() const override {
    assert(Valid());
    return heap_[0]->iter->value();
  }
  absl::Status status() const override { return status_; }

 private:
  enum class Direction { kForward, kBackward };
  // Comparators the merge can call without a virtual call.
  enum class Kind { kOther, kInternal, kBytewise };

  struct Child {
    InternalIterator* iter;
    std::string_view key;  // iter->key(), cached while iter is valid
    size_t index;
  };

  int Compare(std::string_view a, std::string_view b) const {
    switch (kind_) {
      case Kind::kInternal:
        return CompareInternalKeys(a, b);
      case Kind::kBytewise:
        return CompareUserKeys(a, b);
      case Kind::kOther:
        break;
    }
    return comparator_->Compare(a, b);
  }

  // Whether a comes out before b in the current direction.
  bool Before(const Child* a, const Child* b) const {
    int c = Compare(a->key, b->key);
    if (direction_ == Direction::kForward) {
      return c < 0 || (c == 0 && a->index < b->index);
    }
    return c > 0 || (c == 0 && a->index > b->index);
  }

  void StartPositioning(Direction direction) {
    status_ = absl::OkStatus();
    direction_ = direction;
  }

  // After c moved: true if it is valid (key cached). An error is recorded.
  bool Refresh(Child* c) {
    if (c->iter->Valid()) {
      c->key = c->iter->key();
      return true;
    }
    absl::Status s = c->iter->status();
    if (!s.ok() && status_.ok()) status_ = std::move(s);
    return false;
  }

  // Heap of every valid child; empty if any child failed.
  void Rebuild() {
    heap_.clear();
    for (Child& c : children_) {
      if (Refresh(&c)) heap_.push_back(&c);
    }
    if (!status_.ok()) {
      heap_.clear();
      return;
    }
    for (size_t i = heap_.size() / 2; i-- > 0;) SiftDown(i);
  }

  void AfterTopMoved(Child* top) {
    if (Refresh(top)) {
      SiftDown(0);
    } else if (!status_.ok()) {
      heap_.clear();
    } else {
      heap_[0] = heap_.back();
      heap_.pop_back();
      if (!heap_.empty()) SiftDown(0);
    }
  }

  void SiftDown(size_t i) {
    Child* x = heap_[i];
    const size_t n = heap_.size();
    while (true) {
      size_t best = 2 * i + 1;
      if (best >= n) break;
      if (best + 1 < n && Before(heap_[best + 1], heap_[best])) best++;
      if (!Before(heap_[best], x)) break;
      heap_[i] = heap_[best];
      i = best;
    }
    heap_[i] = x;
  }

  // Going forward, the other children sit at or after the current entry;
  // going backward they must sit at the last entry before it in (key, child
  // index) order: key <= k for lower children, key < k for higher ones.
  void SwitchToBackward() {
    Child* top = heap_[0];
    const std::string_view k = top->key;  // stays valid: top does not move
    for (Child& c : children_) {
      if (&c == top) continue;
      c.iter->SeekForPrev(k);
      if (c.index > top->index) {
        while (c.iter->Valid() && Compare(c.iter->key(), k) == 0) {
          c.iter->Prev();
        }
      }
    }
    top->iter->Prev();
    direction_ = Direction::kBackward;
    Rebuild();
  }

  // The mirror image: the first entry after the current one, key > k for
  // lower children and key >= k for higher ones.
  void SwitchToForward() {
    Child* top = heap_[0];
    const std::string_view k = top->key;
    for (Child& c : children_) {
      if (&c == top) continue;
      c.iter->Seek(k);
      if (c.index < top->index) {
        while (c.iter->Valid() && Compare(c.iter->key(), k) == 0) {
          c.iter->Next();
        }
      }
    }
    top->iter->Next();
    direction_ = Direction::kForward;
    Rebuild();
  }

  const Comparator* const comparator_;
  Kind kind_ = Kind::kOther;
  std::vector<std::unique_ptr<InternalIterator>> owned_;
  std::vector<Child> children_;  // never resized: heap_ points into it
  std::vector<Child*> heap_;     // heap_[0] is the current entry
  Direction direction_ = Direction::kForward;
  absl::Status status_;
};

}  // namespace

std::unique_ptr<InternalIterator> NewMergingIterator(
    const Comparator* comparator,
    std::vector<std::unique_ptr<InternalIterator>> children) {
  if (children.empty()) return NewEmptyIterator();
  if (children.size() == 1) return std::move(children[0]);
  return std::make_unique<MergingIterator>(comparator, std::move(children));
}

}  // namespace cairn::storage
