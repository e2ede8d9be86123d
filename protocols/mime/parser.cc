#include "protocols/mime/parser.h"

#include <cstring>
#include <optional>
#include <utility>

#include "protocols/mime/rfc822.h"

namespace popbridge::mime {
namespace {

using rfc822::iequals;

bool isLwsp(char c) { return c == ' ' || c == '\t'; }

bool startsWithI(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

// What the header fields of one part said, beyond what is stored in the Part itself.
struct HeaderFacts {
  bool is_mime = false;    // MIME-Version or Content-Type present, or a multipart's child
  bool seen_type = false;  // a Content-Type header was present
  std::string type_token;  // "type/subtype" of the first Content-Type, empty when broken
  bool type_ok = false;    // that Content-Type parsed without a syntax error
};

void parseContentType(Part& part, HeaderFacts& facts, const std::string& value) {
  rfc822::Lexer lexer(value);
  lexer.skipLwsp();
  std::string token;
  int ret = lexer.parseContentType(token);
  std::size_t slash = token.find('/');
  if (slash == std::string::npos) {
    part.type = token;
    part.subtype = std::string();
  } else {
    part.type = token.substr(0, slash);
    part.subtype = token.substr(slash + 1);
  }
  facts.type_token = token;
  facts.type_ok = ret >= 0;
  // A broken Content-Type is reported as well as it could be read, without parameters.
  if (ret >= 0) part.params = rfc822::parseParams(lexer);
}

void parseTransferEncoding(Part& part, const std::string& value) {
  rfc822::Lexer lexer(value);
  lexer.skipLwsp();
  std::string token;
  if (lexer.parseMimeToken(token) >= 0 && lexer.skipLwsp() == 0 && !token.empty()) {
    part.encoding = std::move(token);
  }
}

void parseDisposition(Part& part, const std::string& value) {
  rfc822::Lexer lexer(value);
  lexer.skipLwsp();
  std::string token;
  if (lexer.parseMimeToken(token) < 0) return;
  part.disposition = std::move(token);
  part.disposition_params = rfc822::parseParams(lexer);
}

void parseLanguage(Part& part, const std::string& value) {
  // RFC 3282: Content-Language = 1#Language-tag
  rfc822::Lexer lexer(value);
  lexer.skipLwsp();
  std::string tag;
  while (lexer.parseAtom(tag) >= 0) {
    part.language.push_back(tag);
    tag.clear();
    if (lexer.atEnd() || lexer.peek() != ',') break;
    lexer.advance();
    lexer.skipLwsp();
  }
}

void applyContentField(Part& part, HeaderFacts& facts, std::string_view name,
                       const std::string& value) {
  std::string_view rest = name.substr(8);  // after "Content-"
  if (iequals(rest, "Type")) {
    facts.is_mime = true;
    if (!facts.seen_type) {
      facts.seen_type = true;
      parseContentType(part, facts, value);
    }
  } else if (iequals(rest, "ID")) {
    if (!part.id) part.id = rfc822::replaceNuls(value);
  } else if (iequals(rest, "MD5")) {
    if (!part.md5) part.md5 = rfc822::replaceNuls(value);
  } else if (iequals(rest, "Transfer-Encoding")) {
    if (!part.encoding) parseTransferEncoding(part, value);
  } else if (iequals(rest, "Language")) {
    if (part.language.empty()) parseLanguage(part, value);
  } else if (iequals(rest, "Location")) {
    if (!part.location) part.location = rfc822::replaceNuls(value);
  } else if (iequals(rest, "Description")) {
    if (!part.description) part.description = rfc822::replaceNuls(value);
  } else if (iequals(rest, "Disposition")) {
    // A later Content-Disposition replaces an earlier one that had no parameters (as Dovecot).
    if (part.disposition_params.empty()) parseDisposition(part, value);
  }
}

void applyEnvelopeField(Envelope& env, std::string_view name, const std::string& value) {
  // The last occurrence of a field wins, as in Dovecot's envelope.
  if (iequals(name, "Date")) {
    env.date = rfc822::replaceNuls(value);
  } else if (iequals(name, "Subject")) {
    env.subject = rfc822::replaceNuls(value);
  } else if (iequals(name, "From")) {
    env.from = rfc822::parseAddressList(value);
  } else if (iequals(name, "Sender")) {
    env.sender = rfc822::parseAddressList(value);
  } else if (iequals(name, "Reply-To")) {
    env.reply_to = rfc822::parseAddressList(value);
  } else if (iequals(name, "To")) {
    env.to = rfc822::parseAddressList(value);
  } else if (iequals(name, "Cc")) {
    env.cc = rfc822::parseAddressList(value);
  } else if (iequals(name, "Bcc")) {
    env.bcc = rfc822::parseAddressList(value);
  } else if (iequals(name, "In-Reply-To")) {
    env.in_reply_to = rfc822::replaceNuls(value);
  } else if (iequals(name, "Message-ID")) {
    env.message_id = rfc822::replaceNuls(value);
  }
}

// Splits a header block into fields and applies each. RFC 5322 2.2: a field is "name:" value,
// continued by lines that start with WSP; unfolding keeps an LF before each continuation (the
// encoder drops it). The name loses trailing WSP; the value loses the WSP after the colon. A line
// without a colon is a field with that whole line as its name and an empty value.
void applyHeader(std::string_view header, Part& part, HeaderFacts& facts, Envelope* env) {
  std::string name;
  std::string value;
  bool have_field = false;
  auto flush = [&] {
    if (!have_field) return;
    if (iequals(name, "Mime-Version")) facts.is_mime = true;
    if (startsWithI(name, "Content-")) applyContentField(part, facts, name, value);
    if (env != nullptr) applyEnvelopeField(*env, name, value);
    have_field = false;
  };
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t lf = header.find('\n', pos);
    std::size_t next = lf == std::string_view::npos ? header.size() : lf + 1;
    std::string_view line =
        header.substr(pos, (lf == std::string_view::npos ? header.size() : lf) - pos);
    pos = next;
    if (lf != std::string_view::npos && !line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    }
    if (line.empty() && lf != std::string_view::npos) break;  // the blank line ending the block
    if (have_field && isLwsp(line.front())) {
      value += '\n';
      value.append(line);
      continue;
    }
    flush();
    have_field = true;
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) {
      name.assign(line);
      value.clear();
      continue;
    }
    std::size_t name_end = colon;
    while (name_end > 0 && isLwsp(line[name_end - 1])) --name_end;
    name.assign(line.substr(0, name_end));
    std::string_view v = line.substr(colon + 1);
    std::size_t skip = 0;
    while (skip < v.size() && isLwsp(v[skip])) ++skip;
    if (skip == v.size() && !v.empty()) skip = 1;  // all WSP: drop only the first
    value.assign(v.substr(skip));
  }
  flush();
}

void clearContent(Part& part) {
  part.type.reset();
  part.subtype.reset();
  part.params.clear();
  part.id.reset();
  part.description.reset();
  part.encoding.reset();
  part.md5.reset();
  part.disposition.reset();
  part.disposition_params.clear();
  part.language.clear();
  part.location.reset();
}

}  // namespace

Parser::Parser(Limits limits) : limits_(limits) {
  if (limits_.max_depth == 0) limits_.max_depth = 1;
  if (limits_.max_parts == 0) limits_.max_parts = 1;
  openPart(kNoPart, 0);
}

std::uint32_t Parser::depthOf(std::uint32_t index) const {
  std::uint32_t depth = 0;
  for (std::uint32_t p = msg_.parts[index].parent; p != kNoPart; p = msg_.parts[p].parent) {
    ++depth;
  }
  return depth;
}

void Parser::openPart(std::uint32_t parent, std::uint64_t offset) {
  auto index = static_cast<std::uint32_t>(msg_.parts.size());
  Part part;
  part.parent = parent;
  part.header_offset = offset;
  part.body_offset = offset;
  msg_.parts.push_back(std::move(part));
  body_start_.push_back(BodyStart{});
  if (parent != kNoPart) msg_.parts[parent].children.push_back(index);
  open_.push_back(index);
  mode_ = Mode::Header;
  header_.clear();
  header_line_begin_ = 0;
  header_truncated_ = false;
  header_prev_newline_ = 0;
}

void Parser::count(std::string_view bytes) {
  const char* p = bytes.data();
  const char* end = p + bytes.size();
  while (p < end) {
    const void* hit = std::memchr(p, '\n', static_cast<std::size_t>(end - p));
    if (hit == nullptr) {
      prev_cr_ = end[-1] == '\r';
      break;
    }
    const char* nl = static_cast<const char*>(hit);
    bool cr = nl > p ? nl[-1] == '\r' : prev_cr_;
    ++lf_;
    if (!cr) ++bare_;
    last_nl_ = cr ? 2 : 1;
    prev_cr_ = false;
    p = nl + 1;
  }
  offset_ += bytes.size();
}

void Parser::appendHeader(std::string_view bytes) {
  if (header_truncated_) return;
  if (header_.size() + bytes.size() > limits_.max_header_bytes) {
    // Keep whole lines only; the fields past the bound are not interpreted.
    header_truncated_ = true;
    header_.resize(header_line_begin_);
    return;
  }
  header_.append(bytes);
}

void Parser::beginLine() {
  if (mode_ == Mode::AfterHeader && boundaries_.empty()) startBody();
  at_line_start_ = false;
  line_start_ = offset_;
  line_start_lf_ = lf_;
  line_start_bare_ = bare_;
  line_prefix_.clear();
  line_checked_ = boundaries_.empty() || mode_ == Mode::BoundaryLine;
  header_line_begin_ = header_.size();
}

void Parser::feed(std::string_view chunk) {
  if (finished_) return;
  std::size_t i = 0;
  while (i < chunk.size()) {
    if (at_line_start_) beginLine();
    if (!line_checked_) {
      // Collect the start of the line until it can be told whether it is a delimiter.
      while (i < chunk.size()) {
        char c = chunk[i++];
        count(std::string_view(&c, 1));
        line_prefix_ += c;
        if (c == '\n' || line_prefix_.size() >= window() || line_prefix_[0] != '-' ||
            (line_prefix_.size() >= 2 && line_prefix_[1] != '-')) {
          line_checked_ = true;
          break;
        }
      }
      if (line_checked_) decideLine();
      continue;
    }
    const void* hit = std::memchr(chunk.data() + i, '\n', chunk.size() - i);
    std::size_t end =
        hit == nullptr ? chunk.size()
                       : static_cast<std::size_t>(static_cast<const char*>(hit) - chunk.data()) + 1;
    std::string_view piece = chunk.substr(i, end - i);
    if (mode_ == Mode::Header) appendHeader(piece);
    count(piece);
    i = end;
    if (hit != nullptr) endOfLine();
  }
}

const Parser::Boundary* Parser::matchBoundary(bool& close) const {
  // RFC 2046 5.1.1: a delimiter line is "--" boundary, optionally followed by "--" (the close
  // delimiter) and whitespace. Like Dovecot, only the start of the line has to match, the
  // innermost (newest) boundary is preferred and the longest match wins.
  close = false;
  std::string_view line(line_prefix_);
  if (line.size() < 2 || line[0] != '-' || line[1] != '-') return nullptr;
  std::string_view data = line.substr(2);
  std::size_t find_size;
  std::size_t lf = data.find('\n');
  if (lf != std::string_view::npos) {
    find_size = lf;
    if (find_size > 0 && data[find_size - 1] == '\r') --find_size;
    if (find_size > 2 && data[find_size - 1] == '-' && data[find_size - 2] == '-') find_size -= 2;
  } else {
    find_size = std::min(data.size(), limits_.max_boundary + 4);
  }
  const Boundary* best = nullptr;
  for (auto it = boundaries_.rbegin(); it != boundaries_.rend(); ++it) {
    const std::string& b = it->text;
    if (b.size() <= find_size && data.compare(0, b.size(), b) == 0 &&
        (best == nullptr || best->text.size() < b.size())) {
      best = &*it;
      if (b.size() == find_size) break;
    }
  }
  if (best != nullptr) {
    std::size_t n = best->text.size();
    close = data.size() >= n + 2 && data[n] == '-' && data[n + 1] == '-';
  }
  return best;
}

void Parser::decideLine() {
  bool close = false;
  const Boundary* b = boundaries_.empty() ? nullptr : matchBoundary(close);
  if (b != nullptr && !close && msg_.parts.size() >= limits_.max_parts) {
    b = nullptr;  // no room for another part: the delimiter is content
  }
  if (mode_ == Mode::AfterHeader) {
    if (b != nullptr && b->part != open_.back()) {
      // An enclosing part's delimiter right after the blank line: that blank line's newline is
      // the CRLF before the delimiter (RFC 2046 5.1.1), so the header ends before it, the body
      // is empty and the delimiter is handled as if it had interrupted the header.
      Part& part = msg_.parts[open_.back()];
      Cut cut{eoh_.end - eoh_newline_, eoh_.lf - 1, eoh_.bare - (eoh_newline_ == 1 ? 1 : 0)};
      part.header_length = cut.end - part.header_offset;
      part.body_offset = cut.end;
      body_start_[open_.back()] = BodyStart{cut.lf, cut.bare};
      startBody();
      handleBoundary(static_cast<std::size_t>(b - boundaries_.data()), close, cut);
      if (line_prefix_.back() == '\n') endOfLine();
      return;
    }
    startBody();
    if (mode_ == Mode::Header) {
      // The line is the first header line of the embedded message just opened.
      b = nullptr;
    }
  }
  if (b != nullptr) {
    Cut cut;
    if (mode_ == Mode::Header) {
      // A delimiter inside a header block ends it; the newline before the delimiter belongs to
      // the delimiter, so the header loses it and the part's body is empty.
      std::uint8_t nl = header_prev_newline_;
      cut = Cut{line_start_ - nl, line_start_lf_ - (nl != 0 ? 1 : 0),
                line_start_bare_ - (nl == 1 ? 1 : 0)};
    } else if (line_start_ == region_start_) {
      // The delimiter is the first line of this body region: its preceding newline was already
      // taken by the previous delimiter line.
      cut = Cut{line_start_, line_start_lf_, line_start_bare_};
    } else {
      // RFC 2046 5.1.1: the CRLF preceding the boundary delimiter line belongs to the delimiter.
      std::uint8_t nl = prev_newline_;
      cut = Cut{line_start_ - nl, line_start_lf_ - 1, line_start_bare_ - (nl == 1 ? 1 : 0)};
    }
    handleBoundary(static_cast<std::size_t>(b - boundaries_.data()), close, cut);
  } else if (mode_ == Mode::Header) {
    appendHeader(line_prefix_);
  }
  if (!line_prefix_.empty() && line_prefix_.back() == '\n') endOfLine();
}

void Parser::endOfLine() {
  std::uint64_t len = offset_ - line_start_;
  std::uint8_t nl = last_nl_;
  at_line_start_ = true;
  if (mode_ == Mode::Header) {
    if (len == nl) {
      eoh_newline_ = nl;
      finishHeader(Cut{offset_, lf_, bare_}, true);
    } else {
      header_prev_newline_ = nl;
    }
  } else if (mode_ == Mode::BoundaryLine) {
    if (pending_new_part_) {
      openPart(open_.back(), offset_);
    } else {
      // After the close delimiter: the epilogue, still the multipart's body.
      mode_ = Mode::Body;
      region_start_ = offset_;
    }
  }
  prev_newline_ = nl;
}

void Parser::handleBoundary(std::size_t boundary_index, bool close, Cut cut) {
  std::uint32_t owner = boundaries_[boundary_index].part;
  while (mode_ == Mode::Header) finishHeader(cut, false);
  while (open_.back() != owner) closeTop(cut);
  // A close delimiter ends its boundary and every newer one; a delimiter forgets the newer ones
  // (parts left open inside were just closed).
  boundaries_.resize(close ? boundary_index : boundary_index + 1);
  pending_new_part_ = !close;
  mode_ = Mode::BoundaryLine;
}

void Parser::finishHeader(Cut cut, bool at_blank_line) {
  std::uint32_t index = open_.back();
  std::uint32_t parent = msg_.parts[index].parent;
  PartKind parent_kind = parent == kNoPart ? PartKind::Leaf : msg_.parts[parent].kind;
  bool parent_digest = parent_kind == PartKind::Multipart && msg_.parts[parent].subtype &&
                       iequals(*msg_.parts[parent].subtype, "digest");
  bool want_envelope = parent == kNoPart || parent_kind == PartKind::Message;

  Part& part = msg_.parts[index];
  HeaderFacts facts;
  facts.is_mime = parent_kind == PartKind::Multipart;
  Envelope envelope;
  applyHeader(header_, part, facts, want_envelope ? &envelope : nullptr);
  if (want_envelope) part.envelope = std::move(envelope);
  header_.clear();
  header_.shrink_to_fit();

  // RFC 2045 4: without MIME-Version the Content-* fields do not apply (a Content-Type alone is
  // accepted as MIME, as most readers do).
  if (!facts.is_mime) clearContent(part);

  bool multipart = false;
  bool message = false;
  if (facts.is_mime && facts.seen_type) {
    multipart = startsWithI(facts.type_token, "multipart/");
    message = iequals(facts.type_token, "message/rfc822");
  } else if (parent_digest) {
    message = true;  // RFC 2046 5.1.5: the default in multipart/digest is message/rfc822
  }
  // The first "boundary" parameter, when the Content-Type parsed cleanly.
  std::optional<std::string> boundary;
  if (multipart && facts.type_ok) {
    for (const Param& p : part.params) {
      if (iequals(p.name, "boundary")) {
        boundary = p.value.substr(0, limits_.max_boundary);
        break;
      }
    }
  }
  if ((multipart || message) && depthOf(index) >= limits_.max_depth) {
    part.overflow = true;
    multipart = message = false;
  }
  if (message && msg_.parts.size() >= limits_.max_parts) {
    part.overflow = true;
    message = false;
  }
  part.kind = multipart ? PartKind::Multipart : message ? PartKind::Message : PartKind::Leaf;
  part.header_length = cut.end - part.header_offset;
  part.body_offset = cut.end;
  body_start_[index] = BodyStart{cut.lf, cut.bare};

  if (at_blank_line) {
    // A multipart's boundary counts from its blank line on, so its own delimiter on the next
    // line is recognised as its own (and not as an enclosing one with the same prefix).
    if (multipart && boundary) boundaries_.push_back(Boundary{std::move(*boundary), index});
    if (!boundaries_.empty()) {
      eoh_ = cut;
      mode_ = Mode::AfterHeader;
      return;
    }
  }
  startBody();
}

void Parser::startBody() {
  std::uint32_t index = open_.back();
  const Part& part = msg_.parts[index];
  if (part.kind == PartKind::Message) {
    openPart(index, part.body_offset);
    return;
  }
  mode_ = Mode::Body;
  region_start_ = part.body_offset;
}

void Parser::closeTop(Cut cut) {
  std::uint32_t index = open_.back();
  open_.pop_back();
  Part& part = msg_.parts[index];
  const BodyStart& start = body_start_[index];
  part.body_length = cut.end - part.body_offset;
  part.body_lines = cut.lf - start.lf;
  part.body_octets = part.body_length + (cut.bare - start.bare);
}

Message Parser::finish() {
  if (finished_) return Message{};
  if (!at_line_start_ && !line_checked_) {
    line_checked_ = true;
    decideLine();  // a delimiter may end the message without a newline
  }
  if (mode_ == Mode::AfterHeader) startBody();
  Cut eof{offset_, lf_, bare_};
  while (mode_ == Mode::Header) finishHeader(eof, false);
  while (!open_.empty()) closeTop(eof);
  finished_ = true;
  msg_.size = offset_;
  body_start_.clear();
  boundaries_.clear();
  return std::move(msg_);
}

}  // namespace popbridge::mime
