#include "proxy/imap/fetch_job.h"

#include <algorithm>
#include <cstring>

#include "protocols/imap/encoder.h"
#include "protocols/mime/imap_encode.h"
#include "protocols/mime/section.h"
#include "proxy/imap/flags.h"

namespace popbridge::proxy::imap {
namespace {

using popbridge::imap::FetchAtt;
using popbridge::imap::Section;
using Kind = FetchAtt::Kind;

// Header fields are filtered in memory; a header beyond this is answered from its start.
constexpr std::uint64_t kMaxFilteredHeader = 1024 * 1024;
constexpr std::size_t kReadChunk = 64 * 1024;
// FETCH BINARY reads and decodes in larger steps: fewer reads and decoder calls per part.
constexpr std::size_t kDecodeChunk = 256 * 1024;

bool isBinary(const FetchAtt& att) {
  return att.kind == Kind::Binary || att.kind == Kind::BinaryPeek || att.kind == Kind::BinarySize;
}

bool needsBody(const FetchAtt& att) {
  return att.kind == Kind::BodySection || isBinary(att) || att.kind == Kind::Rfc822 ||
         att.kind == Kind::Rfc822Header || att.kind == Kind::Rfc822Text;
}

bool needsStructure(const FetchAtt& att) {
  return att.kind == Kind::Envelope || att.kind == Kind::BodyStructure || att.kind == Kind::Body ||
         (att.kind == Kind::BodySection && !att.section.part.empty()) || isBinary(att);
}

bool needsObjectIds(const FetchAtt& att) {
  return att.kind == Kind::EmailId || att.kind == Kind::ThreadId;
}

mime::SectionText sectionText(Section::Text text) {
  switch (text) {
    case Section::Text::Full:
      return mime::SectionText::Body;
    case Section::Text::Mime:
      return mime::SectionText::Mime;
    case Section::Text::Text:
      return mime::SectionText::Text;
    case Section::Text::Header:
    case Section::Text::HeaderFields:
    case Section::Text::HeaderFieldsNot:
      return mime::SectionText::Header;
  }
  return mime::SectionText::Body;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

// RFC 3501 6.4.5 HEADER.FIELDS / HEADER.FIELDS.NOT: the matching fields (with their folded
// continuation lines) followed by the blank line that ends a header.
std::string filterHeader(std::string_view header, const std::vector<std::string>& fields,
                         bool keep_matching) {
  std::string result;
  std::size_t pos = 0;
  bool keep = false;
  while (pos < header.size()) {
    std::size_t end = header.find('\n', pos);
    end = end == std::string_view::npos ? header.size() : end + 1;
    std::string_view line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n" || line == "\n") break;
    if (line[0] != ' ' && line[0] != '\t') {
      const std::size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      const bool listed = std::any_of(fields.begin(), fields.end(),
                                      [&](const std::string& f) { return iequals(f, name); });
      keep = colon != std::string_view::npos && listed == keep_matching;
    }
    if (keep) result.append(line);
  }
  result.append("\r\n");
  return result;
}

}  // namespace

FetchJob::FetchJob(std::shared_ptr<store::UserStore> store, std::int64_t mailbox_id,
                   std::vector<Target> targets, std::vector<FetchAtt> atts)
    : store_(std::move(store)),
      mailbox_id_(mailbox_id),
      targets_(std::move(targets)),
      atts_(std::move(atts)) {
  needs_body_ = std::any_of(atts_.begin(), atts_.end(), needsBody);
  needs_structure_ = std::any_of(atts_.begin(), atts_.end(), needsStructure);
  needs_object_ids_ = std::any_of(atts_.begin(), atts_.end(), needsObjectIds);
}

std::optional<std::string> FetchJob::unsupported(const std::vector<FetchAtt>& atts) {
  for (const FetchAtt& att : atts) {
    switch (att.kind) {
      case Kind::BodySection:
        if (att.section.part.empty() && att.section.text == Section::Text::Mime) {
          return "MIME needs a part number";
        }
        break;
      default:
        break;
    }
  }
  return std::nullopt;
}

bool FetchJob::setsSeen(const std::vector<FetchAtt>& atts) {
  return std::any_of(atts.begin(), atts.end(), [](const FetchAtt& att) {
    // RFC 3516 4.2: BINARY[] sets \Seen like BODY[]; BINARY.PEEK and BINARY.SIZE do not.
    return (att.kind == Kind::BodySection && !att.peek) || att.kind == Kind::Binary ||
           att.kind == Kind::Rfc822 || att.kind == Kind::Rfc822Text;
  });
}

bool FetchJob::produce(std::string& out, std::size_t budget) {
  const std::size_t limit = out.size() + budget;
  while (index_ < targets_.size() && !error_) {
    if (!in_message_ && !startMessage(out)) {
      ++index_;
      continue;
    }
    while (item_ < atts_.size() || literal_remaining_ > 0) {
      if (literal_remaining_ > 0) {
        streamLiteral(out, limit);
        if (error_) return true;
        if (literal_remaining_ > 0) return false;  // budget spent mid-literal
        ++item_;
        continue;
      }
      if (out.size() >= limit) return false;
      if (item_ > 0) out.push_back(' ');
      if (!appendItem(out, atts_[item_])) {
        if (error_) return true;
        continue;  // a literal started; streamLiteral advances item_
      }
      ++item_;
    }
    out.append(")\r\n");
    in_message_ = false;
    body_.reset();
    ++index_;
    if (out.size() >= limit) break;
  }
  return index_ >= targets_.size() || error_.has_value();
}

bool FetchJob::startMessage(std::string& out) {
  const Target& target = targets_[index_];
  if (needs_body_) {
    auto body = store_->openBody(mailbox_id_, target.info.uid);
    if (!body) {
      if (body.error().code == store::ErrorCode::NotFound) {
        expunge_issued_ = true;  // RFC 2180 4.1.3: answer the rest, then NO
      } else {
        error_ = body.error();
      }
      return false;
    }
    body_.emplace(std::move(*body));
  }
  structure_.reset();
  if (needs_structure_) {
    auto structure =
        take(structures_, [this](std::int64_t box, std::span<const std::uint32_t> uids) {
          return store_->mimeStructures(box, uids);
        });
    if (!structure) {
      if (structure.error().code == store::ErrorCode::NotFound) {
        expunge_issued_ = true;
      } else {
        error_ = structure.error();
      }
      body_.reset();
      return false;
    }
    structure_.emplace(std::move(*structure));
    if (hasUnknownCte()) {
      unknown_cte_ = true;  // RFC 3516 4.3: the message is left out, the command ends NO
      body_.reset();
      return false;
    }
  }
  object_ids_.reset();
  if (needs_object_ids_) {
    auto ids =
        take(object_ids_ahead_, [this](std::int64_t box, std::span<const std::uint32_t> uids) {
          return store_->objectIdsOf(box, uids);
        });
    if (!ids) {
      if (ids.error().code == store::ErrorCode::NotFound) {
        expunge_issued_ = true;
      } else {
        error_ = ids.error();
      }
      body_.reset();
      structure_.reset();
      return false;
    }
    object_ids_.emplace(std::move(*ids));
  }
  out.append("* ").append(std::to_string(target.seq)).append(" FETCH (");
  in_message_ = true;
  item_ = 0;
  return true;
}

template <typename T, typename Read>
store::Result<T> FetchJob::take(ReadAhead<T>& batch, Read read) {
  if (index_ < batch.base || index_ - batch.base >= batch.items.size()) {
    const std::size_t end = std::min(targets_.size(), index_ + readAhead());
    std::vector<std::uint32_t> uids;
    uids.reserve(end - index_);
    for (std::size_t i = index_; i < end; ++i) uids.push_back(targets_[i].info.uid);
    auto items = read(mailbox_id_, uids);
    batch.items.clear();
    batch.base = index_;
    if (!items) return fail(items.error());
    batch.items = std::move(*items);
  }
  return std::move(batch.items[index_ - batch.base]);
}

std::size_t FetchJob::readAhead() const {
  // A job that also reads bodies reads ahead less: each of its rounds may cover only a message
  // or two.
  return needs_body_ ? 8 : 256;
}

bool FetchJob::appendItem(std::string& out, const FetchAtt& att) {
  const store::MessageInfo& info = targets_[index_].info;
  switch (att.kind) {
    case Kind::Uid:
      out.append("UID ").append(std::to_string(info.uid));
      return true;
    case Kind::Flags:
      out.append("FLAGS ");
      appendStoreFlags(out, info.flags);
      return true;
    case Kind::InternalDate:
      out.append("INTERNALDATE ");
      popbridge::imap::appendDateTime(out, info.internaldate, info.tz_offset_minutes);
      return true;
    case Kind::Rfc822Size:
      out.append("RFC822.SIZE ").append(std::to_string(info.size));
      return true;
    case Kind::ModSeq:  // RFC 7162 3.1.4.2
      out.append("MODSEQ (").append(std::to_string(info.modseq)).push_back(')');
      return true;
    case Kind::EmailId:  // RFC 8474 7: "EMAILID" SP "(" objectid ")"
      out.append("EMAILID (").append(object_ids_->email_id).push_back(')');
      return true;
    case Kind::ThreadId:  // RFC 8474 7: "THREADID" SP ("(" objectid ")" / nil)
      out.append("THREADID (").append(object_ids_->thread_id).push_back(')');
      return true;
    case Kind::Envelope:
      out.append("ENVELOPE ");
      mime::appendEnvelope(out, *structure_);
      return true;
    case Kind::BodyStructure:
      out.append("BODYSTRUCTURE ");
      mime::appendBodyStructure(out, *structure_, mime::Extended::Yes);
      return true;
    case Kind::Body:
      out.append("BODY ");
      mime::appendBodyStructure(out, *structure_, mime::Extended::No);
      return true;
    case Kind::Binary:
    case Kind::BinaryPeek:
    case Kind::BinarySize:
      return appendBinary(out, att);
    default:
      break;
  }
  // A body part: a byte range of the blob, or a header subset built here.
  const std::uint64_t size = body_->size();
  const std::uint64_t header = std::min(info.header_size, size);
  std::uint64_t begin = 0;
  std::uint64_t end = size;
  std::optional<std::string> generated;
  if (att.kind == Kind::Rfc822Header) {
    end = header;
  } else if (att.kind == Kind::Rfc822Text) {
    begin = header;
  } else if (att.kind == Kind::BodySection && !att.section.part.empty()) {
    // A MIME part: its byte range comes from the structure parsed at ingest (RFC 3501 6.4.5).
    auto range = mime::sectionRange(*structure_, att.section.part, sectionText(att.section.text));
    if (!range) {
      // A part the message does not have: an empty string, as Dovecot answers.
      out.append(popbridge::imap::fetchItemName(att)).push_back(' ');
      popbridge::imap::appendLiteralHeader(out, 0);
      return true;
    }
    begin = std::min(range->offset, size);
    end = std::min(range->offset + range->length, size);
    if (att.section.text == Section::Text::HeaderFields ||
        att.section.text == Section::Text::HeaderFieldsNot) {
      auto raw = readRange(begin, std::min(end, begin + kMaxFilteredHeader));
      if (!raw) return false;
      generated =
          filterHeader(*raw, att.section.fields, att.section.text == Section::Text::HeaderFields);
    }
  } else if (att.kind == Kind::BodySection) {
    switch (att.section.text) {
      case Section::Text::Full:
      case Section::Text::Mime:
        break;
      case Section::Text::Header:
        end = header;
        break;
      case Section::Text::Text:
        begin = header;
        break;
      case Section::Text::HeaderFields:
      case Section::Text::HeaderFieldsNot: {
        auto raw = readRange(0, std::min(header, kMaxFilteredHeader));
        if (!raw) return false;
        generated =
            filterHeader(*raw, att.section.fields, att.section.text == Section::Text::HeaderFields);
        break;
      }
    }
  }
  std::uint64_t length = generated ? generated->size() : end - begin;
  std::uint64_t origin = 0;
  if (att.partial) {
    // RFC 3501 6.4.5: <origin.count>; an origin past the end gives an empty string.
    origin = std::min(att.partial->offset, length);
    length = std::min(att.partial->length, length - origin);
  }
  out.append(popbridge::imap::fetchItemName(att)).push_back(' ');
  popbridge::imap::appendLiteralHeader(out, length);
  if (generated) {
    out.append(*generated, static_cast<std::size_t>(origin), static_cast<std::size_t>(length));
    return true;
  }
  literal_offset_ = begin + origin;
  literal_remaining_ = length;
  if (length == 0) return true;
  return false;
}

std::optional<std::string> FetchJob::readRange(std::uint64_t begin, std::uint64_t end) {
  std::string raw;
  if (!readRange(begin, end, raw)) return std::nullopt;
  return raw;
}

bool FetchJob::readRange(std::uint64_t begin, std::uint64_t end, std::string& raw) {
  raw.resize(static_cast<std::size_t>(end - begin));
  std::size_t got = 0;
  while (got < raw.size()) {
    auto n = body_->read(begin + got, std::span<char>(raw.data() + got, raw.size() - got));
    if (!n) {
      error_ = n.error();
      return false;
    }
    if (*n == 0) break;
    got += *n;
  }
  raw.resize(got);
  return true;
}

void FetchJob::streamLiteral(std::string& out, std::size_t limit) {
  if (decoder_) {
    streamDecoded(out, limit);
    return;
  }
  while (literal_remaining_ > 0 && out.size() < limit) {
    const std::size_t chunk = static_cast<std::size_t>(
        std::min<std::uint64_t>(literal_remaining_, std::max(kReadChunk, limit - out.size())));
    const std::size_t old = out.size();
    out.resize(old + chunk);
    auto n = body_->read(literal_offset_, std::span<char>(out.data() + old, chunk));
    if (!n || *n == 0) {
      out.resize(old);
      // The blob is shorter than its row says: the store is damaged; stop here.
      error_ = n ? store::Error{store::ErrorCode::Corrupt, "message body shorter than recorded"}
                 : n.error();
      return;
    }
    out.resize(old + *n);
    literal_offset_ += *n;
    literal_remaining_ -= *n;
  }
}

}  // namespace popbridge::proxy::imap

namespace popbridge::proxy::imap {
namespace {

// The part a BINARY section names and its encoding; nullopt encoding for an unknown CTE.
// A leaf part is decoded. BINARY[] (the whole message) and a multipart or message/rfc822 part
// (a "composite" section) are sent as Dovecot sends them: as stored, except that each
// quoted-printable or base64 leaf inside is decoded and its header says
// "Content-Transfer-Encoding: binary" (the old field removed, the new one last).
struct BinaryTarget {
  bool found = false;
  bool composite = false;
  mime::ByteRange range;
  std::optional<mime::TransferEncoding> encoding;
};

BinaryTarget binaryTarget(const std::optional<mime::Message>& structure, const FetchAtt& att,
                          std::uint64_t size) {
  BinaryTarget target;
  if (att.section.part.empty()) {
    target.found = true;
    target.composite = true;
    target.range = mime::ByteRange{0, size};
    target.encoding = mime::TransferEncoding::Identity;
    return target;
  }
  auto index = mime::findPart(*structure, att.section.part);
  auto range = mime::sectionRange(*structure, att.section.part, mime::SectionText::Body);
  if (!index || !range) return target;
  target.found = true;
  target.range = *range;
  const mime::Part& part = structure->parts[*index];
  target.composite = part.kind != mime::PartKind::Leaf;
  target.encoding =
      target.composite ? mime::TransferEncoding::Identity : mime::transferEncodingOf(part);
  return target;
}

// The leaves whose header and body lie inside `range`, in message order.
std::vector<const mime::Part*> leavesIn(const mime::Message& structure, mime::ByteRange range) {
  std::vector<const mime::Part*> leaves;
  for (const mime::Part& part : structure.parts) {
    if (part.kind == mime::PartKind::Leaf && part.header_offset >= range.offset &&
        part.body_offset + part.body_length <= range.offset + range.length) {
      leaves.push_back(&part);
    }
  }
  std::sort(leaves.begin(), leaves.end(), [](const mime::Part* a, const mime::Part* b) {
    return a->header_offset < b->header_offset;
  });
  return leaves;
}

// A decoded leaf's header inside a composite BINARY section, as Dovecot writes it: every
// Content-Transfer-Encoding field (with its continuation lines) removed, and
// "Content-Transfer-Encoding: binary" added before the blank line that ends the header.
std::string binaryHeader(std::string_view header) {
  std::string out;
  std::string_view blank;
  std::size_t pos = 0;
  bool drop = false;
  while (pos < header.size()) {
    std::size_t end = header.find('\n', pos);
    end = end == std::string_view::npos ? header.size() : end + 1;
    const std::string_view line = header.substr(pos, end - pos);
    pos = end;
    if (line == "\r\n" || line == "\n") {
      blank = line;
      break;
    }
    if (line[0] != ' ' && line[0] != '\t') {
      const std::size_t colon = line.find(':');
      std::string_view name = line.substr(0, colon == std::string_view::npos ? 0 : colon);
      while (!name.empty() && (name.back() == ' ' || name.back() == '\t')) name.remove_suffix(1);
      drop = colon != std::string_view::npos && iequals(name, "Content-Transfer-Encoding");
    }
    if (!drop) out.append(line);
  }
  out.append("Content-Transfer-Encoding: binary\r\n");
  out.append(blank);
  return out;
}

}  // namespace

std::optional<store::DecodedSize> FetchJob::countDecoded(mime::TransferEncoding encoding,
                                                         std::uint64_t begin, std::uint64_t end) {
  store::DecodedSize counted;
  mime::TransferDecoder scan(encoding);
  std::string decoded;
  std::uint64_t pos = begin;
  while (pos < end) {
    if (!readRange(pos, std::min<std::uint64_t>(end, pos + kDecodeChunk), raw_)) {
      return std::nullopt;
    }
    if (raw_.empty()) {
      error_ = store::Error{store::ErrorCode::Corrupt, "message body shorter than recorded"};
      return std::nullopt;
    }
    pos += raw_.size();
    // 7bit, 8bit and binary decode to themselves: only look for NUL.
    const std::string* bytes = &raw_;
    if (encoding != mime::TransferEncoding::Identity) {
      decoded.clear();
      scan.feed(raw_, decoded);
      bytes = &decoded;
    }
    counted.has_nul = counted.has_nul || bytes->find('\0') != std::string::npos;
    counted.size += bytes->size();
  }
  decoded.clear();
  scan.finish(decoded);
  counted.has_nul = counted.has_nul || decoded.find('\0') != std::string::npos;
  counted.size += decoded.size();
  return counted;
}

bool FetchJob::hasUnknownCte() const {
  return std::any_of(atts_.begin(), atts_.end(), [&](const FetchAtt& att) {
    if (!isBinary(att)) return false;
    const BinaryTarget target = binaryTarget(structure_, att, structure_->size);
    if (!target.found) return false;
    if (!target.composite) return !target.encoding;
    // Like Dovecot: a composite section cannot be sent if a leaf inside it cannot be decoded.
    const auto leaves = leavesIn(*structure_, target.range);
    return std::any_of(leaves.begin(), leaves.end(),
                       [](const mime::Part* leaf) { return !mime::transferEncodingOf(*leaf); });
  });
}

bool FetchJob::binarySegments(bool composite, mime::TransferEncoding encoding,
                              mime::ByteRange range, std::uint64_t begin, std::uint64_t end,
                              bool& converted) {
  segments_.clear();
  converted = false;
  if (!composite) {
    segments_.push_back(BinarySegment{begin, end, encoding, std::nullopt});
    return true;
  }
  std::uint64_t cursor = begin;
  for (const mime::Part* leaf : leavesIn(*structure_, range)) {
    const auto leaf_encoding = mime::transferEncodingOf(*leaf);
    if (!leaf_encoding || *leaf_encoding == mime::TransferEncoding::Identity) continue;
    const std::uint64_t body_end = std::min(leaf->body_offset + leaf->body_length, end);
    if (leaf->header_offset < cursor || body_end > end ||
        leaf->header_length > kMaxFilteredHeader) {
      continue;  // cannot happen for a parsed structure; send such a part as stored
    }
    auto header = readRange(leaf->header_offset, leaf->body_offset);
    if (!header) return false;
    if (cursor < leaf->header_offset) {
      segments_.push_back(BinarySegment{cursor, leaf->header_offset,
                                        mime::TransferEncoding::Identity, std::nullopt});
    }
    segments_.push_back(
        BinarySegment{0, 0, mime::TransferEncoding::Identity, binaryHeader(*header)});
    segments_.push_back(BinarySegment{leaf->body_offset, body_end, *leaf_encoding, std::nullopt});
    cursor = body_end;
    converted = true;
  }
  if (cursor < end) {
    segments_.push_back(BinarySegment{cursor, end, mime::TransferEncoding::Identity, std::nullopt});
  }
  return true;
}

void FetchJob::startSegment(std::size_t index) {
  segment_ = index;
  const BinarySegment& segment = segments_[index];
  decoded_.clear();
  decoded_pos_ = 0;
  decoder_.emplace(segment.encoding);
  if (segment.text) {
    decoded_ = *segment.text;
    literal_offset_ = raw_end_ = 0;
    decoder_finished_ = true;
    const std::size_t skipped =
        static_cast<std::size_t>(std::min<std::uint64_t>(skip_, decoded_.size()));
    decoded_pos_ = skipped;
    skip_ -= skipped;
  } else {
    literal_offset_ = segment.begin;
    raw_end_ = segment.end;
    decoder_finished_ = false;
  }
}

// RFC 3516 4.2: BINARY[n] is part n with its Content-Transfer-Encoding undone, BINARY.SIZE[n]
// the size of that. The literal's size must be known before its first byte: the first BINARY or
// BINARY.SIZE of a part decodes it once to count the bytes and look for NUL, and records both
// in the store (messages never change), so that later ones skip that pass: BINARY.SIZE is then
// one lookup and BINARY one decoding pass, streamed as the connection drains. RFC 3516 4.2 needs
// a literal8 for data with NUL; like Dovecot, popbridge also sends one for every base64 or
// quoted-printable part, and for any window of a part that has a NUL somewhere, so the
// literal's kind does not depend on the partial range. Neither pass holds more than a read
// chunk and its decoded form; the counting pass runs within one worker round however large the
// part is.
bool FetchJob::appendBinary(std::string& out, const FetchAtt& att) {
  const std::uint64_t size = body_->size();
  const BinaryTarget target = binaryTarget(structure_, att, size);
  out.append(popbridge::imap::fetchItemName(att)).push_back(' ');
  if (!target.found) {
    // A part the message does not have: empty, as for BODY[n].
    if (att.kind == Kind::BinarySize) {
      out.push_back('0');
    } else {
      popbridge::imap::appendLiteralHeader(out, 0);
    }
    return true;
  }
  const std::uint64_t begin = std::min(target.range.offset, size);
  const std::uint64_t end = std::min(target.range.offset + target.range.length, size);
  std::string part_key;
  for (const std::uint32_t n : att.section.part) {
    if (!part_key.empty()) part_key.push_back('.');
    part_key.append(std::to_string(n));
  }
  const std::uint32_t uid = targets_[index_].info.uid;
  bool converted = false;
  if (!binarySegments(target.composite, *target.encoding, target.range, begin, end, converted)) {
    return false;
  }
  // A failed lookup only costs the counting pass.
  auto cached = store_->decodedSize(mailbox_id_, uid, part_key, mime::kTransferDecoderVersion);
  std::optional<store::DecodedSize> known = cached ? *cached : std::nullopt;
  if (!known) {
    store::DecodedSize counted;
    for (const BinarySegment& segment : segments_) {
      if (segment.text) {
        counted.size += segment.text->size();
        counted.has_nul = counted.has_nul || segment.text->find('\0') != std::string::npos;
        continue;
      }
      auto part = countDecoded(segment.encoding, segment.begin, segment.end);
      if (!part) return false;
      counted.size += part->size;
      counted.has_nul = counted.has_nul || part->has_nul;
    }
    known = counted;
    // Best effort: a failure (or a write under way) leaves the next request to count again.
    (void)store_->recordDecodedSize(mailbox_id_, uid, part_key, mime::kTransferDecoderVersion,
                                    *known);
  }
  const std::uint64_t decoded_size = known->size;
  const bool has_nul = known->has_nul;
  if (att.kind == Kind::BinarySize) {
    out.append(std::to_string(decoded_size));
    return true;
  }
  std::uint64_t origin = 0;
  std::uint64_t length = decoded_size;
  if (att.partial) {
    origin = std::min(att.partial->offset, length);
    length = std::min(att.partial->length, length - origin);
  }
  if (has_nul || converted || *target.encoding != mime::TransferEncoding::Identity) {
    out.push_back('~');
  }
  popbridge::imap::appendLiteralHeader(out, length);
  if (length == 0 || segments_.empty()) return true;
  skip_ = origin;
  literal_remaining_ = length;
  startSegment(0);
  return false;
}

void FetchJob::streamDecoded(std::string& out, std::size_t limit) {
  while (literal_remaining_ > 0 && out.size() < limit) {
    if (decoded_pos_ < decoded_.size()) {
      const std::size_t n = static_cast<std::size_t>(
          std::min<std::uint64_t>(decoded_.size() - decoded_pos_, literal_remaining_));
      out.append(decoded_, decoded_pos_, n);
      decoded_pos_ += n;
      literal_remaining_ -= n;
      continue;
    }
    decoded_.clear();
    decoded_pos_ = 0;
    if (literal_offset_ < raw_end_) {
      if (!readRange(literal_offset_,
                     std::min<std::uint64_t>(raw_end_, literal_offset_ + kDecodeChunk), raw_)) {
        return;
      }
      if (raw_.empty()) {
        error_ = store::Error{store::ErrorCode::Corrupt, "message body shorter than recorded"};
        return;
      }
      literal_offset_ += raw_.size();
      if (skip_ == 0) {
        // Past the partial origin: decode straight into the response, no copy through decoded_.
        const std::size_t old = out.size();
        decoder_->feed(raw_, out);
        const std::size_t n =
            static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - old, literal_remaining_));
        out.resize(old + n);  // a partial window may end inside this chunk
        literal_remaining_ -= n;
        continue;
      }
      decoder_->feed(raw_, decoded_);
    } else if (!decoder_finished_) {
      decoder_->finish(decoded_);
      decoder_finished_ = true;
    } else if (segment_ + 1 < segments_.size()) {
      startSegment(segment_ + 1);
      continue;
    } else {
      // Fewer decoded bytes than the first pass counted: the blob changed under us.
      error_ = store::Error{store::ErrorCode::Corrupt, "message body changed while read"};
      return;
    }
    const std::size_t skipped =
        static_cast<std::size_t>(std::min<std::uint64_t>(skip_, decoded_.size()));
    decoded_pos_ = skipped;
    skip_ -= skipped;
  }
  if (literal_remaining_ == 0) {
    decoder_.reset();
    std::string().swap(decoded_);
    std::string().swap(raw_);
    decoded_pos_ = 0;
    segments_.clear();
    segment_ = 0;
  }
}

}  // namespace popbridge::proxy::imap
