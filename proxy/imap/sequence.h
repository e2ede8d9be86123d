#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/sequence_set.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {

enum class SetKind { SequenceNumbers, Uids };

// Indices into box.messages named by `set`, ascending. Sequence numbers beyond the mailbox
// are an error (RFC 3501 9, seq-number); UIDs that do not exist are silently ignored, and
// "n:*" always includes the highest UID (RFC 3501 6.4.8). "$" (RFC 5182) is the saved search
// result: the messages of box.saved_uids still in the view, never an error, even when empty.
Result<std::vector<std::size_t>, std::string> resolveSet(const SelectedMailbox& box,
                                                         const popbridge::imap::SequenceSet& set,
                                                         SetKind kind);

}  // namespace popbridge::proxy::imap
