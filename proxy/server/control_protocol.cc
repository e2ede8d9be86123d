#include "proxy/server/control_protocol.h"

#include <charconv>
#include <limits>

namespace popbridge::proxy::control {
namespace {

bool isSpace(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view text) {
  while (!text.empty() && isSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && isSpace(text.back())) text.remove_suffix(1);
  return text;
}

// Length of the valid UTF-8 sequence at the start of `text`, or 0 (RFC 3629 4).
std::size_t utf8Length(std::string_view text) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(0);
  std::size_t length = 0;
  unsigned char low = 0x80;
  unsigned char high = 0xBF;
  if (lead < 0x80) return 1;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    if (lead == 0xE0) low = 0xA0;
    if (lead == 0xED) high = 0x9F;  // no surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    if (lead == 0xF0) low = 0x90;
    if (lead == 0xF4) high = 0x8F;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  if (byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xBF) return 0;
  }
  return length;
}

void appendUtf8(std::string& out, std::uint32_t code) {
  if (code < 0x80) {
    out.push_back(static_cast<char>(code));
  } else if (code < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (code >> 6)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else if (code < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (code >> 12)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (code >> 18)));
    out.push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (code & 0x3F)));
  }
}

// A cursor over one JSON text (RFC 8259), for the flat objects of this protocol.
class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  void skipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\r' || text_[pos_] == '\n')) {
      ++pos_;
    }
  }
  bool atEnd() const { return pos_ >= text_.size(); }
  bool consume(char c) {
    skipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char peek() {
    skipSpace();
    return pos_ < text_.size() ? text_[pos_] : '\0';
  }
  std::string where() const { return "at offset " + std::to_string(pos_); }

  Result<std::string, std::string> string() {
    if (!consume('"')) return fail("expected a string " + where());
    std::string out;
    while (pos_ < text_.size()) {
      const char c = text_[pos_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) return fail("control character in a string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) break;
      const char escape = text_[pos_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out.push_back(escape);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto code = hex4();
          if (!code) return fail(code.error());
          std::uint32_t value = *code;
          if (value >= 0xD800 && value <= 0xDBFF) {
            // A high surrogate must be followed by an escaped low one (RFC 8259 7).
            if (text_.substr(pos_, 2) != "\\u") return fail("lone surrogate in a string");
            pos_ += 2;
            auto low = hex4();
            if (!low) return fail(low.error());
            if (*low < 0xDC00 || *low > 0xDFFF) return fail("lone surrogate in a string");
            value = 0x10000 + ((value - 0xD800) << 10) + (*low - 0xDC00);
          } else if (value >= 0xDC00 && value <= 0xDFFF) {
            return fail("lone surrogate in a string");
          }
          appendUtf8(out, value);
          break;
        }
        default:
          return fail(std::string("bad escape \\") + escape + " in a string");
      }
    }
    return fail(std::string("unterminated string"));
  }

  Result<Message::Value, std::string> value() {
    const char c = peek();
    if (c == '"') {
      auto text = string();
      if (!text) return fail(text.error());
      return Message::Value(std::move(*text));
    }
    if (literal("true")) return Message::Value(true);
    if (literal("false")) return Message::Value(false);
    if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t end = pos_ + (c == '-' ? 1 : 0);
      while (end < text_.size() && text_[end] >= '0' && text_[end] <= '9') ++end;
      if (end < text_.size() && (text_[end] == '.' || text_[end] == 'e' || text_[end] == 'E')) {
        return fail("only integers are expected " + where());
      }
      std::int64_t number = 0;
      const auto [ptr, ec] = std::from_chars(text_.data() + pos_, text_.data() + end, number);
      if (ec != std::errc() || ptr != text_.data() + end) {
        return fail("bad number " + where());
      }
      pos_ = end;
      return Message::Value(number);
    }
    return fail("expected a string, integer, true or false " + where());
  }

 private:
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  Result<std::uint32_t, std::string> hex4() {
    if (pos_ + 4 > text_.size()) return fail(std::string("short \\u escape"));
    std::uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      value <<= 4;
      if (h >= '0' && h <= '9') {
        value |= static_cast<std::uint32_t>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        value |= static_cast<std::uint32_t>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        value |= static_cast<std::uint32_t>(h - 'A' + 10);
      } else {
        return fail(std::string("bad \\u escape"));
      }
    }
    return value;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

Result<Request, std::string> parseRequest(std::string_view line) {
  line = trim(line);
  const std::size_t space = line.find_first_of(" \t");
  const std::string_view verb = line.substr(0, space);
  const std::string_view rest =
      space == std::string_view::npos ? std::string_view() : trim(line.substr(space));
  Request request;
  if (verb == "status") {
    request.kind = RequestKind::Status;
  } else if (verb == "reload") {
    request.kind = RequestKind::Reload;
  } else if (verb == "sync") {
    request.kind = RequestKind::Sync;
    if (rest.find_first_of(" \t") != std::string_view::npos) {
      return fail(std::string("sync takes at most one target"));
    }
    request.target = std::string(rest);
    return request;
  } else if (verb.empty()) {
    return fail(std::string("empty request"));
  } else {
    return fail("unknown command \"" + std::string(verb) + "\" (expected status, sync or reload)");
  }
  if (!rest.empty()) return fail(std::string(verb) + " takes no arguments");
  return request;
}

std::string formatRequest(const Request& request) {
  switch (request.kind) {
    case RequestKind::Status:
      return "status\n";
    case RequestKind::Reload:
      return "reload\n";
    case RequestKind::Sync:
      return request.target.empty() ? "sync\n" : "sync " + request.target + "\n";
  }
  return "status\n";
}

Message::Value* Message::find(std::string_view key) {
  for (auto& [name, value] : fields_) {
    if (name == key) return &value;
  }
  return nullptr;
}

const Message::Value* Message::find(std::string_view key) const {
  for (const auto& [name, value] : fields_) {
    if (name == key) return &value;
  }
  return nullptr;
}

Message& Message::set(std::string_view key, std::string value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    fields_.emplace_back(std::string(key), std::move(value));
  }
  return *this;
}

Message& Message::setNumber(std::string_view key, std::int64_t value) {
  if (Value* existing = find(key)) {
    *existing = value;
  } else {
    fields_.emplace_back(std::string(key), value);
  }
  return *this;
}

Message& Message::set(std::string_view key, bool value) {
  if (Value* existing = find(key)) {
    *existing = value;
  } else {
    fields_.emplace_back(std::string(key), value);
  }
  return *this;
}

std::optional<std::string_view> Message::text(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr || !std::holds_alternative<std::string>(*value)) return std::nullopt;
  return std::string_view(std::get<std::string>(*value));
}

std::optional<std::int64_t> Message::number(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr || !std::holds_alternative<std::int64_t>(*value)) return std::nullopt;
  return std::get<std::int64_t>(*value);
}

std::optional<bool> Message::flag(std::string_view key) const {
  const Value* value = find(key);
  if (value == nullptr || !std::holds_alternative<bool>(*value)) return std::nullopt;
  return std::get<bool>(*value);
}

std::string_view Message::textOr(std::string_view key, std::string_view fallback) const {
  return text(key).value_or(fallback);
}

std::int64_t Message::numberOr(std::string_view key, std::int64_t fallback) const {
  return number(key).value_or(fallback);
}

void appendJsonString(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  while (!text.empty()) {
    const auto c = static_cast<unsigned char>(text.front());
    if (c >= 0x80) {
      const std::size_t length = utf8Length(text);
      if (length == 0) {
        out.append("\xEF\xBF\xBD");  // U+FFFD for a byte that is not UTF-8
        text.remove_prefix(1);
      } else {
        out.append(text.substr(0, length));
        text.remove_prefix(length);
      }
      continue;
    }
    text.remove_prefix(1);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      default:
        if (c < 0x20 || c == 0x7F) {
          out.append("\\u00");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

std::string Message::toJson() const {
  std::string out = "{";
  bool first = true;
  for (const auto& [key, value] : fields_) {
    if (!first) out.push_back(',');
    first = false;
    appendJsonString(out, key);
    out.push_back(':');
    if (const auto* text = std::get_if<std::string>(&value)) {
      appendJsonString(out, *text);
    } else if (const auto* number = std::get_if<std::int64_t>(&value)) {
      out.append(std::to_string(*number));
    } else {
      out.append(std::get<bool>(value) ? "true" : "false");
    }
  }
  out.push_back('}');
  return out;
}

Result<Message, std::string> Message::parse(std::string_view json) {
  JsonReader reader(json);
  if (!reader.consume('{')) return fail(std::string("expected a JSON object"));
  Message message;
  if (!reader.consume('}')) {
    while (true) {
      auto key = reader.string();
      if (!key) return fail(key.error());
      if (!reader.consume(':')) return fail("expected ':' " + reader.where());
      auto value = reader.value();
      if (!value) return fail(value.error());
      if (message.find(*key) != nullptr) return fail("duplicate key \"" + *key + "\"");
      message.fields_.emplace_back(std::move(*key), std::move(*value));
      if (reader.consume(',')) continue;
      if (reader.consume('}')) break;
      return fail("expected ',' or '}' " + reader.where());
    }
  }
  reader.skipSpace();
  if (!reader.atEnd()) return fail("text after the object " + reader.where());
  return message;
}

Result<std::optional<std::string>, std::string> LineBuffer::next() {
  const std::size_t end = buffer_.find('\n', start_);
  if (end == std::string::npos) {
    if (buffer_.size() - start_ > max_line_) {
      return fail("line longer than " + std::to_string(max_line_) + " bytes");
    }
    if (start_ > 0) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    return std::optional<std::string>();
  }
  if (end - start_ > max_line_) {
    return fail("line longer than " + std::to_string(max_line_) + " bytes");
  }
  std::size_t stop = end;
  if (stop > start_ && buffer_[stop - 1] == '\r') --stop;
  std::string line = buffer_.substr(start_, stop - start_);
  start_ = end + 1;
  if (start_ == buffer_.size()) {
    buffer_.clear();
    start_ = 0;
  }
  return std::optional<std::string>(std::move(line));
}

}  // namespace popbridge::proxy::control
