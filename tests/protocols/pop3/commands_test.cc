#include "protocols/pop3/commands.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace popbridge::pop3 {
namespace {

using namespace std::string_literals;

std::string encoded(std::string_view verb, std::string_view arg = {}) {
  auto line = encodeCommand(verb, arg);
  EXPECT_TRUE(line.has_value()) << verb << " " << arg;
  return line.value_or("");
}

TEST(EncodeCommand, ExactBytes) {
  EXPECT_EQ(encoded("USER", "alice"), "USER alice\r\n");
  EXPECT_EQ(encoded("PASS", "correct horse battery"), "PASS correct horse battery\r\n");
  EXPECT_EQ(encoded("CAPA"), "CAPA\r\n");
  EXPECT_EQ(encoded("STLS"), "STLS\r\n");
  EXPECT_EQ(encoded("UIDL"), "UIDL\r\n");
  EXPECT_EQ(encoded("LIST"), "LIST\r\n");
  EXPECT_EQ(encoded("QUIT"), "QUIT\r\n");
  EXPECT_EQ(encoded("AUTH", "PLAIN AGFsaWNlAHNlY3JldA=="), "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
  EXPECT_EQ(encodeCommand("RETR", 7u), "RETR 7\r\n");
  EXPECT_EQ(encodeCommand("DELE", 4294967295u), "DELE 4294967295\r\n");
  EXPECT_EQ(encodeCommand("TOP", 7u, 0u), "TOP 7 0\r\n");
  EXPECT_EQ(encodeCommand("TOP", 12u, 30u), "TOP 12 30\r\n");
}

TEST(EncodeCommand, RefusesInjection) {
  EXPECT_FALSE(encodeCommand("USER", "alice\r\nDELE 1").has_value());
  EXPECT_FALSE(encodeCommand("USER", "alice\nDELE 1").has_value());
  EXPECT_FALSE(encodeCommand("PASS", "pa\rss").has_value());
  EXPECT_FALSE(encodeCommand("PASS", "pa\0ss"s).has_value());
  EXPECT_EQ(encodeCommand("USER", "a\r\n").error().message,
            "command argument contains CR, LF or NUL");
  EXPECT_FALSE(encodeCommand("US ER", "alice").has_value());
  EXPECT_FALSE(encodeCommand("USER\r\n", "alice").has_value());
  EXPECT_FALSE(encodeCommand("", "alice").has_value());
  EXPECT_FALSE(encodeCommand(std::string(41, 'X')).has_value());
}

TEST(EncodeCommand, RefusesMissingArguments) {
  for (std::string_view verb : {"USER", "PASS", "APOP", "AUTH", "RETR", "DELE", "TOP", "user"}) {
    auto line = encodeCommand(verb);
    ASSERT_FALSE(line.has_value()) << verb;
    EXPECT_EQ(line.error().message, "command needs an argument");
  }
}

TEST(EncodeApop, ExactBytes) {
  // RFC 1939 section 7 example.
  auto line = encodeApop("mrose", "c4c9334bac560ecc979e58001b3e22fb");
  ASSERT_TRUE(line.has_value());
  EXPECT_EQ(*line, "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
  EXPECT_EQ(encodeApop("mrose", "C4C9334BAC560ECC979E58001B3E22FB").value_or(""),
            "APOP mrose c4c9334bac560ecc979e58001b3e22fb\r\n");
  EXPECT_FALSE(encodeApop("m rose", "c4c9334bac560ecc979e58001b3e22fb").has_value());
  EXPECT_FALSE(encodeApop("", "c4c9334bac560ecc979e58001b3e22fb").has_value());
  EXPECT_FALSE(encodeApop("mrose", "c4c9334bac560ecc979e58001b3e22f").has_value());
  EXPECT_FALSE(encodeApop("mrose", "g4c9334bac560ecc979e58001b3e22fb").has_value());
  EXPECT_FALSE(encodeApop("mrose", "c4c9334bac560ecc979e58001b3e22f\n").has_value());
}

TEST(Sasl, PlainInitialResponse) {
  // RFC 4616: authzid NUL authcid NUL passwd.
  EXPECT_EQ(saslPlainInitial("", "alice", "secret"), base64Encode("\0alice\0secret"s));
  EXPECT_EQ(saslPlainInitial("", "alice", "secret"), "AGFsaWNlAHNlY3JldA==");
  EXPECT_EQ(saslPlainInitial("admin", "alice", "pw"), base64Encode("admin\0alice\0pw"s));
  EXPECT_EQ(saslPlainInitialChecked("", "alice", "secret").value_or(""), "AGFsaWNlAHNlY3JldA==");
  EXPECT_FALSE(saslPlainInitialChecked("", "ali\0ce"s, "secret").has_value());
  EXPECT_FALSE(saslPlainInitialChecked("", "alice", "sec\0ret"s).has_value());
}

TEST(Sasl, Xoauth2InitialResponse) {
  auto ir =
      saslXoauth2Initial("someuser@example.com", "ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg");
  ASSERT_TRUE(ir.has_value());
  EXPECT_EQ(base64Decode(*ir).value_or(""),
            "user=someuser@example.com\x01"
            "auth=Bearer ya29.vF9dft4qmTc2Nvb3RlckBhdHRhdmlzdGEuY29tCg\x01\x01");
  EXPECT_FALSE(saslXoauth2Initial("a\x01", "t").has_value());
  EXPECT_FALSE(saslXoauth2Initial("a", "t\r\n").has_value());
}

TEST(Sasl, ResponsesAndCancel) {
  EXPECT_EQ(encodeSaslResponse("alice"), "YWxpY2U=\r\n");
  EXPECT_EQ(encodeSaslResponse(""), "\r\n");
  EXPECT_EQ(kSaslCancel, "*\r\n");
}

TEST(Sasl, LoginPrompts) {
  // The draft's prompts, as servers send them (base64 "VXNlcm5hbWU6" is "Username:").
  EXPECT_EQ(saslLoginPrompt(base64Decode("VXNlcm5hbWU6").value()), SaslLoginPrompt::Username);
  EXPECT_EQ(saslLoginPrompt(base64Decode("UGFzc3dvcmQ6").value()), SaslLoginPrompt::Password);
  EXPECT_EQ(saslLoginPrompt("User Name"), SaslLoginPrompt::Username);
  EXPECT_EQ(saslLoginPrompt("username:"), SaslLoginPrompt::Username);
  EXPECT_EQ(saslLoginPrompt(" password"), SaslLoginPrompt::Password);
  EXPECT_EQ(saslLoginPrompt(""), SaslLoginPrompt::Unknown);
  EXPECT_EQ(saslLoginPrompt("Token:"), SaslLoginPrompt::Unknown);
}

TEST(Base64, KnownVectors) {
  // RFC 4648 section 10.
  const std::pair<std::string_view, std::string_view> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded_text] : vectors) {
    EXPECT_EQ(base64Encode(plain), encoded_text);
    EXPECT_EQ(base64Decode(encoded_text).value_or("<error>"), plain);
  }
}

TEST(Base64, RoundTripsEveryByte) {
  std::string all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<char>(i));
  for (std::size_t len = 0; len <= all.size(); len += 1) {
    const std::string_view plain = std::string_view(all).substr(all.size() - len);
    auto back = base64Decode(base64Encode(plain));
    ASSERT_TRUE(back.has_value()) << len;
    EXPECT_EQ(*back, plain);
  }
  EXPECT_EQ(base64Encode("\xff\xfe\xfd"), "//79");
}

TEST(Base64, DecodeAcceptsMissingPadding) {
  EXPECT_EQ(base64Decode("Zg").value_or("<error>"), "f");
  EXPECT_EQ(base64Decode("Zm8").value_or("<error>"), "fo");
}

TEST(Base64, DecodeRejectsJunk) {
  for (std::string_view bad : {"Z", "Zg=", "Zm9v=", "Z===", "Zg==Zg==", "Zm 9v", "Zm9v\r\n", "Zm-v",
                               "Zm_v", "Zg=a", "====", "Zm9vY"}) {
    EXPECT_FALSE(base64Decode(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace popbridge::pop3
