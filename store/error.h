#pragma once

#include <string>
#include <string_view>

#include "protocols/common/result.h"

namespace popbridge::store {

// The store's one error type (STYLE.md 7.2). The proxy maps it to an IMAP response in one place.
// OverQuota: a write would take the user past a QuotaLimits value (nothing was written).
enum class ErrorCode { NotFound, AlreadyExists, InvalidName, Io, Corrupt, Internal, OverQuota };

struct Error {
  ErrorCode code;
  std::string message;
};

template <class T>
using Result = popbridge::Result<T, Error>;

// Returns a static, lower-case name for the code ("not-found", ...), for logs and the CLI.
std::string_view errorCodeName(ErrorCode code);

}  // namespace popbridge::store
