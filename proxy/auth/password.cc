#include "proxy/auth/password.h"

#include <crypt.h>

#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace popbridge::proxy::auth {
namespace {

constexpr std::array<std::string_view, 8> kAcceptedPrefixes{
    "$y$", "$gy$", "$7$", "$6$", "$5$", "$2b$", "$2y$", "$2a$",
};

bool hasAcceptedPrefix(std::string_view hash) {
  for (const std::string_view prefix : kAcceptedPrefixes) {
    if (hash.substr(0, prefix.size()) == prefix) {
      return true;
    }
  }
  return false;
}

// crypt_data is ~32 KiB; it lives on the heap so callers on small thread stacks (worker threads)
// stay safe. Value-initialised to zero, as crypt_r requires before its first use.
std::unique_ptr<crypt_data> newCryptData() { return std::make_unique<crypt_data>(); }

// Hashes `password` with the setting in `setting` (a full hash works: crypt(3) reads only its
// setting part). Empty result on failure; libxcrypt signals failure with a string starting '*'.
std::string cryptWith(std::string_view password, const std::string& setting) {
  if (password.find('\0') != std::string_view::npos) {
    return {};
  }
  const std::string phrase(password);
  auto data = newCryptData();
  const char* out = crypt_r(phrase.c_str(), setting.c_str(), data.get());
  std::string result = (out == nullptr || out[0] == '*') ? std::string() : std::string(out);
  // The buffer held the plaintext password and the hash state; do not leave them in freed memory.
  explicit_bzero(data.get(), sizeof(crypt_data));
  return result;
}

// Compares without an early exit so the time taken does not reveal where two hashes differ.
bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    diff = static_cast<unsigned char>(
        diff | (static_cast<unsigned char>(a[i]) ^ static_cast<unsigned char>(b[i])));
  }
  return diff == 0;
}

}  // namespace

bool verifyPassword(std::string_view password, const std::string& hash) {
  if (!hasAcceptedPrefix(hash)) {
    return false;
  }
  const std::string computed = cryptWith(password, hash);
  if (computed.empty()) {
    return false;
  }
  return constantTimeEquals(computed, hash);
}

Result<std::string, std::string> hashPassword(std::string_view password) {
  if (password.empty()) {
    return fail(std::string("refusing to hash an empty password"));
  }
  if (password.find('\0') != std::string_view::npos) {
    return fail(std::string("the password contains a NUL byte, which crypt(3) cannot hash"));
  }
  // count 0 = libxcrypt's default cost for yescrypt; nullptr rbytes = salt from the OS RNG.
  errno = 0;
  char* setting = crypt_gensalt_ra("$y$", 0, nullptr, 0);
  if (setting == nullptr) {
    const int error = errno;
    return fail("cannot generate a yescrypt salt: " +
                std::string(error != 0 ? std::strerror(error) : "unsupported by libcrypt"));
  }
  const std::string setting_text(setting);
  std::free(
      setting);  // NOLINT(cppcoreguidelines-no-malloc): crypt_gensalt_ra allocates with malloc
  std::string hash = cryptWith(password, setting_text);
  if (hash.empty()) {
    return fail(std::string("crypt(3) failed to hash the password with yescrypt"));
  }
  return hash;
}

bool isSupportedHash(std::string_view hash) {
  if (!hasAcceptedPrefix(hash) || hash.find('\0') != std::string_view::npos) {
    return false;
  }
  const std::string text(hash);
  if (crypt_checksalt(text.c_str()) != CRYPT_SALT_OK) {
    return false;
  }
  // crypt_checksalt validates only the setting. Hashing a dummy phrase with the full string as
  // setting must give a result of exactly the same length with the same setting part, which
  // catches a truncated or padded hash that could never verify.
  const std::string computed = cryptWith("popbridge-hash-check", text);
  if (computed.size() != text.size()) {
    return false;
  }
  // Everything up to the last '$' is the setting (for bcrypt this includes the cost; its salt
  // and hash share one field and are covered by the length check).
  const auto setting_end = text.rfind('$');
  return computed.compare(0, setting_end, text, 0, setting_end) == 0;
}

}  // namespace popbridge::proxy::auth
