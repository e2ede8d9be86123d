#pragma once

#include <cstdint>
#include <string_view>

#include "protocols/imap/command.h"

namespace popbridge::proxy::imap {

class Session;

// A command handler runs the parsed command against the store and ends it with
// Session::finish (now or from a completion). Handlers never parse bytes (STYLE.md 3.2).
using Handler = void (*)(Session& session, popbridge::imap::Command& command);

// RFC 3501 7.4.1: during a FETCH, STORE or SEARCH by sequence number the server must not
// send EXPUNGE, or the client's sequence numbers would shift under it.
enum class SequenceUse { None, Uses };

struct CommandSpec {
  std::string_view name;  // uppercase, without "UID"
  Handler handler;
  std::uint8_t states;       // StateBit mask in which the command is legal
  SequenceUse sequence_use;  // for the non-UID form
  bool uid_form;             // "UID <name>" is legal
};

// The spec for `name` (uppercase), or nullptr when popbridge does not implement it.
const CommandSpec* findCommand(std::string_view name);

}  // namespace popbridge::proxy::imap
