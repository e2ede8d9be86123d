#include "protocols/mime/serialize.h"

#include <optional>
#include <utility>
#include <vector>

namespace popbridge::mime {

// Layout (version 1), all integers LEB128 varints, strings as varint length + bytes:
//   "PBM" version
//   size  part_count
//   per part, in pre-order:
//     kind  parent+1 (0 for the root)  flags
//     header_offset header_length body_length body_octets body_lines
//     [type subtype] params [id] [description] [encoding] [md5] [disposition]
//     disposition_params language [location] [envelope]
//   where [x] is present when its flag bit is set; params = count, then name value pairs;
//   language = count, then strings; envelope = [date] [subject] 6 address lists [in_reply_to]
//   [message_id] behind an envelope flag byte; an address list = count, then per address a flag
//   byte and its present strings.
// Children are rebuilt from parent indices (a parent precedes its children in pre-order).

namespace {

constexpr std::string_view kMagic = "PBM";

// Part flag bits.
constexpr std::uint64_t kHasType = 1u << 0;
constexpr std::uint64_t kHasId = 1u << 1;
constexpr std::uint64_t kHasDescription = 1u << 2;
constexpr std::uint64_t kHasEncoding = 1u << 3;
constexpr std::uint64_t kHasMd5 = 1u << 4;
constexpr std::uint64_t kHasDisposition = 1u << 5;
constexpr std::uint64_t kHasLocation = 1u << 6;
constexpr std::uint64_t kHasEnvelope = 1u << 7;
constexpr std::uint64_t kOverflow = 1u << 8;

// Envelope flag bits.
constexpr std::uint64_t kHasDate = 1u << 0;
constexpr std::uint64_t kHasSubject = 1u << 1;
constexpr std::uint64_t kHasInReplyTo = 1u << 2;
constexpr std::uint64_t kHasMessageId = 1u << 3;

class Writer {
 public:
  void varint(std::uint64_t v) {
    while (v >= 0x80) {
      out_ += static_cast<char>((v & 0x7f) | 0x80);
      v >>= 7;
    }
    out_ += static_cast<char>(v);
  }
  void bytes(std::string_view s) {
    varint(s.size());
    out_.append(s);
  }
  void raw(std::string_view s) { out_.append(s); }
  void optional(const std::optional<std::string>& s) {
    if (s) bytes(*s);
  }
  void params(const std::vector<Param>& ps) {
    varint(ps.size());
    for (const Param& p : ps) {
      bytes(p.name);
      bytes(p.value);
    }
  }
  void addresses(const std::vector<Address>& list) {
    varint(list.size());
    for (const Address& a : list) {
      std::uint64_t flags =
          (a.name ? 1u : 0u) | (a.route ? 2u : 0u) | (a.mailbox ? 4u : 0u) | (a.host ? 8u : 0u);
      varint(flags);
      optional(a.name);
      optional(a.route);
      optional(a.mailbox);
      optional(a.host);
    }
  }
  void envelope(const Envelope& e) {
    std::uint64_t flags = (e.date ? kHasDate : 0u) | (e.subject ? kHasSubject : 0u) |
                          (e.in_reply_to ? kHasInReplyTo : 0u) |
                          (e.message_id ? kHasMessageId : 0u);
    varint(flags);
    optional(e.date);
    optional(e.subject);
    for (const auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
      addresses(*list);
    }
    optional(e.in_reply_to);
    optional(e.message_id);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  bool varint(std::uint64_t& v) {
    v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return truncated();
      auto b = static_cast<unsigned char>(in_[pos_++]);
      if (shift == 63 && (b & 0x7e) != 0) return corrupt("varint overflow");
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return true;
    }
    return corrupt("varint too long");
  }
  bool count(std::uint64_t& v) {
    // Every counted item takes at least one byte, so a count beyond the rest is corrupt (and
    // never makes us reserve memory for it).
    if (!varint(v)) return false;
    if (v > in_.size() - pos_) return corrupt("count beyond the data");
    return true;
  }
  bool bytes(std::string& s) {
    std::uint64_t n = 0;
    if (!varint(n)) return false;
    if (n > in_.size() - pos_) return truncated();
    s.assign(in_.substr(pos_, static_cast<std::size_t>(n)));
    pos_ += static_cast<std::size_t>(n);
    return true;
  }
  bool optional(bool present, std::optional<std::string>& s) {
    if (!present) {
      s.reset();
      return true;
    }
    s.emplace();
    return bytes(*s);
  }
  bool params(std::vector<Param>& ps) {
    std::uint64_t n = 0;
    if (!count(n)) return false;
    ps.resize(static_cast<std::size_t>(n));
    for (Param& p : ps) {
      if (!bytes(p.name) || !bytes(p.value)) return false;
    }
    return true;
  }
  bool addresses(std::vector<Address>& list) {
    std::uint64_t n = 0;
    if (!count(n)) return false;
    list.resize(static_cast<std::size_t>(n));
    for (Address& a : list) {
      std::uint64_t flags = 0;
      if (!varint(flags)) return false;
      if (flags > 15) return corrupt("address flags");
      if (!optional((flags & 1u) != 0, a.name) || !optional((flags & 2u) != 0, a.route) ||
          !optional((flags & 4u) != 0, a.mailbox) || !optional((flags & 8u) != 0, a.host)) {
        return false;
      }
    }
    return true;
  }
  bool envelope(Envelope& e) {
    std::uint64_t flags = 0;
    if (!varint(flags)) return false;
    if (flags > 15) return corrupt("envelope flags");
    if (!optional((flags & kHasDate) != 0, e.date) ||
        !optional((flags & kHasSubject) != 0, e.subject)) {
      return false;
    }
    for (auto* list : {&e.from, &e.sender, &e.reply_to, &e.to, &e.cc, &e.bcc}) {
      if (!addresses(*list)) return false;
    }
    return optional((flags & kHasInReplyTo) != 0, e.in_reply_to) &&
           optional((flags & kHasMessageId) != 0, e.message_id);
  }
  bool atEnd() const { return pos_ == in_.size(); }
  const Error& error() const { return error_; }
  bool corrupt(std::string message) {
    error_ = Error{Error::Code::Corrupt, std::move(message)};
    return false;
  }

 private:
  bool truncated() {
    error_ = Error{Error::Code::Truncated, "serialized MIME structure ends early"};
    return false;
  }

  std::string_view in_;
  std::size_t pos_ = 0;
  Error error_;
};

bool readPart(Reader& r, Part& p, std::uint32_t index, std::uint64_t size) {
  std::uint64_t kind = 0;
  std::uint64_t parent = 0;
  std::uint64_t flags = 0;
  if (!r.varint(kind) || !r.varint(parent) || !r.varint(flags)) return false;
  if (kind > static_cast<std::uint64_t>(PartKind::Message)) return r.corrupt("part kind");
  p.kind = static_cast<PartKind>(kind);
  if (index == 0 ? parent != 0 : (parent == 0 || parent > index)) {
    return r.corrupt("parent index");
  }
  p.parent = index == 0 ? kNoPart : static_cast<std::uint32_t>(parent - 1);
  if (flags >= (kOverflow << 1)) return r.corrupt("part flags");
  if (!r.varint(p.header_offset) || !r.varint(p.header_length) || !r.varint(p.body_length) ||
      !r.varint(p.body_octets) || !r.varint(p.body_lines)) {
    return false;
  }
  if (p.header_offset > size || p.header_length > size - p.header_offset ||
      p.body_length > size - p.header_offset - p.header_length) {
    return r.corrupt("part range outside the message");
  }
  p.body_offset = p.header_offset + p.header_length;
  bool has_type = (flags & kHasType) != 0;
  if (!r.optional(has_type, p.type) || !r.optional(has_type, p.subtype) || !r.params(p.params) ||
      !r.optional((flags & kHasId) != 0, p.id) ||
      !r.optional((flags & kHasDescription) != 0, p.description) ||
      !r.optional((flags & kHasEncoding) != 0, p.encoding) ||
      !r.optional((flags & kHasMd5) != 0, p.md5) ||
      !r.optional((flags & kHasDisposition) != 0, p.disposition) ||
      !r.params(p.disposition_params)) {
    return false;
  }
  std::uint64_t languages = 0;
  if (!r.count(languages)) return false;
  p.language.resize(static_cast<std::size_t>(languages));
  for (std::string& l : p.language) {
    if (!r.bytes(l)) return false;
  }
  if (!r.optional((flags & kHasLocation) != 0, p.location)) return false;
  if ((flags & kHasEnvelope) != 0) {
    p.envelope.emplace();
    if (!r.envelope(*p.envelope)) return false;
  }
  p.overflow = (flags & kOverflow) != 0;
  return true;
}

}  // namespace

std::string serialize(const Message& msg) {
  Writer w;
  w.raw(kMagic);
  w.raw(std::string_view("\x01", 1));
  w.varint(msg.size);
  w.varint(msg.parts.size());
  for (const Part& p : msg.parts) {
    w.varint(static_cast<std::uint64_t>(p.kind));
    w.varint(p.parent == kNoPart ? 0 : static_cast<std::uint64_t>(p.parent) + 1);
    std::uint64_t flags =
        (p.type ? kHasType : 0u) | (p.id ? kHasId : 0u) | (p.description ? kHasDescription : 0u) |
        (p.encoding ? kHasEncoding : 0u) | (p.md5 ? kHasMd5 : 0u) |
        (p.disposition ? kHasDisposition : 0u) | (p.location ? kHasLocation : 0u) |
        (p.envelope ? kHasEnvelope : 0u) | (p.overflow ? kOverflow : 0u);
    w.varint(flags);
    w.varint(p.header_offset);
    w.varint(p.header_length);
    w.varint(p.body_length);
    w.varint(p.body_octets);
    w.varint(p.body_lines);
    if (p.type) {
      w.bytes(*p.type);
      w.bytes(p.subtype ? *p.subtype : std::string());
    }
    w.params(p.params);
    w.optional(p.id);
    w.optional(p.description);
    w.optional(p.encoding);
    w.optional(p.md5);
    w.optional(p.disposition);
    w.params(p.disposition_params);
    w.varint(p.language.size());
    for (const std::string& l : p.language) w.bytes(l);
    w.optional(p.location);
    if (p.envelope) w.envelope(*p.envelope);
  }
  return w.take();
}

Result<Message, Error> deserialize(std::string_view bytes) {
  if (bytes.size() < kMagic.size() + 1 || bytes.substr(0, kMagic.size()) != kMagic) {
    return fail(Error{Error::Code::BadMagic, "not a serialized MIME structure"});
  }
  if (static_cast<std::uint8_t>(bytes[kMagic.size()]) != kSerializeVersion) {
    return fail(Error{Error::Code::BadVersion, "unknown MIME structure version"});
  }
  Reader r(bytes.substr(kMagic.size() + 1));
  Message msg;
  std::uint64_t count = 0;
  if (!r.varint(msg.size) || !r.count(count)) return fail(r.error());
  if (count == 0) return fail(Error{Error::Code::Corrupt, "no parts"});
  msg.parts.resize(static_cast<std::size_t>(count));
  for (std::size_t i = 0; i < msg.parts.size(); ++i) {
    auto index = static_cast<std::uint32_t>(i);
    if (!readPart(r, msg.parts[i], index, msg.size)) return fail(r.error());
    if (index != 0) msg.parts[msg.parts[i].parent].children.push_back(index);
  }
  if (!r.atEnd()) return fail(Error{Error::Code::Corrupt, "trailing bytes"});
  // The shapes the encoders and section lookup rely on.
  for (const Part& p : msg.parts) {
    if (p.kind == PartKind::Leaf && !p.children.empty()) {
      return fail(Error{Error::Code::Corrupt, "leaf part with children"});
    }
    if (p.kind == PartKind::Message && p.children.size() != 1) {
      return fail(Error{Error::Code::Corrupt, "message/rfc822 part without one child"});
    }
  }
  if (!msg.parts.front().envelope) return fail(Error{Error::Code::Corrupt, "no envelope"});
  return msg;
}

}  // namespace popbridge::mime
