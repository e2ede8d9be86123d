#include "store/error.h"

namespace popbridge::store {

std::string_view errorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::NotFound:
      return "not-found";
    case ErrorCode::AlreadyExists:
      return "already-exists";
    case ErrorCode::InvalidName:
      return "invalid-name";
    case ErrorCode::Io:
      return "io";
    case ErrorCode::Corrupt:
      return "corrupt";
    case ErrorCode::Internal:
      return "internal";
    case ErrorCode::OverQuota:
      return "over-quota";
  }
  return "unknown";
}

}  // namespace popbridge::store
