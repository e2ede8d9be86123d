#include "protocols/pop3/reply_reader.h"

#include <algorithm>
#include <cstring>
#include <utility>

namespace popbridge::pop3 {
namespace {

bool isBlank(char c) { return c == ' ' || c == '\t'; }

std::string_view trimBlanks(std::string_view s) {
  while (!s.empty() && isBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && isBlank(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 5034 section 4: a challenge is "+" SP base64. Some servers send a bare "+" for an empty
// challenge. "+OK" in any case, followed by nothing or a blank, is a status line instead.
bool isContinuationLine(std::string_view line) {
  if (line.empty() || line.front() != '+') return false;
  if (line.size() == 1) return true;
  return isBlank(line[1]);
}

}  // namespace

ReplyReader::ReplyReader(Limits limits) : limits_(limits) {}

void ReplyReader::expect(ReplyKind kind) { queue_.push_back(kind); }

std::size_t ReplyReader::expected() const { return queue_.size(); }

void ReplyReader::feed(std::string_view bytes) {
  if (eof_ || bytes.empty()) return;
  // Drop consumed bytes first, so the buffer holds at most one partial line plus what this feed
  // brings. Views handed out earlier are invalid from here on, as documented.
  if (pos_ > 0) {
    buffer_.erase(0, pos_);
    scan_ -= pos_;
    pos_ = 0;
  }
  buffer_.append(bytes);
}

std::size_t ReplyReader::buffered() const { return buffer_.size() - pos_; }

void ReplyReader::finish() { eof_ = true; }

ReplyEvent ReplyReader::fail(std::string message) {
  failed_ = true;
  error_ = ReplyError{std::move(message)};
  return error_;
}

bool ReplyReader::takeLine(std::string_view& line) {
  const std::string_view pending = std::string_view(buffer_).substr(pos_);
  const std::size_t lf = buffer_.find('\n', scan_);
  std::size_t end = 0;
  std::size_t next_pos = 0;
  if (lf != std::string::npos) {
    end = lf;
    next_pos = lf + 1;
  } else {
    scan_ = buffer_.size();
    if (!eof_ || pending.empty()) {
      // A line of exactly max_line octets may still be waiting for the LF after its CR.
      const bool cr_last = !pending.empty() && pending.back() == '\r';
      const std::size_t allowed = limits_.max_line + (cr_last ? 1 : 0);
      if (pending.size() > allowed)
        fail("line exceeds " + std::to_string(limits_.max_line) + " octets");
      return false;
    }
    // EOF: the final line lacks its terminator.
    end = buffer_.size();
    next_pos = buffer_.size();
  }
  std::string_view text = std::string_view(buffer_).substr(pos_, end - pos_);
  // Only a CR directly before the LF belongs to the terminator; any other CR is data.
  if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
  if (text.size() > limits_.max_line) {
    fail("line exceeds " + std::to_string(limits_.max_line) + " octets");
    return false;
  }
  pos_ = next_pos;
  scan_ = next_pos;
  line = text;
  return true;
}

std::string_view ReplyReader::takeBlock() {
  const char* data = buffer_.data();
  const std::size_t size = buffer_.size();
  std::size_t at = pos_;
  while (at < size) {
    // RFC 1939 section 3: a line starting with "." is the terminator or byte-stuffed.
    if (data[at] == '.') break;
    const void* found = std::memchr(data + at, '\n', size - at);
    if (found == nullptr) {
      scan_ = size;  // no LF after `at`: takeLine need not search these bytes again
      break;
    }
    const auto lf = static_cast<std::size_t>(static_cast<const char*>(found) - data);
    // A bare LF gets a CR from the driver; an over-long line is takeLine's error to report.
    if (lf == at || data[lf - 1] != '\r' || lf - 1 - at > limits_.max_line) break;
    at = lf + 1;
  }
  const std::string_view block(data + pos_, at - pos_);
  pos_ = at;
  scan_ = std::max(scan_, at);
  return block;
}

ReplyEvent ReplyReader::next() {
  if (failed_) return error_;
  if (queue_.empty()) {
    // Nothing awaited: leave the bytes for a reply the driver has yet to queue, but bound them.
    if (buffer_.size() - pos_ > limits_.max_line + 2) {
      return fail("unsolicited data from the server");
    }
    return NeedMore{};
  }
  if (phase_ == Phase::InBody && queue_.front() == ReplyKind::MultiLineBlock) {
    if (const std::string_view block = takeBlock(); !block.empty()) return BodyBlock{block};
  }
  std::string_view line;
  if (!takeLine(line)) {
    if (failed_) return error_;
    if (!eof_) return NeedMore{};
    // All buffered bytes are consumed and the peer is gone.
    if (phase_ == Phase::InBody) return fail("connection closed inside a multi-line reply");
    return fail("connection closed before the reply");
  }
  if (phase_ == Phase::InBody) return onBodyLine(line);
  return onStatusLine(line);
}

ReplyEvent ReplyReader::onStatusLine(std::string_view line) {
  const ReplyKind kind = queue_.front();
  if (kind == ReplyKind::SaslContinuation && isContinuationLine(line)) {
    // The exchange goes on: the reply stays queued until its status line.
    return Continuation{std::string(trimBlanks(line.substr(1)))};
  }
  auto status = parseStatusLine(line);
  if (!status) return fail(std::move(status.error().message));
  if ((kind == ReplyKind::MultiLine || kind == ReplyKind::MultiLineBlock) && status->ok) {
    phase_ = Phase::InBody;
  } else {
    queue_.pop_front();
  }
  return std::move(*status);
}

ReplyEvent ReplyReader::onBodyLine(std::string_view line) {
  if (!line.empty() && line.front() == '.') {
    // RFC 1939 section 3: a lone "." ends the reply; any other line starting with "." was
    // byte-stuffed by the server and loses its first octet.
    if (line.size() == 1) {
      phase_ = Phase::AwaitStatus;
      queue_.pop_front();
      return End{};
    }
    line.remove_prefix(1);
  }
  return BodyLine{line};
}

}  // namespace popbridge::pop3
