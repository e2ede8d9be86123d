#pragma once

#include <iosfwd>
#include <string>

#include "protocols/common/result.h"

namespace popbridge::proxy::cli {

// Reads one line from `in` and returns it without its line ending ("\n" or "\r\n"). Fails when
// `in` is at end of file before any character. Blocks on `in`; caller's thread.
Result<std::string, std::string> readPasswordLine(std::istream& in);

// Prompts on `prompt_out`, reads a password line from the terminal `fd` with echo turned off
// (restored before returning, also on error), and asks a second time to confirm. Reads the
// descriptor directly, byte by byte, so nothing beyond the two lines is consumed. Returns the
// password, or an error when the two entries differ, input ends, or the terminal cannot be
// configured. Blocks; call from the main thread only (changes terminal state). Borrows `fd`.
Result<std::string, std::string> readPasswordFromTerminal(int fd, std::ostream& prompt_out);

}  // namespace popbridge::proxy::cli
