#include "store/body_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace popbridge::store {

Result<std::size_t> BodyReader::read(std::uint64_t offset, std::span<char> out) const {
  if (offset >= size_ || out.empty()) return std::size_t{0};
  const auto wanted = static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), size_ - offset));
  std::size_t done = 0;
  while (done < wanted) {
    const ssize_t got =
        ::pread(fd_.get(), out.data() + done, wanted - done, static_cast<off_t>(offset + done));
    if (got < 0) {
      if (errno == EINTR) continue;
      return fail(ioError("pread", "message body", errno));
    }
    if (got == 0) {
      // The file is shorter than its row says: the store is damaged, not the caller's fault.
      return fail(Error{ErrorCode::Corrupt, "message body shorter than recorded size"});
    }
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace popbridge::store
