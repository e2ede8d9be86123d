#pragma once

// Compact, versioned binary form of a Message, for the store to keep next to each message (a
// BLOB column) so FETCH never reparses the MIME.
//
// Format version 1: "PBM" 0x01, then LEB128 varints and length-prefixed byte strings (layout in
// serialize.cc). deserialize() checks every length, index and range, so a corrupt or truncated
// blob is an Error, never undefined behaviour. Pure functions; any thread; no callbacks.

#include <cstdint>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "protocols/mime/message.h"

namespace popbridge::mime {

inline constexpr std::uint8_t kSerializeVersion = 1;

struct Error {
  enum class Code : std::uint8_t {
    BadMagic,    // not a serialized Message
    BadVersion,  // written by a newer popbridge (or garbage)
    Truncated,   // ended early
    Corrupt,     // inconsistent: bad index, range outside the message, trailing bytes
  };
  Code code = Code::Corrupt;
  std::string message;
};

// Returns the serialized bytes of `msg`. deserialize(serialize(m)) == m for every Message the
// parser produces.
std::string serialize(const Message& msg);

// Rebuilds a Message from serialize() output. `bytes` is borrowed for the call. Returns an Error
// for anything that is not a well-formed version-1 blob.
Result<Message, Error> deserialize(std::string_view bytes);

}  // namespace popbridge::mime
