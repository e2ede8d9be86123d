#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/imap/parse_error.h"

namespace popbridge::imap {

// Mailbox names on the wire are modified UTF-7 (RFC 3501 5.1.3) for IMAP4rev1 clients; the
// store keeps UTF-8. Both functions are pure and may run on any thread.

// Decodes a modified UTF-7 name into UTF-8. Printable ASCII other than '&' stands for itself,
// "&-" for '&', and "&...-" for modified-BASE64 UTF-16. Refuses (ParseError{Bad}) anything
// that is not in the one canonical form RFC 3501 allows, so every name has one spelling:
// 8-bit or control bytes, an unterminated or empty shift, bits left over, a lone surrogate,
// printable ASCII or '&' encoded in BASE64, and two shifts in a row.
Result<std::string, ParseError> decodeMutf7(std::string_view text);

// Encodes UTF-8 as modified UTF-7. Bytes that are not well-formed UTF-8 become U+FFFD (the
// store only holds well-formed names, so this never happens for them).
std::string encodeMutf7(std::string_view utf8);

// A mailbox name sent as UTF-8 (RFC 6855 3 once UTF8=ACCEPT is enabled, RFC 9051 5.1 once
// IMAP4rev2 is): returns it unchanged when it is well-formed UTF-8 (RFC 3629) without control
// characters, else ParseError{Bad}. '&' stands for itself here.
Result<std::string, ParseError> checkUtf8Name(std::string_view text);

}  // namespace popbridge::imap
