// libFuzzer target for the IMAP command reader and parser.
//
// Properties checked (any violation aborts):
// - the reader never crashes, and every next() loop ends: each event other than NeedMore either
//   consumes input or switches the reader to skipping it, so events <= 2 * bytes + 2;
// - after NeedMore at most one partial line is buffered (buffered() <= max_line + 1);
// - the same bytes give the same events whole and in random splits (STYLE.md 8.2), streamed
//   APPEND literals joined across their chunks, also when some are refused (refuseLiteral());
// - redacted() is one line and never shows a LOGIN password;
// - LOGIN arguments written back with appendAstring() parse to the same strings;
// - SEARCH EMAILID / THREADID values are RFC 8474 objectids.

#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/imap/command_reader.h"
#include "protocols/imap/commands/search.h"
#include "protocols/imap/encoder.h"
#include "protocols/imap/fetch_att.h"

namespace {

using namespace popbridge::imap;

void check(bool condition) {
  if (!condition) {
    std::abort();
  }
}

void checkLoginRoundTrip(const LoginArgs& login) {
  std::string line = "r LOGIN ";
  appendAstring(line, login.user);
  line += ' ';
  appendAstring(line, login.password);
  line += "\r\n";
  Limits roomy;
  roomy.max_line = line.size() + 16;
  roomy.max_literal = line.size() + 16;
  roomy.max_command = 2 * line.size() + 64;
  CommandReader reader(roomy);
  reader.feed(line);
  for (int i = 0; i < 4; ++i) {
    ReadResult result = reader.next();
    if (std::holds_alternative<NeedContinuation>(result)) {
      continue;
    }
    const auto* command = std::get_if<Command>(&result);
    check(command != nullptr);
    const auto* again = std::get_if<LoginArgs>(&command->args);
    check(again != nullptr && again->user == login.user && again->password == login.password);
    return;
  }
  check(false);
}

// RFC 8474 7: objectid = 1*255(ALPHA / DIGIT / "_" / "-").
bool isObjectId(std::string_view id) {
  return !id.empty() && id.size() <= 255 && std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
           c == '-';
  });
}

std::string render(const ReadResult& result) {
  if (std::holds_alternative<NeedMore>(result)) {
    return "more";
  }
  if (const auto* begin = std::get_if<LiteralBegin>(&result)) {
    return "begin " + std::to_string(begin->size) + (begin->sync ? " sync" : "") +
           (begin->binary ? " binary" : "") + " #" + std::to_string(begin->index) + " tag " +
           begin->tag + " mailbox " + begin->mailbox.value_or("(none)");
  }
  if (const auto* chunk = std::get_if<LiteralChunk>(&result)) {
    check(!chunk->bytes.empty() && chunk->bytes.size() <= CommandReader::kMaxChunk);
    return "chunk " + std::string(chunk->bytes);
  }
  if (const auto* c = std::get_if<NeedContinuation>(&result)) {
    return "cont " + std::to_string(c->literal_size);
  }
  if (const auto* line = std::get_if<Line>(&result)) {
    check(line->text.find('\n') == std::string::npos);
    return "line " + line->text;
  }
  if (const auto* error = std::get_if<ParseError>(&result)) {
    check(!error->message.empty());
    return "error " + std::to_string(static_cast<int>(error->kind)) + " " + error->tag + " " +
           error->message;
  }
  const auto& command = std::get<Command>(result);
  const std::string redacted = command.redacted();
  check(redacted.find('\r') == std::string::npos && redacted.find('\n') == std::string::npos);
  std::string out = "command " + redacted;
  if (const auto* login = std::get_if<LoginArgs>(&command.args)) {
    check(redacted.size() >= 4 && redacted.compare(redacted.size() - 4, 4, " ***") == 0);
    checkLoginRoundTrip(*login);
    out += " " + login->password;
  } else if (const auto* fetch = std::get_if<FetchArgs>(&command.args)) {
    check(!fetch->atts.empty());
    for (const FetchAtt& att : fetch->atts) {
      out += " " + fetchItemName(att);
    }
    for (std::uint32_t n = 1; n < 4; ++n) {
      out += fetch->set.contains(n, 3) ? "+" : "-";
    }
  } else if (const auto* search = std::get_if<SearchArgs>(&command.args)) {
    for (const SearchKey& key : search->keys) {
      if (key.kind == SearchKey::Kind::EmailId || key.kind == SearchKey::Kind::ThreadId) {
        check(isObjectId(key.value));
        out += " " + std::string(searchKeyName(key.kind)) + " " + key.value;
      }
    }
  } else if (const auto* append = std::get_if<AppendArgs>(&command.args)) {
    check(!append->messages.empty());
    for (const AppendMessage& message : append->messages) {
      check(message.streamed ? message.message.empty() : message.size == message.message.size());
      out += " " + (message.streamed ? "#" + std::to_string(*message.streamed) : message.message) +
             " " + std::to_string(message.size);
    }
  }
  return out;
}

struct Run {
  std::vector<std::string> events;
};

// Feeds `input` cut at `cuts`, draining after every feed and checking progress.
Run run(std::string_view input, const std::vector<std::size_t>& cuts, const Limits& limits,
        MailboxNames names, std::uint64_t streamed_limit) {
  CommandReader reader(limits);
  reader.setMailboxNames(names);
  reader.setStreamedLiteralLimit(streamed_limit);
  Run out;
  std::size_t start = 0;
  auto feed = [&](std::string_view chunk) {
    reader.feed(chunk);
    std::size_t events = 0;
    while (true) {
      ReadResult result = reader.next();
      if (std::holds_alternative<NeedMore>(result)) {
        break;
      }
      check(++events <= 2 * chunk.size() + 2);
      if (const auto* command = std::get_if<Command>(&result)) {
        if (command->name == "IDLE" || command->name == "AUTHENTICATE") {
          reader.expectLine();
        }
      }
      std::string event = render(result);
      // The session refuses some literals as they are announced (missing mailbox, quota); the
      // choice must not depend on the feeds, so it depends on the size.
      if (const auto* begin = std::get_if<LiteralBegin>(&result); begin && begin->size % 3 == 1) {
        reader.refuseLiteral();
        event += " refused";
      }
      // How a streamed literal is cut into chunks depends on the feeds: join them.
      if (event.starts_with("chunk ") && !out.events.empty() &&
          out.events.back().starts_with("chunk ")) {
        out.events.back() += event.substr(6);
      } else {
        out.events.push_back(std::move(event));
      }
    }
    check(reader.buffered() <= limits.max_line + 1);
  };
  for (std::size_t cut : cuts) {
    feed(input.substr(start, cut - start));
    start = cut;
  }
  feed(input.substr(start));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  Limits limits;
  // Small limits most of the time so the limit paths are reached with short inputs.
  if (provider.ConsumeBool()) {
    limits.max_line = provider.ConsumeIntegralInRange<std::size_t>(1, 256);
    limits.max_literal = provider.ConsumeIntegralInRange<std::size_t>(0, 256);
    limits.max_command = provider.ConsumeIntegralInRange<std::size_t>(1, 1024);
    limits.max_depth = provider.ConsumeIntegralInRange<std::size_t>(0, 8);
  }
  // Modified UTF-7 names (IMAP4rev1) or UTF-8 ones (UTF8=ACCEPT / IMAP4rev2).
  const MailboxNames names = provider.ConsumeBool() ? MailboxNames::Utf8 : MailboxNames::Mutf7;
  // APPEND message literals streamed out (as after login) or held like any other.
  const std::uint64_t streamed_limit =
      provider.ConsumeBool() ? provider.ConsumeIntegralInRange<std::uint64_t>(1, 512) : 0;
  const std::size_t split_count = provider.ConsumeIntegralInRange<std::size_t>(0, 16);
  std::vector<std::size_t> split_seeds;
  for (std::size_t i = 0; i < split_count; ++i) {
    split_seeds.push_back(provider.ConsumeIntegral<std::size_t>());
  }
  const std::string input = provider.ConsumeRemainingBytesAsString();

  std::vector<std::size_t> cuts;
  for (std::size_t seed : split_seeds) {
    if (!input.empty()) {
      cuts.push_back(seed % input.size());
    }
  }
  std::sort(cuts.begin(), cuts.end());

  const Run whole = run(input, {}, limits, names, streamed_limit);
  const Run split = run(input, cuts, limits, names, streamed_limit);
  if (whole.events != split.events) {
    for (const auto& event : whole.events) {
      std::fprintf(stderr, "whole: %s\n", event.c_str());
    }
    for (const auto& event : split.events) {
      std::fprintf(stderr, "split: %s\n", event.c_str());
    }
    check(false);
  }
  return 0;
}
