#include "protocols/pop3/reply_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace popbridge::pop3 {
namespace {

using ::testing::ElementsAre;
using ::testing::ElementsAreArray;

// Renders an event as text so whole transcripts compare (and print) at once. BodyLine views
// are copied here, before the next call on the reader invalidates them.
std::string render(const ReplyEvent& event) {
  if (std::holds_alternative<NeedMore>(event)) return "NEED";
  if (const auto* s = std::get_if<Status>(&event)) {
    std::string out = s->ok ? "OK" : "ERR";
    if (!s->code.empty()) out += " [" + s->code + "]";
    return out + " " + s->text;
  }
  if (const auto* b = std::get_if<BodyLine>(&event)) return "LINE " + std::string(b->text);
  if (const auto* b = std::get_if<BodyBlock>(&event)) return "BLOCK " + std::string(b->text);
  if (std::holds_alternative<End>(event)) return "END";
  if (const auto* c = std::get_if<Continuation>(&event)) return "CONT " + c->data;
  return "ERROR " + std::get<ReplyError>(event).message;
}

// Drains events until NeedMore (not recorded) or a ReplyError (recorded; reading stops).
bool drain(ReplyReader& reader, std::vector<std::string>& out) {
  for (;;) {
    ReplyEvent event = reader.next();
    if (std::holds_alternative<NeedMore>(event)) return true;
    out.push_back(render(event));
    if (std::holds_alternative<ReplyError>(event)) return false;
  }
}

// Queues `kinds`, feeds `chunks` one by one draining after each, then finish() and drains.
std::vector<std::string> run(std::initializer_list<ReplyKind> kinds,
                             const std::vector<std::string_view>& chunks, Limits limits = {}) {
  ReplyReader reader(limits);
  for (ReplyKind kind : kinds) reader.expect(kind);
  std::vector<std::string> events;
  for (std::string_view chunk : chunks) {
    reader.feed(chunk);
    if (!drain(reader, events)) return events;
  }
  reader.finish();
  drain(reader, events);
  return events;
}

// STYLE.md 8.2: the same events whole, byte by byte, and split at every offset.
void expectAllSplits(std::initializer_list<ReplyKind> kinds, std::string_view input,
                     const std::vector<std::string>& expected, Limits limits = {}) {
  EXPECT_THAT(run(kinds, {input}, limits), ElementsAreArray(expected)) << "whole";
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  EXPECT_THAT(run(kinds, bytes, limits), ElementsAreArray(expected)) << "byte by byte";
  for (std::size_t i = 1; i < input.size(); ++i) {
    EXPECT_THAT(run(kinds, {input.substr(0, i), input.substr(i)}, limits),
                ElementsAreArray(expected))
        << "split at " << i;
  }
}

constexpr auto kSingle = ReplyKind::SingleLine;
constexpr auto kMulti = ReplyKind::MultiLine;
constexpr auto kSasl = ReplyKind::SaslContinuation;
constexpr auto kBlock = ReplyKind::MultiLineBlock;

// Runs `input` as MultiLineBlock replies and returns their events with each reply's body as one
// "BODY <bytes>" entry: BodyBlock bytes as they are, BodyLine text plus CRLF. Block boundaries
// depend on how the bytes arrive; the body they make up must not.
std::vector<std::string> runBlocks(std::size_t replies, const std::vector<std::string_view>& chunks,
                                   Limits limits = {}) {
  ReplyReader reader(limits);
  for (std::size_t i = 0; i < replies; ++i) reader.expect(kBlock);
  std::vector<std::string> events;
  std::string body;
  bool in_body = false;
  bool failed = false;
  auto drainBlocks = [&] {
    while (!failed) {
      ReplyEvent event = reader.next();
      if (std::holds_alternative<NeedMore>(event)) return;
      if (const auto* b = std::get_if<BodyBlock>(&event)) {
        EXPECT_FALSE(b->text.empty());
        body.append(b->text);
        in_body = true;
        continue;
      }
      if (const auto* l = std::get_if<BodyLine>(&event)) {
        body.append(l->text).append("\r\n");
        in_body = true;
        continue;
      }
      if (in_body) events.push_back("BODY " + std::exchange(body, std::string()));
      in_body = false;
      events.push_back(render(event));
      failed = std::holds_alternative<ReplyError>(event);
    }
  };
  for (std::string_view chunk : chunks) {
    reader.feed(chunk);
    drainBlocks();
  }
  reader.finish();
  drainBlocks();
  if (in_body) events.push_back("BODY " + body);
  return events;
}

void expectBlocksAllSplits(std::size_t replies, std::string_view input,
                           const std::vector<std::string>& expected, Limits limits = {}) {
  EXPECT_THAT(runBlocks(replies, {input}, limits), ElementsAreArray(expected)) << "whole";
  std::vector<std::string_view> bytes;
  for (std::size_t i = 0; i < input.size(); ++i) bytes.push_back(input.substr(i, 1));
  EXPECT_THAT(runBlocks(replies, bytes, limits), ElementsAreArray(expected)) << "byte by byte";
  for (std::size_t i = 1; i < input.size(); ++i) {
    EXPECT_THAT(runBlocks(replies, {input.substr(0, i), input.substr(i)}, limits),
                ElementsAreArray(expected))
        << "split at " << i;
  }
}

TEST(ReplyReader, Greeting) {
  expectAllSplits({kSingle}, "+OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>\r\n",
                  {"OK POP3 server ready <1896.697170952@dbc.mtview.ca.us>"});
}

TEST(ReplyReader, SloppyStatusLines) {
  expectAllSplits({kSingle, kSingle, kSingle, kSingle, kSingle},
                  "+OK\r\n+ok fine\r\n+OK   trailing   \r\n-err\tno\r\n-ERR \r\n",
                  {"OK ", "OK fine", "OK trailing", "ERR no", "ERR "});
}

TEST(ReplyReader, GarbageStatusLineIsAnError) {
  expectAllSplits({kSingle}, "HTTP/1.1 400 Bad Request\r\n", {"ERROR malformed status line"});
  expectAllSplits({kSingle}, "+OKAY\r\n", {"ERROR malformed status line"});
  expectAllSplits({kSingle}, "\r\n", {"ERROR malformed status line"});
}

TEST(ReplyReader, RespCodes) {
  expectAllSplits({kSingle, kSingle, kSingle, kSingle},
                  "-ERR [IN-USE] mailbox locked\r\n"
                  "-err [sys/temp] try later\r\n"
                  "-ERR [LOGIN-DELAY] wait 10 minutes\r\n"
                  "-ERR [AUTH]\r\n",
                  {"ERR [IN-USE] mailbox locked", "ERR [SYS/TEMP] try later",
                   "ERR [LOGIN-DELAY] wait 10 minutes", "ERR [AUTH] "});
}

TEST(ReplyReader, MultiLineWithDotStuffing) {
  expectAllSplits({kMulti},
                  "+OK 120 octets\r\n"
                  "Subject: hi\r\n"
                  "\r\n"
                  "..leading dot\r\n"
                  "...\r\n"
                  "..\r\n"
                  " .\r\n"
                  ". \r\n"
                  ".\r\n",
                  {"OK 120 octets", "LINE Subject: hi", "LINE ", "LINE .leading dot", "LINE ..",
                   "LINE .", "LINE  .", "LINE  ", "END"});
}

TEST(ReplyReader, BareLfAndMixedLineEndings) {
  expectAllSplits({kMulti, kSingle}, "+OK\nfirst\r\nsecond\nthird\r\n.\n+OK bye\n",
                  {"OK ", "LINE first", "LINE second", "LINE third", "END", "OK bye"});
}

TEST(ReplyReader, LoneCrInsideALineIsData) {
  expectAllSplits({kMulti}, "+OK\r\na\rb\r\n\rc\r\nd\r\r\n.\r\n",
                  {"OK ", "LINE a\rb", "LINE \rc", "LINE d\r", "END"});
}

TEST(ReplyReader, NulBytesPassThrough) {
  using namespace std::string_literals;
  const std::string input = "+OK\r\nab\0cd\r\n\0\r\n.\r\n"s;
  expectAllSplits({kMulti}, input, {"OK ", "LINE ab\0cd"s, "LINE \0"s, "END"});
}

TEST(ReplyReader, MissingFinalCrlfBeforeEof) {
  // The terminator itself lacks CRLF: still the end of the reply.
  expectAllSplits({kMulti}, "+OK\r\nbody\r\n.", {"OK ", "LINE body", "END"});
  // A single-line reply cut before its CRLF.
  expectAllSplits({kSingle}, "+OK bye", {"OK bye"});
  // A body line without CRLF, then no terminator at all.
  expectAllSplits(
      {kMulti}, "+OK\r\nbody\r\nlast",
      {"OK ", "LINE body", "LINE last", "ERROR connection closed inside a multi-line reply"});
  expectAllSplits({kMulti}, "+OK\r\nlast\r",
                  {"OK ", "LINE last", "ERROR connection closed inside a multi-line reply"});
}

TEST(ReplyReader, ClosedBeforeTheReply) {
  EXPECT_THAT(run({kSingle}, {}), ElementsAre("ERROR connection closed before the reply"));
  EXPECT_THAT(run({kSingle, kMulti}, {"+OK\r\n"}),
              ElementsAre("OK ", "ERROR connection closed before the reply"));
}

TEST(ReplyReader, ErrOnMultiLineEndsThatReply) {
  expectAllSplits({kMulti, kMulti, kSingle}, "-ERR no such message\r\n+OK\r\nx\r\n.\r\n+OK\r\n",
                  {"ERR no such message", "OK ", "LINE x", "END", "OK "});
}

TEST(ReplyReader, PipelinedRepliesInOneFeed) {
  // RFC 2449 section 6.6: RETR 1, RETR 2, DELE 1, QUIT sent at once.
  expectAllSplits(
      {kMulti, kMulti, kSingle, kSingle},
      "+OK 5 octets\r\nm1\r\n.\r\n+OK 5 octets\r\nm2\r\n.\r\n"
      "+OK deleted\r\n+OK bye\r\n",
      {"OK 5 octets", "LINE m1", "END", "OK 5 octets", "LINE m2", "END", "OK deleted", "OK bye"});
}

TEST(ReplyReader, ExpectedCountsOpenReplies) {
  ReplyReader reader;
  reader.expect(kMulti);
  reader.expect(kSingle);
  EXPECT_EQ(reader.expected(), 2u);
  reader.feed("+OK\r\nline\r\n");
  EXPECT_EQ(render(reader.next()), "OK ");
  EXPECT_EQ(reader.expected(), 2u);  // still inside the body
  EXPECT_EQ(render(reader.next()), "LINE line");
  EXPECT_EQ(render(reader.next()), "NEED");
  reader.feed(".\r\n+OK\r\n");
  EXPECT_EQ(render(reader.next()), "END");
  EXPECT_EQ(reader.expected(), 1u);
  EXPECT_EQ(render(reader.next()), "OK ");
  EXPECT_EQ(reader.expected(), 0u);
  EXPECT_EQ(render(reader.next()), "NEED");
}

TEST(ReplyReader, SaslExchange) {
  // RFC 5034 section 4: challenges, then the final status.
  expectAllSplits({kSasl}, "+ \r\n+ dGVzdA==\r\n+\r\n+OK authenticated\r\n",
                  {"CONT ", "CONT dGVzdA==", "CONT ", "OK authenticated"});
  expectAllSplits({kSasl, kSingle}, "+ YWJj\r\n-ERR [AUTH] bad credentials\r\n+OK\r\n",
                  {"CONT YWJj", "ERR [AUTH] bad credentials", "OK "});
  expectAllSplits({kSasl}, "+ok\r\n", {"OK "});
}

TEST(ReplyReader, ContinuationOutsideSaslIsGarbage) {
  expectAllSplits({kSingle}, "+ abc\r\n", {"ERROR malformed status line"});
}

TEST(ReplyReader, OverLongLines) {
  const Limits limits{.max_line = 8};
  // Exactly at the limit, the CR waiting for its LF must not trip the check.
  expectAllSplits({kSingle}, "+OK 1234\r\n", {"OK 1234"}, limits);
  expectAllSplits({kSingle}, "+OK 12345\r\n", {"ERROR line exceeds 8 octets"}, limits);
  expectAllSplits({kSingle}, "+OK 12345\n", {"ERROR line exceeds 8 octets"}, limits);
  expectAllSplits({kSingle}, "+OK 1234\rx\r\n", {"ERROR line exceeds 8 octets"}, limits);
  expectAllSplits({kMulti}, "+OK\r\n12345678\r\n123456789\r\n.\r\n",
                  {"OK ", "LINE 12345678", "ERROR line exceeds 8 octets"}, limits);
  // Without a line end at all the reader gives up once the limit is passed.
  ReplyReader reader(limits);
  reader.expect(kSingle);
  reader.feed("+OK 12345");
  EXPECT_EQ(render(reader.next()), "ERROR line exceeds 8 octets");
}

TEST(ReplyReader, LongGreetingAcceptedByDefault) {
  // RFC 2449 section 4 says 512 octets; real servers send more.
  const std::string greeting = "+OK " + std::string(2000, 'g') + "\r\n";
  EXPECT_THAT(run({kSingle}, {greeting}), ElementsAre("OK " + std::string(2000, 'g')));
}

TEST(ReplyReader, ErrorsAreSticky) {
  ReplyReader reader;
  reader.expect(kSingle);
  reader.expect(kSingle);
  reader.feed("garbage\r\n+OK\r\n");
  EXPECT_EQ(render(reader.next()), "ERROR malformed status line");
  EXPECT_EQ(render(reader.next()), "ERROR malformed status line");
  reader.feed("+OK\r\n");
  EXPECT_EQ(render(reader.next()), "ERROR malformed status line");
}

TEST(ReplyReader, BytesWaitForAnExpectedReply) {
  ReplyReader reader;
  reader.feed("+OK hello\r\n");
  EXPECT_EQ(render(reader.next()), "NEED");
  reader.expect(kSingle);
  EXPECT_EQ(render(reader.next()), "OK hello");
}

TEST(ReplyReader, UnsolicitedFloodIsAnError) {
  ReplyReader reader(Limits{.max_line = 8});
  reader.feed("+OK 1234\r\n");
  EXPECT_EQ(render(reader.next()), "NEED");
  reader.feed("+");
  EXPECT_EQ(render(reader.next()), "ERROR unsolicited data from the server");
}

TEST(ReplyReader, NothingQueuedAtEofIsQuiet) {
  ReplyReader reader;
  reader.expect(kSingle);
  reader.feed("+OK bye\r\n");
  EXPECT_EQ(render(reader.next()), "OK bye");
  reader.finish();
  EXPECT_EQ(render(reader.next()), "NEED");
  reader.feed("+OK ignored after finish\r\n");
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(ReplyReader, BodiesAreStreamedNotAccumulated) {
  ReplyReader reader(Limits{.max_line = 100});
  reader.expect(kMulti);
  reader.feed("+OK\r\n");
  EXPECT_EQ(render(reader.next()), "OK ");
  const std::string line(80, 'x');
  for (int i = 0; i < 10000; ++i) {
    // Half a line, then the other half: the reader holds at most the partial line.
    reader.feed(std::string_view(line).substr(0, 40));
    EXPECT_EQ(render(reader.next()), "NEED");
    EXPECT_LE(reader.buffered(), 40u);
    reader.feed(std::string_view(line).substr(40));
    reader.feed("\r\n");
    ReplyEvent event = reader.next();
    ASSERT_TRUE(std::holds_alternative<BodyLine>(event));
    EXPECT_EQ(std::get<BodyLine>(event).text, line);
    EXPECT_EQ(reader.buffered(), 0u);
  }
  reader.feed(".\r\n");
  EXPECT_EQ(render(reader.next()), "END");
}

TEST(ReplyReader, BodyLineViewPointsIntoTheReader) {
  // Several lines from one feed: each view stays valid until the following next().
  ReplyReader reader;
  reader.expect(kMulti);
  reader.feed("+OK\r\none\r\ntwo\r\n.\r\n");
  EXPECT_EQ(render(reader.next()), "OK ");
  ReplyEvent first = reader.next();
  ASSERT_TRUE(std::holds_alternative<BodyLine>(first));
  EXPECT_EQ(std::get<BodyLine>(first).text, "one");
  ReplyEvent second = reader.next();
  ASSERT_TRUE(std::holds_alternative<BodyLine>(second));
  EXPECT_EQ(std::get<BodyLine>(second).text, "two");
  EXPECT_EQ(render(reader.next()), "END");
}

TEST(ReplyReader, BlockBodiesKeepTheBytesAndRepairWhatNeedsIt) {
  // Stuffed dots lose their first octet, bare LFs become CRLF, a lone CR inside a line and NUL
  // stay data; an empty line and a CR before CRLF are plain lines.
  const std::string input = std::string("+OK 120 octets\r\n") + "Subject: a\r\n\r\n" +
                            "..dot\r\nbare\nx\ry\r\n\r\r\n" + std::string("n\0l\r\n", 5) +
                            ".\r\n+OK\r\nsecond\r\n.\r\n";
  expectBlocksAllSplits(2, input,
                        {"OK 120 octets",
                         "BODY " + std::string("Subject: a\r\n\r\n.dot\r\nbare\r\nx\ry\r\n\r\r\n") +
                             std::string("n\0l\r\n", 5),
                         "END", "OK ", "BODY second\r\n", "END"});
}

TEST(ReplyReader, BlockBodiesMatchLineBodies) {
  // The same stream read both ways gives the same bytes, the same errors at the same place.
  const std::vector<std::string> inputs = {
      "+OK\r\nline\r\n.\r\n",
      "+OK\r\n.\r\n",
      "-ERR no such message\r\n",
      "+OK\r\na\nb\r\n..\r\n.x\r\n.\n",
      "+OK\r\n0123456789\r\n01234567890\r\n.\r\n",  // the second line is over the limit
      "+OK\r\nshort\r\n0123456789012",              // a partial line over the limit
      "+OK\r\nno end\r\nlast",                      // the connection closes mid-body
  };
  for (const std::string& input : inputs) {
    const Limits limits{.max_line = 10};
    std::vector<std::string> lines = run({kMulti}, {input}, limits);
    // The line reader's events with consecutive body lines joined the way runBlocks joins them.
    std::vector<std::string> expected;
    std::string body;
    bool in_body = false;
    for (const std::string& event : lines) {
      if (event.rfind("LINE ", 0) == 0) {
        body += event.substr(5) + "\r\n";
        in_body = true;
        continue;
      }
      if (in_body) expected.push_back("BODY " + std::exchange(body, std::string()));
      in_body = false;
      expected.push_back(event);
    }
    if (in_body) expected.push_back("BODY " + body);
    expectBlocksAllSplits(1, input, expected, limits);
  }
}

TEST(ReplyReader, BlocksSpanManyLinesAndStopAtTheTerminator) {
  ReplyReader reader;
  reader.expect(kBlock);
  reader.expect(kSingle);
  std::string body;
  for (int i = 0; i < 100; ++i)
    body += "VGhpcyBpcyBiYXNlNjQgdGV4dCBvZiBhIHR5cGljYWwgYXR0YWNobWVudCBsaW5l\r\n";
  reader.feed("+OK\r\n" + body + ".\r\n+OK bye\r\n");
  EXPECT_EQ(render(reader.next()), "OK ");
  ReplyEvent block = reader.next();
  ASSERT_TRUE(std::holds_alternative<BodyBlock>(block));
  EXPECT_EQ(std::get<BodyBlock>(block).text, body);  // one event for the 100 lines
  EXPECT_EQ(render(reader.next()), "END");
  EXPECT_EQ(render(reader.next()), "OK bye");
  EXPECT_EQ(render(reader.next()), "NEED");
  EXPECT_EQ(reader.expected(), 0u);
}

}  // namespace
}  // namespace popbridge::pop3
