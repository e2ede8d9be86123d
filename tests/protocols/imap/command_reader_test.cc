#include "protocols/imap/command_reader.h"

#include <gtest/gtest.h>

#include "tests/protocols/imap/reader_test_util.h"

namespace popbridge::imap {
namespace {

using namespace std::string_literals;
using test::dump;
using test::dumpAll;
using test::OnBegin;
using test::readEvents;
using test::readEverySplit;
using test::readOneCommand;
using test::readOneError;

TEST(CommandReaderTest, SimpleCommandInEverySplit) {
  Command command = readOneCommand("a1 NOOP\r\n");
  EXPECT_EQ(command.tag, "a1");
  EXPECT_EQ(command.name, "NOOP");
  EXPECT_FALSE(command.uid);
  EXPECT_TRUE(std::holds_alternative<NoArgs>(command.args));
}

TEST(CommandReaderTest, BareLfEndsALine) {
  Command command = readOneCommand("a1 noop\n");
  EXPECT_EQ(command.name, "NOOP");
}

TEST(CommandReaderTest, NeedMoreUntilTheLineEnds) {
  CommandReader reader;
  reader.feed("a1 NO");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed("OP\r");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed("\n");
  EXPECT_TRUE(std::holds_alternative<Command>(reader.next()));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
}

TEST(CommandReaderTest, PipelinedCommandsComeOutInOrder) {
  auto events = readEverySplit("a1 NOOP\r\na2 CAPABILITY\r\n\r\na3 LOGOUT\r\n");
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<Command>(events[0]).name, "NOOP");
  EXPECT_EQ(std::get<Command>(events[1]).name, "CAPABILITY");
  EXPECT_EQ(std::get<Command>(events[2]).tag, "a3");
}

TEST(CommandReaderTest, SynchronizingLiteralReportsContinuationOnce) {
  const std::string input = "a1 LOGIN {5}\r\nalice {6}\r\nsecret\r\n";
  auto events = readEverySplit(input);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<NeedContinuation>(events[0]).literal_size, 5u);
  EXPECT_EQ(std::get<NeedContinuation>(events[1]).literal_size, 6u);
  const auto& login = std::get<LoginArgs>(std::get<Command>(events[2]).args);
  EXPECT_EQ(login.user, "alice");
  EXPECT_EQ(login.password, "secret");
}

TEST(CommandReaderTest, ContinuationComesBeforeLiteralBytes) {
  CommandReader reader;
  reader.feed("a1 LOGIN {5}\r\n");
  EXPECT_EQ(dump(reader.next()), "Continue 5");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));  // not reported twice
  reader.feed("ali");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed("ce pw\r\n");
  EXPECT_EQ(dump(reader.next()), "Command a1 LOGIN Login<alice><pw>");
}

TEST(CommandReaderTest, LiteralPlusNeedsNoContinuation) {
  auto events = readEverySplit("a1 LOGIN {5+}\r\nalice {3+}\r\n\"x\\\r\n");
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(dump(events[0]), "Command a1 LOGIN Login<alice><\"x\\>");
}

TEST(CommandReaderTest, LiteralMayHoldCrlfAndBraces) {
  Command command = readOneCommand("a1 LOGIN {8+}\r\na\r\n{1}\r\n pw\r\n");
  EXPECT_EQ(std::get<LoginArgs>(command.args).user, "a\r\n{1}\r\n");
  EXPECT_EQ(std::get<LoginArgs>(command.args).password, "pw");
}

TEST(CommandReaderTest, ZeroLengthLiteral) {
  auto events = readEverySplit("a1 LOGIN {0}\r\n {0+}\r\n\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Continue 0");
  EXPECT_EQ(dump(events[1]), "Command a1 LOGIN Login<><>");
}

TEST(CommandReaderTest, BracesInsideQuotedStringAreNotALiteral) {
  // The line ends inside a quoted string, so "{5}" is text and the command is a syntax error.
  auto events = readEverySplit("a1 LOGIN \"x {5}\r\na2 NOOP\r\n");
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 0 tag=<a1>");
  EXPECT_EQ(dump(events[1]), "Command a2 NOOP NoArgs");
}

TEST(CommandReaderTest, BracesInQuotedStringBeforeTheEnd) {
  Command command = readOneCommand("a1 LOGIN \"{5}\" \"p\\\"w\\\\\"\r\n");
  EXPECT_EQ(std::get<LoginArgs>(command.args).user, "{5}");
  EXPECT_EQ(std::get<LoginArgs>(command.args).password, "p\"w\\");
}

TEST(CommandReaderTest, Literal8OnlyWhereAllowed) {
  auto append = readEverySplit(
      "a1 APPEND INBOX ~{3}\r\na\0b\r\na2 LOGIN ~{1+}\r\nx y\r\na3 APPEND INBOX {3+}\r\na\0b\r\n"s);
  ASSERT_EQ(append.size(), 4u);
  EXPECT_EQ(dump(append[0]), "Continue 3");
  const auto& args = std::get<AppendArgs>(std::get<Command>(append[1]).args);
  ASSERT_EQ(args.messages.size(), 1u);
  EXPECT_EQ(args.messages[0].message, std::string("a\0b", 3));
  EXPECT_TRUE(args.messages[0].binary);
  EXPECT_EQ(dump(append[2]), "Error 0 tag=<a2>");
  EXPECT_EQ(dump(append[3]), "Error 0 tag=<a3>");  // NUL needs literal8
}

TEST(CommandReaderTest, GarbageIsBadAndTheReaderRecovers) {
  auto events = readEverySplit("a1 LOGIN\r\n(garbage\r\n* NOOP\r\nb2 \"\r\nb3 NOOP\r\n");
  ASSERT_EQ(events.size(), 5u);
  EXPECT_EQ(dump(events[0]), "Error 0 tag=<a1>");
  EXPECT_EQ(dump(events[1]), "Error 0 tag=<>");
  EXPECT_EQ(dump(events[2]), "Error 0 tag=<>");  // '*' is not a tag char
  EXPECT_EQ(dump(events[3]), "Error 0 tag=<b2>");
  EXPECT_EQ(dump(events[4]), "Command b3 NOOP NoArgs");
}

TEST(CommandReaderTest, UnknownCommandKeepsTag) {
  ParseError error = readOneError("x7 FROBNICATE foo\r\n");
  EXPECT_EQ(error.kind, ParseError::Kind::UnknownCommand);
  EXPECT_EQ(error.tag, "x7");
  EXPECT_NE(error.message.find("FROBNICATE"), std::string::npos);
}

TEST(CommandReaderTest, OverlongLineIsTooLongAndSkipped) {
  Limits limits;
  limits.max_line = 20;
  auto events = readEverySplit("t1 LOGIN aaaaaaaaaaaaaaaaaaaaaaaaaaaa b\r\nt2 NOOP\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 1 tag=<t1>");
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, LineExactlyAtTheLimitIsAccepted) {
  Limits limits;
  limits.max_line = 9;
  auto events = readEverySplit("t1 NOOP  \r\nt2 NOOP   \r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Command t1 NOOP NoArgs");
  EXPECT_EQ(dump(events[1]), "Error 1 tag=<t2>");
}

TEST(CommandReaderTest, OverlongLineWithoutLfIsReportedBeforeItEnds) {
  Limits limits;
  limits.max_line = 16;
  CommandReader reader(limits);
  reader.feed("t1 LOGIN " + std::string(100, 'x'));
  ReadResult result = reader.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(result));
  EXPECT_EQ(std::get<ParseError>(result).kind, ParseError::Kind::TooLong);
  EXPECT_EQ(std::get<ParseError>(result).tag, "t1");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed(std::string(1000, 'y'));  // still the same line: skipped without holding it
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  EXPECT_EQ(reader.buffered(), 0u);
  reader.feed("\r\nt2 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, LineLimitCountsEveryLineOfACommand) {
  Limits limits;
  limits.max_line = 20;
  auto events =
      readEverySplit("t1 LOGIN {1+}\r\na {1+}\r\nb         xxxxxxx\r\nt2 NOOP\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 1 tag=<t1>");
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, SyncLiteralOverLimitIsRefusedWithoutContinuation) {
  Limits limits;
  limits.max_literal = 10;
  // The client must not send the literal after BAD, so the next line is a new command.
  auto events = readEverySplit("t1 APPEND INBOX {11}\r\nt2 NOOP\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 3 tag=<t1>");
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, NonSyncLiteralOverLimitIsSkipped) {
  Limits limits;
  limits.max_literal = 4;
  auto events = readEverySplit("t1 LOGIN {5+}\r\nt9 NO {2+}\r\n\r\n)\r\nt2 NOOP\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 3 tag=<t1>");
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, HugeLiteralSizeIsTooBig) {
  ParseError error = readOneError("t1 APPEND INBOX {99999999999999999999999}\r\n");
  EXPECT_EQ(error.kind, ParseError::Kind::TooBig);
  EXPECT_EQ(error.tag, "t1");
}

TEST(CommandReaderTest, CommandLimitCountsLiterals) {
  Limits limits;
  limits.max_command = 35;
  auto events = readEverySplit("t1 LOGIN {10+}\r\n0123456789 {10}\r\nt2 NOOP\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 3 tag=<t1>");
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, DeepNestingIsRejected) {
  Limits limits;
  limits.max_depth = 3;
  auto events = readEverySplit("t1 FETCH 1 ((((FLAGS))))\r\nt2 FETCH 1 (FLAGS)\r\n", limits);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(dump(events[0]), "Error 1 tag=<t1>");
  EXPECT_EQ(std::get<Command>(events[1]).name, "FETCH");
}

TEST(CommandReaderTest, DeepNestingWithDefaultLimitsDoesNotRecurse) {
  const std::string input = "t1 FETCH 1 " + std::string(50000, '(') + "\r\nt2 NOOP\r\n";
  auto events = readEvents(input, {});
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(std::get<ParseError>(events[0]).kind, ParseError::Kind::TooLong);
  EXPECT_EQ(dump(events[1]), "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, ParenthesesInQuotesDoNotCount) {
  Limits limits;
  limits.max_depth = 1;
  Command command = readOneCommand("t1 CREATE \"((((\"\r\n");
  EXPECT_EQ(std::get<CreateArgs>(command.args).mailbox, "((((");
  auto events = readEvents("t1 CREATE \"((((\"\r\n", {}, limits);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<Command>(events[0]));
}

TEST(CommandReaderTest, LineModeReturnsOneLine) {
  CommandReader reader;
  reader.feed("a1 IDLE\r\nDONE\r\na2 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Command a1 IDLE NoArgs");
  reader.expectLine();
  EXPECT_EQ(dump(reader.next()), "Line <DONE>");
  EXPECT_EQ(dump(reader.next()), "Command a2 NOOP NoArgs");
}

TEST(CommandReaderTest, LineModeLineIsNotParsed) {
  CommandReader reader;
  reader.expectLine();
  reader.feed("dGVzdA== {5}\r");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed("\na1 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Line <dGVzdA== {5}>");
  EXPECT_EQ(dump(reader.next()), "Command a1 NOOP NoArgs");
}

TEST(CommandReaderTest, LineModeEmptyLineIsReturned) {
  CommandReader reader;
  reader.expectLine();
  reader.feed("\r\n");
  EXPECT_EQ(dump(reader.next()), "Line <>");
}

TEST(CommandReaderTest, LineModeOverlongLineIsTooLong) {
  Limits limits;
  limits.max_line = 8;
  CommandReader reader(limits);
  reader.expectLine();
  reader.feed("0123456789abcdef {5+}\r\na1 NOOP\r\n");
  ReadResult result = reader.next();
  ASSERT_TRUE(std::holds_alternative<ParseError>(result));
  EXPECT_EQ(std::get<ParseError>(result).kind, ParseError::Kind::TooLong);
  EXPECT_EQ(dump(reader.next()), "Command a1 NOOP NoArgs");
}

TEST(CommandReaderTest, DiscardBufferedDropsPipelinedBytes) {
  CommandReader reader;
  reader.feed("a1 STARTTLS\r\na2 LOGIN alice secret\r\n");
  EXPECT_EQ(dump(reader.next()), "Command a1 STARTTLS NoArgs");
  EXPECT_EQ(reader.buffered(), 23u);
  reader.discardBuffered();
  EXPECT_EQ(reader.buffered(), 0u);
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.feed("a3 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Command a3 NOOP NoArgs");
}

TEST(CommandReaderTest, DiscardBufferedDropsAPartialCommand) {
  CommandReader reader;
  reader.feed("a1 LOGIN {5}\r\nal");
  EXPECT_EQ(dump(reader.next()), "Continue 5");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  reader.discardBuffered();
  reader.feed("a2 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Command a2 NOOP NoArgs");
}

TEST(CommandReaderTest, ManySmallFeedsStayLinear) {
  // A long literal fed one byte at a time must not rescan the buffer each time.
  const std::string body(200000, 'x');
  CommandReader reader;
  reader.feed("a1 APPEND INBOX {200000+}\r\n");
  EXPECT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  for (char c : body) {
    reader.feed(std::string_view(&c, 1));
    ASSERT_TRUE(std::holds_alternative<NeedMore>(reader.next()));
  }
  reader.feed("\r\n");
  ReadResult result = reader.next();
  ASSERT_TRUE(std::holds_alternative<Command>(result));
  EXPECT_EQ(std::get<AppendArgs>(std::get<Command>(result).args).messages.at(0).message, body);
}

// After ENABLE UTF8=ACCEPT / IMAP4rev2 the session switches the reader to UTF-8 names
// (RFC 6855 3, RFC 9051 5.1): whole and byte by byte, the same commands read differently.
TEST(CommandReaderTest, MailboxNamesInUtf8Mode) {
  auto read = [](std::string_view input, MailboxNames names, std::size_t step) {
    CommandReader reader;
    reader.setMailboxNames(names);
    std::vector<std::string> out;
    for (std::size_t i = 0; i < input.size(); i += step) {
      reader.feed(input.substr(i, step));
      while (true) {
        ReadResult result = reader.next();
        if (std::holds_alternative<NeedMore>(result)) break;
        out.push_back(test::dump(result));
      }
    }
    return out;
  };
  const std::string input =
      "a CREATE \"R\xc3\xa9sum\xc3\xa9\"\r\nb SELECT &AOk-\r\nc LIST \"\" \"R&AOk-*\"\r\n"
      "d CREATE \"bad\xff\"\r\ne STATUS inbox (DELETED)\r\n";
  for (std::size_t step : {input.size(), std::size_t{1}}) {
    const auto utf8 = read(input, MailboxNames::Utf8, step);
    ASSERT_EQ(utf8.size(), 5u);
    EXPECT_NE(utf8[0].find("Create<R\xc3\xa9sum\xc3\xa9>"), std::string::npos) << utf8[0];
    EXPECT_NE(utf8[1].find("Select<&AOk->"), std::string::npos) << utf8[1];
    EXPECT_NE(utf8[2].find("List<><R&AOk-*>"), std::string::npos) << utf8[2];
    EXPECT_NE(utf8[3].find("Error"), std::string::npos) << utf8[3];
    EXPECT_NE(utf8[4].find("Status<INBOX>[<DELETED>]"), std::string::npos) << utf8[4];
    const auto mutf7 = read(input, MailboxNames::Mutf7, step);
    ASSERT_EQ(mutf7.size(), 5u);
    EXPECT_NE(mutf7[0].find("Error"), std::string::npos) << mutf7[0];
    EXPECT_NE(mutf7[1].find("Select<\xc3\xa9>"), std::string::npos) << mutf7[1];
    EXPECT_NE(mutf7[2].find("List<><R\xc3\xa9*>"), std::string::npos) << mutf7[2];
  }
}

// --- APPEND message literals streamed out (setStreamedLiteralLimit) ---

TEST(CommandReaderTest, AppendMessageLiteralsAreStreamed) {
  Limits limits;
  limits.max_literal = 4;  // streamed literals are not bound by the held-literal limits
  limits.max_command = 64;
  auto events = readEverySplit(
      "t1 APPEND INBOX (\\Seen) {12}\r\nHello\r\nworld ~{3+}\r\na\0b\r\nt2 NOOP\r\n"s, limits, 100);
  ASSERT_EQ(events.size(), 6u);
  const auto dumped = dumpAll(events);
  ASSERT_EQ(dumped.size(), 6u);
  EXPECT_EQ(dumped[0], "Begin 12 sync");
  EXPECT_EQ(dumped[1], "Chunk <Hello\r\nworld>");
  EXPECT_EQ(dumped[2], "Begin 3 binary");
  EXPECT_EQ(dumped[3], "Chunk <a\0b>"s);
  EXPECT_EQ(dumped[4],
            "Command t1 APPEND Append<INBOX>[<\\Seen>]<-><> streamed#0 size 12[]<-><> binary "
            "streamed#1 size 3");
  EXPECT_EQ(dumped[5], "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, AppendMailboxLiteralIsHeldNotStreamed) {
  auto events = readEverySplit("t1 append {5}\r\nDraft {2+}\r\nhi\r\n", {}, 100);
  const auto dumped = dumpAll(events);
  ASSERT_EQ(dumped.size(), 4u);
  EXPECT_EQ(dumped[0], "Continue 5");
  EXPECT_EQ(dumped[1], "Begin 2");
  EXPECT_EQ(dumped[2], "Chunk <hi>");
  EXPECT_EQ(dumped[3], "Command t1 APPEND Append<Draft>[]<-><> streamed#0 size 2");
}

TEST(CommandReaderTest, OtherCommandsKeepTheirLiteralsWhileStreaming) {
  auto events = readEverySplit("t1 LOGIN {3}\r\nbob pw\r\n", {}, 100);
  const auto dumped = dumpAll(events);
  ASSERT_EQ(dumped.size(), 2u);
  EXPECT_EQ(dumped[0], "Continue 3");
  EXPECT_EQ(dumped[1], "Command t1 LOGIN Login<bob><pw>");
}

TEST(CommandReaderTest, EmptyStreamedLiteralHasNoChunk) {
  const auto dumped = dumpAll(readEverySplit("t1 APPEND INBOX {0+}\r\n\r\n", {}, 100));
  ASSERT_EQ(dumped.size(), 2u);
  EXPECT_EQ(dumped[0], "Begin 0");
  EXPECT_EQ(dumped[1], "Command t1 APPEND Append<INBOX>[]<-><> streamed#0 size 0");
}

TEST(CommandReaderTest, StreamedLiteralOverTheLimitIsTooBig) {
  // Synchronizing: refused before the continuation, so the client sends no literal.
  auto sync = readEverySplit("t1 APPEND INBOX {101}\r\nt2 NOOP\r\n", {}, 100);
  ASSERT_EQ(sync.size(), 2u);
  EXPECT_EQ(dump(sync[0]), "Error 3 tag=<t1>");
  EXPECT_NE(std::get<ParseError>(sync[0]).message.find("APPENDLIMIT (100 bytes)"),
            std::string::npos);
  EXPECT_EQ(dump(sync[1]), "Command t2 NOOP NoArgs");
  // LITERAL+ (RFC 7888 4): read and thrown away, in the middle of a MULTIAPPEND too.
  const std::string big(101, 'x');
  const auto plus = dumpAll(readEverySplit(
      "t1 APPEND INBOX {1+}\r\na {101+}\r\n" + big + " {1+}\r\nb\r\nt2 NOOP\r\n", {}, 100));
  ASSERT_EQ(plus.size(), 4u);
  EXPECT_EQ(plus[0], "Begin 1");
  EXPECT_EQ(plus[1], "Chunk <a>");
  EXPECT_EQ(plus[2], "Error 3 tag=<t1>");
  EXPECT_EQ(plus[3], "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, LiteralBeginNamesTheTagAndMailbox) {
  const auto events = readEverySplit("t1 APPEND \"Sent &AOQ-\" {2+}\r\nhi ~{1}\r\nx\r\n", {}, 100);
  ASSERT_EQ(events.size(), 5u);
  const auto& first = std::get<LiteralBegin>(events[0]);
  EXPECT_EQ(first.tag, "t1");
  EXPECT_EQ(first.mailbox, "Sent \xc3\xa4");  // modified UTF-7 decoded
  EXPECT_EQ(first.index, 0u);
  const auto& second = std::get<LiteralBegin>(events[2]);
  EXPECT_EQ(second.mailbox, "Sent \xc3\xa4");
  EXPECT_EQ(second.index, 1u);
  // A mailbox sent as a literal, any case of INBOX, and a name that does not decode.
  auto literal = readEverySplit("t2 APPEND {5}\r\ninBox {1+}\r\nx\r\n", {}, 100);
  ASSERT_EQ(literal.size(), 4u);
  EXPECT_EQ(std::get<LiteralBegin>(literal[1]).mailbox, "INBOX");
  auto invalid = readEvents("t3 APPEND &Jjo {1+}\r\nx\r\n", {}, {}, 100);
  ASSERT_FALSE(invalid.empty());
  EXPECT_EQ(std::get<LiteralBegin>(invalid[0]).mailbox, std::nullopt);
}

TEST(CommandReaderTest, RefusedSynchronizingLiteralEndsTheCommand) {
  // RFC 3501 7.5: without "+" the client sends neither the literal nor the rest of the command,
  // so the next line is a new command, even when it looks like a literal's content.
  const auto dumped =
      dumpAll(readEverySplit("t1 APPEND Box {5}\r\nt2 NOOP\r\n", {}, 100, OnBegin::Refuse));
  ASSERT_EQ(dumped.size(), 2u);
  EXPECT_EQ(dumped[0], "Begin 5 sync");
  EXPECT_EQ(dumped[1], "Command t2 NOOP NoArgs");
}

TEST(CommandReaderTest, RefusedLiteralPlusIsReadAndDropped) {
  // RFC 7888 4: the bytes come anyway, exactly n of them, then the rest of the command with
  // any further LITERAL+ messages (a MULTIAPPEND); none of it is reported.
  const auto dumped = dumpAll(
      readEverySplit("t1 APPEND Box {11+}\r\nt9 LOGOUT\r\n (\\Seen) {3+}\r\nabc\r\nt2 NOOP\r\n", {},
                     100, OnBegin::Refuse));
  ASSERT_EQ(dumped.size(), 2u);
  EXPECT_EQ(dumped[0], "Begin 11");
  EXPECT_EQ(dumped[1], "Command t2 NOOP NoArgs");
  // A later message of a MULTIAPPEND refused after the first was streamed.
  auto events = readEvents("t1 APPEND Box {1+}\r\na {3+}\r\nabc\r\nt2 NOOP\r\n", {}, {}, 100);
  ASSERT_EQ(dumpAll(events).size(), 6u);  // accepted: both literals and both commands
  CommandReader reader;
  reader.setStreamedLiteralLimit(100);
  reader.feed("t1 APPEND Box {1+}\r\na {3+}\r\nabc\r\nt2 NOOP\r\n");
  EXPECT_EQ(dump(reader.next()), "Begin 1");
  EXPECT_EQ(dump(reader.next()), "Chunk <a>");
  EXPECT_EQ(dump(reader.next()), "Begin 3");
  reader.refuseLiteral();
  EXPECT_EQ(dump(reader.next()), "Command t2 NOOP NoArgs");
  EXPECT_EQ(dump(reader.next()), "NeedMore");
}

TEST(CommandReaderTest, NulInAStreamedLiteralNeedsLiteral8) {
  const auto dumped = dumpAll(readEverySplit("t1 APPEND INBOX {3+}\r\na\0b\r\n"s, {}, 100));
  ASSERT_EQ(dumped.size(), 3u);
  EXPECT_EQ(dumped[2], "Error 0 tag=<t1>");
}

TEST(CommandReaderTest, StreamedChunksAreBounded) {
  const std::string body(CommandReader::kMaxChunk * 2 + 7, 'm');
  CommandReader reader;
  reader.setStreamedLiteralLimit(body.size());
  reader.feed("t1 APPEND INBOX {" + std::to_string(body.size()) + "+}\r\n" + body + "\r\n");
  EXPECT_TRUE(std::holds_alternative<LiteralBegin>(reader.next()));
  std::size_t total = 0;
  std::size_t chunks = 0;
  while (true) {
    ReadResult result = reader.next();
    auto* chunk = std::get_if<LiteralChunk>(&result);
    if (chunk == nullptr) {
      EXPECT_TRUE(std::holds_alternative<Command>(result)) << dump(result);
      break;
    }
    EXPECT_LE(chunk->bytes.size(), CommandReader::kMaxChunk);
    total += chunk->bytes.size();
    ++chunks;
  }
  EXPECT_EQ(total, body.size());
  EXPECT_EQ(chunks, 3u);
}

}  // namespace
}  // namespace popbridge::imap
