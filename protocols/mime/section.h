#pragma once

// IMAP section addressing (RFC 3501 6.4.5): from "1.2" and HEADER/TEXT/MIME to a byte range of
// the stored message, so FETCH BODY[1.2.MIME] or BODY[3]<0.4096> is a ranged read of the blob.
//
// Pure functions over a Message; any thread; no callbacks.

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/mime/message.h"

namespace popbridge::mime {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;

  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

// What of the addressed part is wanted.
enum class SectionText : std::uint8_t {
  Body,    // BODY[1.2]: the part's content (BODY[] of the whole message is Message::size)
  Mime,    // BODY[1.2.MIME]: the part's MIME header, blank line included
  Header,  // BODY[HEADER], BODY[1.2.HEADER]: the header of the message (or embedded message)
  Text,    // BODY[TEXT], BODY[1.2.TEXT]: the body of the message (or embedded message)
};

struct SectionError {
  enum class Code : std::uint8_t {
    Syntax,      // not a part number list ("1..2", "0", "x")
    NoSuchPart,  // the message has no such part
    NotMessage,  // HEADER/TEXT on a part that is not message/rfc822
    MimeOnTop,   // MIME with no part number (RFC 3501: MIME needs a part specifier)
  };
  Code code = Code::Syntax;
  std::string message;
};

// Parses a dot-separated list of non-zero part numbers ("1", "1.2.3"); "" gives an empty list.
// Returns SectionError::Syntax for anything else.
Result<std::vector<std::uint32_t>, SectionError> parseSectionPath(std::string_view text);

// The index (in Message::parts) of the part that `path` names, following RFC 3501 6.4.5: part 1
// of a non-multipart message is its body; numbers after a message/rfc822 part address the
// embedded message's parts. An empty path names the root. Returns NoSuchPart when absent.
Result<std::uint32_t, SectionError> findPart(const Message& msg,
                                             std::span<const std::uint32_t> path);

// The byte range of `what` for the part that `path` names. For Header/Text with a non-empty
// path the part must be message/rfc822 and the range is its embedded message's header/body.
// Ranges are within [0, Message::size).
Result<ByteRange, SectionError> sectionRange(const Message& msg,
                                             std::span<const std::uint32_t> path, SectionText what);

}  // namespace popbridge::mime
