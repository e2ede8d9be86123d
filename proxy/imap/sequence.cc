#include "proxy/imap/sequence.h"

#include <algorithm>

namespace popbridge::proxy::imap {

Result<std::vector<std::size_t>, std::string> resolveSet(const SelectedMailbox& box,
                                                         const popbridge::imap::SequenceSet& set,
                                                         SetKind kind) {
  std::vector<std::size_t> indices;
  if (set.saved) {
    for (const std::uint32_t uid : box.saved_uids) {
      if (auto index = box.indexOf(uid)) indices.push_back(*index);
    }
    return indices;  // ascending: UIDs ascend with sequence numbers
  }
  const auto count = static_cast<std::uint32_t>(box.messages.size());
  if (kind == SetKind::SequenceNumbers) {
    for (const popbridge::imap::SeqRange& range : set.ranges) {
      for (const std::uint32_t end : {range.first, range.last}) {
        if (end != popbridge::imap::kStar && end > count) {
          return fail(std::string("Invalid sequence number ") + std::to_string(end));
        }
      }
      if (count == 0) return fail(std::string("No messages in the mailbox"));
    }
    for (std::uint32_t n = 1; n <= count; ++n) {
      if (set.contains(n, count)) indices.push_back(n - 1);
    }
    return indices;
  }
  const std::uint32_t largest = box.maxUid();
  for (std::size_t i = 0; i < box.messages.size(); ++i) {
    if (set.contains(box.messages[i].uid, largest)) indices.push_back(i);
  }
  return indices;
}

}  // namespace popbridge::proxy::imap
