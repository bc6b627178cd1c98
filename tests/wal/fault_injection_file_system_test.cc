#include "cairn/util/fault_injection_file_system.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "cairn/util/file_system.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace cairn {
namespace {

using ::testing::HasSubstr;

constexpr FsOp kAllOps[] = {
    FsOp::kOpen,    FsOp::kRead,     FsOp::kWrite,    FsOp::kSync,
    FsOp::kMapSync, FsOp::kAllocate, FsOp::kTruncate, FsOp::kMap,
    FsOp::kRename,  FsOp::kRemove,   FsOp::kLink,     FsOp::kCreateDir,
    FsOp::kListDir, FsOp::kSyncDir,  FsOp::kLock,
};

absl::Status Eio() { return absl::ErrnoToStatus(EIO, "injected EIO"); }

FaultRule Rule(FsOp op, absl::Status status = Eio(), int skip = 0,
               int times = 1) {
  FaultRule rule;
  rule.op = op;
  rule.status = std::move(status);
  rule.skip = skip;
  rule.times = times;
  return rule;
}

// Stores bytes into mapped memory.
void Store(char* dst, std::string_view bytes) {
  std::memcpy(dst, bytes.data(), bytes.size());
}

size_t PageSize() { return static_cast<size_t>(::sysconf(_SC_PAGESIZE)); }

OpenOptions Create() {
  OpenOptions options;
  options.create = true;
  return options;
}

class FaultInjectionFileSystemTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/cairn-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string Path(std::string_view name) const { return JoinPath(dir_, name); }

  std::unique_ptr<File> OpenOrDie(FileSystem* fs, const std::string& path,
                                  OpenOptions options = Create()) {
    absl::StatusOr<std::unique_ptr<File>> file = fs->Open(path, options);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : nullptr;
  }

  // Reads a whole file straight from the base file system.
  std::string Contents(const std::string& path) {
    OpenOptions options;
    options.read_only = true;
    std::unique_ptr<File> file = OpenOrDie(base_, path, options);
    if (file == nullptr) return "";
    std::string content(*file->Size(), '\0');
    EXPECT_EQ(*file->ReadAt(0, content.data(), content.size()), content.size());
    return content;
  }

  // Writes a file straight through the base file system.
  void WriteBase(const std::string& path, std::string_view content) {
    OpenOptions options = Create();
    options.truncate = true;
    std::unique_ptr<File> file = OpenOrDie(base_, path, options);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->Append(content).ok());
  }

  // A file created through fs_ whose creation is durable.
  std::unique_ptr<File> CreateDurable(const std::string& path) {
    std::unique_ptr<File> file = OpenOrDie(&fs_, path);
    EXPECT_TRUE(fs_.SyncDir(dir_).ok());
    return file;
  }

  // The power-loss sequence of a crash test: stop the I/O, close everything,
  // lose what was not durable, power back on.
  void PowerLoss(const std::vector<std::unique_ptr<File>*>& files,
                 PowerLossMode mode = PowerLossMode::kDropAll,
                 uint32_t seed = 0) {
    fs_.SetActive(false);
    for (std::unique_ptr<File>* file : files) file->reset();
    ASSERT_TRUE(fs_.DropUnsyncedData(mode, seed).ok());
    fs_.SetActive(true);
  }

  // Performs one call of kind op through fs_ (setting up what it needs with
  // other calls) and returns the status of that call. Each run uses fresh
  // names, so it can be repeated.
  absl::Status Run(FsOp op) {
    const std::string n = std::to_string(runs_++);
    const std::string name = Path("run" + n);
    if (op == FsOp::kOpen) return fs_.Open(name, Create()).status();
    if (op == FsOp::kCreateDir) return fs_.CreateDir(Path("dir" + n));
    if (op == FsOp::kListDir) return fs_.ListDir(dir_).status();
    if (op == FsOp::kSyncDir) return fs_.SyncDir(dir_);
    if (op == FsOp::kLock) return fs_.Lock(Path("LOCK" + n)).status();

    std::unique_ptr<File> file = OpenOrDie(&fs_, name);
    if (file == nullptr) return absl::UnknownError("setup failed");
    switch (op) {
      case FsOp::kRead: {
        char c;
        return file->ReadAt(0, &c, 1).status();
      }
      case FsOp::kWrite:
        return file->Append("data");
      case FsOp::kSync:
        return file->Sync();
      case FsOp::kAllocate:
        return file->Allocate(0, 100);
      case FsOp::kTruncate:
        return file->Truncate(0);
      case FsOp::kMap:
      case FsOp::kMapSync: {
        if (absl::Status s = file->Allocate(0, PageSize()); !s.ok()) return s;
        absl::StatusOr<std::unique_ptr<MappedRegion>> region =
            file->Map(0, PageSize(), /*writable=*/true);
        if (op == FsOp::kMap || !region.ok()) return region.status();
        return (*region)->Sync(0, PageSize());
      }
      case FsOp::kRename:
        return fs_.Rename(name, name + ".renamed");
      case FsOp::kRemove:
        return fs_.Remove(name);
      case FsOp::kLink:
        return fs_.Link(name, name + ".link");
      default:
        return absl::UnknownError("not a file operation");
    }
  }

  FileSystem* const base_ = FileSystem::Default();
  FaultInjectionFileSystem fs_{base_};
  std::string dir_;
  int runs_ = 0;
};

TEST_F(FaultInjectionFileSystemTest, OpNamesAreDistinct) {
  std::set<std::string> names;
  for (FsOp op : kAllOps) names.insert(FsOpName(op));
  EXPECT_EQ(names.size(), std::size(kAllOps));
  EXPECT_STREQ(FsOpName(FsOp::kWrite), "write");
}

TEST_F(FaultInjectionFileSystemTest, EachRuleFailsItsCall) {
  for (FsOp op : kAllOps) {
    SCOPED_TRACE(FsOpName(op));
    ASSERT_TRUE(Run(op).ok()) << "without faults";
    const int before = fs_.injected_count();
    fs_.InjectFault(Rule(op));
    absl::Status s = Run(op);
    EXPECT_EQ(s.code(), absl::ErrnoToStatus(EIO, "").code()) << s;
    EXPECT_THAT(s.message(), HasSubstr("injected EIO"));
    EXPECT_EQ(fs_.injected_count(), before + 1);
    // times = 1: the next call succeeds again.
    EXPECT_TRUE(Run(op).ok());
    fs_.ClearFaults();
  }
}

TEST_F(FaultInjectionFileSystemTest, RuleReturnsItsStatus) {
  fs_.InjectFault(Rule(FsOp::kWrite, absl::ResourceExhaustedError("ENOSPC")));
  absl::Status s = Run(FsOp::kWrite);
  EXPECT_TRUE(absl::IsResourceExhausted(s)) << s;
  EXPECT_EQ(s.message(), "ENOSPC");
}

TEST_F(FaultInjectionFileSystemTest, WriteRuleCoversWriteAtAndAppend) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  fs_.InjectFault(Rule(FsOp::kWrite, Eio(), /*skip=*/0, /*times=*/2));
  EXPECT_FALSE(file->WriteAt(0, "abc").ok());
  EXPECT_FALSE(file->Append("abc").ok());
  EXPECT_TRUE(file->Append("abc").ok());
  EXPECT_EQ(Contents(Path("f")), "abc");
  EXPECT_EQ(fs_.injected_count(), 2);
}

TEST_F(FaultInjectionFileSystemTest, SkipThenTimes) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  fs_.InjectFault(Rule(FsOp::kWrite, Eio(), /*skip=*/2, /*times=*/2));
  std::vector<bool> ok;
  ok.reserve(6);
  for (int i = 0; i < 6; ++i) ok.push_back(file->Append("x").ok());
  EXPECT_THAT(ok, ::testing::ElementsAre(true, true, false, false, true, true));
  EXPECT_EQ(fs_.injected_count(), 2);
  EXPECT_EQ(Contents(Path("f")), "xxxx");
}

TEST_F(FaultInjectionFileSystemTest, NegativeTimesFailsForever) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  fs_.InjectFault(Rule(FsOp::kSync, Eio(), /*skip=*/1, /*times=*/-1));
  EXPECT_TRUE(file->Sync().ok());
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(file->Sync().ok());
  EXPECT_EQ(fs_.injected_count(), 20);
  fs_.ClearFaults();
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_EQ(fs_.injected_count(), 20);
}

TEST_F(FaultInjectionFileSystemTest, UsedUpRuleLeavesCallsToLaterRules) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  fs_.InjectFault(Rule(FsOp::kWrite, absl::ResourceExhaustedError("first")));
  fs_.InjectFault(Rule(FsOp::kWrite, absl::InternalError("second"),
                       /*skip=*/0, /*times=*/-1));
  EXPECT_EQ(file->Append("x").message(), "first");
  EXPECT_EQ(file->Append("x").message(), "second");
  EXPECT_EQ(file->Append("x").message(), "second");
  EXPECT_EQ(fs_.injected_count(), 3);
}

TEST_F(FaultInjectionFileSystemTest, PathFilter) {
  std::unique_ptr<File> wal = OpenOrDie(&fs_, Path("wal-000001.log"));
  std::unique_ptr<File> other = OpenOrDie(&fs_, Path("MANIFEST"));
  FaultRule wal_only = Rule(FsOp::kWrite, Eio(), /*skip=*/0, /*times=*/-1);
  wal_only.path_contains = "wal-";
  fs_.InjectFault(wal_only);
  EXPECT_FALSE(wal->Append("x").ok());
  EXPECT_TRUE(other->Append("x").ok());
  EXPECT_EQ(fs_.injected_count(), 1);

  // Renames match on either name.
  FaultRule current_only = Rule(FsOp::kRename);
  current_only.path_contains = "CURRENT";
  fs_.InjectFault(current_only);
  WriteBase(Path("CURRENT.tmp"), "x");
  EXPECT_TRUE(fs_.Rename(Path("MANIFEST"), Path("OTHER")).ok());
  EXPECT_FALSE(fs_.Rename(Path("CURRENT.tmp"), Path("CURRENT2")).ok());
  EXPECT_TRUE(fs_.Rename(Path("CURRENT.tmp"), Path("CURRENT2")).ok());
}

TEST_F(FaultInjectionFileSystemTest, TornWriteWritesFirstHalf) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Append("head:").ok());
  FaultRule torn = Rule(FsOp::kWrite, Eio(), /*skip=*/0, /*times=*/2);
  torn.torn = true;
  fs_.InjectFault(torn);
  absl::Status s = file->Append("abcdefgh");
  EXPECT_EQ(s.code(), Eio().code()) << s;
  EXPECT_EQ(Contents(Path("f")), "head:abcd");
  EXPECT_FALSE(file->WriteAt(0, "HEAD").ok());
  EXPECT_EQ(Contents(Path("f")), "HEad:abcd");
  EXPECT_EQ(fs_.injected_count(), 2);
}

TEST_F(FaultInjectionFileSystemTest, TornOnlyAffectsWrites) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Append("abcd").ok());
  FaultRule torn = Rule(FsOp::kTruncate);
  torn.torn = true;
  fs_.InjectFault(torn);
  EXPECT_FALSE(file->Truncate(0).ok());
  EXPECT_EQ(Contents(Path("f")), "abcd");
}

TEST_F(FaultInjectionFileSystemTest, SyncedDataSurvivesPowerLoss) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Append("durable").ok());
  ASSERT_TRUE(file->Sync().ok());
  EXPECT_EQ(fs_.UnsyncedBytes(), 0u);
  ASSERT_TRUE(file->Append(" lost").ok());
  ASSERT_TRUE(file->WriteAt(0, "D").ok());
  EXPECT_EQ(fs_.UnsyncedBytes(), 6u);
  EXPECT_EQ(Contents(Path("f")), "Durable lost");

  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("f")), "durable");
  EXPECT_EQ(fs_.UnsyncedBytes(), 0u);

  // After the power loss, everything on disk is durable.
  file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Append("+more").ok());
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("f")), "durable");
}

TEST_F(FaultInjectionFileSystemTest, UnsyncedSizeChangesAreUndone) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Append("0123456789").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Truncate(3).ok());
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("f")), "0123456789");

  file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Allocate(0, 1 << 16).ok());
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("f")), "0123456789");
}

TEST_F(FaultInjectionFileSystemTest, FileWrittenElsewhereIsDurableAsFound) {
  WriteBase(Path("old"), "written before");
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("old"));
  ASSERT_TRUE(file->WriteAt(0, "WRITTEN").ok());
  ASSERT_TRUE(file->Append(" and after").ok());
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("old")), "written before");

  // Even an opening truncation is lost.
  OpenOptions truncate;
  truncate.truncate = true;
  WriteBase(Path("old2"), "keep me");
  file = OpenOrDie(&fs_, Path("old2"), truncate);
  EXPECT_EQ(Contents(Path("old2")), "");
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("old2")), "keep me");
}

TEST_F(FaultInjectionFileSystemTest, MappedStoresSurviveOnlyWhenSynced) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("seg"));
  ASSERT_TRUE(file->Allocate(0, 2 * page).ok());
  ASSERT_TRUE(file->Sync().ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, 2 * page, /*writable=*/true);
  ASSERT_TRUE(region.ok()) << region.status();
  char* data = (*region)->data();

  Store(data + 10, "synced");
  Store(data + page + 20, "unsynced");
  ASSERT_TRUE((*region)->Sync(10, 6).ok());
  Store(data + 100, "late");  // after the sync, never synced

  fs_.SetActive(false);
  region->reset();
  PowerLoss({&file});

  const std::string content = Contents(Path("seg"));
  ASSERT_EQ(content.size(), 2 * page);
  EXPECT_EQ(content.substr(10, 6), "synced");
  EXPECT_EQ(content.substr(100, 4), std::string(4, '\0'));
  EXPECT_EQ(content.substr(page + 20, 8), std::string(8, '\0'));
}

TEST_F(FaultInjectionFileSystemTest, RegionSyncMakesSizeDurable) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("seg"));
  ASSERT_TRUE(file->Append("header").ok());
  ASSERT_TRUE(file->Allocate(0, 3 * page).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(page, page, /*writable=*/true);
  ASSERT_TRUE(region.ok()) << region.status();
  Store((*region)->data() + 1, "frame");
  ASSERT_TRUE((*region)->Sync(1, 5).ok());
  region->reset();
  PowerLoss({&file});

  // The header was never synced: zeros; the synced frame and the size stay.
  const std::string content = Contents(Path("seg"));
  ASSERT_EQ(content.size(), 3 * page);
  EXPECT_EQ(content.substr(0, 6), std::string(6, '\0'));
  EXPECT_EQ(content.substr(page + 1, 5), "frame");
}

TEST_F(FaultInjectionFileSystemTest, FileSyncCoversMappedStores) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("seg"));
  ASSERT_TRUE(file->Allocate(0, page).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, page, /*writable=*/true);
  ASSERT_TRUE(region.ok());
  Store((*region)->data(), "stored");
  ASSERT_TRUE(file->Sync().ok());
  region->reset();
  PowerLoss({&file});
  EXPECT_EQ(Contents(Path("seg")).substr(0, 6), "stored");
}

TEST_F(FaultInjectionFileSystemTest, CreatedFileNeedsSyncDir) {
  std::unique_ptr<File> lost = OpenOrDie(&fs_, Path("lost"));
  ASSERT_TRUE(lost->Append("data").ok());
  ASSERT_TRUE(lost->Sync().ok());  // content durable, name not

  ASSERT_TRUE(fs_.CreateDir(Path("sub")).ok());
  std::unique_ptr<File> in_sub = OpenOrDie(&fs_, Path("sub/f"));
  ASSERT_TRUE(in_sub->Sync().ok());
  ASSERT_TRUE(fs_.SyncDir(dir_).ok());  // covers "lost", not "sub/f"

  std::unique_ptr<File> kept = OpenOrDie(&fs_, Path("kept"));
  ASSERT_TRUE(kept->Append("data").ok());
  ASSERT_TRUE(kept->Sync().ok());
  ASSERT_TRUE(fs_.SyncDir(dir_ + "/").ok());

  std::unique_ptr<File> late = OpenOrDie(&fs_, Path("late"));
  PowerLoss({&lost, &in_sub, &kept, &late});

  EXPECT_TRUE(fs_.Exists(Path("lost")));
  EXPECT_EQ(Contents(Path("lost")), "data");
  EXPECT_FALSE(fs_.Exists(Path("sub/f")));
  EXPECT_EQ(Contents(Path("kept")), "data");
  EXPECT_FALSE(fs_.Exists(Path("late")));
}

TEST_F(FaultInjectionFileSystemTest, UnsyncedCreateIsLostEvenIfDataSynced) {
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Append("data").ok());
  ASSERT_TRUE(file->Sync().ok());
  PowerLoss({&file});
  EXPECT_FALSE(fs_.Exists(Path("f")));
}

TEST_F(FaultInjectionFileSystemTest, RenameCarriesDurableState) {
  std::unique_ptr<File> file = CreateDurable(Path("tmp"));
  ASSERT_TRUE(file->Append("synced").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_.Rename(Path("tmp"), Path("final")).ok());
  // Writes and syncs through the open handle follow the file.
  ASSERT_TRUE(file->Append("+also").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(file->Append("+lost").ok());
  PowerLoss({&file});
  EXPECT_FALSE(fs_.Exists(Path("tmp")));
  EXPECT_EQ(Contents(Path("final")), "synced+also");
}

TEST_F(FaultInjectionFileSystemTest, MappedRegionFollowsRename) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("tmp"));
  ASSERT_TRUE(file->Allocate(0, 3 * page).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, page, /*writable=*/true);
  ASSERT_TRUE(region.ok());
  file.reset();  // the region outlives its file
  ASSERT_TRUE(fs_.Rename(Path("tmp"), Path("seg")).ok());
  Store((*region)->data(), "frame");
  ASSERT_TRUE((*region)->Sync(0, 5).ok());
  region->reset();
  PowerLoss({});
  const std::string content = Contents(Path("seg"));
  ASSERT_EQ(content.size(), 3 * page);
  EXPECT_EQ(content.substr(0, 5), "frame");
}

TEST_F(FaultInjectionFileSystemTest, RegionOfRemovedFileCanStillSync) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("seg"));
  ASSERT_TRUE(file->Allocate(0, page).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, page, /*writable=*/true);
  ASSERT_TRUE(region.ok());
  ASSERT_TRUE(fs_.Remove(Path("seg")).ok());
  Store((*region)->data(), "gone");
  EXPECT_TRUE((*region)->Sync(0, page).ok());
  EXPECT_TRUE(file->Sync().ok());
  region->reset();
  PowerLoss({&file});
  EXPECT_FALSE(fs_.Exists(Path("seg")));
}

TEST_F(FaultInjectionFileSystemTest, RenameOntoTrackedFileReplacesIt) {
  std::unique_ptr<File> a = CreateDurable(Path("a"));
  ASSERT_TRUE(a->Append("aaaa").ok());
  ASSERT_TRUE(a->Sync().ok());
  std::unique_ptr<File> b = CreateDurable(Path("b"));
  ASSERT_TRUE(b->Append("bb").ok());
  ASSERT_TRUE(b->Sync().ok());
  ASSERT_TRUE(fs_.Rename(Path("a"), Path("b")).ok());
  // The old "b" is gone: its syncs no longer matter.
  ASSERT_TRUE(b->Append("bbbbbbbb").ok());
  ASSERT_TRUE(b->Sync().ok());
  PowerLoss({&a, &b});
  EXPECT_EQ(Contents(Path("b")), "aaaa");
}

TEST_F(FaultInjectionFileSystemTest, CreatedFileRenamedOverDurableOneStays) {
  std::unique_ptr<File> current = CreateDurable(Path("CURRENT"));
  ASSERT_TRUE(current->Append("old").ok());
  ASSERT_TRUE(current->Sync().ok());
  current.reset();
  // Written, synced and renamed over CURRENT, its directory never synced:
  // the name CURRENT cannot go missing, and the rename is durable.
  std::unique_ptr<File> tmp = OpenOrDie(&fs_, Path("CURRENT.tmp"));
  ASSERT_TRUE(tmp->Append("new").ok());
  ASSERT_TRUE(tmp->Sync().ok());
  tmp.reset();
  ASSERT_TRUE(fs_.Rename(Path("CURRENT.tmp"), Path("CURRENT")).ok());
  // Renamed to a new name instead, it still needs its SyncDir.
  std::unique_ptr<File> other = OpenOrDie(&fs_, Path("other.tmp"));
  other.reset();
  ASSERT_TRUE(fs_.Rename(Path("other.tmp"), Path("other")).ok());
  PowerLoss({});
  EXPECT_EQ(Contents(Path("CURRENT")), "new");
  EXPECT_FALSE(base_->Exists(Path("other")));
}

TEST_F(FaultInjectionFileSystemTest, RemovedFileStaysRemoved) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Append("data").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_.Remove(Path("f")).ok());
  PowerLoss({&file});
  EXPECT_FALSE(fs_.Exists(Path("f")));

  // A file created again under the same name starts afresh.
  file = OpenOrDie(&fs_, Path("f"));
  ASSERT_TRUE(file->Append("new").ok());
  PowerLoss({&file});
  EXPECT_FALSE(fs_.Exists(Path("f")));
}

TEST_F(FaultInjectionFileSystemTest, KeepTornPrefix) {
  // Several sectors, so that a tear has sector boundaries to fall on.
  const std::string durable(4096, 'A');
  const std::string update(4096, 'B');  // written at 1000: overlaps, appends
  std::set<size_t> cuts;
  for (uint32_t seed = 0; seed < 40; ++seed) {
    SCOPED_TRACE(seed);
    const std::string path = Path("f" + std::to_string(seed));
    std::unique_ptr<File> file = CreateDurable(path);
    ASSERT_TRUE(file->Append(durable).ok());
    ASSERT_TRUE(file->Sync().ok());
    ASSERT_TRUE(file->WriteAt(1000, update).ok());
    const std::string current = Contents(path);
    PowerLoss({&file}, PowerLossMode::kKeepTornPrefix, seed);

    // The result is a prefix of the new content over the durable one, cut
    // at a sector boundary (or not cut at all).
    const std::string content = Contents(path);
    bool found = content == current;
    if (found) cuts.insert(current.size());
    for (size_t cut = 0; cut < current.size() && !found; cut += 512) {
      std::string expected = current.substr(0, cut);
      if (cut < durable.size()) expected += durable.substr(cut);
      if (content == expected) {
        found = true;
        cuts.insert(cut);
      }
    }
    EXPECT_TRUE(found) << content;

    // What survived is now durable.
    file = OpenOrDie(&fs_, path);
    ASSERT_TRUE(file->Append("x").ok());
    PowerLoss({&file});
    EXPECT_EQ(Contents(path), content);
  }
  // Different seeds tear at different sector boundaries.
  EXPECT_GT(cuts.size(), 5u);
  // Including strictly inside the changed range [1000, 5096).
  EXPECT_TRUE(std::any_of(cuts.begin(), cuts.end(),
                          [](size_t cut) { return cut > 1000 && cut < 5096; }));
}

TEST_F(FaultInjectionFileSystemTest, KeepTornPrefixLeavesSyncedFilesAlone) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Append("all synced").ok());
  ASSERT_TRUE(file->Sync().ok());
  std::unique_ptr<File> fresh = OpenOrDie(&fs_, Path("fresh"));
  ASSERT_TRUE(fresh->Append("x").ok());
  PowerLoss({&file, &fresh}, PowerLossMode::kKeepTornPrefix, 7);
  EXPECT_EQ(Contents(Path("f")), "all synced");
  EXPECT_FALSE(fs_.Exists(Path("fresh")));
}

TEST_F(FaultInjectionFileSystemTest, InactiveFileSystemRejectsChanges) {
  const size_t page = PageSize();
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Allocate(0, page).ok());
  ASSERT_TRUE(file->WriteAt(0, "before").ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, page, /*writable=*/true);
  ASSERT_TRUE(region.ok());
  WriteBase(Path("other"), "x");

  fs_.SetActive(false);
  const auto expect_power_lost = [](const absl::Status& s) {
    EXPECT_FALSE(s.ok());
    EXPECT_THAT(s.message(), HasSubstr("power lost")) << s;
  };
  expect_power_lost(file->Append("x"));
  expect_power_lost(file->WriteAt(0, "x"));
  expect_power_lost(file->Sync());
  expect_power_lost(file->Allocate(0, 2 * page));
  expect_power_lost(file->Truncate(0));
  expect_power_lost((*region)->Sync(0, page));
  expect_power_lost(fs_.Open(Path("new"), Create()).status());
  expect_power_lost(fs_.Rename(Path("other"), Path("other2")));
  expect_power_lost(fs_.Remove(Path("other")));
  expect_power_lost(fs_.Link(Path("other"), Path("other3")));
  expect_power_lost(fs_.CreateDir(Path("d")));
  expect_power_lost(fs_.RemoveDir(Path("d")));
  expect_power_lost(fs_.SyncDir(dir_));
  EXPECT_EQ(fs_.injected_count(), 0);
  EXPECT_FALSE(fs_.Exists(Path("new")));
  EXPECT_TRUE(fs_.Exists(Path("other")));

  // Reads still work.
  char buf[6];
  ASSERT_EQ(*file->ReadAt(0, buf, 6), 6u);
  EXPECT_EQ(std::string_view(buf, 6), "before");
  EXPECT_TRUE(fs_.ListDir(dir_).ok());
  OpenOptions read_only;
  read_only.read_only = true;
  EXPECT_TRUE(fs_.Open(Path("other"), read_only).ok());
  EXPECT_EQ(*fs_.FileSize(Path("other")), 1u);

  fs_.SetActive(true);
  EXPECT_TRUE(file->Append("x").ok());
  EXPECT_TRUE(file->Sync().ok());
  EXPECT_TRUE((*region)->Sync(0, page).ok());
}

TEST_F(FaultInjectionFileSystemTest, RecordsEveryCheckedCall) {
  fs_.StartRecording();
  std::unique_ptr<File> file = OpenOrDie(&fs_, Path("rec"));
  ASSERT_TRUE(file->Append("abc").ok());
  ASSERT_TRUE(file->Sync().ok());
  ASSERT_TRUE(fs_.SyncDir(dir_).ok());
  ASSERT_TRUE(fs_.Rename(Path("rec"), Path("rec2")).ok());
  fs_.InjectFault(Rule(FsOp::kRemove));
  EXPECT_FALSE(fs_.Remove(Path("rec2")).ok());
  std::vector<FsCall> calls = fs_.StopRecording();
  ASSERT_EQ(calls.size(), 6u);
  EXPECT_EQ(calls[0].op, FsOp::kOpen);
  EXPECT_TRUE(calls[0].creating);
  EXPECT_EQ(calls[0].path, Path("rec"));
  EXPECT_EQ(calls[1].op, FsOp::kWrite);
  EXPECT_EQ(calls[2].op, FsOp::kSync);
  EXPECT_EQ(calls[3].op, FsOp::kSyncDir);
  EXPECT_EQ(calls[3].path, dir_);
  EXPECT_EQ(calls[4].op, FsOp::kRename);
  EXPECT_EQ(calls[4].other_path, Path("rec2"));
  EXPECT_EQ(calls[5].op, FsOp::kRemove);
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(calls[i].failed) << i;
  EXPECT_TRUE(calls[5].failed);
  // Not recording any more; a read-only open is not "creating".
  ASSERT_NE(OpenOrDie(&fs_, Path("rec2"), OpenOptions{.read_only = true}),
            nullptr);
  EXPECT_TRUE(fs_.StopRecording().empty());
  fs_.StartRecording();
  ASSERT_NE(OpenOrDie(&fs_, Path("rec2"), OpenOptions{.read_only = true}),
            nullptr);
  calls = fs_.StopRecording();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_FALSE(calls[0].creating);
}

TEST_F(FaultInjectionFileSystemTest, PathPredicateAndCreatingOnly) {
  FaultRule rule = Rule(FsOp::kOpen, Eio(), /*skip=*/0, /*times=*/-1);
  rule.creating_only = true;
  rule.path_matches = [](std::string_view path) {
    return path.ends_with(".sst");
  };
  fs_.InjectFault(rule);
  EXPECT_FALSE(fs_.Open(Path("1.sst"), Create()).ok());
  EXPECT_TRUE(fs_.Open(Path("1.log"), Create()).ok());
  WriteBase(Path("2.sst"), "x");
  EXPECT_TRUE(fs_.Open(Path("2.sst"), OpenOptions{}).ok());  // no create
  EXPECT_EQ(fs_.injected_count(), 1);
  // Renames: the predicate sees both names.
  FaultRule rename = Rule(FsOp::kRename);
  rename.path_matches = [](std::string_view path) {
    return path.ends_with("/CURRENT");
  };
  fs_.InjectFault(rename);
  EXPECT_FALSE(fs_.Rename(Path("2.sst"), Path("CURRENT")).ok());
  EXPECT_TRUE(fs_.Rename(Path("2.sst"), Path("3.sst")).ok());
}

TEST_F(FaultInjectionFileSystemTest, CallsOnARenamedOpenFileUseItsNewName) {
  std::unique_ptr<File> file = CreateDurable(Path("seg.spare"));
  ASSERT_TRUE(file->Allocate(0, PageSize()).ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, PageSize(), /*writable=*/true);
  ASSERT_TRUE(region.ok());
  ASSERT_TRUE(fs_.Rename(Path("seg.spare"), Path("seg.wal")).ok());
  FaultRule rule = Rule(FsOp::kMapSync, Eio(), 0, -1);
  rule.path_contains = ".wal";
  fs_.InjectFault(rule);
  fs_.StartRecording();
  EXPECT_FALSE((*region)->Sync(0, 1).ok());
  EXPECT_TRUE(file->Append("x").ok());
  std::vector<FsCall> calls = fs_.StopRecording();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[0].path, Path("seg.wal"));
  EXPECT_EQ(calls[1].path, Path("seg.wal"));
}

TEST_F(FaultInjectionFileSystemTest, CrashBeforeFailsTheCallAndCutsPower) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  ASSERT_TRUE(file->Append("durable").ok());
  ASSERT_TRUE(file->Sync().ok());
  FaultRule crash = Rule(FsOp::kSync, Eio(), /*skip=*/1);
  crash.action = FaultAction::kCrashBefore;
  fs_.InjectFault(crash);
  ASSERT_TRUE(file->Append("+one").ok());
  ASSERT_TRUE(file->Sync().ok());  // skipped
  EXPECT_FALSE(fs_.crashed());
  ASSERT_TRUE(file->Append("+two").ok());
  absl::Status s = file->Sync();
  EXPECT_FALSE(s.ok());
  EXPECT_THAT(s.message(), HasSubstr("power lost"));
  EXPECT_TRUE(fs_.crashed());
  EXPECT_EQ(fs_.injected_count(), 1);
  // Everything that mutates fails from now on; reads go on.
  EXPECT_FALSE(file->Append("x").ok());
  EXPECT_FALSE(fs_.Open(Path("g"), Create()).ok());
  char c;
  EXPECT_TRUE(file->ReadAt(0, &c, 1).ok());
  file.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  fs_.SetActive(true);
  EXPECT_FALSE(fs_.crashed());
  EXPECT_EQ(Contents(Path("f")), "durable+one");
}

TEST_F(FaultInjectionFileSystemTest, CrashAfterLetsTheCallTakeEffect) {
  std::unique_ptr<File> file = CreateDurable(Path("f"));
  FaultRule crash = Rule(FsOp::kSync);
  crash.action = FaultAction::kCrashAfter;
  fs_.InjectFault(crash);
  ASSERT_TRUE(file->Append("synced").ok());
  EXPECT_TRUE(file->Sync().ok());  // goes through...
  EXPECT_TRUE(fs_.crashed());      // ...then the power is out
  EXPECT_FALSE(file->Append("lost").ok());
  EXPECT_FALSE(fs_.SyncDir(dir_).ok());
  file.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  fs_.SetActive(true);
  EXPECT_EQ(Contents(Path("f")), "synced");

  // After a rename: the rename is durable (see the model in the header).
  fs_.ClearFaults();
  std::unique_ptr<File> tmp = CreateDurable(Path("tmp"));
  ASSERT_TRUE(tmp->Append("x").ok());
  ASSERT_TRUE(tmp->Sync().ok());
  FaultRule after_rename = Rule(FsOp::kRename);
  after_rename.action = FaultAction::kCrashAfter;
  fs_.InjectFault(after_rename);
  EXPECT_TRUE(fs_.Rename(Path("tmp"), Path("g")).ok());
  EXPECT_TRUE(fs_.crashed());
  tmp.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  fs_.SetActive(true);
  EXPECT_FALSE(base_->Exists(Path("tmp")));
  EXPECT_EQ(Contents(Path("g")), "x");
}

TEST_F(FaultInjectionFileSystemTest, CrashAfterAMappedSyncKeepsTheRange) {
  std::unique_ptr<File> file = CreateDurable(Path("m"));
  ASSERT_TRUE(file->Allocate(0, PageSize()).ok());
  ASSERT_TRUE(file->Sync().ok());
  absl::StatusOr<std::unique_ptr<MappedRegion>> region =
      file->Map(0, PageSize(), /*writable=*/true);
  ASSERT_TRUE(region.ok()) << region.status();
  FaultRule crash = Rule(FsOp::kMapSync);
  crash.action = FaultAction::kCrashAfter;
  fs_.InjectFault(crash);
  Store((*region)->data(), "kept");
  ASSERT_TRUE((*region)->Sync(0, 4).ok());
  EXPECT_TRUE(fs_.crashed());
  Store((*region)->data() + 4, "gone");
  EXPECT_FALSE((*region)->Sync(4, 4).ok());
  region->reset();
  file.reset();
  ASSERT_TRUE(fs_.DropUnsyncedData().ok());
  fs_.SetActive(true);
  EXPECT_EQ(Contents(Path("m")).substr(0, 8), std::string("kept\0\0\0\0", 8));
}

TEST_F(FaultInjectionFileSystemTest, ConcurrentWritersAndFaults) {
  constexpr int kThreads = 4;
  constexpr int kWrites = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::unique_ptr<File> file =
          OpenOrDie(&fs_, Path("t" + std::to_string(t)));
      for (int i = 0; i < kWrites; ++i) {
        if (!file->Append("0123456789").ok()) ++failures;
        if (i % 10 == 0 && !file->Sync().ok()) ++failures;
      }
    });
  }
  for (int i = 0; i < 50; ++i) {
    fs_.InjectFault(Rule(FsOp::kWrite));
    (void)fs_.UnsyncedBytes();
    std::this_thread::yield();
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), fs_.injected_count());
  EXPECT_LE(fs_.injected_count(), 50);
}

}  // namespace
}  // namespace cairn
