// MakeFuzzTempDir: a new private directory for a fuzzer's databases.
//
// Under $CAIRN_FUZZ_TMPDIR if set, else /dev/shm when it is a writable
// directory (tmpfs: fsync is free there, which makes engine-backed inputs
// several times faster), else $TMPDIR or /tmp. Aborts if none works.
#ifndef CAIRN_TESTS_FUZZ_FUZZ_TMPDIR_H_
#define CAIRN_TESTS_FUZZ_FUZZ_TMPDIR_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

namespace cairn::fuzz {

inline std::string MakeFuzzTempDir(const char* name) {
  std::string base;
  if (const char* d = std::getenv("CAIRN_FUZZ_TMPDIR")) {
    base = d;
  } else if (::access("/dev/shm", W_OK | X_OK) == 0) {
    base = "/dev/shm";
  } else if (const char* t = std::getenv("TMPDIR")) {
    base = t;
  } else {
    base = "/tmp";
  }
  std::string path = base + "/" + name + "-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr) {
    std::fprintf(stderr, "cannot create a directory under %s\n", base.c_str());
    std::abort();
  }
  return path;
}

}  // namespace cairn::fuzz

#endif  // CAIRN_TESTS_FUZZ_FUZZ_TMPDIR_H_
