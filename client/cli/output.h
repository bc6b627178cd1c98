// Output: where a subcommand writes its results. Usually stdout; a `cairn
// txn` attempt writes into a buffer instead, so that only the attempt that
// finished is printed when a conflict made it run the script again.
//
// Results go to stdout, diagnostics to stderr (see command.h). Line()
// appends the newline; Flush() pushes stdout out at once, which streaming
// commands (scan, tail) call after each chunk so that a pipe sees events as
// they happen.
//
// Not thread-safe.
#ifndef CAIRN_CLIENT_CLI_OUTPUT_H_
#define CAIRN_CLIENT_CLI_OUTPUT_H_

#include <cstdio>
#include <string>
#include <string_view>

namespace cairn::cli {

class Output {
 public:
  // Writes to `file` (not owned).
  explicit Output(FILE* file) : file_(file) {}
  // Collects everything in a buffer (TakeBuffer).
  Output() = default;

  void Write(std::string_view bytes);
  void Line(std::string_view text);
  void Flush();

  // The buffered text, emptied (buffer mode only).
  std::string TakeBuffer();

 private:
  FILE* file_ = nullptr;
  std::string buffer_;
};

}  // namespace cairn::cli

#endif  // CAIRN_CLIENT_CLI_OUTPUT_H_
