#pragma once

// The searchable text of a stored body, as SEARCH TEXT and BODY see it (RFC 3501 6.4.4):
//   header: the message header, one "Name: value" line per field, unfolded, RFC 2047
//           encoded-words decoded (mime::headerSearchText);
//   body:   every text/* part's content, transfer-decoded (quoted-printable, base64) and
//           converted from its charset to UTF-8, plus the header of every attached message
//           (message/rfc822) decoded the same way; parts are separated by a line break.
// Multipart preambles and epilogues, MIME part headers and non-text parts (images, PDFs, ...)
// are not text a user searches for and are left out. Both columns are valid UTF-8.
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
