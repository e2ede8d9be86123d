// mbox splitting (RFC 4155 and the mboxrd/mboxo conventions it describes).

#include "protocols/mailfile/mbox.h"

#include <utility>

namespace popbridge::mailfile {
namespace {

constexpr std::string_view kFrom = "From ";

bool startsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && (isSpace(text.back()) || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

bool equalsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

// Splits "From sender date" after the "From ": the sender is everything before the first
// position where an asctime date parses (senders are normally one word; a quoted local part may
// hold spaces).
MboxBegin parseFromLine(std::string_view line) {
  const std::string_view rest = line.substr(kFrom.size());
  MboxBegin begin;
  std::size_t pos = 0;
  while (pos < rest.size()) {
    while (pos < rest.size() && isSpace(rest[pos])) ++pos;
    if (pos >= rest.size()) break;
    if (auto date = parseAsctimeDate(rest.substr(pos))) {
      begin.sender = std::string(trim(rest.substr(0, pos)));
      begin.envelope = date;
      return begin;
    }
    while (pos < rest.size() && !isSpace(rest[pos])) ++pos;
  }
  const std::string_view trimmed = trim(rest);
  begin.sender = std::string(trimmed.substr(0, trimmed.find_first_of(" \t")));
  return begin;
}

// Whether `line` is quoting per `format`: one '>' is to be removed.
bool isQuotedFrom(std::string_view line, MboxFormat format) {
  if (line.empty() || line.front() != '>') return false;
  std::size_t i = 0;
  while (i < line.size() && line[i] == '>') ++i;
  if (format == MboxFormat::O && i != 1) return false;
  return startsWith(line.substr(i), kFrom);
}

void addKeywords(std::string_view text, std::vector<std::string>& keywords) {
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (isSpace(text[i]) || text[i] == ',')) ++i;
    const std::size_t start = i;
    while (i < text.size() && !isSpace(text[i]) && text[i] != ',') ++i;
    if (i > start) {
      std::string word(text.substr(start, i - start));
      bool seen = false;
      for (const std::string& k : keywords) seen = seen || k == word;
      if (!seen) keywords.push_back(std::move(word));
    }
  }
}

}  // namespace

Result<void, MboxError> MboxSplitter::feed(std::string_view bytes, std::vector<MboxEvent>& out) {
  if (state_ == State::Failed) return fail(MboxError{"the mbox splitter already failed"});
  while (!bytes.empty()) {
    const std::size_t nl = bytes.find('\n');
    const std::string_view piece = bytes.substr(0, nl);
    if (in_long_line_) {
      // held_ is at most a '\r' that may turn out to be part of a CRLF.
      std::string text = std::exchange(held_, {});
      text.append(piece);
      if (nl == std::string_view::npos) {
        if (!text.empty() && text.back() == '\r') {
          held_ = "\r";
          text.pop_back();
        }
        passThrough(text);
        break;
      }
      if (!text.empty() && text.back() == '\r') text.pop_back();
      passThrough(text);
      passThrough("\r\n");
      in_long_line_ = false;
      bytes.remove_prefix(nl + 1);
      continue;
    }
    if (skipping_line_) {
      // The rest of an overlong first separator line.
      if (nl == std::string_view::npos) break;
      skipping_line_ = false;
      bytes.remove_prefix(nl + 1);
      continue;
    }
    if (nl == std::string_view::npos) {
      held_.append(piece);
      // Long only when the line without a final CR is surely longer than the limit, so that
      // where the input is cut never changes the result (line() applies the same rule).
      if (held_.size() > limits_.max_held_line + 1) {
        if (state_ == State::Start) {
          if (!startsWith(held_, kFrom)) {
            state_ = State::Failed;
            return fail(MboxError{"not an mbox file: the first line is not a \"From \" line"});
          }
          beginMessage(std::string_view(held_).substr(0, limits_.max_held_line), out);
          held_.clear();
          skipping_line_ = true;
          break;
        }
        std::string text = std::exchange(held_, {});
        if (text.back() == '\r') {
          held_ = "\r";
          text.pop_back();
        }
        longLineHead(text);
        in_long_line_ = true;
      }
      break;
    }
    Result<void, MboxError> done;
    if (held_.empty()) {
      std::string_view text = piece;
      if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
      done = line(text, true, out);
    } else {
      std::string text = std::exchange(held_, {});
      text.append(piece);
      if (!text.empty() && text.back() == '\r') text.pop_back();
      done = line(text, true, out);
    }
    if (!done) return done;
    bytes.remove_prefix(nl + 1);
  }
  flushData(out);
  return {};
}

Result<void, MboxError> MboxSplitter::finish(std::vector<MboxEvent>& out) {
  if (state_ == State::Failed) return fail(MboxError{"the mbox splitter already failed"});
  if (skipping_line_) {
    skipping_line_ = false;
  } else if (in_long_line_) {
    passThrough(held_);
    held_.clear();
    in_long_line_ = false;
  } else if (!held_.empty()) {
    const std::string text = std::exchange(held_, {});
    if (auto done = line(text, false, out); !done) return done;
  }
  if (state_ == State::InMessage) endMessage(out);
  state_ = State::Start;
  return {};
}

Result<void, MboxError> MboxSplitter::line(std::string_view text, bool ended,
                                           std::vector<MboxEvent>& out) {
  // A line longer than the limit is never a separator after the first and never a header field
  // we read, however the input was cut (see feed()).
  const bool long_line = text.size() > limits_.max_held_line;
  if (state_ == State::Start) {
    if (text.empty()) return {};  // empty lines before the first message
    if (!startsWith(text, kFrom)) {
      state_ = State::Failed;
      return fail(MboxError{"not an mbox file: the first line is not a \"From \" line"});
    }
    beginMessage(text.substr(0, limits_.max_held_line), out);
    return {};
  }
  if (text.empty() && ended) {
    // Maybe the empty line before a separator: hold it until the next line says.
    if (pending_blank_) emitText("", true);
    pending_blank_ = true;
    in_header_ = false;
    return {};
  }
  if (pending_blank_ && !long_line && startsWith(text, kFrom) && parseFromLine(text).envelope) {
    pending_blank_ = false;
    endMessage(out);
    beginMessage(text, out);
    return {};
  }
  if (pending_blank_) {
    emitText("", true);
    pending_blank_ = false;
  }
  if (in_header_ && long_line) {
    field_ = Field::Other;
  } else if (in_header_) {
    headerLine(text);
  }
  // Of a long line only the first max_held_line bytes say whether it is quoted, as in
  // longLineHead(), which never sees more.
  if (isQuotedFrom(text.substr(0, limits_.max_held_line), format_)) text.remove_prefix(1);
  emitText(text, ended);
  return {};
}

void MboxSplitter::longLineHead(std::string_view text) {
  if (pending_blank_) {
    emitText("", true);
    pending_blank_ = false;
  }
  if (in_header_) field_ = Field::Other;  // too long to be a field we read
  if (isQuotedFrom(text.substr(0, limits_.max_held_line), format_)) text.remove_prefix(1);
  passThrough(text);
}

void MboxSplitter::passThrough(std::string_view text) { data_.append(text); }

void MboxSplitter::headerLine(std::string_view text) {
  std::string* target = nullptr;
  if (!text.empty() && isSpace(text.front())) {
    // A folded continuation of the previous field (RFC 5322 2.2.3).
    switch (field_) {
      case Field::Status:
        target = &status_;
        break;
      case Field::XStatus:
        target = &x_status_;
        break;
      case Field::XKeywords:
        target = &x_keywords_;
        break;
      case Field::Date:
        target = date_ ? &*date_ : nullptr;
        break;
      case Field::None:
      case Field::Other:
        break;
    }
    if (target != nullptr && target->size() + text.size() <= limits_.max_held_line) {
      target->append(" ");
      target->append(trim(text));
    }
    return;
  }
  const std::size_t colon = text.find(':');
  if (colon == std::string_view::npos) {
    field_ = Field::Other;
    return;
  }
  const std::string_view name = trim(text.substr(0, colon));
  const std::string_view value = trim(text.substr(colon + 1));
  field_ = Field::Other;
  if (equalsIgnoreCase(name, "Status")) {
    field_ = Field::Status;
    target = &status_;
  } else if (equalsIgnoreCase(name, "X-Status")) {
    field_ = Field::XStatus;
    target = &x_status_;
  } else if (equalsIgnoreCase(name, "X-Keywords")) {
    field_ = Field::XKeywords;
    target = &x_keywords_;
  } else if (equalsIgnoreCase(name, "Date") && !date_) {
    field_ = Field::Date;
    date_.emplace();
    target = &*date_;
  }
  if (target != nullptr) {
    if (!target->empty()) target->append(" ");
    target->append(value.substr(0, limits_.max_held_line));
  }
}

void MboxSplitter::emitText(std::string_view text, bool ended) {
  data_.append(text);
  if (ended) data_.append("\r\n");
}

void MboxSplitter::flushData(std::vector<MboxEvent>& out) {
  if (data_.empty()) return;
  out.emplace_back(MboxData{std::exchange(data_, {})});
}

void MboxSplitter::beginMessage(std::string_view from_line, std::vector<MboxEvent>& out) {
  flushData(out);
  out.emplace_back(parseFromLine(from_line));
  ++messages_;
  state_ = State::InMessage;
  in_header_ = true;
  field_ = Field::None;
  status_.clear();
  x_status_.clear();
  x_keywords_.clear();
  date_.reset();
}

void MboxSplitter::endMessage(std::vector<MboxEvent>& out) {
  pending_blank_ = false;  // the empty line that ends every message in an mbox
  flushData(out);
  MboxEnd end;
  for (char c : status_) {
    if (c == 'R') end.flags.system |= kSeen;
  }
  for (char c : x_status_) {
    switch (c) {
      case 'A':
        end.flags.system |= kAnswered;
        break;
      case 'F':
        end.flags.system |= kFlagged;
        break;
      case 'T':
        end.flags.system |= kDraft;
        break;
      case 'D':
        end.flags.system |= kDeleted;
        break;
      default:
        break;
    }
  }
  addKeywords(x_keywords_, end.flags.keywords);
  end.date = std::move(date_);
  date_.reset();
  out.emplace_back(std::move(end));
  in_header_ = false;
}

}  // namespace popbridge::mailfile
