#pragma once

// The parsed structure of one RFC 5322 message: every MIME part's byte ranges and the data IMAP
// needs for ENVELOPE, BODY and BODYSTRUCTURE (RFC 3501 7.4.2). Built once at ingest by
// mime::Parser, kept next to the message (see serialize.h) and never reparsed.
//
// Plain values: copyable, movable, no references into the message bytes. Any thread may read a
// Message that no thread is writing.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace popbridge::mime {

// One MIME parameter (Content-Type or Content-Disposition) as popbridge reports it: the name as
// sent, the value unquoted. RFC 2231 continuations are joined; an extended value keeps its
// charset'language' prefix and %-encoding, and its name ends in "*" (as Dovecot reports it).
struct Param {
  std::string name;
  std::string value;

  friend bool operator==(const Param&, const Param&) = default;
};

// An RFC 3501 7.4.2 address structure. A group is a start marker (mailbox = group name, host
// unset) followed by its members and an end marker (every field unset).
struct Address {
  std::optional<std::string> name;   // display name, raw (encoded-words are not decoded)
  std::optional<std::string> route;  // obsolete source route "@a,@b"
  std::optional<std::string> mailbox;
  std::optional<std::string> host;

  friend bool operator==(const Address&, const Address&) = default;
};

// The ENVELOPE fields of one message. Unset strings are NIL; an empty address list is NIL.
// Values are the header bytes as sent (unfolded later by the encoder, as Dovecot does).
struct Envelope {
  std::optional<std::string> date;
  std::optional<std::string> subject;
  std::vector<Address> from;
  std::vector<Address> sender;    // empty: the encoder reports From (RFC 3501 7.4.2)
  std::vector<Address> reply_to;  // empty: the encoder reports From (RFC 3501 7.4.2)
  std::vector<Address> to;
  std::vector<Address> cc;
  std::vector<Address> bcc;
  std::optional<std::string> in_reply_to;
  std::optional<std::string> message_id;

  friend bool operator==(const Envelope&, const Envelope&) = default;
};

enum class PartKind : std::uint8_t {
  Leaf,       // a single body (text/*, image/*, ..., or anything that could not be nested)
  Multipart,  // multipart/*: children are the body parts between its boundaries
  Message,    // message/rfc822: exactly one child, the embedded message
};

inline constexpr std::uint32_t kNoPart = 0xffffffffu;

// One MIME part. Offsets are absolute byte positions in the message as fed to the parser.
struct Part {
  PartKind kind = PartKind::Leaf;
  std::uint32_t parent = kNoPart;       // index in Message::parts, kNoPart for the root
  std::vector<std::uint32_t> children;  // indices in Message::parts, in message order

  // The header block (including the blank line that ends it) and the body that follows.
  // body_offset == header_offset + header_length. For the root the header is the message
  // header; for a body part it is the MIME header (BODY[n.MIME]).
  std::uint64_t header_offset = 0;
  std::uint64_t header_length = 0;
  std::uint64_t body_offset = 0;
  std::uint64_t body_length = 0;
  // Body size as IMAP reports it: octets with every bare LF counted as CRLF (RFC 3501 2.3.4
  // sizes are of the CRLF form), and the number of lines (LF count).
  std::uint64_t body_octets = 0;
  std::uint64_t body_lines = 0;

  // Content-* fields. Unset means the header was absent (or the part is not MIME, see
  // RFC 2045 4: without MIME-Version/Content-Type a top-level part's Content-* are ignored).
  std::optional<std::string> type;     // as sent, e.g. "TEXT"; unset: default text/plain
  std::optional<std::string> subtype;  // set whenever type is set (possibly empty)
  std::vector<Param> params;
  std::optional<std::string> id;
  std::optional<std::string> description;
  std::optional<std::string> encoding;  // Content-Transfer-Encoding token; unset: "7bit"
  std::optional<std::string> md5;
  std::optional<std::string> disposition;
  std::vector<Param> disposition_params;
  std::vector<std::string> language;
  std::optional<std::string> location;

  // Set for the root and for the child of every Message part: the ENVELOPE of that message.
  std::optional<Envelope> envelope;

  // True when a limit (nesting depth, part count) stopped this part from being split further:
  // its body is reported as one opaque leaf.
  bool overflow = false;

  friend bool operator==(const Part&, const Part&) = default;
};

struct Message {
  std::vector<Part> parts;  // pre-order; parts[0] is the root (the whole message)
  std::uint64_t size = 0;   // bytes fed to the parser

  // The root part. Precondition: parts is not empty (always true for a parsed or deserialized
  // Message).
  const Part& root() const { return parts.front(); }
  // The message's ENVELOPE (the root's). Precondition as for root().
  const Envelope& envelope() const { return *parts.front().envelope; }

  friend bool operator==(const Message&, const Message&) = default;
};

}  // namespace popbridge::mime
