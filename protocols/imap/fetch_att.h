#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace popbridge::imap {

// A body section specifier (RFC 3501 6.4.5, RFC 9051 6.4.5): "1.2.HEADER.FIELDS (From To)".
struct Section {
  std::vector<std::uint32_t> part;  // "1.2.3" -> {1,2,3}; empty = whole message
  enum class Text { Full, Header, HeaderFields, HeaderFieldsNot, Text, Mime } text = Text::Full;
  std::vector<std::string> fields;  // for HeaderFields / HeaderFieldsNot, as sent
};

// "<offset.length>" after a section (RFC 3501 6.4.5); length is never 0.
struct Partial {
  std::uint64_t offset;
  std::uint64_t length;
};

// One data item of a FETCH command (RFC 3501 6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ, RFC 8474
// EMAILID and THREADID).
struct FetchAtt {
  enum class Kind {
    Uid,
    Flags,
    InternalDate,
    Rfc822Size,
    Envelope,
    BodyStructure,
    Body,         // BODY without []
    BodySection,  // BODY[..] and BODY.PEEK[..]
    Rfc822,
    Rfc822Header,
    Rfc822Text,
    Binary,
    BinaryPeek,  // BINARY.PEEK[..]; peek is true as well
    BinarySize,
    ModSeq,
    EmailId,  // RFC 8474 5.1
    ThreadId  // RFC 8474 5.2
  };
  Kind kind;
  bool peek = false;  // BODY.PEEK / BINARY.PEEK: do not set \Seen (RFC 3501 6.4.5)
  Section section;    // BodySection / Binary*
  std::optional<Partial> partial;
};

// The response item name as IMAP requires it in the FETCH reply, e.g.
// "BODY[HEADER.FIELDS (FROM TO)]<0>" (RFC 3501 7.4.2: the partial shows only the origin octet;
// BODY.PEEK[x] answers as BODY[x], BINARY.PEEK[x] as BINARY[x]; RFC822.* names stay). Header
// field names are uppercased. Pure; any thread.
std::string fetchItemName(const FetchAtt& att);

// The data item as a client would write it in the command, e.g.
// "BODY.PEEK[HEADER.FIELDS (From To)]<0.100>" (for logs). Pure; any thread.
std::string fetchAttText(const FetchAtt& att);

}  // namespace popbridge::imap
