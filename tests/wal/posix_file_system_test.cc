#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "cairn/util/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::UnorderedElementsAre;

class PosixFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(std::string_view name) const { return JoinPath(dir_, name); }

  std::unique_ptr<File> OpenOrDie(const std::string& path,
                                  OpenOptions options) {
    absl::StatusOr<std::unique_ptr<File>> file = fs_->Open(path, options);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : nullptr;
  }

  static OpenOptions Create() {
    OpenOptions options;
    options.create = true;
    return options;
  }

  static std::string ReadAll(const File& file) {
    absl::StatusOr<uint64_t> size = file.Size();
    EXPECT_TRUE(size.ok()) << size.status();
    std::string content(size.ok() ? *size : 0, '\0');
    absl::StatusOr<size_t> n = file.ReadAt(0, content.data(), content.size());
    EXPECT_TRUE(n.ok()) << n.status();
    content.resize(n.ok() ? *n : 0);
    return content;
  }

  void WriteFile(const std::string& path, std::string_view content) {
    OpenOptions options = Create();
    options.truncate = true;
    std::unique_ptr<File> file = OpenOrDie(path, options);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->Append(content).ok());
    ASSERT_TRUE(file->Close().ok());
  }

  std::string ReadFile(const std::string& path) {
    OpenOptions options;
    options.read_only = true;
    std::unique_ptr<File> file = OpenOrDie(path, options);
    return file == nullptr ? "" : ReadAll(*file);
  }

  FileSystem* const fs_ = FileSystem::Default();
  std::string dir_;
};

TEST(JoinPathTest, JoinsWithOneSlash) {
  EXPECT_EQ(JoinPath("a", "b"), "a/b");
  EXPECT_EQ(JoinPath("a/", "b"), "a/b");
  EXPECT_EQ(JoinPath("", "b"), "b");
  EXPECT_EQ(JoinPath("/", "b"), "/b");
}

TEST_F(PosixFileSystemTest, OpenMissingFileIsNotFound) {
  absl::StatusOr<std::unique_ptr<File>> file =
      fs_->Open(Path("missing"), OpenOptions{});
  EXPECT_TRUE(absl::IsNotFound(file.status())) << file.status();
  EXPECT_FALSE(fs_->Exists(Path("missing")));
  EXPECT_TRUE(absl::IsNotFound(fs_->FileSize(Path("missing")).status()));
  EXPECT_TRUE(absl::IsNotFound(fs_->Remove(Path("missing"))));
  EXPECT_TRUE(absl::IsNotFound(fs_->Rename(Path("missing"), Path("other"))));
  EXPECT_TRUE(absl::IsNotFound(fs_->ListDir(Path("nodir")).status()));
}

TEST_F(PosixFileSystemTest, CreateExclusiveAndTruncate) {
  const std::string path = Path("f");
  std::unique_ptr<File> file = OpenOrDie(path, Create());
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->path(), path);
  ASSERT_TRUE(file->Append("hello").ok());
  ASSERT_TRUE(file->Close().ok());
  EXPECT_TRUE(fs_->Exists(path));

  OpenOptions exclusive = Create();
  exclusive.exclusive = true;
  absl::StatusOr<std::unique_ptr<File>> again = fs_->Open(path, exclusive);
  EXPECT_TRUE(absl::IsAlreadyExists(again.status())) << again.status();

  // Opening with create but not exclusive keeps the content.
  EXPECT_EQ(ReadFile(path), "hello");
  file = OpenOrDie(path, Create());
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(ReadAll(*file), "hello");

  OpenOptions truncate;
  truncate.truncate = true;
  file = OpenOrDie(path, truncate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(*file->Size(), 0u);
}

TEST_F(PosixFileSystemTest, ReadOnlyFileRejectsWrites) {
  WriteFile(Path("f"), "data");
  OpenOptions options;
  options.read_only = true;
  std::unique_ptr<File> file = OpenOrDie(Path("f"), options);
  ASSERT_NE(file, nullptr);
  EXPECT_FALSE(file->Append("more").ok());
  EXPECT_FALSE(file->WriteAt(0, "x").ok());
  EXPECT_FALSE(file->Map(0, 4, /*writable=*/true).ok());
  EXPECT_EQ(ReadAll(*file), "data");
}

TEST_F(PosixFileSystemTest, WriteAtReadAtAppendSize) {
  std::unique_ptr<File> file = OpenOrDie(Path("f"), Create());
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Append("0123456789").ok());
  EXPECT_EQ(*file->Size(), 10u);
  ASSERT_TRUE(file->WriteAt(3, "abc").ok());
  ASSERT_TRUE(file->Append("XYZ").ok());
  EXPECT_EQ(*file->Size(), 13u);
  EXPECT_EQ(ReadAll(*file), "012abc6789XYZ");

  char buf[8];
  absl::StatusOr<size_t> n = file->ReadAt(9, buf, sizeof(buf));
  ASSERT_TRUE(n.ok()) << n.status();
  EXPECT_EQ(std::string_view(buf, *n), "9XYZ");  // short only at the end
  n = file->ReadAt(100, buf, sizeof(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 0u);

  // Writing past the end leaves a hole that reads as zeros.
  ASSERT_TRUE(file->WriteAt(20, "end").ok());
  EXPECT_EQ(*file->Size(), 23u);
  EXPECT_EQ(ReadAll(*file).substr(13, 7), std::string(7, '\0'));

  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Truncate(5).ok());
  EXPECT_EQ(ReadAll(*file), "012ab");
  EXPECT_EQ(*fs_->FileSize(Path("f")), 5u);
  ASSERT_TRUE(file->Close().ok());
  EXPECT_FALSE(file->Append("closed").ok());
}

TEST_F(PosixFileSystemTest, AllocateGrowsFileWithZeros) {
  std::unique_ptr<File> file = OpenOrDie(Path("f"), Create());
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Append("abc").ok());
  ASSERT_TRUE(file->Allocate(0, 1 << 16).ok());
  EXPECT_EQ(*file->Size(), 1u << 16);
  const std::string content = ReadAll(*file);
  ASSERT_EQ(content.size(), 1u << 16);
  EXPECT_EQ(content.substr(0, 3), "abc");
  EXPECT_EQ(std::count(content.begin() + 3, content.end(), '\0'),
            (1 << 16) - 3);
  // Allocating inside the file changes nothing.
  ASSERT_TRUE(file->Allocate(0, 10).ok());
  EXPECT_EQ(*file->Size(), 1u << 16);
}

TEST_F(PosixFileSystemTest, WritableMapStoresAreVisibleThroughReadAt) {
  const size_t page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
  std::unique_ptr<File> file = OpenOrDie(Path("f"), Create());
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Allocate(0, 4 * page).ok());

  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(page, 2 * page, /*writable=*/true);
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ((*region)->size(), 2 * page);
  EXPECT_EQ((*region)->file_offset(), page);
  std::memcpy((*region)->data() + 10, "mapped", 6);
  ASSERT_TRUE((*region)->Sync(10, 6).ok());
  ASSERT_TRUE((*region)->Sync(0, 2 * page).ok());
  EXPECT_FALSE((*region)->Sync(page, 2 * page).ok());

  char buf[6];
  ASSERT_EQ(*file->ReadAt(page + 10, buf, 6), 6u);
  EXPECT_EQ(std::string_view(buf, 6), "mapped");

  // WriteAt is visible through the mapping too.
  ASSERT_TRUE(file->WriteAt(page + 100, "pwrite").ok());
  EXPECT_EQ(std::string_view((*region)->data() + 100, 6), "pwrite");

  // A region stays usable after its file is closed.
  ASSERT_TRUE(file->Close().ok());
  std::memcpy((*region)->data(), "after", 5);
  ASSERT_TRUE((*region)->Sync(0, 5).ok());
  region->reset();
  EXPECT_EQ(ReadFile(Path("f")).substr(page, 5), "after");
}

TEST_F(PosixFileSystemTest, ReadOnlyMapSeesContent) {
  WriteFile(Path("f"), "read only mapping");
  OpenOptions options;
  options.read_only = true;
  std::unique_ptr<File> file = OpenOrDie(Path("f"), options);
  ASSERT_NE(file, nullptr);
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, 17, /*writable=*/false);
  ASSERT_TRUE(region.ok()) << region.status();
  EXPECT_EQ(std::string_view((*region)->data(), 17), "read only mapping");
}

TEST_F(PosixFileSystemTest, MapOfUnalignedOffsetFails) {
  std::unique_ptr<File> file = OpenOrDie(Path("f"), Create());
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->Allocate(0, 1 << 16).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(100, 4096, /*writable=*/true);
  EXPECT_TRUE(absl::IsInvalidArgument(region.status())) << region.status();
  region = file->Map(0, 0, /*writable=*/true);
  EXPECT_FALSE(region.ok());
  // The file is still usable.
  EXPECT_TRUE(file->WriteAt(0, "ok").ok());
}

TEST_F(PosixFileSystemTest, RenameRemoveAndLink) {
  WriteFile(Path("a"), "content a");
  WriteFile(Path("b"), "content b");

  ASSERT_TRUE(fs_->Rename(Path("a"), Path("c")).ok());
  EXPECT_FALSE(fs_->Exists(Path("a")));
  EXPECT_EQ(ReadFile(Path("c")), "content a");

  // Rename replaces an existing target.
  ASSERT_TRUE(fs_->Rename(Path("c"), Path("b")).ok());
  EXPECT_EQ(ReadFile(Path("b")), "content a");

  ASSERT_TRUE(fs_->Link(Path("b"), Path("d")).ok());
  EXPECT_EQ(ReadFile(Path("d")), "content a");
  EXPECT_TRUE(absl::IsAlreadyExists(fs_->Link(Path("b"), Path("d"))));
  // Both names are the same file.
  {
    std::unique_ptr<File> file = OpenOrDie(Path("d"), OpenOptions{});
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->WriteAt(0, "C").ok());
  }
  EXPECT_EQ(ReadFile(Path("b")), "Content a");

  ASSERT_TRUE(fs_->Remove(Path("b")).ok());
  EXPECT_FALSE(fs_->Exists(Path("b")));
  EXPECT_EQ(ReadFile(Path("d")), "Content a");
  absl::StatusOr<std::vector<std::string>> names = fs_->ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("d"));
}

TEST_F(PosixFileSystemTest, Directories) {
  const std::string nested = Path("x/y/z");
  ASSERT_TRUE(fs_->CreateDir(nested).ok());
  EXPECT_TRUE(fs_->Exists(nested));
  ASSERT_TRUE(fs_->CreateDir(nested).ok()) << "mkdir -p of an existing dir";
  WriteFile(JoinPath(nested, "f1"), "1");
  WriteFile(JoinPath(nested, "f2"), "22");
  ASSERT_TRUE(fs_->SyncDir(nested).ok());
  ASSERT_TRUE(fs_->SyncDir(dir_).ok());

  absl::StatusOr<std::vector<std::string>> names = fs_->ListDir(nested);
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, UnorderedElementsAre("f1", "f2"));
  names = fs_->ListDir(dir_);
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("x"));
  EXPECT_EQ(*fs_->FileSize(JoinPath(nested, "f2")), 2u);

  // Only empty directories can be removed.
  EXPECT_FALSE(fs_->RemoveDir(nested).ok());
  ASSERT_TRUE(fs_->Remove(JoinPath(nested, "f1")).ok());
  ASSERT_TRUE(fs_->Remove(JoinPath(nested, "f2")).ok());
  ASSERT_TRUE(fs_->RemoveDir(nested).ok());
  EXPECT_FALSE(fs_->Exists(nested));
  EXPECT_TRUE(fs_->Exists(Path("x/y")));
  EXPECT_FALSE(fs_->SyncDir(nested).ok());
}

TEST_F(PosixFileSystemTest, LockIsExclusiveUntilReleased) {
  const std::string path = Path("LOCK");
  absl::StatusOr<std::unique_ptr<FileLock>> first = fs_->Lock(path);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(fs_->Exists(path));

  absl::StatusOr<std::unique_ptr<FileLock>> second = fs_->Lock(path);
  EXPECT_TRUE(absl::IsFailedPrecondition(second.status())) << second.status();

  first->reset();
  second = fs_->Lock(path);
  EXPECT_TRUE(second.ok()) << second.status();
}

TEST_F(PosixFileSystemTest, FreeSpace) {
  absl::StatusOr<uint64_t> free = fs_->FreeSpace(dir_);
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_GT(*free, 0u);
  EXPECT_FALSE(fs_->FreeSpace(Path("missing/dir")).ok());
}

TEST_F(PosixFileSystemTest, CopyFile) {
  std::string content;
  for (int i = 0; i < 300000; ++i) content.push_back(static_cast<char>(i * 7));
  WriteFile(Path("src"), content);
  ASSERT_TRUE(CopyFile(fs_, Path("src"), Path("dst")).ok());
  EXPECT_EQ(ReadFile(Path("dst")), content);

  // Copying over an existing, longer file replaces it.
  WriteFile(Path("small"), "tiny");
  ASSERT_TRUE(CopyFile(fs_, Path("small"), Path("dst")).ok());
  EXPECT_EQ(ReadFile(Path("dst")), "tiny");

  WriteFile(Path("empty"), "");
  ASSERT_TRUE(CopyFile(fs_, Path("empty"), Path("dst")).ok());
  EXPECT_EQ(ReadFile(Path("dst")), "");

  EXPECT_TRUE(absl::IsNotFound(CopyFile(fs_, Path("missing"), Path("dst2"))));
}

}  // namespace
}  // namespace cairn
