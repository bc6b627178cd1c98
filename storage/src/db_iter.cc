#include "db_iter.h"

#include <vector>

#include "dbformat.h"
#include "get_context.h"
#include "merge_operand.h"

namespace cairn::storage {

std::optional<std::string> PrefixSuccessor(std::string_view prefix) {
  std::string s(prefix);
  while (!s.empty()) {
    unsigned char c = static_cast<unsigned char>(s.back());
    if (c != 0xff) {
      s.back() = static_cast<char>(c + 1);
      return s;
    }
    s.pop_back();
  }
  return std::nullopt;
}

void ApplyPrefix(const std::optional<std::string>& prefix,
                 std::optional<std::string>* lower,
                 std::optional<std::string>* upper) {
  if (!prefix) return;
  if (!*lower || **lower < *prefix) *lower = *prefix;
  if (auto succ = PrefixSuccessor(*prefix)) {
    if (!*upper || *succ < **upper) *upper = *succ;
  }
}

namespace {

// Forward iteration serves a plain value straight from the internal
// iterator (kDirect); a key with merge operands is folded into saved_* and
// the internal iterator has moved past its operands (kSaved). Reverse
// iteration always uses saved_*.
class DBIter final : public Iterator {
 public:
  DBIter(std::unique_ptr<InternalIterator> iter, DBIterOptions options)
      : iter_(std::move(iter)), o_(std::move(options)) {}

  bool Valid() const override { return valid_; }
  uint64_t read_seq() const override { return o_.sequence; }
  std::string_view key() const override {
    return direct() ? ExtractUserKey(iter_->key())
                    : std::string_view(saved_key_);
  }
  std::string_view value() const override {
    if (!direct()) return saved_value_;
    std::string_view v = iter_->value();
    if (TagType(ExtractTag(iter_->key())) == kTypeValueWithExpiry) {
      v.remove_prefix(kExpirySize);
    }
    return v;
  }
  uint64_t seq() const override {
    return direct() ? TagSequence(ExtractTag(iter_->key())) : saved_seq_;
  }
  uint64_t expires_at_micros() const override { return expiry_; }
  absl::Status status() const override {
    if (!status_.ok()) return status_;
    return iter_->status();
  }

  void SeekToFirst() override {
    status_ = absl::OkStatus();  // a new position starts afresh
    direction_ = kForward;
    if (o_.lower_bound) {
      iter_->Seek(MakeLookupKey(*o_.lower_bound, o_.sequence));
    } else {
      iter_->SeekToFirst();
    }
    FindNextUserEntry(false);
  }

  void Seek(std::string_view target) override {
    status_ = absl::OkStatus();  // a new position starts afresh
    direction_ = kForward;
    if (o_.lower_bound && target < std::string_view(*o_.lower_bound)) {
      target = *o_.lower_bound;
    }
    iter_->Seek(MakeLookupKey(target, o_.sequence));
    FindNextUserEntry(false);
  }

  void SeekToLast() override {
    status_ = absl::OkStatus();  // a new position starts afresh
    direction_ = kReverse;
    if (o_.upper_bound) {
      // Last entry whose user key is below the upper bound.
      iter_->Seek(MakeInternalKey(*o_.upper_bound, kMaxSequenceNumber,
                                  kValueTypeForSeek));
      if (iter_->Valid()) {
        iter_->Prev();
      } else if (iter_->status().ok()) {
        iter_->SeekToLast();
      }
    } else {
      iter_->SeekToLast();
    }
    FindPrevUserEntry();
  }

  void SeekForPrev(std::string_view target) override {
    status_ = absl::OkStatus();  // a new position starts afresh
    if (o_.upper_bound && target >= std::string_view(*o_.upper_bound)) {
      SeekToLast();
      return;
    }
    direction_ = kReverse;
    // (target, 0, 0) is the last internal key of target's versions.
    iter_->SeekForPrev(MakeInternalKey(target, 0, 0));
    FindPrevUserEntry();
  }

  void Next() override {
    if (!valid_) return;
    if (direction_ == kReverse) {
      // iter_ is just before the entries of saved_key_: step into them and
      // past them.
      direction_ = kForward;
      if (!iter_->Valid()) {
        iter_->SeekToFirst();
      } else {
        iter_->Next();
      }
      skip_key_ = saved_key_;
    } else if (saved_) {
      skip_key_ = saved_key_;  // iter_ is already past its operands
    } else {
      skip_key_.assign(ExtractUserKey(iter_->key()));
      iter_->Next();
    }
    FindNextUserEntry(true);
  }

  void Prev() override {
    if (!valid_) return;
    if (direction_ == kForward) {
      // Step back over every entry of the current key.
      const std::string current(key());
      if (saved_) {
        iter_->Seek(
            MakeInternalKey(current, kMaxSequenceNumber, kValueTypeForSeek));
        if (!iter_->Valid() && iter_->status().ok()) iter_->SeekToLast();
      }
      while (iter_->Valid() &&
             ExtractUserKey(iter_->key()) >= std::string_view(current)) {
        iter_->Prev();
      }
      direction_ = kReverse;
    }
    FindPrevUserEntry();
  }

 private:
  enum Direction { kForward, kReverse };

  bool direct() const { return direction_ == kForward && !saved_; }

  bool Covered(std::string_view user_key, uint64_t seq) const {
    return o_.tombstones &&
           o_.tombstones->MaxCoveringSeq(user_key, o_.sequence) > seq;
  }

  bool Parse(ParsedInternalKey* k) {
    if (ParseInternalKey(iter_->key(), k)) return true;
    status_ = absl::DataLossError("iterator: malformed internal key");
    valid_ = false;
    return false;
  }

  // The expiry of an expiring value, or nullopt if it has expired.
  std::optional<uint64_t> LiveExpiry(std::string_view value) const {
    uint64_t expiry = 0;
    std::string_view v;
    if (!DecodeValueWithExpiry(value, &v, &expiry) ||
        IsExpired(expiry, o_.now_micros)) {
      return std::nullopt;
    }
    return expiry;
  }

  // iter_ is at a Put of either kind: its value becomes the base (if it
  // has not expired). False for any other type.
  bool TakeBase(uint8_t type, bool* base_present) {
    if (type == kTypeValue) {
      base_.assign(iter_->value());
      *base_present = true;
    } else if (type == kTypeValueWithExpiry) {
      if (auto expiry = LiveExpiry(iter_->value())) {
        base_.assign(iter_->value().substr(kExpirySize));
        *base_present = true;
        expiry_ = *expiry;
      }
    } else {
      return false;
    }
    return true;
  }

  // Folds operands_ (oldest first) over the base into saved_value_.
  bool Fold(bool base_present) {
    std::vector<std::string_view> oldest_first(operands_.begin(),
                                               operands_.end());
    status_ = o_.merges->Fold(saved_key_, base_present ? &base_ : nullptr,
                              oldest_first, &saved_value_);
    return status_.ok();
  }

  // Forward: iter_ is at the newest visible version of a key, a merge
  // operand. Collects the key's operands down to its base, leaving iter_
  // after them, and folds.
  bool MergeForward(const ParsedInternalKey& newest) {
    saved_key_.assign(newest.user_key);
    saved_seq_ = newest.sequence;
    expiry_ = 0;
    std::vector<std::string> newest_first;
    newest_first.emplace_back(iter_->value());
    bool base_present = false;
    ParsedInternalKey k;
    for (iter_->Next(); iter_->Valid(); iter_->Next()) {
      if (!Parse(&k)) return false;
      if (k.user_key != std::string_view(saved_key_)) break;
      if (Covered(k.user_key, k.sequence) || k.type == kTypeDeletion) break;
      if (k.type == kTypeMerge) {
        newest_first.emplace_back(iter_->value());
        continue;
      }
      if (!TakeBase(k.type, &base_present)) return Unsupported();
      break;
    }
    if (!iter_->status().ok()) return false;
    operands_.assign(newest_first.rbegin(), newest_first.rend());
    return Fold(base_present);
  }

  bool Unsupported() {
    status_ = absl::FailedPreconditionError(
        "iterator: entry type not supported by this engine version");
    valid_ = false;
    return false;
  }

  // Forward: moves to the newest visible version of the next live key,
  // skipping versions of skip_key_ when skipping.
  void FindNextUserEntry(bool skipping) {
    valid_ = false;
    saved_ = false;
    ParsedInternalKey k;
    for (; iter_->Valid(); iter_->Next()) {
      if (!Parse(&k)) return;
      if (k.sequence > o_.sequence) continue;
      if (skipping && k.user_key <= std::string_view(skip_key_)) continue;
      if (o_.upper_bound && k.user_key >= std::string_view(*o_.upper_bound)) {
        return;
      }
      // The newest version of this key visible at the read sequence.
      bool deleted = k.type == kTypeDeletion || Covered(k.user_key, k.sequence);
      std::optional<uint64_t> expiry;
      if (!deleted && k.type == kTypeValueWithExpiry) {
        expiry = LiveExpiry(iter_->value());
        deleted = !expiry;
      }
      if (deleted) {
        skip_key_.assign(k.user_key);
        skipping = true;
        continue;
      }
      switch (k.type) {
        case kTypeValue:
        case kTypeValueWithExpiry:
          expiry_ = expiry.value_or(0);
          valid_ = true;
          return;
        case kTypeMerge:
          saved_ = true;
          valid_ = MergeForward(k);
          return;
        default:
          Unsupported();
          return;
      }
    }
  }

  // Reverse: iter_ is at or before the last entry of the key to consider;
  // gathers the visible state of the previous live key (its base and the
  // operands above it, oldest first) and folds it into saved_*, leaving
  // iter_ just before that key's entries.
  void FindPrevUserEntry() {
    valid_ = false;
    saved_ = true;
    bool have_key = false;      // saved_key_ names the key being gathered
    bool base_present = false;  // base_ holds its live base value
    ParsedInternalKey k;
    while (iter_->Valid()) {
      if (!Parse(&k)) return;
      if (o_.lower_bound && k.user_key < std::string_view(*o_.lower_bound)) {
        break;
      }
      if (k.sequence <= o_.sequence) {
        if (have_key && k.user_key != std::string_view(saved_key_)) {
          if (base_present || !operands_.empty()) break;  // a live key
          have_key = false;
        }
        if (!have_key) {
          saved_key_.assign(k.user_key);
          have_key = true;
          base_present = false;
          operands_.clear();
        }
        saved_seq_ = k.sequence;
        if (k.type == kTypeMerge && !Covered(k.user_key, k.sequence)) {
          operands_.emplace_back(iter_->value());
        } else {
          // A new base: absent unless a live value.
          operands_.clear();
          base_present = false;
          expiry_ = 0;
          if (!Covered(k.user_key, k.sequence) && k.type != kTypeDeletion &&
              k.type != kTypeMerge && !TakeBase(k.type, &base_present)) {
            Unsupported();
            return;
          }
        }
      }
      iter_->Prev();
    }
    if (!iter_->status().ok()) return;
    if (!have_key || (!base_present && operands_.empty())) return;
    if (operands_.empty()) {
      saved_value_ = base_;
    } else {
      if (!base_present) expiry_ = 0;
      if (!Fold(base_present)) return;
    }
    valid_ = true;
  }

  std::unique_ptr<InternalIterator> iter_;
  DBIterOptions o_;
  Direction direction_ = kForward;
  bool valid_ = false;
  bool saved_ = false;  // forward: the current entry is in saved_*
  std::string skip_key_;
  std::string saved_key_;
  std::string saved_value_;
  uint64_t saved_seq_ = 0;
  uint64_t expiry_ = 0;
  std::string base_;
  std::vector<std::string> operands_;  // oldest first
  absl::Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewDBIterator(
    std::unique_ptr<InternalIterator> internal, DBIterOptions options) {
  return std::make_unique<DBIter>(std::move(internal), std::move(options));
}

}  // namespace cairn::storage
