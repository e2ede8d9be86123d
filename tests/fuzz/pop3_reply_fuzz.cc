// libFuzzer target for the POP3 reply reader and the small-reply parsers.
//
// Properties checked (any violation aborts):
// - the reader never crashes, and every next() loop ends: each event other than NeedMore
//   consumes at least one line, so events <= lines + 1;
// - the same bytes give the same events whole and in random splits (STYLE.md 8.2);
// - MultiLineBlock replies give the same body bytes and events as MultiLine ones, whole and
//   split, every block made of complete CRLF lines within the limit and none starting with ".";
// - body lines respect the limit and hold no LF; once a reply is queued and next() says
//   NeedMore, at most one partial line is buffered;
// - after finish() every queued reply is answered or a ReplyError is reported;
// - base64 decode/encode round trips.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/pop3/commands.h"
#include "protocols/pop3/parsers.h"
#include "protocols/pop3/reply.h"
#include "protocols/pop3/reply_reader.h"

namespace {

using namespace popbridge::pop3;

void check(bool condition) {
  if (!condition) std::abort();
}

struct Run {
  std::vector<std::string> events;
  bool failed = false;
};

std::string render(const ReplyEvent& event, const Limits& limits) {
  if (const auto* s = std::get_if<Status>(&event)) {
    // RFC 2449 section 8: rchar excludes "]", blanks and controls (but not "[").
    for (char c : s->code) check(c > 0x20 && c != ']');
    return std::string(s->ok ? "+" : "-") + s->code + "|" + s->text;
  }
  if (const auto* b = std::get_if<BodyLine>(&event)) {
    check(b->text.size() <= limits.max_line);
    check(b->text.find('\n') == std::string_view::npos);
    return "L" + std::string(b->text);
  }
  if (const auto* b = std::get_if<BodyBlock>(&event)) {
    check(!b->text.empty());
    std::size_t start = 0;
    while (start < b->text.size()) {
      const std::size_t lf = b->text.find('\n', start);
      check(lf != std::string_view::npos && lf > start && b->text[lf - 1] == '\r');
      check(b->text[start] != '.');
      check(lf - 1 - start <= limits.max_line);
      start = lf + 1;
    }
    return "K" + std::string(b->text);
  }
  if (std::holds_alternative<End>(event)) return "E";
  if (const auto* c = std::get_if<Continuation>(&event)) return "C" + c->data;
  return "X" + std::get<ReplyError>(event).message;
}

// Drains until NeedMore or an error, checking that the loop makes progress.
void drain(ReplyReader& reader, const Limits& limits, std::size_t& budget, Run& run) {
  while (!run.failed) {
    ReplyEvent event = reader.next();
    if (std::holds_alternative<NeedMore>(event)) {
      if (reader.expected() > 0) check(reader.buffered() <= limits.max_line + 1);
      return;
    }
    check(budget > 0);  // more events than lines: the reader is looping
    --budget;
    run.events.push_back(render(event, limits));
    if (std::holds_alternative<ReplyError>(event)) {
      run.failed = true;
      // Sticky.
      check(std::holds_alternative<ReplyError>(reader.next()));
    }
  }
}

Run feedAll(const std::vector<ReplyKind>& kinds, std::string_view input,
            const std::vector<std::size_t>& splits, const Limits& limits) {
  ReplyReader reader(limits);
  for (ReplyKind kind : kinds) reader.expect(kind);
  std::size_t budget = 2;
  for (char c : input) budget += c == '\n' ? 1 : 0;
  Run run;
  std::size_t at = 0;
  for (std::size_t size : splits) {
    reader.feed(input.substr(at, size));
    at += size;
    drain(reader, limits, budget, run);
  }
  reader.feed(input.substr(at));
  drain(reader, limits, budget, run);
  reader.finish();
  drain(reader, limits, budget, run);
  check(run.failed || reader.expected() == 0);
  return run;
}

// Joins consecutive body events into one "B" event of their bytes: a BodyLine is its text and
// CRLF, a BodyBlock its bytes. Line and block replies must agree after this.
std::vector<std::string> joinBodies(const std::vector<std::string>& events) {
  std::vector<std::string> out;
  std::string body;
  bool in_body = false;
  for (const std::string& event : events) {
    if (event[0] == 'L' || event[0] == 'K') {
      body += event.substr(1);
      if (event[0] == 'L') body += "\r\n";
      in_body = true;
      continue;
    }
    if (in_body) out.push_back("B" + body);
    body.clear();
    in_body = false;
    out.push_back(event);
  }
  if (in_body) out.push_back("B" + body);
  return out;
}

void fuzzParsers(std::string_view input) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  while (start <= input.size()) {
    std::size_t lf = input.find('\n', start);
    if (lf == std::string_view::npos) lf = input.size();
    lines.emplace_back(input.substr(start, lf - start));
    start = lf + 1;
  }
  (void)parseCapabilities(lines);
  for (const std::string& line : lines) {
    (void)parseStatusLine(line);
    if (auto uidl = parseUidlLine(line)) check(!uidl->uid.empty() && uidl->uid.size() <= 70);
    (void)parseListLine(line);
    (void)parseStat(line);
    if (auto banner = apopBanner(line)) {
      check(banner->front() == '<' && banner->back() == '>');
    }
    if (auto decoded = base64Decode(line)) {
      auto again = base64Decode(base64Encode(*decoded));
      check(again.has_value() && *again == *decoded);
    }
    auto round = base64Decode(base64Encode(line));
    check(round.has_value() && *round == line);
    if (auto command = encodeCommand("USER", line)) {
      check(command->find_first_of(std::string_view("\r\n\0", 3)) == command->size() - 2);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider provider(data, size);
  Limits limits;
  if (provider.ConsumeBool()) limits.max_line = provider.ConsumeIntegralInRange<std::size_t>(0, 80);
  std::vector<ReplyKind> kinds(provider.ConsumeIntegralInRange<std::size_t>(0, 8));
  for (ReplyKind& kind : kinds) {
    kind = static_cast<ReplyKind>(provider.ConsumeIntegralInRange<int>(0, 3));
  }
  std::vector<std::size_t> splits(provider.ConsumeIntegralInRange<std::size_t>(0, 64));
  for (std::size_t& split : splits) split = provider.ConsumeIntegralInRange<std::size_t>(0, 16);
  const std::string input = provider.ConsumeRemainingBytesAsString();
  std::size_t total = 0;
  for (std::size_t& split : splits) {
    if (split > input.size() - total) split = input.size() - total;
    total += split;
  }

  const Run whole = feedAll(kinds, input, {}, limits);
  const Run pieces = feedAll(kinds, input, splits, limits);
  check(joinBodies(whole.events) == joinBodies(pieces.events));

  // The same replies read line by line and in blocks.
  std::vector<ReplyKind> as_lines = kinds;
  std::vector<ReplyKind> as_blocks = kinds;
  for (ReplyKind& kind : as_lines) {
    if (kind == ReplyKind::MultiLineBlock) kind = ReplyKind::MultiLine;
  }
  for (ReplyKind& kind : as_blocks) {
    if (kind == ReplyKind::MultiLine) kind = ReplyKind::MultiLineBlock;
  }
  const std::vector<std::string> by_lines = joinBodies(feedAll(as_lines, input, {}, limits).events);
  check(by_lines == joinBodies(feedAll(as_blocks, input, {}, limits).events));
  check(by_lines == joinBodies(feedAll(as_blocks, input, splits, limits).events));

  // Expectations queued late, one per NeedMore: must neither crash nor loop.
  {
    ReplyReader reader(limits);
    std::size_t budget = 2;
    for (char c : input) budget += c == '\n' ? 1 : 0;
    Run run;
    std::size_t at = 0;
    std::size_t next_kind = 0;
    for (std::size_t split : splits) {
      reader.feed(std::string_view(input).substr(at, split));
      at += split;
      if (next_kind < kinds.size()) reader.expect(kinds[next_kind++]);
      drain(reader, limits, budget, run);
    }
    reader.feed(std::string_view(input).substr(at));
    while (next_kind < kinds.size()) reader.expect(kinds[next_kind++]);
    drain(reader, limits, budget, run);
    reader.finish();
    drain(reader, limits, budget, run);
  }

  fuzzParsers(input);
  return 0;
}
