// Names of the files in a database directory:
//   NNNNNN.sst        an SSTable (file number, zero-padded to 6 digits)
//   MANIFEST-NNNNNN   a MANIFEST (log of version edits)
//   CURRENT           names the live MANIFEST; replaced by rename
//   LOCK              flock'ed while the database is open
//   wal/              the write-ahead log's segment directory
//   *.tmp             files being written; removed at open
#ifndef CAIRN_STORAGE_FILENAME_H_
#define CAIRN_STORAGE_FILENAME_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace cairn::storage {

enum class FileType { kTable, kManifest, kCurrent, kLock, kTemp, kUnknown };

std::string TableFileName(std::string_view dir, uint64_t number);
std::string ManifestFileName(std::string_view dir, uint64_t number);
std::string CurrentFileName(std::string_view dir);
std::string LockFileName(std::string_view dir);
std::string WalDirName(std::string_view dir);

// Classifies a directory entry; *number gets the file number if it has one.
FileType ParseFileName(std::string_view name, uint64_t* number);

}  // namespace cairn::storage

#endif  // CAIRN_STORAGE_FILENAME_H_
