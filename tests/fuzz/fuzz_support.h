// Helpers shared by the fuzzers that run a real engine or server.
//
// MakeFuzzTempDir: a new private directory for a fuzzer's databases, under
// $CAIRN_FUZZ_DIR if set, else /dev/shm when it is a writable directory (tmpfs:
// fsync is free there, which makes engine-backed inputs several times faster),
// else $TMPDIR or /tmp. Aborts if none works.
#ifndef CAIRN_TESTS_FUZZ_FUZZ_SUPPORT_H_
#define CAIRN_TESTS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

namespace cairn::fuzz {

inline std::string MakeFuzzTempDir(const char* name) {
  std::string base;
  if (const char* d = std::getenv("CAIRN_FUZZ_DIR")) {
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

// For LLVMFuzzerInitialize: adds -detect_leaks=0 to libFuzzer's flags
// unless the command line sets -detect_leaks itself (libFuzzer parses its
// flags after LLVMFuzzerInitialize, so the added flag counts).
//
// Why: libFuzzer's per-input leak check runs the moment an input returns,
// while the engine's background threads (a compaction) or gRPC's (a
// finished call's closures) may still be using memory that only their
// registers or in-flight queues point to; campaigns reported such objects
// (from DBImpl::MergeCompactionInputs and ServerCallbackCall::ScheduleOnDone)
// and no replay reproduced them. LeakSanitizer still checks the whole
// process at exit, after the engine and server have shut down, so a real
// leak that accumulates is still reported.
inline void DisablePerInputLeakCheck(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    if (std::string_view((*argv)[i]).starts_with("-detect_leaks=")) return;
  }
  static std::vector<char*> args;
  args.assign(*argv, *argv + *argc);
  static char no_leaks[] = "-detect_leaks=0";
  args.insert(args.begin() + 1, no_leaks);
  args.push_back(nullptr);
  *argv = args.data();
  *argc += 1;
}

}  // namespace cairn::fuzz

#endif  // CAIRN_TESTS_FUZZ_FUZZ_SUPPORT_H_
