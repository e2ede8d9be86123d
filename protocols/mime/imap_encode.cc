#include "protocols/mime/imap_encode.h"

#include <cstdint>
#include <vector>

#include "protocols/mime/rfc822.h"

namespace popbridge::mime {
namespace {

using rfc822::iequals;

// A quoted string costs one byte per quoted-special; past four of them a literal is shorter for
// the usual string lengths (Dovecot's rule, kept for identical output).
constexpr int kMaxQuotedEscapes = 4;

constexpr std::string_view kEmptyBody =
    R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0))";
constexpr std::string_view kEmptyBodyStructure =
    R"(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL))";

void appendLiteralBytes(std::string& out, std::string_view value) {
  out += '{';
  out += std::to_string(value.size());
  out += "}\r\n";
  out.append(value);
}

// IMAP literals carry no NUL (RFC 3501 4.3: CHAR8 excludes %x00); U+FFFD stands in.
void appendLiteral(std::string& out, std::string_view value) {
  if (value.find('\0') != std::string_view::npos) {
    appendLiteralBytes(out, rfc822::replaceNuls(value));
  } else {
    appendLiteralBytes(out, value);
  }
}

void appendQuoted(std::string& out, std::string_view value) {
  out += '"';
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
}

void appendParams(std::string& out, const std::vector<Param>& params, bool default_charset) {
  if (!default_charset && params.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  bool seen_charset = false;
  bool first = true;
  for (const Param& p : params) {
    if (!first) out += ' ';
    first = false;
    if (iequals(p.name, "charset")) seen_charset = true;
    appendString(out, p.name);
    out += ' ';
    appendString(out, p.value);
  }
  if (default_charset && !seen_charset) {
    // RFC 2045 5.2: text without a charset parameter is us-ascii.
    if (!first) out += ' ';
    out += R"("charset" "us-ascii")";
  }
  out += ')';
}

void appendAddresses(std::string& out, const std::vector<Address>& list) {
  if (list.empty()) {
    out += "NIL";
    return;
  }
  out += '(';
  for (const Address& a : list) {
    out += '(';
    if (a.name) {
      appendStringForHumans(out, *a.name);
    } else {
      out += "NIL";
    }
    out += ' ';
    appendNString(out, a.route);
    out += ' ';
    appendNString(out, a.mailbox);
    out += ' ';
    appendNString(out, a.host);
    out += ')';
  }
  out += ')';
}

// Disposition, language and location: the extension data shared by all body types.
void appendCommonExtension(std::string& out, const Part& part) {
  out += ' ';
  if (!part.disposition) {
    out += "NIL";
  } else {
    out += '(';
    appendString(out, *part.disposition);
    out += ' ';
    appendParams(out, part.disposition_params, false);
    out += ')';
  }
  out += ' ';
  if (part.language.empty()) {
    out += "NIL";
  } else {
    out += '(';
    for (std::size_t i = 0; i < part.language.size(); ++i) {
      if (i > 0) out += ' ';
      appendString(out, part.language[i]);
    }
    out += ')';
  }
  out += ' ';
  appendNStringNoLf(out, part.location);
}

bool isMessageWithChild(const Part& part) {
  return part.kind == PartKind::Message && part.children.size() == 1;
}

// The fields of a non-multipart body up to and including its size; returns whether it is text
// (which adds the line count).
bool appendBasicHead(std::string& out, const Part& part) {
  bool text = false;
  if (isMessageWithChild(part)) {
    out += R"("message" "rfc822")";
  } else if (!part.type) {
    text = true;
    out += R"("text" "plain")";
  } else if (iequals(*part.type, "message") && part.subtype && iequals(*part.subtype, "rfc822")) {
    // A message/rfc822 part that a limit kept from being parsed: RFC 3501's body-type-msg would
    // need its envelope and structure, so it is offered as opaque data instead.
    out += R"("application" "octet-stream")";
  } else {
    text = iequals(*part.type, "text");
    appendString(out, *part.type);
    out += ' ';
    appendString(out, part.subtype ? *part.subtype : std::string());
  }
  out += ' ';
  appendParams(out, part.params, text);
  out += ' ';
  appendNStringNoLf(out, part.id);
  out += ' ';
  appendNStringNoLf(out, part.description);
  out += ' ';
  if (part.encoding) {
    appendString(out, *part.encoding);
  } else {
    out += R"("7bit")";
  }
  out += ' ';
  out += std::to_string(part.body_octets);
  return text;
}

void appendBasicExtension(std::string& out, const Part& part) {
  out += ' ';
  appendNStringNoLf(out, part.md5);
  appendCommonExtension(out, part);
}

const Envelope kEmptyEnvelope{};

}  // namespace

void appendString(std::string& out, std::string_view value) {
  int escapes = 0;
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      if (escapes++ < kMaxQuotedEscapes) continue;
      appendLiteral(out, value);
      return;
    }
    if (c == '\r' || c == '\n' || c >= 0x80 || c == 0) {
      appendLiteral(out, value);
      return;
    }
  }
  appendQuoted(out, value);
}

void appendNString(std::string& out, const std::optional<std::string>& value) {
  if (!value) {
    out += "NIL";
    return;
  }
  appendString(out, *value);
}

void appendNStringNoLf(std::string& out, const std::optional<std::string>& value) {
  if (!value || value->find_first_of("\r\n") == std::string::npos) {
    appendNString(out, value);
    return;
  }
  const std::string& v = *value;
  std::string unfolded;
  unfolded.reserve(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (v[i] != '\r' && v[i] != '\n') {
      unfolded += v[i];
      continue;
    }
    char next = i + 1 < v.size() ? v[i + 1] : '\0';
    if (next != ' ' && next != '\t' && next != '\r' && next != '\n' && next != '\0') {
      unfolded += ' ';  // keep words of the two lines apart
    }
  }
  appendString(out, unfolded);
}

void appendStringForHumans(std::string& out, std::string_view value) {
  std::size_t remove = 0;
  bool whitespace_prefix = true;
  bool last_lwsp = true;
  bool modify = false;
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case 0:
        last_lwsp = false;
        modify = true;
        break;
      case '\t':
        modify = true;
        [[fallthrough]];
      case ' ':
        if (last_lwsp) {
          modify = true;
          ++remove;
        }
        last_lwsp = true;
        break;
      case '\r':
      case '\n':
        ++remove;
        modify = true;
        break;
      case '"':
      case '\\':
        modify = true;
        last_lwsp = false;
        break;
      default:
        if (c >= 0x80) modify = true;
        last_lwsp = false;
        break;
    }
    if (!last_lwsp) whitespace_prefix = false;
  }
  if (last_lwsp && !value.empty() && !whitespace_prefix) {
    modify = true;
    ++remove;
  }
  if (!modify) {
    out += '"';
    out.append(value);
    out += '"';
    return;
  }
  if (remove == value.size()) {
    out += R"("")";
    return;
  }
  std::string cleaned;
  cleaned.reserve(value.size());
  last_lwsp = true;
  whitespace_prefix = true;
  for (char ch : value) {
    auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case 0:
        cleaned += '\x80';  // as Dovecot: NUL shown as 0x80 (header NULs are U+FFFD by now)
        last_lwsp = false;
        break;
      case '\t':
      case ' ':
        if (!last_lwsp) cleaned += ' ';
        last_lwsp = true;
        break;
      case '\r':
      case '\n':
        break;
      default:
        last_lwsp = false;
        cleaned += ch;
        break;
    }
    if (!last_lwsp) whitespace_prefix = false;
  }
  if (last_lwsp && !value.empty() && !whitespace_prefix) cleaned.pop_back();
  appendLiteral(out, cleaned);
}

void appendEnvelope(std::string& out, const Envelope& env) {
  out += '(';
  appendNStringNoLf(out, env.date);
  out += ' ';
  if (env.subject) {
    appendStringForHumans(out, *env.subject);
  } else {
    out += "NIL";
  }
  out += ' ';
  appendAddresses(out, env.from);
  out += ' ';
  appendAddresses(out, env.sender.empty() ? env.from : env.sender);
  out += ' ';
  appendAddresses(out, env.reply_to.empty() ? env.from : env.reply_to);
  out += ' ';
  appendAddresses(out, env.to);
  out += ' ';
  appendAddresses(out, env.cc);
  out += ' ';
  appendAddresses(out, env.bcc);
  out += ' ';
  appendNStringNoLf(out, env.in_reply_to);
  out += ' ';
  appendNStringNoLf(out, env.message_id);
  out += ')';
}

void appendEnvelope(std::string& out, const Message& msg) {
  if (msg.parts.empty() || !msg.parts.front().envelope) {
    appendEnvelope(out, kEmptyEnvelope);
    return;
  }
  appendEnvelope(out, *msg.parts.front().envelope);
}

void appendBodyStructure(std::string& out, const Message& msg, Extended extended) {
  if (msg.parts.empty()) {
    out += extended == Extended::Yes ? kEmptyBodyStructure : kEmptyBody;
    return;
  }
  const bool ext = extended == Extended::Yes;
  struct Frame {
    std::uint32_t part;
    std::size_t next_child;
  };
  std::vector<Frame> stack;
  // Each part is entered once: its opening is written on entry, its children pushed one by one,
  // its closing written when the last child is done.
  auto enter = [&](std::uint32_t index) {
    const Part& p = msg.parts[index];
    out += '(';
    if (p.kind == PartKind::Multipart) {
      if (p.children.empty()) {
        // RFC 2046 5.1.1 requires a body part; report one empty text/plain, as Dovecot.
        out += ext ? kEmptyBodyStructure : kEmptyBody;
      }
      stack.push_back(Frame{index, 0});
      return;
    }
    bool text = appendBasicHead(out, p);
    if (isMessageWithChild(p)) {
      const Part& child = msg.parts[p.children.front()];
      out += " ";
      appendEnvelope(out, child.envelope ? *child.envelope : kEmptyEnvelope);
      out += " ";
      stack.push_back(Frame{index, 0});
      return;
    }
    if (text) {
      out += ' ';
      out += std::to_string(p.body_lines);
    }
    if (ext) appendBasicExtension(out, p);
    out += ')';
  };

  enter(0);
  while (!stack.empty()) {
    Frame& f = stack.back();
    const Part& p = msg.parts[f.part];
    if (f.next_child < p.children.size()) {
      std::uint32_t child = p.children[f.next_child++];
      enter(child);  // may push: `f` is not used after this
      continue;
    }
    if (p.kind == PartKind::Multipart) {
      out += ' ';
      appendString(out, p.subtype ? *p.subtype : std::string("mixed"));
      if (ext) {
        out += ' ';
        appendParams(out, p.params, false);
        appendCommonExtension(out, p);
      }
    } else {
      out += ' ';
      out += std::to_string(p.body_lines);
      if (ext) appendBasicExtension(out, p);
    }
    out += ')';
    stack.pop_back();
  }
}

}  // namespace popbridge::mime
