#include "store/search_text.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "protocols/mime/decode.h"
#include "protocols/mime/parser.h"
#include "store/file_ops.h"

namespace popbridge::store {
namespace {

// Header bytes read per header block; fields past it are not searchable (as for HEADER keys).
constexpr std::uint64_t kMaxHeaderBytes = 256 * 1024;
// Body bytes read per call.
constexpr std::size_t kChunk = 64 * 1024;

Result<void> readAt(int fd, std::uint64_t offset, std::size_t wanted, std::string& out) {
  out.resize(wanted);
  std::size_t done = 0;
  while (done < wanted) {
    const ssize_t got =
        ::pread(fd, out.data() + done, wanted - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return fail(ioError("read", "blob", errno));
    if (got == 0) return fail(Error{ErrorCode::Corrupt, "blob shorter than its MIME structure"});
    done += static_cast<std::size_t>(got);
  }
  return {};
}

}  // namespace

Result<void> extractSearchText(int fd, const mime::Message& structure, const TextSink& sink) {
  std::string raw;
  std::string decoded;
  bool body_started = false;
  const auto bodyPiece = [&](std::string_view text) {
    if (!text.empty()) sink(TextColumn::Body, text);
  };
  for (const mime::Part& part : structure.parts) {
    if (part.header_length > 0) {
      const auto wanted = static_cast<std::size_t>(std::min(part.header_length, kMaxHeaderBytes));
      if (auto read = readAt(fd, part.header_offset, wanted, raw); !read) return read;
      const std::string text = mime::headerSearchText(raw);
      if (!text.empty()) sink(TextColumn::Header, text);
    }
    if (!mime::isTextPart(part)) continue;
    if (body_started) sink(TextColumn::Body, "\n");
    body_started = true;
    mime::PartTextDecoder decoder(part);
    std::uint64_t offset = part.body_offset;
    const std::uint64_t end = part.body_offset + part.body_length;
    while (offset < end) {
      const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, end - offset));
      if (auto read = readAt(fd, offset, wanted, raw); !read) return read;
      offset += wanted;
      decoder.feed(raw, decoded);
      bodyPiece(decoded);
      decoded.clear();
    }
    decoder.finish(decoded);
    bodyPiece(decoded);
    decoded.clear();
  }
  return {};
}

Result<bool> collectSearchText(int fd, const mime::Message& structure, std::size_t max_bytes,
                               SearchText& text) {
  text.header.clear();
  text.body.clear();
  bool fits = true;
  auto done = extractSearchText(fd, structure, [&](TextColumn column, std::string_view piece) {
    if (!fits) return;
    if (text.header.size() + text.body.size() + piece.size() > max_bytes) {
      fits = false;
      text.header.clear();
      text.body.clear();
      return;
    }
    (column == TextColumn::Header ? text.header : text.body).append(piece);
  });
  if (!done) return fail(done.error());
  return fits;
}

Result<mime::Message> parseStructure(int fd, std::uint64_t size) {
  mime::Parser parser;
  std::string chunk;
  for (std::uint64_t offset = 0; offset < size;) {
    const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(kChunk, size - offset));
    if (auto read = readAt(fd, offset, wanted, chunk); !read) return fail(read.error());
    parser.feed(chunk);
    offset += wanted;
  }
  return parser.finish();
}

}  // namespace popbridge::store
