#include "protocols/imap/fetch_att.h"

#include <cctype>

#include "protocols/imap/encoder.h"

namespace popbridge::imap {
namespace {

enum class FieldCase { AsSent, Upper };

void appendSection(std::string& out, const Section& section, FieldCase field_case) {
  out += '[';
  for (std::size_t i = 0; i < section.part.size(); ++i) {
    if (i > 0) {
      out += '.';
    }
    out += std::to_string(section.part[i]);
  }
  const char* text = nullptr;
  switch (section.text) {
    case Section::Text::Full:
      break;
    case Section::Text::Header:
      text = "HEADER";
      break;
    case Section::Text::HeaderFields:
      text = "HEADER.FIELDS";
      break;
    case Section::Text::HeaderFieldsNot:
      text = "HEADER.FIELDS.NOT";
      break;
    case Section::Text::Text:
      text = "TEXT";
      break;
    case Section::Text::Mime:
      text = "MIME";
      break;
  }
  if (text != nullptr) {
    if (!section.part.empty()) {
      out += '.';
    }
    out += text;
  }
  if (section.text == Section::Text::HeaderFields ||
      section.text == Section::Text::HeaderFieldsNot) {
    out += " (";
    for (std::size_t i = 0; i < section.fields.size(); ++i) {
      if (i > 0) {
        out += ' ';
      }
      std::string field = section.fields[i];
      if (field_case == FieldCase::Upper) {
        for (char& c : field) {
          c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
        }
      }
      appendAstring(out, field);
    }
    out += ')';
  }
  out += ']';
}

const char* simpleName(FetchAtt::Kind kind) {
  switch (kind) {
    case FetchAtt::Kind::Uid:
      return "UID";
    case FetchAtt::Kind::Flags:
      return "FLAGS";
    case FetchAtt::Kind::InternalDate:
      return "INTERNALDATE";
    case FetchAtt::Kind::Rfc822Size:
      return "RFC822.SIZE";
    case FetchAtt::Kind::Envelope:
      return "ENVELOPE";
    case FetchAtt::Kind::BodyStructure:
      return "BODYSTRUCTURE";
    case FetchAtt::Kind::Body:
      return "BODY";
    case FetchAtt::Kind::Rfc822:
      return "RFC822";
    case FetchAtt::Kind::Rfc822Header:
      return "RFC822.HEADER";
    case FetchAtt::Kind::Rfc822Text:
      return "RFC822.TEXT";
    case FetchAtt::Kind::ModSeq:
      return "MODSEQ";
    case FetchAtt::Kind::EmailId:
      return "EMAILID";
    case FetchAtt::Kind::ThreadId:
      return "THREADID";
    case FetchAtt::Kind::BodySection:
    case FetchAtt::Kind::Binary:
    case FetchAtt::Kind::BinaryPeek:
    case FetchAtt::Kind::BinarySize:
      break;
  }
  return nullptr;
}

}  // namespace

std::string fetchItemName(const FetchAtt& att) {
  if (const char* name = simpleName(att.kind)) {
    return name;
  }
  std::string out;
  switch (att.kind) {
    case FetchAtt::Kind::BodySection:
      out = "BODY";
      break;
    case FetchAtt::Kind::Binary:
    case FetchAtt::Kind::BinaryPeek:
      out = "BINARY";
      break;
    default:
      out = "BINARY.SIZE";
      break;
  }
  appendSection(out, att.section, FieldCase::Upper);
  // RFC 3501 7.4.2: "BODY[<section>]<<origin octet>>" -- only the origin is echoed.
  if (att.partial && att.kind != FetchAtt::Kind::BinarySize) {
    out += '<';
    out += std::to_string(att.partial->offset);
    out += '>';
  }
  return out;
}

std::string fetchAttText(const FetchAtt& att) {
  if (const char* name = simpleName(att.kind)) {
    return name;
  }
  std::string out;
  switch (att.kind) {
    case FetchAtt::Kind::BodySection:
      out = att.peek ? "BODY.PEEK" : "BODY";
      break;
    case FetchAtt::Kind::Binary:
    case FetchAtt::Kind::BinaryPeek:
      out = att.peek || att.kind == FetchAtt::Kind::BinaryPeek ? "BINARY.PEEK" : "BINARY";
      break;
    default:
      out = "BINARY.SIZE";
      break;
  }
  appendSection(out, att.section, FieldCase::AsSent);
  if (att.partial) {
    out += '<';
    out += std::to_string(att.partial->offset);
    out += '.';
    out += std::to_string(att.partial->length);
    out += '>';
  }
  return out;
}

}  // namespace popbridge::imap
