#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace popbridge::proxy::imap {

// RFC 6154 2 special-use attribute names and the store's SpecialUse bits.

// Appends " \Archive \Sent ..." (each with a leading space) for the bits in `special_use`, in
// the order of RFC 6154 2.
void appendSpecialUse(std::string& out, std::uint32_t special_use);

// The bit of an attribute name ("\Drafts", any case), or nullopt for a name RFC 6154 does not
// define. Pure; any thread.
std::optional<std::uint32_t> specialUseBit(std::string_view attribute);

}  // namespace popbridge::proxy::imap
