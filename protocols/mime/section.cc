#include "protocols/mime/section.h"

namespace popbridge::mime {

Result<std::vector<std::uint32_t>, SectionError> parseSectionPath(std::string_view text) {
  std::vector<std::uint32_t> path;
  if (text.empty()) return path;
  std::size_t pos = 0;
  while (true) {
    std::uint64_t n = 0;
    std::size_t start = pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      n = n * 10 + static_cast<std::uint64_t>(text[pos] - '0');
      if (n > 0xfffffffeu) return fail(SectionError{SectionError::Code::Syntax, "part too large"});
      ++pos;
    }
    // RFC 3501 9: nz-number, no leading zero.
    if (pos == start || n == 0 || text[start] == '0') {
      return fail(SectionError{SectionError::Code::Syntax, "bad part number"});
    }
    path.push_back(static_cast<std::uint32_t>(n));
    if (pos == text.size()) return path;
    if (text[pos] != '.' || pos + 1 == text.size()) {
      return fail(SectionError{SectionError::Code::Syntax, "bad section"});
    }
    ++pos;
  }
}

Result<std::uint32_t, SectionError> findPart(const Message& msg,
                                             std::span<const std::uint32_t> path) {
  if (msg.parts.empty()) return fail(SectionError{SectionError::Code::NoSuchPart, "no parts"});
  std::uint32_t cur = 0;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const Part& p = msg.parts[cur];
    std::uint32_t n = path[i];
    if (p.kind == PartKind::Multipart) {
      if (n == 0 || n > p.children.size()) {
        return fail(SectionError{SectionError::Code::NoSuchPart, "no such part"});
      }
      cur = p.children[n - 1];
    } else if (n != 1 || (i + 1 < path.size() && p.kind != PartKind::Message)) {
      // A single-part body has only part 1, and only message/rfc822 has parts below it.
      return fail(SectionError{SectionError::Code::NoSuchPart, "no such part"});
    }
    const Part& q = msg.parts[cur];
    if (i + 1 < path.size() && q.kind == PartKind::Message) {
      if (q.children.empty()) {
        return fail(SectionError{SectionError::Code::NoSuchPart, "no such part"});
      }
      cur = q.children.front();  // continue inside the embedded message
    }
  }
  return cur;
}

Result<ByteRange, SectionError> sectionRange(const Message& msg,
                                             std::span<const std::uint32_t> path,
                                             SectionText what) {
  auto index = findPart(msg, path);
  if (!index) return fail(index.error());
  const Part* p = &msg.parts[*index];
  switch (what) {
    case SectionText::Body:
      return ByteRange{p->body_offset, p->body_length};
    case SectionText::Mime:
      if (path.empty()) {
        return fail(SectionError{SectionError::Code::MimeOnTop, "MIME needs a part number"});
      }
      return ByteRange{p->header_offset, p->header_length};
    case SectionText::Header:
    case SectionText::Text:
      if (!path.empty()) {
        if (p->kind != PartKind::Message || p->children.empty()) {
          return fail(SectionError{SectionError::Code::NotMessage, "not a message/rfc822 part"});
        }
        p = &msg.parts[p->children.front()];
      }
      if (what == SectionText::Header) return ByteRange{p->header_offset, p->header_length};
      return ByteRange{p->body_offset, p->body_length};
  }
  return fail(SectionError{SectionError::Code::Syntax, "bad section"});
}

}  // namespace popbridge::mime
