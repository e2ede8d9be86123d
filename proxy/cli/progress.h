#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

// Progress of a pull as `popbridge sync` shows it: a bar redrawn on a terminal, plain lines
// otherwise. Pure: time is a parameter.
namespace popbridge::proxy::cli {

// How far a pull is: done and total of the new messages it fetches (totals from the server's
// LIST sizes).
struct PullProgress {
  std::uint64_t messages_done = 0;
  std::uint64_t messages_total = 0;
  std::uint64_t bytes_done = 0;
  std::uint64_t bytes_total = 0;
};

// "0 B", "999 B", "1.5 KiB", "12.3 MiB", "1.02 GiB": three significant digits, binary units.
std::string formatBytes(std::uint64_t bytes);
// "0s", "59s", "1m05s", "2h03m", "3d04h".
std::string formatDuration(std::chrono::seconds duration);
// formatBytes(rate) + "/s".
std::string formatRate(double bytes_per_second);

// Rate and ETA of one pull from its updates. The rate is the average since the first update
// (a pull's rate is steady enough, and an average does not jump); no rate or ETA until some
// bytes moved over at least kMinElapsed.
class ProgressMeter {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kMinElapsed{500};

  // The first call sets the start time.
  void update(const PullProgress& progress, Clock::time_point now);

  const PullProgress& progress() const { return progress_; }
  // Bytes per second, or nullopt while unknown.
  std::optional<double> rate() const;
  // Time left at the current rate, or nullopt while unknown.
  std::optional<std::chrono::seconds> eta() const;
  // Time since the first update.
  std::chrono::milliseconds elapsed() const;

  // One plain line: "12/40 messages, 1.2 MiB/4.8 MiB, 310 KiB/s, ETA 12s".
  std::string line() const;
  // A terminal bar `width` columns wide at most:
  // "[=======>        ]  30%  12/40 msgs  1.2/4.8 MiB  310 KiB/s  ETA 12s".
  std::string bar(std::size_t width) const;

 private:
  PullProgress progress_;
  std::optional<Clock::time_point> start_;
  Clock::time_point last_{};
};

}  // namespace popbridge::proxy::cli
