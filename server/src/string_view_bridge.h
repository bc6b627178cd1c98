// Bridges std::string_view into Abseil's string functions: Debian's Abseil
// has its own absl::string_view, which StrCat and friends take, and does not
// convert from std::string_view implicitly.
#ifndef CAIRN_SERVER_STRING_VIEW_BRIDGE_H_
#define CAIRN_SERVER_STRING_VIEW_BRIDGE_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace cairn::server {

inline absl::string_view Sv(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

}  // namespace cairn::server

#endif  // CAIRN_SERVER_STRING_VIEW_BRIDGE_H_
