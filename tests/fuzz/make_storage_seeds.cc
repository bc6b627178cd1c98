// Writes a seed corpus for storage_decoders_fuzzer into DIR: one valid input
// per mode (a small SSTable with range tombstones, a write batch, a version
// edit, a MANIFEST file), each behind its mode byte.
#include <cstdio>
#include <fstream>
#include <string>

#include "cairn/storage/write_batch.h"
#include "cairn/util/file_system.h"
#include "dbformat.h"
#include "manifest_log.h"
#include "table_builder.h"
#include "version_edit.h"

namespace cairn::storage {
namespace {

void Put(const std::string& dir, const std::string& name, char mode,
         const std::string& body) {
  std::ofstream(dir + "/" + name, std::ios::binary) << mode << body;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::string SmallTable(const std::string& dir, CompressionType compression) {
  const std::string path = dir + "/table.tmp";
  auto file = FileSystem::Default()->Open(
      path, OpenOptions{.create = true, .truncate = true});
  if (!file.ok()) return {};
  TableBuilderOptions o;
  o.block_size = 256;
  o.compression = compression;
  TableBuilder b(o, file->get());
  for (int i = 0; i < 60; ++i) {
    char key[16];
    std::snprintf(key, sizeof(key), "key%04d", i);
    b.Add(MakeInternalKey(key, 100 - i % 3, i % 7 ? kTypeValue : kTypeDeletion),
          std::string(i % 40, 'v'));
  }
  b.AddRangeTombstone(RangeTombstone{"key0010", "key0020", 200});
  b.AddRangeTombstone(RangeTombstone{"key0015", "key0030", 150});
  if (!b.Finish().ok()) return {};
  (*file)->Close().IgnoreError();
  std::string bytes = ReadAll(path);
  std::remove(path.c_str());
  return bytes;
}

}  // namespace
}  // namespace cairn::storage

int main(int argc, char** argv) {
  using namespace cairn::storage;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  const std::string dir = argv[1];
  if (!cairn::FileSystem::Default()->CreateDir(dir).ok()) return 1;
  Put(dir, "table-none", 0, SmallTable(dir, CompressionType::kNone));
  Put(dir, "table-lz4", 0, SmallTable(dir, CompressionType::kLZ4));
  Put(dir, "table-zstd", 0, SmallTable(dir, CompressionType::kZstd));

  WriteBatch batch;
  batch.Put("a", "1");
  batch.Delete("b");
  batch.DeleteRange("c", "d");
  batch.Merge("e", "add", "5");
  batch.Merge("f", "append", "x", ",");
  batch.PutWithExpiry("g", "v", 1700000000000000);
  Put(dir, "batch", 1, std::string(batch.Payload()));

  VersionEdit edit;
  edit.SetFlushedSequence(42);
  edit.SetNextFileNumber(7);
  edit.DeleteFile(1, 3);
  FileMetaData f;
  f.number = 5;
  f.file_size = 1000;
  f.smallest = MakeInternalKey("a", 10, kTypeValue);
  f.largest = MakeInternalKey("z", kMaxSequenceNumber, kTypeRangeDeletion);
  edit.AddFile(2, f);
  std::string encoded;
  edit.EncodeTo(&encoded);
  Put(dir, "edit", 2, encoded);

  const std::string manifest = dir + "/manifest.tmp";
  {
    auto file = cairn::FileSystem::Default()->Open(
        manifest, cairn::OpenOptions{.create = true, .truncate = true});
    if (!file.ok()) return 1;
    ManifestWriter writer(std::move(*file));
    if (!writer.AddRecord(encoded).ok() || !writer.AddRecord(encoded).ok()) {
      return 1;
    }
    writer.Close().IgnoreError();
  }
  Put(dir, "manifest", 3, ReadAll(manifest));
  std::remove(manifest.c_str());
  return 0;
}
