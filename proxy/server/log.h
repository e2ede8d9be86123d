#pragma once

#include <sstream>
#include <string>
#include <string_view>

namespace popbridge::proxy {

enum class LogSeverity { Debug, Info, Warn, Error };

// Sets the lowest severity written. Call before the loop starts; not synchronised.
void setLogThreshold(LogSeverity severity);
bool logEnabled(LogSeverity severity);
// Writes one line to stderr: "2026-11-28T03:22:09.123Z info imap#12: text". Thread-safe.
// Callers never pass credentials or message content (STYLE.md 7.6).
void logLine(LogSeverity severity, std::string_view component, std::string_view text);

// log(Info, "imap#12", "login ", user, " from ", peer): streams the parts into one line.
template <class... Parts>
void log(LogSeverity severity, std::string_view component, const Parts&... parts) {
  if (!logEnabled(severity)) return;
  std::ostringstream text;
  (text << ... << parts);
  logLine(severity, component, text.str());
}

}  // namespace popbridge::proxy
