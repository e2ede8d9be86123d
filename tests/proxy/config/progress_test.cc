#include "proxy/cli/progress.h"

#include <gtest/gtest.h>

namespace popbridge::proxy::cli {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(ProgressFormatTest, Bytes) {
  EXPECT_EQ(formatBytes(0), "0 B");
  EXPECT_EQ(formatBytes(1023), "1023 B");
  EXPECT_EQ(formatBytes(1024), "1.00 KiB");
  EXPECT_EQ(formatBytes(1536), "1.50 KiB");
  EXPECT_EQ(formatBytes(10 * 1024), "10.0 KiB");
  EXPECT_EQ(formatBytes(150 * 1024), "150 KiB");
  EXPECT_EQ(formatBytes(5ull * 1024 * 1024 + 300 * 1024), "5.29 MiB");
  EXPECT_EQ(formatBytes(3ull << 30), "3.00 GiB");
  EXPECT_EQ(formatBytes(~0ull), "16384 PiB");
}

TEST(ProgressFormatTest, Durations) {
  EXPECT_EQ(formatDuration(seconds(0)), "0s");
  EXPECT_EQ(formatDuration(seconds(-5)), "0s");
  EXPECT_EQ(formatDuration(seconds(59)), "59s");
  EXPECT_EQ(formatDuration(seconds(65)), "1m05s");
  EXPECT_EQ(formatDuration(seconds(3599)), "59m59s");
  EXPECT_EQ(formatDuration(seconds(2 * 3600 + 3 * 60 + 59)), "2h03m");
  EXPECT_EQ(formatDuration(seconds(3 * 86400 + 4 * 3600)), "3d04h");
}

TEST(ProgressFormatTest, Rate) {
  EXPECT_EQ(formatRate(0.0), "0 B/s");
  EXPECT_EQ(formatRate(-1.0), "0 B/s");
  EXPECT_EQ(formatRate(2.5 * 1024 * 1024), "2.50 MiB/s");
}

TEST(ProgressMeterTest, NoRateOrEtaUntilDataMovedForAWhile) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{} + seconds(100);
  meter.update({0, 10, 0, 10 * 1024}, t0);
  EXPECT_EQ(meter.rate(), std::nullopt);
  EXPECT_EQ(meter.eta(), std::nullopt);
  EXPECT_EQ(meter.line(), "0/10 messages, 0 B/10.0 KiB");
  meter.update({1, 10, 1024, 10 * 1024}, t0 + milliseconds(100));
  EXPECT_EQ(meter.rate(), std::nullopt);  // too soon to tell
}

TEST(ProgressMeterTest, AverageRateAndEtaFromTotals) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{} + seconds(100);
  meter.update({0, 40, 0, 4 * 1024 * 1024}, t0);
  meter.update({10, 40, 1024 * 1024, 4 * 1024 * 1024}, t0 + seconds(2));
  ASSERT_TRUE(meter.rate());
  EXPECT_DOUBLE_EQ(*meter.rate(), 512.0 * 1024);
  EXPECT_EQ(meter.eta(), seconds(6));  // 3 MiB left at 512 KiB/s
  EXPECT_EQ(meter.line(), "10/40 messages, 1.00 MiB/4.00 MiB, 512 KiB/s, ETA 6s");
  meter.update({40, 40, 4 * 1024 * 1024, 4 * 1024 * 1024}, t0 + seconds(8));
  EXPECT_EQ(meter.eta(), seconds(0));
  EXPECT_EQ(meter.elapsed(), seconds(8));
}

TEST(ProgressMeterTest, EtaRoundsUp) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{};
  meter.update({0, 3, 0, 3000}, t0);
  meter.update({1, 3, 1000, 3000}, t0 + seconds(3));
  EXPECT_EQ(meter.eta(), seconds(6));
  meter.update({1, 3, 1000, 3001}, t0 + seconds(3));
  EXPECT_EQ(meter.eta(), seconds(7));
}

TEST(ProgressMeterTest, BarFitsTheWidth) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{};
  meter.update({0, 40, 0, 4 * 1024 * 1024}, t0);
  meter.update({10, 40, 1024 * 1024, 4 * 1024 * 1024}, t0 + seconds(2));
  const std::string info = " 25%  10/40 msgs  1.00 MiB/4.00 MiB   512 KiB/s  ETA 6s   ";
  // 20 cells: 5 filled, then the head.
  EXPECT_EQ(meter.bar(info.size() + 3 + 20), "[=====>              ] " + info);
  EXPECT_EQ(meter.bar(200).size(), info.size() + 3 + 40);  // the bar stops growing at 40
  EXPECT_EQ(meter.bar(info.size() + 5), info);             // too narrow for a bar
  EXPECT_EQ(meter.bar(10), info.substr(0, 10));
}

TEST(ProgressMeterTest, BarKeepsItsLengthDuringAPull) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{};
  const std::uint64_t total = 1500ull * 1024 * 1024;
  meter.update({0, 10000, 0, total}, t0);
  const std::size_t length = meter.bar(100).size();
  for (std::uint64_t step = 1; step <= 100; ++step) {
    meter.update({step * 100, 10000, total / 100 * step, total}, t0 + seconds(step));
    EXPECT_EQ(meter.bar(100).size(), length) << meter.bar(100);
  }
}

TEST(ProgressMeterTest, BarWithoutRateYetAndWhenComplete) {
  ProgressMeter meter;
  const auto t0 = ProgressMeter::Clock::time_point{};
  meter.update({0, 2, 0, 0}, t0);
  EXPECT_EQ(meter.bar(120),
            "[>" + std::string(39, ' ') + "]   0%  0/2 msgs       0 B/0 B          --  ETA --   ");
  meter.update({2, 2, 2048, 0}, t0 + seconds(1));
  EXPECT_EQ(meter.bar(120).substr(0, 47), "[" + std::string(40, '=') + "] 100%");
}

}  // namespace
}  // namespace popbridge::proxy::cli
