#include "proxy/config/size.h"

#include <charconv>
#include <limits>

namespace popbridge::proxy::config {

Result<std::uint64_t, std::string> parseSize(std::string_view text) {
  const std::string quoted = "\"" + std::string(text) + "\"";
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return fail("expected a size such as 50M or 2G, got " + quoted);
  std::uint64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + digits, value);
  if (ec != std::errc{} || end != text.data() + digits) return fail("size too large: " + quoted);
  std::string unit;
  for (const char c : text.substr(digits)) {
    unit.push_back((c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c);
  }
  unsigned shift = 0;
  if (!unit.empty()) {
    switch (unit.front()) {
      case 'B':
        shift = 0;
        break;
      case 'K':
        shift = 10;
        break;
      case 'M':
        shift = 20;
        break;
      case 'G':
        shift = 30;
        break;
      default:
        return fail("unknown size unit in " + quoted + " (use K, M or G)");
    }
    const std::string_view rest = std::string_view(unit).substr(shift == 0 ? 1 : 1);
    if (!(rest.empty() || (shift != 0 && (rest == "B" || rest == "IB")))) {
      return fail("unknown size unit in " + quoted + " (use K, M or G)");
    }
  }
  if (value > (std::numeric_limits<std::uint64_t>::max() >> shift)) {
    return fail("size too large: " + quoted);
  }
  return value << shift;
}

}  // namespace popbridge::proxy::config
