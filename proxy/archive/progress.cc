#include "proxy/archive/progress.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <cmath>

namespace popbridge::proxy::archive {
namespace {

constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

std::string formatDuration(double seconds) {
  const auto total = static_cast<std::uint64_t>(std::llround(seconds));
  const std::uint64_t h = total / 3600;
  const std::uint64_t m = total / 60 % 60;
  const std::uint64_t s = total % 60;
  std::string out;
  if (h > 0) out = std::to_string(h) + ":" + (m < 10 ? "0" : "");
  out += std::to_string(m) + ":" + (s < 10 ? "0" : "") + std::to_string(s);
  return out;
}

std::size_t terminalWidth(std::FILE* out) {
  winsize size{};
  if (::ioctl(::fileno(out), TIOCGWINSZ, &size) == 0 && size.ws_col > 20) return size.ws_col;
  return 80;
}

}  // namespace

std::string formatBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"B", "KB", "MB", "GB", "TB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes);
  std::size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(kUnits)) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  return text;
}

std::string formatProgressBar(const ProgressCounts& counts, double elapsed_seconds,
                              std::size_t width) {
  // The fraction done: by bytes when their total is known, else by messages.
  double fraction = -1;
  if (counts.total_bytes > 0) {
    fraction = static_cast<double>(counts.bytes) / static_cast<double>(counts.total_bytes);
  } else if (counts.total_messages > 0) {
    fraction = static_cast<double>(counts.messages) / static_cast<double>(counts.total_messages);
  }
  if (fraction > 1) fraction = 1;

  std::string tail;
  if (fraction >= 0) {
    char percent[8];
    std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
    tail += percent;
  }
  tail += "  " + std::to_string(counts.messages);
  if (counts.total_messages > 0) tail += "/" + std::to_string(counts.total_messages);
  tail += " messages  " + formatBytes(counts.bytes);
  if (counts.total_bytes > 0) tail += " of " + formatBytes(counts.total_bytes);
  if (fraction > 0 && fraction < 1) {
    tail += "  ETA " + formatDuration(elapsed_seconds * (1 - fraction) / fraction);
  }

  if (fraction < 0 || tail.size() + 13 > width) return tail.substr(0, width);
  const std::size_t bar = std::min<std::size_t>(width - tail.size() - 3, 40);
  const auto filled = static_cast<std::size_t>(fraction * static_cast<double>(bar));
  return "[" + std::string(filled, '#') + std::string(bar - filled, '-') + "] " + tail;
}

ProgressMeter::ProgressMeter(std::FILE* out, ProgressStyle style, std::uint64_t total_messages,
                             std::uint64_t total_bytes)
    : out_(out),
      style_(style),
      counts_{0, total_messages, 0, total_bytes},
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_ - kRedrawInterval) {}

ProgressMeter::~ProgressMeter() { finish(); }

ProgressStyle ProgressMeter::styleFor(std::FILE* out) {
  return ::isatty(::fileno(out)) == 1 ? ProgressStyle::Bar : ProgressStyle::Lines;
}

void ProgressMeter::add(std::uint64_t messages, std::uint64_t bytes) {
  counts_.messages += messages;
  counts_.bytes += bytes;
  if (style_ != ProgressStyle::Bar) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_draw_ < kRedrawInterval) return;
  last_draw_ = now;
  draw();
}

void ProgressMeter::line(std::string_view text) {
  if (style_ == ProgressStyle::Quiet) return;
  clear();
  std::fprintf(out_, "%.*s\n", static_cast<int>(text.size()), text.data());
  if (style_ == ProgressStyle::Bar) draw();
  std::fflush(out_);
}

void ProgressMeter::finish() {
  if (finished_) return;
  finished_ = true;
  if (style_ != ProgressStyle::Bar) return;
  draw();
  std::fputc('\n', out_);
  std::fflush(out_);
}

void ProgressMeter::draw() {
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
  const std::string text = formatProgressBar(counts_, elapsed.count(), terminalWidth(out_) - 1);
  std::fprintf(out_, "\r\033[K%s", text.c_str());
  std::fflush(out_);
  drawn_ = true;
}

void ProgressMeter::clear() {
  if (style_ == ProgressStyle::Bar && drawn_) std::fputs("\r\033[K", out_);
}

}  // namespace popbridge::proxy::archive
