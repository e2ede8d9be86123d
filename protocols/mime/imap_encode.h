#pragma once

// IMAP encoders for a parsed Message: ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2,
// RFC 9051 7.5.2). Output is byte for byte what Dovecot 2.3 sends for the same message, so a
// client sees the same structure whether its mail lives in popbridge or in Dovecot.
//
// Every function appends to a caller-owned std::string, never allocates anything the caller must
// free, never calls back, and may run on any thread (the Message is only read). Strings become
// quoted strings, or literals ("{n}\r\n" + bytes) when they hold CR, LF, 8-bit bytes or more
// than four quoted-specials; the result is valid wherever an IMAP server response allows
// nstrings, so it can be written to the client as is.

#include <optional>
#include <string>
#include <string_view>

#include "protocols/mime/message.h"

namespace popbridge::mime {

enum class Extended : bool {
  No,   // BODY: the basic fields only
  Yes,  // BODYSTRUCTURE: also MD5, disposition, language and location (and multipart params)
};

// Appends the parenthesized ENVELOPE of `msg` (its root part), e.g. `("date" "subject" ...)`.
void appendEnvelope(std::string& out, const Message& msg);

// Appends one envelope's parenthesized form; the building block of appendEnvelope and of
// message/rfc822 parts in BODYSTRUCTURE.
void appendEnvelope(std::string& out, const Envelope& envelope);

// Appends the parenthesized BODY (Extended::No) or BODYSTRUCTURE (Extended::Yes) of `msg`, the
// value that follows "BODY " / "BODYSTRUCTURE " in a FETCH response. Walks the part tree with an
// explicit stack (no recursion however deep the message nests).
void appendBodyStructure(std::string& out, const Message& msg, Extended extended);

// IMAP string building blocks, with Dovecot's choice between quoted string and literal.
// appendString: `"..."` or a literal. appendNString: as appendString, NIL when `value` is null.
void appendString(std::string& out, std::string_view value);
void appendNString(std::string& out, const std::optional<std::string>& value);
// As appendNString, after unfolding: each CR/LF is dropped, and replaced by a space when the
// next byte is not whitespace (so folded header values read as one line).
void appendNStringNoLf(std::string& out, const std::optional<std::string>& value);
// For display text (Subject, address display names): folds whitespace runs into one space,
// trims both ends, drops CR/LF; a value that had to change is sent as a literal.
void appendStringForHumans(std::string& out, std::string_view value);

}  // namespace popbridge::mime
