#pragma once

// The searchable text of a stored body, as SEARCH TEXT and BODY see it (RFC 3501 6.4.4), in
// two columns:
//   header: every header block of the message, one "Name: value" line per field, unfolded,
//           RFC 2047 encoded-words decoded (mime::headerSearchText): the message header, each
//           body part's MIME header and the header of each attached message (message/rfc822);
//   body:   every text/* part's content, transfer-decoded (quoted-printable, base64) and
//           converted from its charset to UTF-8; parts are separated by a line break.
// BODY looks at the body column, TEXT at both. Multipart preambles and epilogues and the content
// of non-text parts (images, PDFs, ...) are in neither. This is what Dovecot's SEARCH matches
// (checked against dovecot-imapd 2.3: BODY finds decoded text parts only, not part headers, not
// an attached message's header, not attachments, raw or decoded; TEXT adds every header). Both
// columns are valid UTF-8.
//
// It is extracted once per blob at ingest into the full-text index (UserStore::append); the same
// extraction serves bodies that are not indexed (see search.cc).

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "protocols/mime/message.h"
#include "store/error.h"

namespace popbridge::store {

enum class TextColumn : std::uint8_t { Header, Body };

// Receives the text in pieces, in message order, per column.
using TextSink = std::function<void(TextColumn, std::string_view)>;

// Reads the parts of `structure` that carry text from the open blob `fd` (positional reads; the
// fd is borrowed) and hands their decoded text to `sink`, which is called before this returns.
// Io if the blob cannot be read.
Result<void> extractSearchText(int fd, const mime::Message& structure, const TextSink& sink);

// The whole text of both columns, for the index. Returns false (and leaves the strings in an
// unspecified state) when the text is longer than `max_bytes` together: such bodies are not
// indexed and are searched by extracting their text again.
struct SearchText {
  std::string header;
  std::string body;
};
Result<bool> collectSearchText(int fd, const mime::Message& structure, std::size_t max_bytes,
                               SearchText& text);

// Parses the MIME structure of a blob of `size` bytes from the open `fd` (borrowed), for bodies
// stored before the structure was kept (schema version 2). Io if the blob cannot be read.
Result<mime::Message> parseStructure(int fd, std::uint64_t size);

}  // namespace popbridge::store
