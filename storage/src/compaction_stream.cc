#include "compaction_stream.h"

#include <algorithm>

#include "dbformat.h"
#include "get_context.h"
#include "merge_operand.h"

namespace cairn::storage {

size_t Stripe(const std::vector<uint64_t>& snapshots, uint64_t seq) {
  return std::lower_bound(snapshots.begin(), snapshots.end(), seq) -
         snapshots.begin();
}

CompactionStream::CompactionStream(InternalIterator* input,
                                   CompactionStreamOptions options)
    : input_(input), o_(std::move(options)) {}

void CompactionStream::SeekToFirst() {
  input_->SeekToFirst();
  out_size_ = pos_ = 0;
  FillFromNextKey();
}

void CompactionStream::Next() {
  if (++pos_ < out_size_) return;
  out_size_ = pos_ = 0;
  FillFromNextKey();
}

CompactionStream::Entry& CompactionStream::Emit() {
  if (out_size_ == out_.size()) out_.emplace_back();
  return out_[out_size_++];
}

bool CompactionStream::MayExistBelow() const {
  return !o_.key_may_exist_below || o_.key_may_exist_below(user_key_);
}

uint64_t CompactionStream::CoveringTombstone(uint64_t seq) const {
  if (o_.tombstones == nullptr || o_.tombstones->empty()) return 0;
  const auto* frag = o_.tombstones->FragmentFor(user_key_);
  if (frag == nullptr) return 0;
  uint64_t cover = 0;
  for (uint64_t t : frag->seqs) {  // newest first
    if (t <= seq) break;
    cover = t;
  }
  return cover;
}

uint64_t CompactionStream::TombstoneBelow(uint64_t seq) const {
  if (o_.tombstones == nullptr || o_.tombstones->empty()) return 0;
  const auto* frag = o_.tombstones->FragmentFor(user_key_);
  if (frag == nullptr) return 0;
  for (uint64_t t : frag->seqs) {
    if (t < seq) return t;
  }
  return 0;
}

void CompactionStream::AddOperand(std::string_view ikey,
                                  std::string_view value) {
  if (pending_size_ > 0) {
    Entry& newer = pending_[pending_size_ - 1];
    std::string combined;
    if (o_.merges->PartialMerge(value, newer.value, &combined)) {
      newer.value.swap(combined);
      ++dropped_;
      return;
    }
  }
  if (pending_size_ == pending_.size()) pending_.emplace_back();
  Entry& e = pending_[pending_size_++];
  e.key.assign(ikey);
  e.value.assign(value);
}

void CompactionStream::ResolveStripe(Base base, size_t stripe) {
  const bool has_entry = base == Base::kDeletion || base == Base::kValue ||
                         base == Base::kExpiring;
  if (pending_size_ == 0) {
    if (base == Base::kDeletion && stripe == 0 && !MayExistBelow()) {
      ++dropped_;  // nothing older remains for it to hide
    } else if (has_entry) {
      Emit() = base_;
    }
    return;
  }
  if (base == Base::kNone) {
    // No base in the stripe: a tombstone of the stripe below the operands,
    // or nothing at all below them, still means absence.
    const uint64_t t = TombstoneBelow(
        TagSequence(ExtractTag(pending_[pending_size_ - 1].key)));
    if (t != 0 && Stripe(o_.snapshots, t) == stripe) {
      base = Base::kAbsent;
    }
  }
  if (base == Base::kAbsent || base == Base::kDeletion ||
      base == Base::kValue) {
    std::vector<std::string_view> oldest_first;
    oldest_first.reserve(pending_size_);
    for (size_t i = pending_size_; i-- > 0;) {
      oldest_first.push_back(pending_[i].value);
    }
    std::string result;
    const std::string* existing = base == Base::kValue ? &base_.value : nullptr;
    if (o_.merges->Fold(user_key_, existing, oldest_first, &result).ok()) {
      Entry& e = Emit();
      e.key = MakeInternalKey(
          user_key_, TagSequence(ExtractTag(pending_[0].key)), kTypeValue);
      e.value.swap(result);
      dropped_ += pending_size_ - 1 + (has_entry ? 1 : 0);
      pending_size_ = 0;
      return;
    }
    // The fold fails on read too: keep every entry, lose nothing.
  }
  for (size_t i = 0; i < pending_size_; ++i) Emit() = pending_[i];
  pending_size_ = 0;
  if (has_entry) Emit() = base_;
}

void CompactionStream::FillFromNextKey() {
  ParsedInternalKey k;
  while (out_size_ == 0 && status_.ok() && input_->Valid()) {
    if (!ParseInternalKey(input_->key(), &k)) {
      status_ = absl::DataLossError("compaction input: malformed internal key");
      return;
    }
    user_key_.assign(k.user_key);
    pending_size_ = 0;
    size_t stripe = SIZE_MAX;
    bool stripe_done = false;  // its base is resolved: the rest is shadowed
    for (; input_->Valid(); input_->Next()) {
      if (!ParseInternalKey(input_->key(), &k)) {
        status_ =
            absl::DataLossError("compaction input: malformed internal key");
        return;
      }
      if (k.user_key != std::string_view(user_key_)) break;
      const size_t st = Stripe(o_.snapshots, k.sequence);
      if (st != stripe) {
        if (stripe != SIZE_MAX && !stripe_done)
          ResolveStripe(Base::kNone, stripe);
        stripe = st;
        stripe_done = false;
      }
      if (stripe_done) {
        ++dropped_;  // a newer version in the same stripe shadows it
        continue;
      }
      const uint64_t cover = CoveringTombstone(k.sequence);
      if (cover != 0 && Stripe(o_.snapshots, cover) == st) {
        // Deleted by a tombstone no snapshot separates it from.
        ++dropped_;
        ResolveStripe(Base::kAbsent, st);
        stripe_done = true;
        continue;
      }
      if (k.type == kTypeMerge) {
        AddOperand(input_->key(), input_->value());
        continue;
      }
      Base base;
      switch (k.type) {
        case kTypeValue:
          base = Base::kValue;
          break;
        case kTypeValueWithExpiry: {
          std::string_view v;
          uint64_t expiry = 0;
          if (!DecodeValueWithExpiry(input_->value(), &v, &expiry)) {
            status_ = absl::DataLossError(
                "compaction input: expiring value without expiry");
            return;
          }
          base = IsExpired(expiry, o_.now_micros) ? Base::kDeletion
                                                  : Base::kExpiring;
          break;
        }
        case kTypeDeletion:
          base = Base::kDeletion;
          break;
        default:
          status_ = absl::FailedPreconditionError(
              "compaction input: entry type not supported by this engine "
              "version");
          return;
      }
      if (base == Base::kDeletion) {
        // An expired value is a Delete at its sequence.
        base_.key = MakeInternalKey(user_key_, k.sequence, kTypeDeletion);
        base_.value.clear();
      } else {
        base_.key.assign(input_->key());
        base_.value.assign(input_->value());
      }
      ResolveStripe(base, st);
      stripe_done = true;
    }
    if (!input_->status().ok()) {
      status_ = input_->status();
      return;
    }
    if (stripe != SIZE_MAX && !stripe_done) {
      // The oldest versions in the input are operands: with nothing below,
      // they fold over absence.
      ResolveStripe(MayExistBelow() ? Base::kNone : Base::kAbsent, stripe);
    }
  }
}

}  // namespace cairn::storage
