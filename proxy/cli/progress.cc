#include "proxy/cli/progress.h"

#include <algorithm>
#include <cstdio>

namespace popbridge::proxy::cli {
namespace {

double fraction(const PullProgress& p) {
  if (p.bytes_total > 0) {
    return std::min(1.0, static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total));
  }
  if (p.messages_total > 0) {
    return std::min(1.0,
                    static_cast<double>(p.messages_done) / static_cast<double>(p.messages_total));
  }
  return 1.0;
}

}  // namespace

std::string formatBytes(std::uint64_t bytes) {
  static constexpr const char* kUnits[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
  if (bytes < 1024) return std::to_string(bytes) + " B";
  double value = static_cast<double>(bytes) / 1024.0;
  std::size_t unit = 0;
  while (value >= 1024.0 && unit + 1 < std::size(kUnits)) {
    value /= 1024.0;
    ++unit;
  }
  char text[32];
  if (value < 9.995) {
    std::snprintf(text, sizeof text, "%.2f %s", value, kUnits[unit]);
  } else if (value < 99.95) {
    std::snprintf(text, sizeof text, "%.1f %s", value, kUnits[unit]);
  } else {
    std::snprintf(text, sizeof text, "%.0f %s", value, kUnits[unit]);
  }
  return text;
}

std::string formatDuration(std::chrono::seconds duration) {
  const long long total = std::max<long long>(0, duration.count());
  char text[32];
  if (total < 60) {
    std::snprintf(text, sizeof text, "%llds", total);
  } else if (total < 3600) {
    std::snprintf(text, sizeof text, "%lldm%02llds", total / 60, total % 60);
  } else if (total < 86400) {
    std::snprintf(text, sizeof text, "%lldh%02lldm", total / 3600, (total % 3600) / 60);
  } else {
    std::snprintf(text, sizeof text, "%lldd%02lldh", total / 86400, (total % 86400) / 3600);
  }
  return text;
}

std::string formatRate(double bytes_per_second) {
  return formatBytes(static_cast<std::uint64_t>(std::max(0.0, bytes_per_second))) + "/s";
}

void ProgressMeter::update(const PullProgress& progress, Clock::time_point now) {
  if (!start_) start_ = now;
  progress_ = progress;
  last_ = now;
}

std::chrono::milliseconds ProgressMeter::elapsed() const {
  if (!start_) return std::chrono::milliseconds(0);
  return std::chrono::duration_cast<std::chrono::milliseconds>(last_ - *start_);
}

std::optional<double> ProgressMeter::rate() const {
  const auto time = elapsed();
  if (time < kMinElapsed || progress_.bytes_done == 0) return std::nullopt;
  return static_cast<double>(progress_.bytes_done) * 1000.0 / static_cast<double>(time.count());
}

std::optional<std::chrono::seconds> ProgressMeter::eta() const {
  const auto speed = rate();
  if (!speed || *speed <= 0.0) return std::nullopt;
  const std::uint64_t left = progress_.bytes_total > progress_.bytes_done
                                 ? progress_.bytes_total - progress_.bytes_done
                                 : 0;
  const double seconds = static_cast<double>(left) / *speed;
  // Round up: "0s" only when nothing is left.
  return std::chrono::seconds(static_cast<long long>(seconds + 0.999));
}

std::string ProgressMeter::line() const {
  std::string text = std::to_string(progress_.messages_done) + "/" +
                     std::to_string(progress_.messages_total) + " messages, " +
                     formatBytes(progress_.bytes_done) + "/" + formatBytes(progress_.bytes_total);
  if (const auto speed = rate()) text += ", " + formatRate(*speed);
  if (const auto left = eta()) text += ", ETA " + formatDuration(*left);
  return text;
}

std::string ProgressMeter::bar(std::size_t width) const {
  const double done = fraction(progress_);
  // Every field padded to its widest form for this pull, so the bar keeps its length as the
  // numbers change while it is redrawn.
  const auto pad_left = [](std::string text, std::size_t size) {
    return text.size() < size ? std::string(size - text.size(), ' ') + text : text;
  };
  const auto pad_right = [](std::string text, std::size_t size) {
    return text.size() < size ? text + std::string(size - text.size(), ' ') : text;
  };
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(done * 100.0));
  const std::string total_messages = std::to_string(progress_.messages_total);
  const std::string total_bytes = formatBytes(progress_.bytes_total);
  std::string info =
      std::string(percent) + "  " +
      pad_left(std::to_string(progress_.messages_done), total_messages.size()) + "/" +
      total_messages + " msgs  " +
      pad_left(formatBytes(progress_.bytes_done), std::max<std::size_t>(total_bytes.size(), 8)) +
      "/" + total_bytes;
  const auto speed = rate();
  info += "  " + pad_left(speed ? formatRate(*speed) : std::string("--"), 10);
  const auto left = eta();
  info += "  ETA " + pad_right(left ? formatDuration(*left) : std::string("--"), 5);
  // "[" + cells + "] " + info; the bar shrinks to fit and is left out below 10 cells.
  constexpr std::size_t kMinCells = 10;
  if (width < info.size() + 3 + kMinCells) return info.substr(0, std::min(width, info.size()));
  const std::size_t cells = std::min<std::size_t>(width - info.size() - 3, 40);
  const auto filled = static_cast<std::size_t>(done * static_cast<double>(cells));
  std::string out = "[";
  out.append(filled, '=');
  if (filled < cells) {
    out.push_back('>');
    out.append(cells - filled - 1, ' ');
  }
  out += "] " + info;
  return out;
}

}  // namespace popbridge::proxy::cli
