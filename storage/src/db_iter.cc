#include "db_iter.h"

#include "dbformat.h"

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

namespace {

class DBIter final : public Iterator {
 public:
  DBIter(std::unique_ptr<InternalIterator> iter, DBIterOptions options)
      : iter_(std::move(iter)), o_(std::move(options)) {}

  bool Valid() const override { return valid_; }
  uint64_t read_seq() const override { return o_.sequence; }
  std::string_view key() const override {
    return direction_ == kForward ? ExtractUserKey(iter_->key())
                                  : std::string_view(saved_key_);
  }
  std::string_view value() const override {
    return direction_ == kForward ? iter_->value()
                                  : std::string_view(saved_value_);
  }
  uint64_t seq() const override {
    return direction_ == kForward ? TagSequence(ExtractTag(iter_->key()))
                                  : saved_seq_;
  }
  absl::Status status() const override {
    if (!status_.ok()) return status_;
    return iter_->status();
  }

  void SeekToFirst() override {
    direction_ = kForward;
    if (o_.lower_bound) {
      iter_->Seek(MakeLookupKey(*o_.lower_bound, o_.sequence));
    } else {
      iter_->SeekToFirst();
    }
    FindNextUserEntry(false);
  }

  void Seek(std::string_view target) override {
    direction_ = kForward;
    if (o_.lower_bound && target < std::string_view(*o_.lower_bound)) {
      target = *o_.lower_bound;
    }
    iter_->Seek(MakeLookupKey(target, o_.sequence));
    FindNextUserEntry(false);
  }

  void SeekToLast() override {
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
      saved_key_.assign(ExtractUserKey(iter_->key()));
      while (true) {
        iter_->Prev();
        if (!iter_->Valid()) break;
        if (ExtractUserKey(iter_->key()) < std::string_view(saved_key_)) break;
      }
      direction_ = kReverse;
    }
    FindPrevUserEntry();
  }

 private:
  enum Direction { kForward, kReverse };

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

  // Forward: moves to the newest visible version of the next live key,
  // skipping versions of skip_key_ when skipping.
  void FindNextUserEntry(bool skipping) {
    valid_ = false;
    ParsedInternalKey k;
    for (; iter_->Valid(); iter_->Next()) {
      if (!Parse(&k)) return;
      if (k.sequence > o_.sequence) continue;
      if (skipping && k.user_key <= std::string_view(skip_key_)) continue;
      if (o_.upper_bound && k.user_key >= std::string_view(*o_.upper_bound)) {
        return;
      }
      // The newest version of this key visible at the read sequence.
      if (k.type == kTypeDeletion || Covered(k.user_key, k.sequence)) {
        skip_key_.assign(k.user_key);
        skipping = true;
        continue;
      }
      if (k.type != kTypeValue) {
        status_ = absl::FailedPreconditionError(
            "iterator: entry type not supported by this engine version");
        return;
      }
      valid_ = true;
      return;
    }
  }

  // Reverse: iter_ is at or before the last entry of the key to consider;
  // gathers the newest visible version of the previous live key into
  // saved_*, leaving iter_ just before that key's entries.
  void FindPrevUserEntry() {
    valid_ = false;
    bool have = false;  // saved_* holds a live version
    ParsedInternalKey k;
    while (iter_->Valid()) {
      if (!Parse(&k)) return;
      if (o_.lower_bound && k.user_key < std::string_view(*o_.lower_bound)) {
        break;
      }
      if (k.sequence <= o_.sequence) {
        if (have && k.user_key < std::string_view(saved_key_)) break;
        if (k.type == kTypeDeletion || Covered(k.user_key, k.sequence)) {
          have = false;
        } else if (k.type == kTypeValue) {
          saved_key_.assign(k.user_key);
          saved_value_.assign(iter_->value());
          saved_seq_ = k.sequence;
          have = true;
        } else {
          status_ = absl::FailedPreconditionError(
              "iterator: entry type not supported by this engine version");
          return;
        }
      }
      iter_->Prev();
    }
    if (!iter_->status().ok()) return;
    valid_ = have;
  }

  std::unique_ptr<InternalIterator> iter_;
  DBIterOptions o_;
  Direction direction_ = kForward;
  bool valid_ = false;
  std::string skip_key_;
  std::string saved_key_;
  std::string saved_value_;
  uint64_t saved_seq_ = 0;
  absl::Status status_;
};

}  // namespace

std::unique_ptr<Iterator> NewDBIterator(
    std::unique_ptr<InternalIterator> internal, DBIterOptions options) {
  return std::make_unique<DBIter>(std::move(internal), std::move(options));
}

}  // namespace cairn::storage
