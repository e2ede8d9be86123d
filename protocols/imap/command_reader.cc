#include "protocols/imap/command_reader.h"

#include <algorithm>
#include <optional>
#include <utility>

namespace popbridge::imap {
namespace {

// Enough of a skipped line's end to recognise a literal announcement ("~{" + 20 digits "+}").
constexpr std::size_t kTailBytes = 32;
// Bytes at the start of a line searched for its tag in error reports.
constexpr std::size_t kTagScan = 64;

struct Announcement {
  std::size_t start;  // offset of "{" or "~" in the line
  std::uint64_t size;
  bool sync;
  bool binary;
};

// A literal announcement ending `line` (RFC 3501 9 literal, RFC 7888 literal+, RFC 3516
// literal8). A size beyond 2^64-1 is reported as the maximum so limits reject it.
std::optional<Announcement> findAnnouncement(std::string_view line) {
  if (line.empty() || line.back() != '}') {
    return std::nullopt;
  }
  std::size_t i = line.size() - 1;
  bool sync = true;
  if (i > 0 && line[i - 1] == '+') {
    sync = false;
    --i;
  }
  const std::size_t digits_end = i;
  while (i > 0 && line[i - 1] >= '0' && line[i - 1] <= '9') {
    --i;
  }
  if (i == digits_end || i == 0 || line[i - 1] != '{') {
    return std::nullopt;
  }
  std::uint64_t size = 0;
  for (std::size_t k = i; k < digits_end; ++k) {
    const auto digit = static_cast<std::uint64_t>(line[k] - '0');
    if (size > (UINT64_MAX - digit) / 10) {
      size = UINT64_MAX;
      break;
    }
    size = size * 10 + digit;
  }
  std::size_t start = i - 1;
  bool binary = false;
  if (start > 0 && line[start - 1] == '~') {
    binary = true;
    --start;
  }
  return Announcement{start, size, sync, binary};
}

enum class Whole { Yes, No };

// The tag at the start of `line` when it is followed by SP or ends the line, else "". When
// `line` is only the start of a line it must be followed by SP, so that the answer does not
// depend on how the input was split.
std::string tagOf(std::string_view line, Whole whole) {
  std::size_t n = 0;
  while (n < line.size() && isTagChar(static_cast<unsigned char>(line[n]))) {
    ++n;
  }
  const bool ended = n == line.size() && whole == Whole::Yes;
  if (n == 0 || (!ended && (n == line.size() || line[n] != ' '))) {
    return {};
  }
  return std::string(line.substr(0, n));
}

// The offset just after "APPEND " when `text` is "tag APPEND ...", else 0.
std::size_t appendArgsStart(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size() && isTagChar(static_cast<unsigned char>(text[i]))) {
    ++i;
  }
  if (i == 0 || i >= text.size() || text[i] != ' ') {
    return 0;
  }
  ++i;
  constexpr std::string_view kName = "APPEND ";
  if (text.size() - i < kName.size()) {
    return 0;
  }
  for (std::size_t k = 0; k < kName.size(); ++k) {
    const char c = text[i + k];
    if ((c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c) != kName[k]) {
      return 0;
    }
  }
  return i + kName.size();
}

// Whether a literal announced at `pos` of the command `text` (lines joined) holds an APPEND
// message: the command is "tag APPEND mailbox ..." and the mailbox comes before `pos` (RFC 3501
// 6.3.11: only the mailbox and the messages may be literals; flags and date-time may not).
bool isAppendMessage(std::string_view text, std::size_t pos) {
  const std::size_t i = appendArgsStart(text);
  return i > 0 && pos > i && text.find_first_not_of(' ', i) < pos;
}

// The mailbox of the APPEND command `command` (complete up to its first message), decoded as
// ArgParser::mailbox() does; nullopt when it does not decode.
std::optional<std::string> appendMailboxOf(const CommandText& command, MailboxNames names) {
  CommandText copy{command.text, {}};
  for (const LiteralPiece& piece : command.literals) {
    if (piece.streamed) break;  // the mailbox comes before every message
    copy.literals.push_back(piece);
  }
  ArgParser in(copy, appendArgsStart(copy.text), names);
  auto name = in.mailbox();
  if (!name) return std::nullopt;
  return std::move(*name);
}

}  // namespace

CommandReader::CommandReader(Limits limits) : limits_(limits) {}

void CommandReader::feed(std::string_view bytes) {
  // Compact when the consumed prefix dominates, so copying stays amortised O(1) per byte.
  if (pos_ == buffer_.size()) {
    buffer_.clear();
    pos_ = 0;
  } else if (pos_ > 4096 && pos_ * 2 > buffer_.size()) {
    buffer_.erase(0, pos_);
    pos_ = 0;
  }
  buffer_.append(bytes);
}

std::size_t CommandReader::buffered() const { return buffer_.size() - pos_; }

void CommandReader::discardBuffered() {
  buffer_.clear();
  pos_ = 0;
  scanned_ = 0;
  state_ = State::Line;
  skipping_line_mode_ = false;
  skip_tail_.clear();
  resetCommand();
}

void CommandReader::expectLine() { line_mode_ = true; }

void CommandReader::refuseLiteral() {
  if (!streaming_ || state_ != State::Literal) return;  // no literal was just announced
  if (literal_sync_) {
    // RFC 3501 7.5: without the continuation request the client sends neither the literal nor
    // the rest of the command.
    resetCommand();
    state_ = State::Line;
    scanned_ = 0;
    return;
  }
  // The bytes arrive anyway: State::Literal drops them while discarding_, then skips the rest.
  streaming_ = false;
  discarding_ = true;
}

void CommandReader::resetCommand() {
  command_ = CommandText{};
  line_bytes_ = 0;
  total_bytes_ = 0;
  in_quote_ = false;
  escape_ = false;
  depth_ = 0;
  literal_left_ = 0;
  discarding_ = false;
  streaming_ = false;
  streamed_count_ = 0;
}

ParseError CommandReader::limitError(std::string message, std::size_t visible,
                                     ParseError::Kind kind) const {
  std::string tag;
  if (!command_.text.empty()) {
    tag = tagOf(command_.text, Whole::Yes);
  } else {
    // The first line is being refused before its end: only bytes that every way of splitting
    // the input has delivered by now may decide the tag.
    tag = tagOf(std::string_view(buffer_).substr(pos_, visible), Whole::No);
  }
  return ParseError{kind, std::move(tag), std::move(message)};
}

// After an error in a command whose last line was `line`: a LITERAL+ literal still arrives
// and is skipped, anything else ends the command.
void CommandReader::skipLiteralOrEnd(std::string_view line) {
  const auto announcement = findAnnouncement(line);
  if (announcement && !announcement->sync) {
    discarding_ = true;
    literal_left_ = announcement->size;
    state_ = State::Literal;
    return;
  }
  resetCommand();
}

ReadResult CommandReader::lineTooLong(std::size_t allowance) {
  const bool line_mode_line = line_mode_ && command_.text.empty() && !discarding_;
  std::optional<ParseError> error;
  if (line_mode_line) {
    line_mode_ = false;
    error = ParseError{ParseError::Kind::TooLong, {}, "Line too long"};
  } else if (!discarding_) {
    // The line holds more than `allowance` bytes, so allowance + 1 of them are in the buffer.
    error = limitError("Command line too long", std::min(allowance, kTagScan) + 1);
  }
  skipping_line_mode_ = line_mode_line;
  discarding_ = true;
  skip_tail_.clear();
  state_ = State::SkipLine;
  if (error) {
    return std::move(*error);
  }
  return NeedMore{};
}

ReadResult CommandReader::finishCommand() {
  auto command = parseCommand(command_, names_);
  resetCommand();
  if (!command) {
    return std::move(command.error());
  }
  return std::move(*command);
}

ReadResult CommandReader::next() {
  while (true) {
    switch (state_) {
      case State::Literal: {
        const std::size_t available = buffer_.size() - pos_;
        const auto take =
            static_cast<std::size_t>(std::min<std::uint64_t>(available, literal_left_));
        if (streaming_ && literal_left_ > 0) {
          if (take == 0) {
            return NeedMore{};
          }
          const std::size_t chunk = std::min(take, kMaxChunk);
          const std::string_view bytes(buffer_.data() + pos_, chunk);
          LiteralPiece& piece = command_.literals.back();
          if (!piece.binary && !piece.has_nul && bytes.find('\0') != std::string_view::npos) {
            piece.has_nul = true;
          }
          pos_ += chunk;
          literal_left_ -= chunk;
          return LiteralChunk{bytes};
        }
        streaming_ = false;
        if (!discarding_) {
          command_.literals.back().data.append(buffer_, pos_, take);
        }
        pos_ += take;
        literal_left_ -= take;
        if (literal_left_ > 0) {
          return NeedMore{};
        }
        state_ = State::Line;
        scanned_ = 0;
        if (discarding_) {
          // The rest of a discarded command: its next line may announce yet another literal.
          skipping_line_mode_ = false;
          skip_tail_.clear();
          state_ = State::SkipLine;
        }
        continue;
      }

      case State::SkipLine: {
        const std::size_t lf = buffer_.find('\n', pos_);
        const std::size_t end = lf == std::string::npos ? buffer_.size() : lf;
        skip_tail_.append(buffer_, pos_, end - pos_);
        if (skip_tail_.size() > kTailBytes) {
          skip_tail_.erase(0, skip_tail_.size() - kTailBytes);
        }
        if (lf == std::string::npos) {
          pos_ = buffer_.size();
          return NeedMore{};
        }
        pos_ = lf + 1;
        scanned_ = 0;
        state_ = State::Line;
        if (!skip_tail_.empty() && skip_tail_.back() == '\r') {
          skip_tail_.pop_back();
        }
        if (skipping_line_mode_) {
          skipping_line_mode_ = false;
          resetCommand();
        } else {
          skipLiteralOrEnd(skip_tail_);
        }
        skip_tail_.clear();
        continue;
      }

      case State::Line:
        break;
    }

    // Discarded command remains go through State::SkipLine, so this is a line we keep.
    const bool line_mode_line = line_mode_ && command_.text.empty();
    const std::size_t allowance = line_mode_line ? limits_.max_line
                                                 : std::min(limits_.max_line - line_bytes_,
                                                            limits_.max_command - total_bytes_);
    const std::size_t lf = buffer_.find('\n', pos_ + scanned_);
    if (lf == std::string::npos) {
      scanned_ = buffer_.size() - pos_;
      if (scanned_ > 0 && scanned_ - 1 > allowance) {  // - 1: a CR may still be followed by LF
        return lineTooLong(allowance);
      }
      return NeedMore{};
    }
    std::size_t line_end = lf;
    if (line_end > pos_ && buffer_[line_end - 1] == '\r') {
      --line_end;
    }
    if (line_end - pos_ > allowance) {
      return lineTooLong(allowance);
    }
    const std::string line = buffer_.substr(pos_, line_end - pos_);
    pos_ = lf + 1;
    scanned_ = 0;

    if (line_mode_line) {
      line_mode_ = false;
      return Line{line};
    }
    if (command_.text.empty() && line.empty()) {
      continue;  // tolerated between commands
    }

    auto announcement = findAnnouncement(line);
    const std::size_t scan_end = announcement ? announcement->start : line.size();
    bool too_deep = false;
    for (std::size_t i = 0; i < scan_end; ++i) {
      const char c = line[i];
      if (in_quote_) {
        if (escape_) {
          escape_ = false;
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '"') {
          in_quote_ = false;
        }
      } else if (c == '"') {
        in_quote_ = true;
      } else if (c == '(') {
        // RFC 3501 does not bound nesting; popbridge does, without recursion (STYLE.md 4.2).
        if (++depth_ > limits_.max_depth) {
          too_deep = true;
        }
      } else if (c == ')' && depth_ > 0) {
        --depth_;
      }
    }
    if (announcement && in_quote_) {
      announcement.reset();  // "{n}" inside an unterminated quoted string is just text
    }
    const std::size_t base = command_.text.size();
    command_.text += line;
    line_bytes_ += line.size();
    total_bytes_ += line.size();

    if (too_deep) {
      ParseError error = limitError("Too deeply nested parentheses");
      skipLiteralOrEnd(line);
      return error;
    }
    if (!announcement) {
      return finishCommand();
    }
    if (streamed_limit_ > 0 && isAppendMessage(command_.text, base + announcement->start)) {
      if (announcement->size > streamed_limit_) {
        // RFC 7889 4: NO [TOOBIG]; a synchronizing literal is refused before its continuation.
        ParseError error = limitError(
            "Message larger than APPENDLIMIT (" + std::to_string(streamed_limit_) + " bytes)", 0,
            ParseError::Kind::TooBig);
        skipLiteralOrEnd(line);
        return error;
      }
      LiteralBegin begin{announcement->size,
                         announcement->binary,
                         announcement->sync,
                         tagOf(command_.text, Whole::Yes),
                         appendMailboxOf(command_, names_),
                         streamed_count_};
      LiteralPiece piece{base + announcement->start, {}, announcement->binary};
      piece.streamed = streamed_count_++;
      piece.size = announcement->size;
      command_.literals.push_back(std::move(piece));
      literal_left_ = announcement->size;
      streaming_ = true;
      state_ = State::Literal;
      literal_sync_ = announcement->sync;
      return begin;
    }
    if (announcement->size > limits_.max_literal ||
        announcement->size > limits_.max_command - total_bytes_) {
      ParseError error =
          limitError("Literal larger than " +
                         std::to_string(std::min<std::uint64_t>(
                             limits_.max_literal, limits_.max_command - total_bytes_)) +
                         " bytes",
                     0, ParseError::Kind::TooBig);
      skipLiteralOrEnd(line);
      return error;
    }
    const auto size = static_cast<std::size_t>(announcement->size);
    command_.literals.push_back(LiteralPiece{base + announcement->start, {}, announcement->binary});
    command_.literals.back().data.reserve(size);
    total_bytes_ += size;
    literal_left_ = size;
    state_ = State::Literal;
    if (announcement->sync) {
      return NeedContinuation{announcement->size};
    }
  }
}

}  // namespace popbridge::imap
