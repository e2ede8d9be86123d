#include "protocols/imap/base_subject.h"

#include "protocols/mime/casemap.h"
#include "protocols/mime/decode.h"

namespace popbridge::imap {
namespace {

bool startsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// Step 1 after decoding: WSP, CR and LF become one space per run; the rest is casemapped
// (i;unicode-casemap, RFC 5256 2.1 and RFC 5051 2; Dovecot uses the same).
std::string packed(std::string_view decoded) {
  std::string spaced;
  spaced.reserve(decoded.size());
  bool space = false;
  for (char c : decoded) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
      if (!space) spaced += ' ';
      space = true;
    } else {
      spaced += c;
      space = false;
    }
  }
  return mime::casemapped(spaced);
}

// subj-blob = "[" *BLOBCHAR "]" *WSP (RFC 5256 5). After packing at most one space follows.
// Returns the length of the blob at the start of `s`, 0 if there is none.
std::size_t blobLength(std::string_view s) {
  if (s.empty() || s[0] != '[') return 0;
  std::size_t i = 1;
  while (i < s.size() && s[i] != '[' && s[i] != ']') ++i;
  if (i == s.size() || s[i] != ']') return 0;
  ++i;
  if (i < s.size() && s[i] == ' ') ++i;
  return i;
}

// subj-leader = (*subj-blob subj-refwd) / WSP, subj-refwd = ("re" / ("fw" ["d"])) *WSP
// [subj-blob] ":". Returns how much of `s` it covers (0: none).
std::size_t leaderLength(std::string_view s, bool& reply_or_forward) {
  if (!s.empty() && s[0] == ' ') return 1;
  std::size_t i = 0;
  while (i < s.size() && s[i] == '[') {
    const std::size_t blob = blobLength(s.substr(i));
    if (blob == 0) return 0;
    i += blob;
  }
  const std::string_view rest = s.substr(i);
  if (startsWith(rest, "RE")) {
    i += 2;
  } else if (startsWith(rest, "FWD")) {
    i += 3;
  } else if (startsWith(rest, "FW")) {
    i += 2;
  } else {
    return 0;
  }
  if (i < s.size() && s[i] == ' ') ++i;
  if (i < s.size() && s[i] == '[') {
    const std::size_t blob = blobLength(s.substr(i));
    if (blob == 0) return 0;
    i += blob;
  }
  if (i >= s.size() || s[i] != ':') return 0;
  reply_or_forward = true;
  return i + 1;
}

}  // namespace

BaseSubject baseSubject(std::string_view subject) {
  // Unfold (RFC 5322 2.2.3) before decoding: encoded-words may be split across lines.
  std::string unfolded;
  unfolded.reserve(subject.size());
  for (char c : subject) {
    if (c != '\r' && c != '\n') unfolded += c;
  }
  const std::string text = packed(mime::decodeEncodedWords(unfolded));
  BaseSubject out;
  std::string_view s = text;
  while (true) {
    // (2) subj-trailer = "(fwd)" / WSP, from the end, repeatedly.
    while (!s.empty()) {
      if (s.back() == ' ') {
        s.remove_suffix(1);
      } else if (s.size() >= 5 && s.substr(s.size() - 5) == "(FWD)") {
        s.remove_suffix(5);
        out.reply_or_forward = true;
      } else {
        break;
      }
    }
    // (3) to (5): leaders, and blobs that leave something behind.
    bool found = true;
    while (found) {
      found = false;
      const std::size_t leader = leaderLength(s, out.reply_or_forward);
      if (leader > 0) {
        s.remove_prefix(leader);
        found = true;
      }
      const std::size_t blob = blobLength(s);
      if (blob > 0 && blob < s.size()) {
        s.remove_prefix(blob);
        found = true;
      }
    }
    // (6) subj-fwd = "[fwd:" subject "]".
    if (s.size() >= 6 && startsWith(s, "[FWD:") && s.back() == ']') {
      s.remove_prefix(5);
      s.remove_suffix(1);
      out.reply_or_forward = true;
      continue;
    }
    break;
  }
  out.text = std::string(s);
  return out;
}

}  // namespace popbridge::imap
