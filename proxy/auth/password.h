#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::proxy::auth {

// Local-user passwords are stored as crypt(3) hashes (libxcrypt). Accepted methods: yescrypt
// "$y$" (what hashPassword produces), gost-yescrypt "$gy$", scrypt "$7$", SHA-512-crypt "$6$",
// SHA-256-crypt "$5$" and bcrypt "$2b$"/"$2y$"/"$2a$". DES, MD5 and other legacy methods are
// refused because they are cheap to brute-force.

// True when `password` matches the crypt(3) `hash`: the password is hashed with the hash's own
// setting and the result compared to `hash` in constant time. False for a wrong password, an
// unsupported or malformed hash, or a password containing NUL (crypt(3) would silently cut it
// there). Takes ~10-100 ms for yescrypt by design. Thread-safe (crypt_r with per-call state);
// borrows both arguments for the call only.
bool verifyPassword(std::string_view password, const std::string& hash);

// A new yescrypt hash of `password` with a fresh random salt from the system (crypt_gensalt_ra
// with libxcrypt's default cost). Refuses an empty password or one containing NUL. Returns the
// hash or an error text. Thread-safe.
Result<std::string, std::string> hashPassword(std::string_view password);

// True when `hash` is a complete hash in one of the accepted methods above, well formed enough
// that crypt(3) reproduces its shape (prefix, parameters, salt and hash length). Costs one hash
// computation. Thread-safe.
bool isSupportedHash(std::string_view hash);

}  // namespace popbridge::proxy::auth
