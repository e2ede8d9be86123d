#pragma once

#include <string>

#include "protocols/common/result.h"

namespace popbridge::proxy::archive {

// What went wrong in an import or export, ready to print after "popbridge: import: ".
struct ArchiveError {
  std::string message;
};

template <class T>
using Result = popbridge::Result<T, ArchiveError>;

}  // namespace popbridge::proxy::archive
