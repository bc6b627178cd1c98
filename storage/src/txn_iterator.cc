#include "txn_iterator.h"

#include <algorithm>

namespace cairn::storage {
namespace {

class TxnIterator final : public Iterator {
 public:
  TxnIterator(std::unique_ptr<Iterator> base, TxnIteratorOptions options)
      : base_(std::move(base)), o_(std::move(options)) {}

  bool Valid() const override { return valid_; }
  std::string_view key() const override { return key_; }
  std::string_view value() const override { return value_; }
  uint64_t seq() const override { return seq_; }
  uint64_t expires_at_micros() const override { return expiry_; }
  uint64_t read_seq() const override { return base_->read_seq(); }
  absl::Status status() const override {
    if (!status_.ok()) return status_;
    return base_->status();
  }

  void SeekToFirst() override {
    forward_ = true;
    base_->SeekToFirst();
    SetForward(o_.lower_bound ? o_.writes->lower_bound(*o_.lower_bound)
                              : o_.writes->begin());
    FindForward();
    Extend(o_.lower_bound.value_or(""), ForwardEnd());
  }

  void Seek(std::string_view target) override {
    std::string t(target);
    if (o_.lower_bound && t < *o_.lower_bound) t = *o_.lower_bound;
    forward_ = true;
    base_->Seek(t);
    SetForward(o_.writes->lower_bound(t));
    FindForward();
    Extend(t, ForwardEnd());
  }

  void SeekToLast() override {
    forward_ = false;
    base_->SeekToLast();
    SetReverse(o_.upper_bound ? o_.writes->lower_bound(*o_.upper_bound)
                              : o_.writes->end());
    FindReverse();
    Extend(ReverseBegin(), o_.upper_bound);
  }

  void SeekForPrev(std::string_view target) override {
    if (o_.upper_bound && target >= std::string_view(*o_.upper_bound)) {
      SeekToLast();
      return;
    }
    const std::string t(target);
    forward_ = false;
    base_->SeekForPrev(t);
    SetReverse(o_.writes->upper_bound(t));
    FindReverse();
    Extend(ReverseBegin(), t + '\0');
  }

  void Next() override {
    if (!valid_) return;
    const std::string prev = key_;
    if (!forward_) {
      forward_ = true;
      base_->Seek(prev);
      if (base_->Valid() && base_->key() == prev) base_->Next();
      SetForward(o_.writes->upper_bound(prev));
    } else {
      if (WForward() && w_->first == prev) AdvanceForward();
      if (base_->Valid() && base_->key() == prev) base_->Next();
    }
    FindForward();
    Extend(prev, ForwardEnd());
  }

  void Prev() override {
    if (!valid_) return;
    const std::string prev = key_;
    if (forward_) {
      forward_ = false;
      base_->SeekForPrev(prev);
      if (base_->Valid() && base_->key() == prev) base_->Prev();
      SetReverse(o_.writes->lower_bound(prev));
    } else {
      if (WReverse() && w_->first == prev) AdvanceReverse();
      if (base_->Valid() && base_->key() == prev) base_->Prev();
    }
    FindReverse();
    Extend(ReverseBegin(), prev + '\0');
  }

 private:
  using WIter = TxnWriteSet::const_iterator;

  // Forward: w_ is the first own write at or after the position.
  void SetForward(WIter it) {
    w_ = it;
    w_valid_ = it != o_.writes->end();
  }
  // Reverse: `it` is the first own write after the position; w_ becomes
  // the one before it.
  void SetReverse(WIter it) {
    w_valid_ = it != o_.writes->begin();
    if (w_valid_) w_ = std::prev(it);
  }
  void AdvanceForward() {
    ++w_;
    w_valid_ = w_ != o_.writes->end();
  }
  void AdvanceReverse() {
    w_valid_ = w_ != o_.writes->begin();
    if (w_valid_) --w_;
  }
  bool WForward() const {
    return w_valid_ &&
           (!o_.upper_bound || w_->first < std::string_view(*o_.upper_bound));
  }
  bool WReverse() const {
    return w_valid_ &&
           (!o_.lower_bound || w_->first >= std::string_view(*o_.lower_bound));
  }

  void NoteExpiry(uint64_t expiry) {
    if (expiry == 0 || o_.min_expiry_micros == nullptr) return;
    if (*o_.min_expiry_micros == 0 || expiry < *o_.min_expiry_micros) {
      *o_.min_expiry_micros = expiry;
    }
  }

  void SetFromBase() {
    key_.assign(base_->key());
    value_.assign(base_->value());
    seq_ = base_->seq();
    expiry_ = base_->expires_at_micros();
    NoteExpiry(expiry_);
    valid_ = true;
  }

  // The own writes of w_ over the base's value if the base is at the same
  // key. True if that gives a live value (now current); false if it
  // deletes the key or fails (status_).
  bool TryOwn(bool same) {
    const TxnKeyWrites& kw = w_->second;
    absl::StatusOr<GetResult> under = absl::NotFoundError("");
    if (same && kw.NeedsSnapshotValue()) {
      under = GetResult{std::string(base_->value()), base_->seq(),
                        base_->expires_at_micros()};
      NoteExpiry(base_->expires_at_micros());
    }
    absl::StatusOr<GetResult> r =
        kw.Apply(w_->first, under, *o_.merges, o_.now_micros);
    if (!r.ok()) {
      if (!absl::IsNotFound(r.status())) status_ = r.status();
      return false;
    }
    key_ = w_->first;
    value_ = std::move(r->value);
    seq_ = r->seq;
    expiry_ = r->expires_at_micros;
    valid_ = true;
    return true;
  }

  void FindForward() {
    valid_ = false;
    while (status_.ok() && base_->status().ok()) {
      const bool bv = base_->Valid();
      const bool wv = WForward();
      if (!bv && !wv) return;
      if (wv && (!bv || std::string_view(w_->first) <= base_->key())) {
        const bool same = bv && base_->key() == std::string_view(w_->first);
        if (TryOwn(same) || !status_.ok()) return;
        AdvanceForward();
        if (same) base_->Next();
        continue;
      }
      SetFromBase();
      return;
    }
  }

  void FindReverse() {
    valid_ = false;
    while (status_.ok() && base_->status().ok()) {
      const bool bv = base_->Valid();
      const bool wv = WReverse();
      if (!bv && !wv) return;
      if (wv && (!bv || std::string_view(w_->first) >= base_->key())) {
        const bool same = bv && base_->key() == std::string_view(w_->first);
        if (TryOwn(same) || !status_.ok()) return;
        AdvanceReverse();
        if (same) base_->Prev();
        continue;
      }
      SetFromBase();
      return;
    }
  }

  // Where the covered span ends after a forward move: just past the
  // current key, or the bound (the end) once the iterator ran off.
  std::optional<std::string> ForwardEnd() const {
    if (valid_) return key_ + '\0';
    return o_.upper_bound;
  }
  // Where it begins after a reverse move.
  std::string ReverseBegin() const {
    if (valid_) return key_;
    return o_.lower_bound.value_or("");
  }

  // Adds [begin, end) (end nullopt: unbounded) to the span.
  void Extend(const std::string& begin, const std::optional<std::string>& end) {
    if (o_.span == nullptr) return;
    KeyRange& r = o_.span->range;
    if (!o_.span->used) {
      o_.span->used = true;
      r.begin = begin;
      r.end = end;
      return;
    }
    r.begin = std::min(r.begin, begin);
    if (r.end && (!end || *end > *r.end)) r.end = end;
  }

  std::unique_ptr<Iterator> base_;
  const TxnIteratorOptions o_;
  bool forward_ = true;
  WIter w_;
  bool w_valid_ = false;
  bool valid_ = false;
  std::string key_;
  std::string value_;
  uint64_t seq_ = 0;
  uint64_t expiry_ = 0;
  absl::Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewTxnIterator(std::unique_ptr<Iterator> snapshot,
                                         TxnIteratorOptions options) {
  return std::make_unique<TxnIterator>(std::move(snapshot), std::move(options));
}

}  // namespace cairn::storage
