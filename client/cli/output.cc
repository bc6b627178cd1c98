#include "output.h"

#include <utility>

namespace cairn::cli {

void Output::Write(std::string_view bytes) {
  if (file_ == nullptr) {
    buffer_.append(bytes);
    return;
  }
  std::fwrite(bytes.data(), 1, bytes.size(), file_);
}

void Output::Line(std::string_view text) {
  Write(text);
  Write("\n");
}

void Output::Flush() {
  if (file_ != nullptr) std::fflush(file_);
}

std::string Output::TakeBuffer() { return std::exchange(buffer_, {}); }

}  // namespace cairn::cli
