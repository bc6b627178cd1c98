// VerifyDatabase: CURRENT, the MANIFEST and the levels it describes, and the
// order of the checks (see verifier.h).
#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "cairn/util/coding.h"
#include "cairn/util/crc32c.h"
#include "dbformat.h"
#include "filename.h"
#include "verifier.h"

namespace cairn::storage {
namespace {

constexpr size_t kManifestHeaderSize = 8;  // masked crc, length

}  // namespace

void Verifier::Problem(Severity severity, const std::string& file,
                       uint64_t offset, std::string what) {
  if (++problems_per_file_[file] > options_.max_problems_per_file) {
    ++report_.problems_dropped;
    return;
  }
  report_.problems.push_back(
      VerifyProblem{severity, file, offset, std::move(what)});
}

std::unique_ptr<File> Verifier::OpenForCheck(const std::string& path,
                                             uint64_t* size,
                                             const std::string& context) {
  auto file = fs_->Open(path, OpenOptions{.read_only = true});
  if (!file.ok()) {
    Corrupt(path, kNoOffset,
            absl::StrCat(context, "cannot open: ", file.status().message()));
    return nullptr;
  }
  auto size_or = (*file)->Size();
  if (!size_or.ok()) {
    Corrupt(path, kNoOffset,
            absl::StrCat(context, "cannot stat: ", size_or.status().message()));
    return nullptr;
  }
  *size = *size_or;
  return std::move(*file);
}

std::optional<std::string> Verifier::ReadWhole(const std::string& path) {
  uint64_t size = 0;
  std::unique_ptr<File> file = OpenForCheck(path, &size);
  if (file == nullptr) return std::nullopt;
  std::string data(size, '\0');
  auto n = file->ReadAt(0, data.data(), data.size());
  if (!n.ok() || *n != data.size()) {
    Corrupt(path, 0,
            absl::StrCat("cannot read: ",
                         n.ok() ? "short read" : n.status().message()));
    return std::nullopt;
  }
  ++report_.files;
  report_.bytes += data.size();
  return data;
}

void Verifier::CheckCurrent() {
  const std::string path = CurrentFileName(dir_);
  std::optional<std::string> current = ReadWhole(path);
  if (!current) return;
  // Strictly the form the engine writes: the engine's parser is lenient
  // (absl::SimpleAtoi skips blanks), so a damaged CURRENT may still name
  // the right MANIFEST; it is damage all the same.
  uint64_t number = 0;
  const bool shaped =
      current->size() == 16 && current->back() == '\n' &&
      ParseFileName(current->substr(0, 15), &number) == FileType::kManifest &&
      absl::StrFormat("MANIFEST-%06d", number) == current->substr(0, 15);
  if (!shaped) {
    Corrupt(path, 0,
            absl::StrCat("does not hold 'MANIFEST-NNNNNN\\n' but '",
                         EscapeBytes(current->substr(0, 64)), "'"));
    // The lenient reading the engine would do, to go on checking.
    if (current->empty() || current->back() != '\n' ||
        ParseFileName(current->substr(0, current->size() - 1), &number) !=
            FileType::kManifest) {
      return;
    }
  }
  manifest_path_ = ManifestFileName(dir_, number);
  if (!fs_->Exists(manifest_path_)) {
    Corrupt(path, 0,
            absl::StrCat("names ", manifest_path_, ", which does not exist"));
    manifest_path_.clear();
  }
}

void Verifier::CheckManifest() {
  std::optional<std::string> data = ReadWhole(manifest_path_);
  if (!data) return;
  const std::string& m = *data;
  const std::string& path = manifest_path_;
  // Whether a well-formed record starts anywhere in [from, size): evidence
  // that a bad record is damage in the middle, not an unfinished append.
  auto valid_record_after = [&m](size_t from) -> std::optional<size_t> {
    for (size_t q = from; q + kManifestHeaderSize <= m.size(); ++q) {
      const uint32_t len = DecodeFixed32(m.data() + q + 4);
      if (len == 0 || len > m.size() - q - kManifestHeaderSize) continue;
      if (crc32c::Unmask(DecodeFixed32(m.data() + q)) ==
          crc32c::Value(m.data() + q + kManifestHeaderSize, len)) {
        return q;
      }
    }
    return std::nullopt;
  };
  size_t pos = 0;
  bool ok = true;
  while (pos < m.size()) {
    const size_t left = m.size() - pos;
    if (left < kManifestHeaderSize) {
      Torn(path, pos,
           absl::StrFormat("record header cut short by the end of the file "
                           "(%d bytes): an unfinished append, dropped at open",
                           left));
      break;
    }
    const uint32_t crc = crc32c::Unmask(DecodeFixed32(m.data() + pos));
    const uint32_t len = DecodeFixed32(m.data() + pos + 4);
    if (len > left - kManifestHeaderSize) {
      std::string_view rest(m.data() + pos + kManifestHeaderSize,
                            left - kManifestHeaderSize);
      std::optional<size_t> after = valid_record_after(pos + 1);
      if (crc32c::Value(rest) == crc || after) {
        Corrupt(path, pos,
                absl::StrFormat(
                    "record length %d runs past the end of the file, but %s: "
                    "the length is damaged (open would drop every later "
                    "record as an unfinished append)",
                    len,
                    after ? absl::StrFormat("a valid record follows at "
                                            "offset %d",
                                            *after)
                          : std::string("the checksum matches the bytes "
                                        "that are there")));
        ok = false;
      } else {
        Torn(path, pos,
             absl::StrFormat("record of %d bytes cut short by the end of the "
                             "file: an unfinished append, dropped at open",
                             len));
      }
      break;
    }
    std::string_view payload(m.data() + pos + kManifestHeaderSize, len);
    if (crc32c::Value(payload) != crc) {
      const bool last = pos + kManifestHeaderSize + len == m.size();
      Corrupt(
          path, pos,
          last ? std::string("the last record fails its checksum (open "
                             "drops it as an unfinished append, but "
                             "it is complete: its bytes were changed)")
               : absl::StrFormat("record fails its checksum, %d bytes "
                                 "follow",
                                 m.size() - pos - kManifestHeaderSize - len));
      ok = false;
      break;
    }
    ++report_.manifest_records;
    VersionEdit edit;
    if (absl::Status s = edit.DecodeFrom(payload); !s.ok()) {
      Corrupt(path, pos, absl::StrCat("version edit: ", s.message()));
      ok = false;
      break;
    }
    ApplyEdit(edit, pos);
    pos += kManifestHeaderSize + len;
  }
  if (report_.manifest_records == 0 && ok) {
    Corrupt(path, 0, "holds no complete record");
    ok = false;
  }
  manifest_ok_ = ok;
  if (ok) CheckLevels();
}

void Verifier::ApplyEdit(const VersionEdit& edit, uint64_t offset) {
  for (const auto& [level, number] : edit.deleted_files()) {
    if (levels_[level].erase(number) == 0) {
      Corrupt(manifest_path_, offset,
              absl::StrFormat("deletes table %d from level %d, where it is "
                              "not",
                              number, level));
    }
  }
  for (const auto& [level, f] : edit.new_files()) {
    for (const auto& [l, files] : levels_) {
      if (files.count(f.number)) {
        Corrupt(manifest_path_, offset,
                absl::StrFormat("adds table %d to level %d, but level %d "
                                "already holds it",
                                f.number, level, l));
      }
    }
    if (f.smallest.size() < 8 || f.largest.size() < 8 ||
        CompareInternalKeys(f.smallest, f.largest) > 0) {
      Corrupt(manifest_path_, offset,
              absl::StrFormat("table %d has bad bounds", f.number));
    }
    levels_[level][f.number] = f;
  }
  if (edit.flushed_seq()) report_.flushed_seq = *edit.flushed_seq();
}

void Verifier::CheckLevels() {
  for (const auto& [level, files] : levels_) {
    if (level == 0) continue;
    std::vector<const FileMetaData*> sorted;
    for (const auto& [number, f] : files) {
      if (f.smallest.size() >= 8 && f.largest.size() >= 8) {
        sorted.push_back(&f);
      }
    }
    std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) {
      return CompareInternalKeys(a->smallest, b->smallest) < 0;
    });
    for (size_t i = 1; i < sorted.size(); ++i) {
      if (CompareInternalKeys(sorted[i - 1]->largest, sorted[i]->smallest) >=
          0) {
        Corrupt(
            manifest_path_, kNoOffset,
            absl::StrFormat("tables %d and %d of level %d overlap",
                            sorted[i - 1]->number, sorted[i]->number, level));
      }
    }
  }
}

absl::StatusOr<VerifyReport> Verifier::Run() {
  if (!fs_->Exists(dir_)) {
    return absl::NotFoundError(absl::StrCat(dir_, ": no such directory"));
  }
  auto names = fs_->ListDir(dir_);
  if (!names.ok()) return names.status();
  bool any = false;
  for (const std::string& name : *names) {
    uint64_t number;
    FileType t = ParseFileName(name, &number);
    any |= t == FileType::kCurrent || t == FileType::kManifest ||
           t == FileType::kTable;
  }
  if (!any) {
    return absl::NotFoundError(
        absl::StrCat(dir_, ": not a database (no CURRENT, MANIFEST or table)"));
  }
  // Hold the locks the engine and the WAL take, so that neither can open the
  // database meanwhile; only where the lock file exists (nothing is created).
  std::vector<std::unique_ptr<FileLock>> locks;
  for (const std::string& lock :
       {LockFileName(dir_), JoinPath(WalDirName(dir_), "LOCK")}) {
    if (!fs_->Exists(lock)) continue;
    auto l = fs_->Lock(lock);
    if (!l.ok()) {
      if (absl::IsFailedPrecondition(l.status())) {
        return absl::FailedPreconditionError(
            absl::StrCat(dir_, ": the database is open in another process (",
                         lock, " is locked); stop it first"));
      }
      return l.status();
    }
    locks.push_back(*std::move(l));
  }

  CheckCurrent();
  if (!manifest_path_.empty()) CheckManifest();
  if (manifest_ok_) {
    CheckTables();
  }
  CheckWal();
  return std::move(report_);
}

using Severity = VerifyProblem::Severity;
constexpr uint64_t kNoOffset = VerifyProblem::kNoOffset;

bool VerifyReport::corrupt() const {
  return std::any_of(problems.begin(), problems.end(), [](const auto& p) {
    return p.severity == Severity::kCorruption;
  });
}

std::string VerifyReport::ToString() const {
  int corruptions = 0;
  for (const VerifyProblem& p : problems) {
    corruptions += p.severity == Severity::kCorruption;
  }
  std::string out = absl::StrFormat(
      "%s: %d files, %d bytes; %d tables, %d blocks, %d entries; %d MANIFEST "
      "records (flushed sequence %d); %d WAL segments, %d records "
      "(sequences %d..%d); %d corruption, %d torn tail%s\n",
      corrupt() ? "CORRUPT" : "OK", files, bytes, tables, blocks, entries,
      manifest_records, flushed_seq, wal_segments, wal_records, wal_first_seq,
      wal_last_seq, corruptions, problems.size() - corruptions,
      problems_dropped > 0
          ? absl::StrFormat(" (%d more not listed)", problems_dropped)
          : "");
  for (const VerifyProblem& p : problems) {
    absl::StrAppend(
        &out,
        p.severity == Severity::kCorruption ? "corruption: " : "torn tail: ",
        p.file,
        p.offset == kNoOffset ? std::string()
                              : absl::StrFormat(" @%d", p.offset),
        ": ", p.what, "\n");
  }
  return out;
}

absl::StatusOr<VerifyReport> VerifyDatabase(const std::string& dir,
                                            const VerifyOptions& options) {
  return Verifier(dir, options).Run();
}

}  // namespace cairn::storage
