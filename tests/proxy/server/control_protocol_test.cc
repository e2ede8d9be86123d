#include "proxy/server/control_protocol.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace popbridge::proxy::control {
namespace {

TEST(ControlRequestTest, ParsesEachCommand) {
  EXPECT_EQ(parseRequest("status").value(), (Request{RequestKind::Status, ""}));
  EXPECT_EQ(parseRequest("  reload \t").value(), (Request{RequestKind::Reload, ""}));
  EXPECT_EQ(parseRequest("sync").value(), (Request{RequestKind::Sync, ""}));
  EXPECT_EQ(parseRequest("sync alice/provider").value(),
            (Request{RequestKind::Sync, "alice/provider"}));
  EXPECT_EQ(parseRequest("sync   provider ").value(), (Request{RequestKind::Sync, "provider"}));
}

TEST(ControlRequestTest, RefusesUnknownOrMalformedRequests) {
  EXPECT_FALSE(parseRequest(""));
  EXPECT_FALSE(parseRequest("   "));
  EXPECT_NE(parseRequest("stats").error().find("unknown command \"stats\""), std::string::npos);
  EXPECT_FALSE(parseRequest("status now"));
  EXPECT_FALSE(parseRequest("reload x"));
  EXPECT_FALSE(parseRequest("sync a b"));
  EXPECT_FALSE(parseRequest("STATUS"));  // the protocol is case-sensitive
}

TEST(ControlRequestTest, FormatRoundTrips) {
  for (const Request& request :
       {Request{RequestKind::Status, ""}, Request{RequestKind::Reload, ""},
        Request{RequestKind::Sync, ""}, Request{RequestKind::Sync, "bob/work"}}) {
    std::string line = formatRequest(request);
    ASSERT_EQ(line.back(), '\n');
    line.pop_back();
    EXPECT_EQ(parseRequest(line).value(), request) << line;
  }
}

TEST(ControlMessageTest, EncodesExactBytes) {
  Message message("progress");
  message.set("user", "alice").set("done", std::uint64_t{42}).set("ok", true).set("n", -3);
  EXPECT_EQ(message.toJson(), R"({"type":"progress","user":"alice","done":42,"ok":true,"n":-3})");
  EXPECT_EQ(message.toLine(), message.toJson() + "\n");
}

TEST(ControlMessageTest, SetReplacesAnExistingField) {
  Message message("x");
  message.set("a", 1).set("a", 2);
  EXPECT_EQ(message.toJson(), R"({"type":"x","a":2})");
}

TEST(ControlMessageTest, EscapesStrings) {
  Message message;
  message.set("error", std::string("say \"no\"\\ \n\t\x01 caf\xC3\xA9 \xFF end"));
  EXPECT_EQ(message.toJson(),
            "{\"error\":\"say \\\"no\\\"\\\\ \\n\\t\\u0001 caf\xC3\xA9 \xEF\xBF\xBD end\"}");
}

TEST(ControlMessageTest, ParsesWhatItEncodes) {
  Message message("account");
  message.set("user", "al\"ice").set("messages", std::uint64_t{1} << 40).set("disabled", false);
  message.set("error", "line\nbreak \xE2\x82\xAC");
  auto parsed = Message::parse(message.toJson());
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(*parsed, message);
  EXPECT_EQ(parsed->type(), "account");
  EXPECT_EQ(parsed->text("user"), "al\"ice");
  EXPECT_EQ(parsed->number("messages"), std::int64_t{1} << 40);
  EXPECT_EQ(parsed->flag("disabled"), false);
  EXPECT_EQ(parsed->text("messages"), std::nullopt);  // wrong type
  EXPECT_EQ(parsed->number("missing"), std::nullopt);
  EXPECT_EQ(parsed->textOr("missing", "-"), "-");
  EXPECT_EQ(parsed->numberOr("missing", 7), 7);
}

TEST(ControlMessageTest, ParsesJsonFromOtherWriters) {
  auto parsed =
      Message::parse(" { \"a\" : \"\\u00e9\\ud83d\\ude00\\/\" , \"b\":0, \"c\" : true }\r\n");
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->text("a"), "\xC3\xA9\xF0\x9F\x98\x80/");
  EXPECT_EQ(parsed->number("b"), 0);
  EXPECT_EQ(parsed->flag("c"), true);
  EXPECT_TRUE(Message::parse("{}"));
}

TEST(ControlMessageTest, RefusesMalformedJson) {
  for (const char* bad :
       {"", "[]", "{", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{\"a\":1} x", "{\"a\":1.5}",
        "{\"a\":1e3}", "{\"a\":null}", "{\"a\":{}}", "{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}",
        "{\"a\":\"\\x\"}", "{\"a\":\"open}", "{\"a\":\"tab\there\"}", "{\"a\":1,\"a\":2}",
        "{\"a\":99999999999999999999}", "{a:1}"}) {
    EXPECT_FALSE(Message::parse(bad)) << bad;
  }
}

TEST(LineBufferTest, SplitsLinesWholeAndByteByByte) {
  const std::string input = "status\nsync alice\r\n\nreload\n";
  const std::vector<std::string> expected = {"status", "sync alice", "", "reload"};
  for (std::size_t split = 0; split <= input.size(); ++split) {
    LineBuffer buffer;
    std::vector<std::string> lines;
    auto drain = [&] {
      while (true) {
        auto line = buffer.next();
        ASSERT_TRUE(line) << line.error();
        if (!*line) break;
        lines.push_back(**line);
      }
    };
    buffer.feed(std::string_view(input).substr(0, split));
    drain();
    buffer.feed(std::string_view(input).substr(split));
    drain();
    EXPECT_EQ(lines, expected) << "split at " << split;
  }
  LineBuffer bytewise;
  std::vector<std::string> lines;
  for (char c : input) {
    bytewise.feed(std::string_view(&c, 1));
    while (true) {
      auto line = bytewise.next();
      ASSERT_TRUE(line);
      if (!*line) break;
      lines.push_back(**line);
    }
  }
  EXPECT_EQ(lines, expected);
}

TEST(LineBufferTest, RefusesOverlongLines) {
  LineBuffer buffer(8);
  buffer.feed("12345678\n");
  EXPECT_EQ(buffer.next().value(), std::optional<std::string>("12345678"));
  buffer.feed("123456789");
  EXPECT_FALSE(buffer.next());
  LineBuffer complete(8);
  complete.feed("123456789\n");
  EXPECT_FALSE(complete.next());
}

}  // namespace
}  // namespace popbridge::proxy::control
