#pragma once

// Push parser for RFC 5322 / MIME (RFC 2045, 2046) message structure.
//
// Fed the message in chunks of any size while it streams to disk, it keeps only the header
// block being read (bounded by Limits::max_header_bytes) and the first bytes of the current line
// (to recognise boundaries); body content is counted (bytes, lines), never stored. finish()
// yields a Message: every part's byte ranges, Content-* data and envelopes.
//
// Malformed MIME never fails: a missing final boundary, a boundary in a header, a part cut by
// the end of the message all still give a well-formed structure. Boundaries and part ends follow
// Dovecot's reading of RFC 2046 5.1.1 (the CRLF before a delimiter belongs to the delimiter, a
// delimiter matches when the line starts with "--" and the boundary, the innermost boundary that
// matches wins), so BODYSTRUCTURE sizes match what IMAP clients see from Dovecot.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/mime/message.h"

namespace popbridge::mime {

// Bounds on what one message can make the parser do. Past a bound the rest is treated as opaque
// content of the innermost part (still a well-formed Message), never an error.
struct Limits {
  // multipart/* and message/rfc822 nesting: a part at this depth is not split further.
  std::uint32_t max_depth = 32;
  // Total parts, root included; past it, delimiter lines that would start a part are content.
  std::uint32_t max_parts = 10000;
  // Header bytes kept per header block; fields past it are not interpreted (the block still
  // ends at its blank line, so byte ranges stay exact).
  std::size_t max_header_bytes = 256 * 1024;
  // Longest boundary recognised; longer boundary parameters are cut to this length (as
  // Dovecot does; RFC 2046 5.1.1 allows 70).
  std::size_t max_boundary = 80;
};

// One message at a time: construct, feed() every byte in order, then finish() once.
// Not thread-safe; a Parser may move between threads between calls. Never calls back.
class Parser {
 public:
  explicit Parser(Limits limits = Limits{});

  // Consumes the next bytes of the message. `chunk` is borrowed for the call only; any split
  // of the message into chunks gives the same result.
  void feed(std::string_view chunk);

  // Ends the message and returns its structure (parts[0] is always present). The parser is then
  // spent: feed() does nothing and a second finish() returns an empty Message (no parts).
  Message finish();

 private:
  struct Boundary {
    std::string text;
    std::uint32_t part;
  };
  // Header: reading a header block. Body: counting body bytes. BoundaryLine: the rest of a
  // delimiter line, which belongs to the multipart's body.
  // AfterHeader: a header block just ended; the next line decides whether the blank line
  // belongs to the header or (before an enclosing part's delimiter) to that delimiter.
  enum class Mode : std::uint8_t { Header, AfterHeader, Body, BoundaryLine };
  struct Cut {
    std::uint64_t end = 0, lf = 0, bare = 0;  // offset and LF counters where parts end
  };

  void beginLine();
  void count(std::string_view bytes);
  void appendHeader(std::string_view bytes);
  void decideLine();
  void endOfLine();
  const Boundary* matchBoundary(bool& close) const;
  void handleBoundary(std::size_t boundary_index, bool close, Cut cut);
  void finishHeader(Cut cut, bool at_blank_line);
  void startBody();
  void openPart(std::uint32_t parent, std::uint64_t offset);
  void closeTop(Cut cut);
  std::uint32_t depthOf(std::uint32_t index) const;
  std::size_t window() const { return limits_.max_boundary + 6; }

  Limits limits_;
  Message msg_;
  std::vector<std::uint32_t> open_;   // open parts, root first; back() is the current part
  std::vector<Boundary> boundaries_;  // active boundaries, newest last
  Mode mode_ = Mode::Header;

  // Running totals over every byte fed so far.
  std::uint64_t offset_ = 0;
  std::uint64_t lf_ = 0;    // LF bytes
  std::uint64_t bare_ = 0;  // LF bytes not preceded by CR
  bool prev_cr_ = false;

  std::uint8_t last_nl_ = 0;  // length of the newline of the last LF seen (1 bare, 2 CRLF)

  // Running counters at the start of each part's body, parallel to msg_.parts.
  struct BodyStart {
    std::uint64_t lf = 0, bare = 0;
  };
  std::vector<BodyStart> body_start_;

  // The current line.
  bool at_line_start_ = true;
  std::uint64_t line_start_ = 0;
  std::uint64_t line_start_lf_ = 0, line_start_bare_ = 0;
  std::string line_prefix_;         // first bytes of the line, for boundary recognition
  bool line_checked_ = false;       // boundary check already done for this line
  std::uint8_t prev_newline_ = 0;   // length of the previous line's newline (1 or 2), 0 if none
  std::uint64_t region_start_ = 0;  // where the current body region began (see .cc)

  // The header block being read (of open_.back()).
  std::string header_;
  std::size_t header_line_begin_ = 0;  // where the current line starts in header_
  bool header_truncated_ = false;
  std::uint8_t header_prev_newline_ = 0;  // newline length of the previous header line
  bool pending_new_part_ = false;         // after the delimiter line, a new body part begins
  Cut eoh_;                               // AfterHeader: the end of the blank line
  std::uint8_t eoh_newline_ = 0;          // AfterHeader: the blank line's length (1 or 2)
  bool finished_ = false;
};

}  // namespace popbridge::mime
