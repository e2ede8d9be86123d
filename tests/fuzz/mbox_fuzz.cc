// libFuzzer target for the mbox splitter.
//
// Properties checked (any violation aborts):
// - the splitter never crashes; events come as Begin Data* End per message;
// - the same bytes give the same messages whole and in random splits (STYLE.md 8.2);
// - every LF in a message's bytes is preceded by CR (line ends are CRLF);
// - the bytes out never exceed twice the bytes in (each LF gains at most one CR).

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/mailfile/mbox.h"

namespace {

using namespace popbridge::mailfile;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Run {
  std::vector<std::string> messages;  // sender + "\n" + bytes + flags
  bool failed = false;
};

Run split(std::string_view input, const std::vector<std::size_t>& cuts, MboxFormat format) {
  MboxSplitter splitter(format, MboxLimits{64});
  std::vector<MboxEvent> events;
  Run run;
  std::size_t at = 0;
  for (std::size_t cut : cuts) {
    if (!splitter.feed(input.substr(at, cut - at), events)) {
      run.failed = true;
      return run;
    }
    at = cut;
  }
  if (!splitter.feed(input.substr(at), events) || !splitter.finish(events)) {
    run.failed = true;
    return run;
  }
  bool open = false;
  std::size_t out_bytes = 0;
  for (const MboxEvent& event : events) {
    if (const auto* begin = std::get_if<MboxBegin>(&event)) {
      check(!open);
      open = true;
      run.messages.push_back(begin->sender + "\n");
    } else if (const auto* data = std::get_if<MboxData>(&event)) {
      check(open);
      run.messages.back() += data->bytes;
      out_bytes += data->bytes.size();
    } else {
      check(open);
      open = false;
      const auto& end = std::get<MboxEnd>(event);
      run.messages.back() += "\n" + std::to_string(end.flags.system) + (end.date ? *end.date : "");
    }
  }
  check(!open);
  check(out_bytes <= 2 * input.size());
  return run;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  const MboxFormat format = provider.ConsumeBool() ? MboxFormat::Rd : MboxFormat::O;
  std::vector<std::size_t> cut_points;
  const std::size_t cuts = provider.ConsumeIntegralInRange<std::size_t>(0, 8);
  const std::string input = provider.ConsumeRemainingBytesAsString();
  // Cut points derived from the input length, ascending.
  std::size_t at = 0;
  for (std::size_t i = 0; i < cuts && !input.empty(); ++i) {
    at = (at + 1 + (input.size() * (i + 1)) / (cuts + 1)) % (input.size() + 1);
    if (cut_points.empty() || at > cut_points.back()) cut_points.push_back(at);
  }
  const Run whole = split(input, {}, format);
  const Run pieces = split(input, cut_points, format);
  check(whole.failed == pieces.failed);
  check(whole.messages == pieces.messages);
  for (const std::string& message : whole.messages) {
    const std::string_view bytes = std::string_view(message).substr(message.find('\n') + 1);
    const std::string_view body = bytes.substr(0, bytes.rfind('\n'));
    for (std::size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\n') check(i > 0 && body[i - 1] == '\r');
    }
  }
  return 0;
}
