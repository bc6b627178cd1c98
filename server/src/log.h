// Structured, levelled logging for cairnd: one line per event on stderr in
// logfmt, e.g.
//
//   ts=2026-11-21T20:50:00.123456Z level=info msg="listening"
//   addr=127.0.0.1:7070
//
// Values that are empty or contain spaces, quotes or '=' are quoted with
// escapes, so every line splits unambiguously. Thread-safe: each line is one
// write(2).
#ifndef CAIRN_SERVER_LOG_H_
#define CAIRN_SERVER_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace cairn::server {

enum class LogLevel : int { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// "debug", "info", "warn" or "error"; anything else leaves the level as is
// and returns false.
bool SetLogLevel(std::string_view name);
bool LogEnabled(LogLevel level);

using LogField = std::pair<std::string_view, std::string>;
void Log(LogLevel level, std::string_view msg,
         std::initializer_list<LogField> fields = {});

inline void LogInfo(std::string_view msg,
                    std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kInfo, msg, fields);
}
inline void LogWarn(std::string_view msg,
                    std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kWarn, msg, fields);
}
inline void LogError(std::string_view msg,
                     std::initializer_list<LogField> fields = {}) {
  Log(LogLevel::kError, msg, fields);
}

}  // namespace cairn::server

#endif  // CAIRN_SERVER_LOG_H_
