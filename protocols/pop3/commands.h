#pragma once

// POP3 command encoders (RFC 1939, 2449, 2595, 5034) and the SASL/base64 helpers they need.
// All functions are pure: they return new strings, keep no state and may run on any thread.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/pop3/reply.h"

namespace popbridge::pop3 {

// Encodes "VERB\r\n" or "VERB arg\r\n". The verb is sent as given and must be 1..40 printable
// ASCII octets without blanks. The argument must not contain CR, LF or NUL (they would let it
// inject a second command); it may contain spaces (PASS, RFC 1939 section 7; "AUTH PLAIN ir";
// "APOP name digest"). USER, PASS, APOP, AUTH, RETR, DELE and TOP require a non-empty argument.
// Returns the line, or a ReplyError naming what was refused.
Result<std::string, ReplyError> encodeCommand(std::string_view verb, std::string_view arg = {});

// Encodes "VERB n\r\n", e.g. "RETR 7\r\n". The verb must be a keyword constant (not checked).
std::string encodeCommand(std::string_view verb, std::uint32_t number);

// Encodes "VERB n lines\r\n", e.g. "TOP 7 0\r\n". The verb must be a keyword constant.
std::string encodeCommand(std::string_view verb, std::uint32_t number, std::uint32_t lines);

// Encodes "APOP name digest\r\n" (RFC 1939 section 7). The digest is the lowercase hex MD5 of
// apopBanner() + secret, computed by the caller. Refuses a name with blanks or control octets
// and a digest that is not 32 hex digits.
Result<std::string, ReplyError> encodeApop(std::string_view name, std::string_view hex_digest);

// The SASL PLAIN initial response (RFC 4616): base64(authzid NUL user NUL password); pass an
// empty authzid to act as the user. RFC 4616 forbids NUL inside the three fields; the caller must
// not pass any (saslPlainInitialChecked() refuses them instead). Use it as
// encodeCommand("AUTH", "PLAIN " + saslPlainInitial(...)).
std::string saslPlainInitial(std::string_view authzid, std::string_view user,
                             std::string_view password);

// As saslPlainInitial(), but returns a ReplyError if any field contains NUL.
Result<std::string, ReplyError> saslPlainInitialChecked(std::string_view authzid,
                                                        std::string_view user,
                                                        std::string_view password);

// The XOAUTH2 initial response: base64("user=" user ^A "auth=Bearer " token ^A ^A). Refuses
// fields containing ^A, CR, LF or NUL.
Result<std::string, ReplyError> saslXoauth2Initial(std::string_view user, std::string_view token);

// What a SASL LOGIN challenge asks for. The mechanism (draft-murchison-sasl-login) has no
// initial response; the server sends base64("Username:") then base64("Password:"). Servers vary
// the wording ("User Name", "username:"), so the prompt is matched loosely, case-insensitively.
enum class SaslLoginPrompt { Username, Password, Unknown };

// Classifies a decoded SASL LOGIN challenge. Pure.
SaslLoginPrompt saslLoginPrompt(std::string_view decoded_challenge);

// A client response to a SASL challenge (RFC 5034 section 4): base64(raw) followed by CRLF. An
// empty response is an empty line.
std::string encodeSaslResponse(std::string_view raw);

// The line that cancels a SASL exchange (RFC 5034 section 4).
inline constexpr std::string_view kSaslCancel = "*\r\n";

// Standard base64 (RFC 4648 section 4) with padding.
std::string base64Encode(std::string_view bytes);

// Decodes standard base64. Padding may be present or omitted; blanks, other characters, data
// after padding, or a length that cannot come from an encoder are a ReplyError.
Result<std::string, ReplyError> base64Decode(std::string_view text);

}  // namespace popbridge::pop3
