#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/mailfile/date.h"
#include "protocols/mailfile/mail_flags.h"

namespace popbridge::mailfile {

// How body lines that look like separators were quoted when the file was written.
enum class MboxFormat {
  Rd,  // mboxrd: every line matching ^>*From  got one more '>'; strip one from ^>+From
  O,   // mboxo: only ^From  got a '>'; strip it from ^>From  and leave ^>>+From  alone
};

struct MboxLimits {
  // A line longer than this is passed through in pieces (it can be neither a separator nor a
  // header we read; of an overlong first "From " line only this much is read). Also the
  // longest header field value kept for Status, X-Status, Date.
  std::size_t max_held_line = 8192;
};

// A message starts; its "From " separator line said this.
struct MboxBegin {
  std::string sender;                // the envelope sender, "" if none
  std::optional<MailTime> envelope;  // the line's asctime date, nullopt if absent or unreadable
};

// Message bytes, in order: separator quoting undone, every line ending as CRLF.
struct MboxData {
  std::string bytes;
};

// The message ended; what its header said.
struct MboxEnd {
  MailFlags flags;                  // from Status:, X-Status: and X-Keywords:
  std::optional<std::string> date;  // the first Date: field body (unfolded), if any
};

using MboxEvent = std::variant<MboxBegin, MboxData, MboxEnd>;

struct MboxError {
  std::string message;
};

// Splits an mbox file (the mboxo/mboxrd family of RFC 4155) into messages, push style: feed()
// the file in chunks of any size, then finish(); each call appends events to the caller's
// vector, in order, one MboxBegin ... MboxData* ... MboxEnd per message. Nothing holds a whole
// message: only the current line while it may still be a separator.
//
// Rules:
// - A message starts at a line beginning with "From " that is the first line of the file, or
//   that follows an empty line and carries a readable asctime date after the sender (as mutt's
//   is_from() asks); any other "From " line is body text. Content-Length is not trusted.
// - The empty line before a separator (and at the end of the file) belongs to the mbox format,
//   not to the message, and is dropped.
// - Quoting is undone per `format` (see MboxFormat).
// - Line endings become CRLF (LF, CRLF and a mix are all read); a last line without a line end
//   stays without one. Nothing else of the message changes: Status and X-Status stay in the
//   header (their flags are also reported in MboxEnd).
// - Status: R -> \Seen (O, "old", only says not \Recent, which the store has no use for);
//   X-Status: A -> \Answered, F -> \Flagged, T -> \Draft, D -> \Deleted; X-Keywords: words
//   separated by spaces or commas become keywords.
// A file that does not begin (after empty lines) with "From " is not an mbox: feed() or finish()
// returns an error and the splitter is done. Use from one thread at a time.
class MboxSplitter {
 public:
  explicit MboxSplitter(MboxFormat format = MboxFormat::Rd, MboxLimits limits = {})
      : format_(format), limits_(limits) {}

  Result<void, MboxError> feed(std::string_view bytes, std::vector<MboxEvent>& out);
  // End of input: completes the last line and message.
  Result<void, MboxError> finish(std::vector<MboxEvent>& out);

  // Messages begun so far.
  std::size_t messages() const { return messages_; }

 private:
  enum class State { Start, InMessage, Failed };

  // One complete line without its line end; `ended` false only for a last line with none.
  Result<void, MboxError> line(std::string_view text, bool ended, std::vector<MboxEvent>& out);
  // The head of a line too long to hold; the rest follows through passThrough().
  void longLineHead(std::string_view text);
  void passThrough(std::string_view text);
  void headerLine(std::string_view text);
  void emitText(std::string_view text, bool ended);
  void flushData(std::vector<MboxEvent>& out);
  void endMessage(std::vector<MboxEvent>& out);
  void beginMessage(std::string_view from_line, std::vector<MboxEvent>& out);

  MboxFormat format_;
  MboxLimits limits_;
  State state_ = State::Start;
  std::string held_;            // the current incomplete line
  bool in_long_line_ = false;   // the current line was too long and is being passed through
  bool skipping_line_ = false;  // dropping the rest of an overlong first "From " line
  bool pending_blank_ = false;  // an empty line was read and not yet emitted
  std::string data_;            // message bytes not yet handed out as MboxData
  std::size_t messages_ = 0;

  // Header of the current message.
  bool in_header_ = false;
  enum class Field { None, Status, XStatus, XKeywords, Date, Other };
  Field field_ = Field::None;
  std::string status_;
  std::string x_status_;
  std::string x_keywords_;
  std::optional<std::string> date_;
};

}  // namespace popbridge::mailfile
