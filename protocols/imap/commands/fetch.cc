#include "protocols/imap/commands/fetch.h"

#include <array>
#include <string_view>
#include <utility>

namespace popbridge::imap {
namespace {

bool isDigit(unsigned char c) { return c >= '0' && c <= '9'; }

bool isAttNameChar(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || isDigit(c) || c == '.';
}

std::string upper(std::string text) {
  for (char& c : text) {
    if (c >= 'a' && c <= 'z') {
      c = static_cast<char>(c - 'a' + 'A');
    }
  }
  return text;
}

struct SimpleAtt {
  std::string_view name;
  FetchAtt::Kind kind;
};

constexpr std::array<SimpleAtt, 13> kSimpleAtts = {{
    {"UID", FetchAtt::Kind::Uid},
    {"FLAGS", FetchAtt::Kind::Flags},
    {"INTERNALDATE", FetchAtt::Kind::InternalDate},
    {"RFC822.SIZE", FetchAtt::Kind::Rfc822Size},
    {"ENVELOPE", FetchAtt::Kind::Envelope},
    {"BODYSTRUCTURE", FetchAtt::Kind::BodyStructure},
    {"RFC822", FetchAtt::Kind::Rfc822},
    {"RFC822.HEADER", FetchAtt::Kind::Rfc822Header},
    {"RFC822.TEXT", FetchAtt::Kind::Rfc822Text},
    {"MODSEQ", FetchAtt::Kind::ModSeq},
    {"EMAILID", FetchAtt::Kind::EmailId},    // RFC 8474 5.1
    {"THREADID", FetchAtt::Kind::ThreadId},  // RFC 8474 5.2
    {"BODY", FetchAtt::Kind::Body},
}};

enum class SectionKind { Body, Binary };

// section-spec inside "[...]" (RFC 3501 9 section / RFC 3516 section-binary). The cursor is
// just after '['; consumes through ']'.
Result<Section, ParseError> parseSection(ArgParser& in, SectionKind kind) {
  Section section;
  if (in.consumeIf(']')) {
    return section;
  }
  bool want_text = true;
  if (isDigit(static_cast<unsigned char>(in.peek()))) {
    want_text = false;
    while (true) {
      auto n = in.nzNumber();
      if (!n) {
        return fail(badSyntax("Invalid section part number"));
      }
      section.part.push_back(*n);
      if (!in.consumeIf('.')) {
        break;
      }
      if (!isDigit(static_cast<unsigned char>(in.peek()))) {
        want_text = true;
        break;
      }
    }
  }
  if (want_text) {
    if (kind == SectionKind::Binary) {
      return fail(badSyntax("BINARY takes only a part number"));
    }
    const std::string text = upper(in.takeWhile(isAttNameChar));
    if (text == "HEADER") {
      section.text = Section::Text::Header;
    } else if (text == "TEXT") {
      section.text = Section::Text::Text;
    } else if (text == "MIME" && !section.part.empty()) {
      // RFC 3501 6.4.5: MIME needs a part number.
      section.text = Section::Text::Mime;
    } else if (text == "HEADER.FIELDS" || text == "HEADER.FIELDS.NOT") {
      section.text =
          text == "HEADER.FIELDS" ? Section::Text::HeaderFields : Section::Text::HeaderFieldsNot;
      auto ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
      ok = in.expect('(', "'(' before header field names");
      if (!ok) {
        return fail(ok.error());
      }
      while (true) {
        auto field = in.astring();
        if (!field) {
          return fail(field.error());
        }
        section.fields.push_back(std::move(*field));
        if (in.consumeIf(')')) {
          break;
        }
        ok = in.sp();
        if (!ok) {
          return fail(ok.error());
        }
      }
    } else {
      return fail(badSyntax("Invalid section"));
    }
  }
  auto ok = in.expect(']', "']' after section");
  if (!ok) {
    return fail(ok.error());
  }
  return section;
}

// "<" number64 "." nz-number64 ">" (RFC 9051 9 partial).
Result<std::optional<Partial>, ParseError> parsePartial(ArgParser& in) {
  if (!in.consumeIf('<')) {
    return std::optional<Partial>();
  }
  auto offset = in.number64();
  if (!offset) {
    return fail(offset.error());
  }
  auto ok = in.expect('.', "'.' in partial range");
  if (!ok) {
    return fail(ok.error());
  }
  auto length = in.number64();
  if (!length) {
    return fail(length.error());
  }
  if (*length == 0) {
    return fail(badSyntax("Partial length must be non-zero"));
  }
  ok = in.expect('>', "'>' after partial range");
  if (!ok) {
    return fail(ok.error());
  }
  return std::optional<Partial>(Partial{*offset, *length});
}

void appendMacro(std::vector<FetchAtt>& atts, std::string_view name) {
  // RFC 3501 6.4.5: the macros are equivalent to these lists.
  atts.push_back(FetchAtt{FetchAtt::Kind::Flags, false, {}, {}});
  atts.push_back(FetchAtt{FetchAtt::Kind::InternalDate, false, {}, {}});
  atts.push_back(FetchAtt{FetchAtt::Kind::Rfc822Size, false, {}, {}});
  if (name != "FAST") {
    atts.push_back(FetchAtt{FetchAtt::Kind::Envelope, false, {}, {}});
  }
  if (name == "FULL") {
    atts.push_back(FetchAtt{FetchAtt::Kind::Body, false, {}, {}});
  }
}

}  // namespace

Result<FetchAtt, ParseError> parseFetchAtt(ArgParser& in) {
  const std::string name = upper(in.takeWhile(isAttNameChar));
  if (name.empty()) {
    return fail(badSyntax("Expected a fetch attribute"));
  }
  FetchAtt att{FetchAtt::Kind::Uid, false, {}, {}};
  if (in.peek() != '[') {
    for (const SimpleAtt& simple : kSimpleAtts) {
      if (name == simple.name) {
        att.kind = simple.kind;
        return att;
      }
    }
    return fail(badSyntax("Unknown fetch attribute " + name));
  }
  SectionKind section_kind = SectionKind::Body;
  if (name == "BODY" || name == "BODY.PEEK") {
    att.kind = FetchAtt::Kind::BodySection;
    att.peek = name == "BODY.PEEK";
  } else if (name == "BINARY" || name == "BINARY.PEEK") {
    att.kind = name == "BINARY" ? FetchAtt::Kind::Binary : FetchAtt::Kind::BinaryPeek;
    att.peek = name == "BINARY.PEEK";
    section_kind = SectionKind::Binary;
  } else if (name == "BINARY.SIZE") {
    att.kind = FetchAtt::Kind::BinarySize;
    section_kind = SectionKind::Binary;
  } else {
    return fail(badSyntax(name + " takes no section"));
  }
  in.consumeIf('[');
  auto section = parseSection(in, section_kind);
  if (!section) {
    return fail(section.error());
  }
  att.section = std::move(*section);
  if (att.kind != FetchAtt::Kind::BinarySize) {
    auto partial = parsePartial(in);
    if (!partial) {
      return fail(partial.error());
    }
    att.partial = *partial;
  }
  return att;
}

Result<FetchArgs, ParseError> parseFetchArgs(ArgParser& in) {
  FetchArgs args;
  auto ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  auto set = in.sequenceSet();
  if (!set) {
    return fail(set.error());
  }
  args.set = std::move(*set);
  ok = in.sp();
  if (!ok) {
    return fail(ok.error());
  }
  if (in.consumeIf('(')) {
    while (true) {
      auto att = parseFetchAtt(in);
      if (!att) {
        return fail(att.error());
      }
      args.atts.push_back(std::move(*att));
      if (in.consumeIf(')')) {
        break;
      }
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
    }
  } else {
    const std::size_t start = in.position();
    const std::string word = upper(in.takeWhile(isAttNameChar));
    if ((word == "ALL" || word == "FAST" || word == "FULL") && in.peek() != '[') {
      appendMacro(args.atts, word);
    } else {
      in.rewindTo(start);
      auto att = parseFetchAtt(in);
      if (!att) {
        return fail(att.error());
      }
      args.atts.push_back(std::move(*att));
    }
  }
  if (in.consumeIf(' ') && !in.atEnd()) {
    ok = in.expect('(', "'(' before fetch modifiers");
    if (!ok) {
      return fail(ok.error());
    }
    while (true) {
      auto modifier = in.keyword();
      if (!modifier) {
        return fail(modifier.error());
      }
      if (*modifier == "CHANGEDSINCE" && !args.changed_since) {
        ok = in.sp();
        if (!ok) {
          return fail(ok.error());
        }
        auto modseq = in.number64();  // RFC 7162 3.1.4.1: mod-sequence-valzer, 0 allowed
        if (!modseq) {
          return fail(modseq.error());
        }
        args.changed_since = *modseq;
      } else if (*modifier == "VANISHED" && !args.vanished) {
        args.vanished = true;
      } else {
        return fail(badSyntax("Unknown or repeated fetch modifier " + *modifier));
      }
      if (in.consumeIf(')')) {
        break;
      }
      ok = in.sp();
      if (!ok) {
        return fail(ok.error());
      }
    }
    // RFC 7162 3.2.6: VANISHED requires CHANGEDSINCE.
    if (args.vanished && !args.changed_since) {
      return fail(badSyntax("VANISHED requires CHANGEDSINCE"));
    }
  }
  ok = in.end();
  if (!ok) {
    return fail(ok.error());
  }
  return args;
}

}  // namespace popbridge::imap
