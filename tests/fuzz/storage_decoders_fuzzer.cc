// libFuzzer target for the storage engine's decoders. The first input byte
// chooses what the rest is fed to:
//   0: an SSTable file (Table::Open with and without mmap reads, iteration
//      both ways, point lookups, range tombstones),
//   1: a write batch (the WAL payload) decoded and applied to a memtable,
//   2: a MANIFEST version edit (decode, and a re-encoding round trip),
//   3: a MANIFEST file (record framing).
// Whatever the bytes, nothing may crash, hang or read out of bounds; errors
// must be statuses.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "block_cache.h"
#include "cairn/storage/write_batch.h"
#include "cairn/util/file_system.h"
#include "dbformat.h"
#include "manifest_log.h"
#include "memtable.h"
#include "merge_operand.h"
#include "merge_registry.h"
#include "table.h"
#include "version_edit.h"

namespace cairn::storage {
namespace {

std::string ScratchPath(const char* what) {
  static const std::string dir = [] {
    char tmpl[] = "/tmp/cairn-storage-fuzz-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    return std::string(d ? d : "/tmp");
  }();
  return dir + "/" + what;
}

bool WriteFile(const std::string& path, std::string_view data) {
  auto f = FileSystem::Default()->Open(
      path, OpenOptions{.create = true, .truncate = true});
  return f.ok() && (*f)->Append(data).ok() && (*f)->Close().ok();
}

void ExerciseTable(std::string_view bytes, bool mmap_reads) {
  const std::string path = ScratchPath("000001.sst");
  if (!WriteFile(path, bytes)) return;
  auto file = FileSystem::Default()->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) return;
  BlockCache cache(1 << 16, 1);
  TableReadOptions ro;
  ro.block_cache = &cache;
  ro.mmap_reads = mmap_reads;
  auto table = Table::Open(ro, std::move(*file), bytes.size());
  if (!table.ok()) return;
  auto it = (*table)->NewIterator();
  std::string some_key;
  int steps = 0;
  for (it->SeekToFirst(); it->Valid() && steps < 2000; it->Next(), ++steps) {
    if (steps == 3) some_key.assign(it->key());
  }
  steps = 0;
  for (it->SeekToLast(); it->Valid() && steps < 2000; it->Prev(), ++steps) {
  }
  if (!some_key.empty()) {
    it->Seek(some_key);
    it->SeekForPrev(some_key);
    if (some_key.size() >= 8) {
      LookupResult r;
      (*table)
          ->Get(ExtractUserKey(some_key), kMaxSequenceNumber, &r)
          .IgnoreError();
    }
  }
  LookupResult r;
  (*table)->Get("key", kMaxSequenceNumber, &r).IgnoreError();
  (*table)->range_tombstones().MaxCoveringSeq("key", kMaxSequenceNumber);
  (*table)->ApproximateOffsetOf(MakeLookupKey("key", 1));
}

class Applier final : public WriteBatch::Handler {
 public:
  explicit Applier(MemTable* mem) : mem_(mem) {}
  absl::Status Put(std::string_view k, std::string_view v) override {
    mem_->Add(seq_++, kTypeValue, k, v);
    return absl::OkStatus();
  }
  absl::Status Delete(std::string_view k) override {
    mem_->Add(seq_++, kTypeDeletion, k, {});
    return absl::OkStatus();
  }
  absl::Status DeleteRange(std::string_view b, std::string_view e) override {
    mem_->AddRangeTombstone(seq_++, b, e);
    return absl::OkStatus();
  }
  absl::Status PutWithExpiry(std::string_view k, std::string_view v,
                             uint64_t expiry) override {
    std::string encoded;
    EncodeValueWithExpiry(&encoded, v, expiry);
    mem_->Add(seq_++, kTypeValueWithExpiry, k, encoded);
    return absl::OkStatus();
  }
  absl::Status Merge(std::string_view k, std::string_view op,
                     std::string_view arg, std::string_view operand) override {
    std::string encoded;
    EncodeMergeOperand(&encoded, op, arg, operand);
    mem_->Add(seq_++, kTypeMerge, k, encoded);
    // The operators must refuse or fold any bytes without crashing.
    static const auto merges = *MergeRegistry::Create({});
    if (merges->Validate(encoded).ok()) {
      std::string out;
      const std::string base(operand);
      merges->Fold(k, nullptr, {encoded, encoded}, &out).IgnoreError();
      merges->Fold(k, &base, {encoded}, &out).IgnoreError();
      merges->PartialMerge(encoded, encoded, &out);
    }
    return absl::OkStatus();
  }

 private:
  MemTable* mem_;
  uint64_t seq_ = 1;
};

void ExerciseBatch(std::string_view bytes) {
  WriteBatch batch;
  if (!WriteBatch::FromPayload(bytes, &batch).ok()) return;
  MemTable mem;
  Applier applier(&mem);
  batch.Iterate(&applier).IgnoreError();
  auto it = mem.NewIterator();
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
  }
  if (auto t = mem.RangeTombstones()) t->MaxCoveringSeq("k", 100);
}

void ExerciseEdit(std::string_view bytes) {
  VersionEdit edit;
  if (!edit.DecodeFrom(bytes).ok()) return;
  std::string once, twice;
  edit.EncodeTo(&once);
  VersionEdit again;
  if (!again.DecodeFrom(once).ok()) __builtin_trap();
  again.EncodeTo(&twice);
  if (once != twice) __builtin_trap();
}

void ExerciseManifest(std::string_view bytes) {
  const std::string path = ScratchPath("MANIFEST-000001");
  if (!WriteFile(path, bytes)) return;
  auto contents = ReadManifestRecords(FileSystem::Default(), path);
  if (!contents.ok()) return;
  for (const std::string& record : contents->records) ExerciseEdit(record);
}

}  // namespace
}  // namespace cairn::storage

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      cairn::storage::ExerciseTable(in, /*mmap_reads=*/false);
      cairn::storage::ExerciseTable(in, /*mmap_reads=*/true);
      break;
    case 1:
      cairn::storage::ExerciseBatch(in);
      break;
    case 2:
      cairn::storage::ExerciseEdit(in);
      break;
    case 3:
      cairn::storage::ExerciseManifest(in);
      break;
  }
  return 0;
}
