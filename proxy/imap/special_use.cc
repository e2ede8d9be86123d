#include "proxy/imap/special_use.h"

#include <algorithm>
#include <array>
#include <cctype>

#include "store/types.h"

namespace popbridge::proxy::imap {
namespace {

struct Attribute {
  std::string_view name;
  std::uint32_t bit;
};

constexpr std::array<Attribute, 7> kAttributes = {{
    {"\\All", store::kUseAll},
    {"\\Archive", store::kUseArchive},
    {"\\Drafts", store::kUseDrafts},
    {"\\Flagged", store::kUseFlagged},
    {"\\Junk", store::kUseJunk},
    {"\\Sent", store::kUseSent},
    {"\\Trash", store::kUseTrash},
}};

}  // namespace

void appendSpecialUse(std::string& out, std::uint32_t special_use) {
  for (const Attribute& attribute : kAttributes) {
    if ((special_use & attribute.bit) != 0) {
      out += ' ';
      out += attribute.name;
    }
  }
}

std::optional<std::uint32_t> specialUseBit(std::string_view name) {
  for (const Attribute& attribute : kAttributes) {
    if (name.size() == attribute.name.size() &&
        std::equal(name.begin(), name.end(), attribute.name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) ==
                 std::tolower(static_cast<unsigned char>(b));
        })) {
      return attribute.bit;
    }
  }
  return std::nullopt;
}

}  // namespace popbridge::proxy::imap
