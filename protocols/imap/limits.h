#pragma once

#include <cstddef>

namespace popbridge::imap {

// Bounds on what one client command may make the reader hold (STYLE.md 4.2). Exceeding any of
// them ends the command with ParseError{TooBig} (a literal) or {TooLong}.
struct Limits {
  std::size_t max_line = 64 * 1024;           // bytes of one command line excluding literals
  std::size_t max_literal = 1024 * 1024;      // bytes of one literal argument held in memory
  std::size_t max_command = 8 * 1024 * 1024;  // bytes of a whole command including literals
  std::size_t max_depth = 32;                 // parenthesis nesting
};

}  // namespace popbridge::imap
