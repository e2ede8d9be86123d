#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "protocols/common/result.h"

// The control socket's line protocol, between `popbridge status|sync` and a running daemon.
// No I/O here: bytes in, values out, and back.
//
// The client sends one request line of plain text and the daemon answers with lines, each one
// flat JSON object carrying a "type", the last of type "done":
//
//   status            -> {"type":"account",...} per account, then {"type":"done","ok":true}
//   sync [TARGET]     -> {"type":"warning",...} if re-reading the config failed, then
//                        {"type":"started",...}, {"type":"progress",...}*, {"type":"result",...}
//                        per account, then {"type":"done","ok":...}
//   reload            -> {"type":"done","ok":...,"message":"..."}
//
// TARGET is USER, USER/ACCOUNT or ACCOUNT (see selectAccounts); none means every account.
namespace popbridge::proxy::control {

// Longest request or reply line either side accepts.
inline constexpr std::size_t kMaxLine = 64 * 1024;

enum class RequestKind { Status, Sync, Reload };

struct Request {
  RequestKind kind = RequestKind::Status;
  std::string target;  // Sync only; empty = every account

  friend bool operator==(const Request&, const Request&) = default;
};

// Parses one request line (without its line end). Pure.
Result<Request, std::string> parseRequest(std::string_view line);
// The request as a line, with "\n". Pure.
std::string formatRequest(const Request& request);

// One reply line: a flat JSON object of string, integer and boolean fields, in insertion order.
class Message {
 public:
  using Value = std::variant<std::string, std::int64_t, bool>;

  Message() = default;
  explicit Message(std::string_view type) { set("type", std::string(type)); }

  // Sets (or replaces) a field; returns *this for chaining.
  Message& set(std::string_view key, std::string value);
  Message& set(std::string_view key, const char* value) { return set(key, std::string(value)); }
  Message& set(std::string_view key, bool value);
  // Any integer; counts beyond INT64_MAX do not occur here.
  template <class T>
  requires(std::is_integral_v<T> && !std::is_same_v<T, bool>) Message& set(std::string_view key,
                                                                           T value) {
    return setNumber(key, static_cast<std::int64_t>(value));
  }

  // The field's value when present with that type.
  std::optional<std::string_view> text(std::string_view key) const;
  std::optional<std::int64_t> number(std::string_view key) const;
  std::optional<bool> flag(std::string_view key) const;
  // text(key), or `fallback` when absent.
  std::string_view textOr(std::string_view key, std::string_view fallback) const;
  std::int64_t numberOr(std::string_view key, std::int64_t fallback) const;
  std::string_view type() const { return textOr("type", ""); }

  const std::vector<std::pair<std::string, Value>>& fields() const { return fields_; }

  // The object as compact JSON without a line end. Strings are escaped per RFC 8259 7; bytes
  // that are not UTF-8 become U+FFFD so any consumer can read the line.
  std::string toJson() const;
  // toJson() plus "\n".
  std::string toLine() const { return toJson() + "\n"; }
  // Parses a flat JSON object (strings, integers, true/false; no nesting, no null, no
  // fractions). Pure.
  static Result<Message, std::string> parse(std::string_view json);

  friend bool operator==(const Message&, const Message&) = default;

 private:
  Message& setNumber(std::string_view key, std::int64_t value);
  Value* find(std::string_view key);
  const Value* find(std::string_view key) const;
  std::vector<std::pair<std::string, Value>> fields_;
};

// Appends `text` to `out` as a JSON string literal (quotes included).
void appendJsonString(std::string& out, std::string_view text);

// Splits a byte stream into lines ending in "\n" (a "\r" before it is dropped). Push style:
// feed() bytes as they arrive, then take lines with next() until it returns nothing.
class LineBuffer {
 public:
  explicit LineBuffer(std::size_t max_line = kMaxLine) : max_line_(max_line) {}

  void feed(std::string_view bytes) { buffer_.append(bytes); }
  // The next complete line without its line end; nullopt when more bytes are needed. An error
  // when a line is longer than max_line (the buffer is then useless).
  Result<std::optional<std::string>, std::string> next();

 private:
  std::size_t max_line_;
  std::string buffer_;
  std::size_t start_ = 0;
};

}  // namespace popbridge::proxy::control
