#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace popbridge::proxy::archive {

enum class ProgressStyle {
  Bar,    // a terminal: one line redrawn in place (messages, bytes, ETA)
  Lines,  // not a terminal: one plain line per finished mailbox
  Quiet,  // nothing (tests)
};

struct ProgressCounts {
  std::uint64_t messages = 0;
  std::uint64_t total_messages = 0;  // 0 when not known in advance (an mbox import)
  std::uint64_t bytes = 0;
  std::uint64_t total_bytes = 0;  // 0 when not known
};

// "[#######-------------]  35%  120/342 messages  4.1/11.7 MB  ETA 0:12", at most `width`
// columns: the bar shrinks first. The ETA extrapolates the byte rate (the message rate when no
// byte total is known) and is absent before anything is done. Pure; any thread.
std::string formatProgressBar(const ProgressCounts& counts, double elapsed_seconds,
                              std::size_t width);

// "1.5 MB" style size (powers of 1024, one decimal). Pure.
std::string formatBytes(std::uint64_t bytes);

// Reports an import's or export's progress on a stream (stderr in the CLI). Use from one
// thread. Borrowed `out` must outlive the meter.
class ProgressMeter {
 public:
  ProgressMeter(std::FILE* out, ProgressStyle style, std::uint64_t total_messages,
                std::uint64_t total_bytes);
  ~ProgressMeter();
  ProgressMeter(const ProgressMeter&) = delete;
  ProgressMeter& operator=(const ProgressMeter&) = delete;

  // The style for `out`: Bar when it is a terminal, Lines otherwise.
  static ProgressStyle styleFor(std::FILE* out);

  // Counts `messages` and `bytes` as done; redraws the bar at most every 100 ms.
  void add(std::uint64_t messages, std::uint64_t bytes);
  // A line of its own (above the bar on a terminal), e.g. "Sent: 20 messages, 1.2 MB".
  void line(std::string_view text);
  // Draws the final state and ends the bar's line. Idempotent; the destructor calls it.
  void finish();

 private:
  void draw();
  void clear();

  std::FILE* out_;
  ProgressStyle style_;
  ProgressCounts counts_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_;
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace popbridge::proxy::archive
