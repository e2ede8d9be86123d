#include "proxy/server/log.h"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace popbridge::proxy {
namespace {

std::atomic<int> g_threshold{static_cast<int>(LogSeverity::Info)};
std::mutex g_write_mutex;

const char* severityName(LogSeverity severity) {
  switch (severity) {
    case LogSeverity::Debug:
      return "debug";
    case LogSeverity::Info:
      return "info";
    case LogSeverity::Warn:
      return "warn";
    case LogSeverity::Error:
      return "error";
  }
  return "?";
}

}  // namespace

void setLogThreshold(LogSeverity severity) { g_threshold = static_cast<int>(severity); }

bool logEnabled(LogSeverity severity) { return static_cast<int>(severity) >= g_threshold.load(); }

void logLine(LogSeverity severity, std::string_view component, std::string_view text) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
  std::string line;
  line.reserve(64 + component.size() + text.size());
  line.append(stamp);
  char frac[8];
  std::snprintf(frac, sizeof frac, ".%03dZ ", static_cast<int>(millis));
  line.append(frac);
  line.append(severityName(severity));
  line.push_back(' ');
  line.append(component);
  line.append(": ");
  line.append(text);
  line.push_back('\n');
  const std::lock_guard<std::mutex> lock(g_write_mutex);
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace popbridge::proxy
