// mime_dump FILE...: parses each message file with mime::Parser and prints, per file,
//   FILE <path>
//   ENVELOPE <n>\n<n bytes>\n
//   BODY <n>\n<n bytes>\n
//   BODYSTRUCTURE <n>\n<n bytes>\n
//   PART <section> <body offset> <body length> <mime offset> <mime length>   (one per part)
//   END
// Values are length-prefixed because IMAP literals inside them hold CRLF. Used by
// tests/integration/test_mime_dovecot.py to compare popbridge's structures with Dovecot's.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "protocols/mime/imap_encode.h"
#include "protocols/mime/parser.h"
#include "protocols/mime/section.h"

namespace {

using namespace popbridge::mime;

void printValue(const char* label, const std::string& value) {
  std::cout << label << ' ' << value.size() << '\n' << value << '\n';
}

std::string join(const std::vector<std::uint32_t>& path) {
  std::string s;
  for (std::uint32_t n : path) {
    if (!s.empty()) s += '.';
    s += std::to_string(n);
  }
  return s;
}

// How many part numbers follow `path` (the children of a multipart, or the one body of a
// single-part message, including inside message/rfc822).
std::uint32_t childCount(const Message& msg, const std::vector<std::uint32_t>& path) {
  auto index = findPart(msg, path);
  if (!index) return 0;
  const Part* p = &msg.parts[*index];
  if (!path.empty()) {
    if (p->kind == PartKind::Multipart) return static_cast<std::uint32_t>(p->children.size());
    if (p->kind != PartKind::Message) return 0;
    p = &msg.parts[p->children.front()];
  }
  return p->kind == PartKind::Multipart ? static_cast<std::uint32_t>(p->children.size()) : 1;
}

}  // namespace

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    std::ifstream in(argv[a], std::ios::binary);
    if (!in) {
      std::cerr << "mime_dump: cannot read " << argv[a] << '\n';
      return 1;
    }
    std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Parser parser;
    parser.feed(data);
    Message msg = parser.finish();
    std::cout << "FILE " << argv[a] << '\n';
    std::string out;
    appendEnvelope(out, msg);
    printValue("ENVELOPE", out);
    out.clear();
    appendBodyStructure(out, msg, Extended::No);
    printValue("BODY", out);
    out.clear();
    appendBodyStructure(out, msg, Extended::Yes);
    printValue("BODYSTRUCTURE", out);
    // Every addressable section, breadth first with an explicit queue.
    std::vector<std::vector<std::uint32_t>> queue{{}};
    for (std::size_t q = 0; q < queue.size() && queue.size() < 2000; ++q) {
      std::vector<std::uint32_t> path = queue[q];
      std::uint32_t n = childCount(msg, path);
      for (std::uint32_t i = 1; i <= n; ++i) {
        std::vector<std::uint32_t> child = path;
        child.push_back(i);
        auto body = sectionRange(msg, child, SectionText::Body);
        auto mime = sectionRange(msg, child, SectionText::Mime);
        if (!body || !mime) continue;
        std::cout << "PART " << join(child) << ' ' << body->offset << ' ' << body->length << ' '
                  << mime->offset << ' ' << mime->length << '\n';
        queue.push_back(std::move(child));
      }
    }
    std::cout << "END\n";
  }
  return 0;
}
