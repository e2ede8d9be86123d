#include "protocols/mailfile/mbox.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace popbridge::mailfile {
namespace {

struct Message {
  MboxBegin begin;
  std::string bytes;
  MboxEnd end;
};

// Feeds `input` in chunks of `chunk` bytes (0: whole), then finish(); collects the messages and
// checks that the events come as Begin Data* End.
Result<std::vector<Message>, MboxError> split(std::string_view input, std::size_t chunk = 0,
                                              MboxFormat format = MboxFormat::Rd,
                                              MboxLimits limits = {}) {
  MboxSplitter splitter(format, limits);
  std::vector<MboxEvent> events;
  if (chunk == 0) chunk = input.size() + 1;
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    if (auto fed = splitter.feed(input.substr(at, chunk), events); !fed) return fail(fed.error());
  }
  if (auto done = splitter.finish(events); !done) return fail(done.error());
  std::vector<Message> out;
  bool open = false;
  for (MboxEvent& event : events) {
    if (auto* begin = std::get_if<MboxBegin>(&event)) {
      EXPECT_FALSE(open);
      out.push_back(Message{std::move(*begin), {}, {}});
      open = true;
    } else if (auto* data = std::get_if<MboxData>(&event)) {
      EXPECT_TRUE(open);
      EXPECT_FALSE(data->bytes.empty());
      out.back().bytes += data->bytes;
    } else {
      EXPECT_TRUE(open);
      out.back().end = std::move(std::get<MboxEnd>(event));
      open = false;
    }
  }
  EXPECT_FALSE(open);
  return out;
}

// The same messages whole, byte by byte and split at every offset (STYLE.md 8.2).
std::vector<Message> splitEveryWay(std::string_view input, MboxFormat format = MboxFormat::Rd) {
  auto whole = split(input, 0, format);
  EXPECT_TRUE(whole.has_value());
  if (!whole) return {};
  auto same = [&](const std::vector<Message>& got, const std::string& how) {
    ASSERT_EQ(got.size(), whole->size()) << how;
    for (std::size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].bytes, (*whole)[i].bytes) << how << " message " << i;
      EXPECT_EQ(got[i].begin.sender, (*whole)[i].begin.sender) << how;
      EXPECT_EQ(got[i].end.flags, (*whole)[i].end.flags) << how;
      EXPECT_EQ(got[i].end.date, (*whole)[i].end.date) << how;
    }
  };
  auto bytewise = split(input, 1, format);
  EXPECT_TRUE(bytewise.has_value());
  if (bytewise) same(*bytewise, "byte by byte");
  for (std::size_t cut = 1; cut < input.size(); ++cut) {
    MboxSplitter splitter(format);
    std::vector<MboxEvent> events;
    EXPECT_TRUE(splitter.feed(input.substr(0, cut), events));
    EXPECT_TRUE(splitter.feed(input.substr(cut), events));
    EXPECT_TRUE(splitter.finish(events));
    std::vector<Message> got;
    for (MboxEvent& event : events) {
      if (auto* begin = std::get_if<MboxBegin>(&event)) {
        got.push_back(Message{*begin, {}, {}});
      } else if (got.empty()) {
        ADD_FAILURE() << "data or end before begin";
      } else if (auto* data = std::get_if<MboxData>(&event)) {
        got.back().bytes += data->bytes;
      } else {
        got.back().end = std::get<MboxEnd>(event);
      }
    }
    same(got, "split at " + std::to_string(cut));
  }
  return *whole;
}

TEST(MboxSplitter, TwoMessagesWithEnvelopeAndCrlf) {
  const std::string mbox =
      "From alice@example.org Sat Nov 28 12:15:17 2026\n"
      "Subject: one\n"
      "\n"
      "body one\n"
      "\n"
      "From bob@example.org Sun Nov 29 08:00:00 2026\n"
      "Subject: two\n"
      "\n"
      "body two\n"
      "\n";
  const auto messages = splitEveryWay(mbox);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].begin.sender, "alice@example.org");
  ASSERT_TRUE(messages[0].begin.envelope);
  EXPECT_EQ(messages[0].begin.envelope->seconds, 1795868117);  // 2026-11-28T12:15:17Z
  EXPECT_EQ(messages[0].bytes, "Subject: one\r\n\r\nbody one\r\n");
  EXPECT_EQ(messages[1].begin.sender, "bob@example.org");
  EXPECT_EQ(messages[1].bytes, "Subject: two\r\n\r\nbody two\r\n");
}

TEST(MboxSplitter, CrlfInputStaysCrlf) {
  const auto messages = splitEveryWay(
      "From a Sat Nov 28 12:15:17 2026\r\nSubject: x\r\n\r\nline\r\n\r\n"
      "From b Sat Nov 28 12:15:18 2026\r\nSubject: y\r\n\r\nmixed\nends\r\n");
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].bytes, "Subject: x\r\n\r\nline\r\n");
  EXPECT_EQ(messages[1].bytes, "Subject: y\r\n\r\nmixed\r\nends\r\n");
}

TEST(MboxSplitter, MissingFinalNewlineKeepsTheLastLineAsIs) {
  const auto messages = splitEveryWay("From a Sat Nov 28 12:15:17 2026\nSubject: x\n\nlast");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].bytes, "Subject: x\r\n\r\nlast");
}

TEST(MboxSplitter, FromLinesInsideABodyAreNotSeparators) {
  const std::string mbox =
      "From a Sat Nov 28 12:15:17 2026\n"
      "Subject: tricky\n"
      "\n"
      "From the start of a line, without an empty line before it.\n"
      "\n"
      "From here on, after an empty line but without a date.\n"
      "From me Sat Nov 28 12:15:17 2026 (a date, but no empty line before)\n"
      "\n"
      "\n"
      "From b Sat Nov 28 12:15:18 2026\n"
      "Subject: next\n"
      "\n"
      "x\n";
  const auto messages = splitEveryWay(mbox);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].bytes,
            "Subject: tricky\r\n\r\n"
            "From the start of a line, without an empty line before it.\r\n"
            "\r\n"
            "From here on, after an empty line but without a date.\r\n"
            "From me Sat Nov 28 12:15:17 2026 (a date, but no empty line before)\r\n"
            "\r\n");  // of the two empty lines, the last belongs to the separator
  EXPECT_EQ(messages[1].bytes, "Subject: next\r\n\r\nx\r\n");
}

TEST(MboxSplitter, MboxrdUnquotesOneLevel) {
  const std::string mbox =
      "From a Sat Nov 28 12:15:17 2026\n"
      "Subject: q\n"
      "\n"
      ">From quoted\n"
      ">>From twice\n"
      ">>>From thrice\n"
      "> From not quoting\n"
      ">Fromage\n";
  const auto rd = splitEveryWay(mbox, MboxFormat::Rd);
  ASSERT_EQ(rd.size(), 1u);
  EXPECT_EQ(rd[0].bytes,
            "Subject: q\r\n\r\nFrom quoted\r\n>From twice\r\n>>From thrice\r\n"
            "> From not quoting\r\n>Fromage\r\n");
  const auto o = splitEveryWay(mbox, MboxFormat::O);
  ASSERT_EQ(o.size(), 1u);
  EXPECT_EQ(o[0].bytes,
            "Subject: q\r\n\r\nFrom quoted\r\n>>From twice\r\n>>>From thrice\r\n"
            "> From not quoting\r\n>Fromage\r\n");
}

TEST(MboxSplitter, StatusHeadersGiveFlagsAndStayInTheMessage) {
  const std::string mbox =
      "From a Sat Nov 28 12:15:17 2026\n"
      "Status: RO\n"
      "X-Status: AF\n"
      "X-Keywords: $Forwarded, Work\n"
      "Date: Tue, 1 Jul 2003 10:52:37 +0200\n"
      "\n"
      "Status: D is body text here\n"
      "\n"
      "From b Sat Nov 28 12:15:18 2026\n"
      "Status: O\n"
      "X-Status: TD\n"
      "\n"
      "y\n";
  const auto messages = splitEveryWay(mbox);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_EQ(messages[0].end.flags.system, kSeen | kAnswered | kFlagged);
  EXPECT_EQ(messages[0].end.flags.keywords, (std::vector<std::string>{"$Forwarded", "Work"}));
  EXPECT_EQ(messages[0].end.date, "Tue, 1 Jul 2003 10:52:37 +0200");
  EXPECT_EQ(messages[0].bytes.substr(0, 24), "Status: RO\r\nX-Status: AF");
  EXPECT_EQ(messages[1].end.flags.system, kDraft | kDeleted);
  EXPECT_FALSE(messages[1].end.date);
}

TEST(MboxSplitter, FoldedDateHeader) {
  const auto messages =
      splitEveryWay("From a Sat Nov 28 12:15:17 2026\nDate: Tue,\n 1 Jul 2003\n\t10:52:37 GMT\n\n");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].end.date, "Tue, 1 Jul 2003 10:52:37 GMT");
}

TEST(MboxSplitter, EnvelopeVariants) {
  const auto messages = splitEveryWay(
      "From MAILER-DAEMON Fri Jul  8 12:08:34 2011\n\n"
      "From \"a b\"@example.org Mon Jan  2 03:04:05 PST 2006\n\n"
      "From c@example.org Mon Jan  2 03:04:05 2006 +0100\n\n"
      "From d@example.org Mon Jan  2 03:04 2006\n\n");
  ASSERT_EQ(messages.size(), 4u);
  EXPECT_EQ(messages[0].begin.sender, "MAILER-DAEMON");
  EXPECT_EQ(messages[0].begin.envelope->seconds, 1310126914);
  EXPECT_EQ(messages[1].begin.sender, "\"a b\"@example.org");
  EXPECT_EQ(messages[1].begin.envelope->seconds, 1136171045);
  EXPECT_EQ(messages[2].begin.envelope->seconds, 1136171045 - 3600);
  EXPECT_EQ(messages[2].begin.envelope->tz_offset_minutes, 60);
  EXPECT_EQ(messages[3].begin.envelope->seconds, 1136171040);
  for (const Message& m : messages) EXPECT_EQ(m.bytes, "") << m.begin.sender;
}

TEST(MboxSplitter, FirstFromLineNeedsNoDate) {
  const auto messages = splitEveryWay("\n\nFrom someone\nSubject: x\n\nbody\n");
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0].begin.sender, "someone");
  EXPECT_FALSE(messages[0].begin.envelope);
  EXPECT_EQ(messages[0].bytes, "Subject: x\r\n\r\nbody\r\n");
}

TEST(MboxSplitter, EmptyFileHasNoMessages) {
  auto messages = split("");
  ASSERT_TRUE(messages);
  EXPECT_TRUE(messages->empty());
}

TEST(MboxSplitter, NotAnMbox) {
  auto messages = split("Subject: a plain message\n\nbody\n");
  ASSERT_FALSE(messages);
  EXPECT_NE(messages.error().message.find("not an mbox"), std::string::npos);
}

TEST(MboxSplitter, LongLinesPassThroughInPieces) {
  const std::string long_line(100000, 'x');
  const std::string mbox = "From a Sat Nov 28 12:15:17 2026\nSubject: " + long_line +
                           "\r\n\n>From " + long_line + "\n\nFrom b Sat Nov 28 12:15:18 2026\n\n";
  for (std::size_t chunk : {0u, 1u, 7u, 4096u}) {
    auto messages = split(mbox, chunk, MboxFormat::Rd, MboxLimits{64});
    ASSERT_TRUE(messages);
    ASSERT_EQ(messages->size(), 2u) << chunk;
    EXPECT_EQ((*messages)[0].bytes, "Subject: " + long_line + "\r\n\r\nFrom " + long_line + "\r\n")
        << chunk;
  }
}

// Found by mbox_fuzz: lines around the limit (an overlong first separator, a long quoted line
// whose '>' run passes the limit, a long header) give the same messages wherever the input is
// cut.
TEST(MboxSplitter, LongLinesAreCutIndependent) {
  const std::string mbox = "From " + std::string(40, 'W') + " Sat Nov 28 12:15:17 2026\n" +
                           "Status: R" + std::string(30, ' ') + "\n\n" + std::string(30, '>') +
                           "From x\n>From y" + std::string(25, 'z') + "\r\n\n" + "From " +
                           std::string(40, 'v') + " Sat Nov 28 12:15:17 2026\n";
  for (std::size_t limit : {8u, 16u, 31u, 32u, 33u, 40u, 64u}) {
    auto whole = split(mbox, 0, MboxFormat::Rd, MboxLimits{limit});
    ASSERT_TRUE(whole) << limit;
    for (std::size_t chunk = 1; chunk < 12; ++chunk) {
      auto pieces = split(mbox, chunk, MboxFormat::Rd, MboxLimits{limit});
      ASSERT_TRUE(pieces) << limit << "/" << chunk;
      ASSERT_EQ(pieces->size(), whole->size()) << limit << "/" << chunk;
      for (std::size_t i = 0; i < whole->size(); ++i) {
        EXPECT_EQ((*pieces)[i].bytes, (*whole)[i].bytes) << limit << "/" << chunk;
        EXPECT_EQ((*pieces)[i].begin.sender, (*whole)[i].begin.sender) << limit << "/" << chunk;
        EXPECT_EQ((*pieces)[i].end.flags, (*whole)[i].end.flags) << limit << "/" << chunk;
      }
    }
  }
}

}  // namespace
}  // namespace popbridge::mailfile
