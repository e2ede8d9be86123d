#pragma once

// Parsers for the content of the small POP3 replies: CAPA, UIDL, LIST, STAT and the APOP banner
// of the greeting. The caller collects the BodyLines of a multi-line reply first (they are
// short). All functions are pure and may run on any thread.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/pop3/reply.h"

namespace popbridge::pop3 {

// What a CAPA reply advertised (RFC 2449 section 6, STLS from RFC 2595 section 4).
struct Capabilities {
  bool top = false;
  bool uidl = false;
  bool user = false;
  bool pipelining = false;
  bool stls = false;
  bool resp_codes = false;
  bool auth_resp_code = false;    // RFC 3206
  std::vector<std::string> sasl;  // uppercased, in advertised order, no duplicates: "PLAIN"
  std::optional<std::uint32_t> login_delay;  // seconds
  std::optional<std::uint32_t> expire_days;  // nullopt = not advertised; NEVER -> UINT32_MAX
  // "USER" after the value (RFC 2449 6.5, 6.7): the value may differ per user; the CAPA a
  // server gives after login (RFC 2449 5) carries the user's own.
  bool login_delay_user = false;
  bool expire_user = false;
  std::string implementation;

  friend bool operator==(const Capabilities&, const Capabilities&) = default;
};

// Parses the body lines of a CAPA reply. Capability names are case-insensitive; unknown ones are
// ignored, and so is a LOGIN-DELAY or EXPIRE whose value is not a number (or NEVER), since a
// bad advertisement must not stop the fetch. Never fails.
Capabilities parseCapabilities(std::span<const std::string> lines);

// One line of a UIDL listing, or the text of a single-line "UIDL n" reply.
struct UidlEntry {
  std::uint32_t number;
  std::string uid;

  friend bool operator==(const UidlEntry&, const UidlEntry&) = default;
};

// Parses "n uid" (RFC 1939 section 7): n a positive message number, uid 1..70 octets in
// 0x21..0x7E. Blanks around and between the two are tolerated; anything after the uid is
// refused, as a misread uid would make the ledger fetch or delete the wrong message.
Result<UidlEntry, ReplyError> parseUidlLine(std::string_view line);

// One line of a LIST scan listing.
struct ListEntry {
  std::uint32_t number;
  std::uint64_t size;

  friend bool operator==(const ListEntry&, const ListEntry&) = default;
};

// Parses "n size" (RFC 1939 section 5: a scan listing); also the text of the single-line
// "LIST n" reply. n must be positive. RFC 1939 places no requirement on what follows the size,
// so trailing words are ignored.
Result<ListEntry, ReplyError> parseListLine(std::string_view line);

// The drop listing of a STAT reply.
struct StatInfo {
  std::uint32_t count;
  std::uint64_t size;

  friend bool operator==(const StatInfo&, const StatInfo&) = default;
};

// Parses the text of "+OK count size" (RFC 1939 section 5); trailing words are ignored.
Result<StatInfo, ReplyError> parseStat(std::string_view text);

// The APOP timestamp of a greeting (RFC 1939 section 7): the first "<...>" whose content has
// msg-id shape (an "@", no blanks or control octets). Returned with its angle brackets, which
// are part of the digest input: MD5(banner + secret). nullopt if the server offers no APOP.
std::optional<std::string> apopBanner(std::string_view greeting_text);

}  // namespace popbridge::pop3
