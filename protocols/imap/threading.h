#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "protocols/imap/sort_keys.h"

namespace popbridge::imap {

// The result of a THREAD algorithm: a forest whose nodes each carry a message number, or 0 for
// a dummy (a thread of several messages whose common parent is not in the mailbox; dummies
// occur only as roots). Children and roots are in response order.
struct ThreadTree {
  struct Node {
    std::uint32_t number = 0;             // 0: dummy
    std::vector<std::uint32_t> children;  // indices in `nodes`
  };
  std::vector<Node> nodes;
  std::vector<std::uint32_t> roots;  // indices in `nodes`
};

// THREAD=ORDEREDSUBJECT (RFC 5256 4): messages sorted by base subject, then sent date, then
// number; each run of one base subject is a thread whose first message is the parent of the
// others; threads ordered by their first message's sent date, then number. Pure; any thread.
ThreadTree threadOrderedSubject(std::vector<SortKeys> messages);

// THREAD=REFERENCES (RFC 5256 4, the algorithm of 2.2 and 4 with the choices Dovecot makes where
// the RFC leaves room): (1) links from Message-ID, References and In-Reply-To (a duplicate or
// missing Message-ID gets a unique one; a link that would make a loop is not made; the
// message's own parent link replaces an earlier one), (2) the root set, (3) dummies without
// children dropped and a non-root dummy's children given to its nearest non-dummy ancestor (or
// the root dummy), (4) a root dummy with one child replaced by it, (5) root threads merged by
// base subject, (6) every level sorted by sent date, then UID (a root dummy by its first
// child's). `messages` must be in ascending UID order, with `number` being the UID; callers
// that answer with sequence numbers map them afterwards (the order is the same). No recursion:
// reference chains of any depth are walked iteratively. Pure; any thread.
ThreadTree threadReferences(const std::vector<SortKeys>& messages);

// Appends "* THREAD (2)(3 6 (4 23)(44 7 96))\r\n" (RFC 5256 4, thread-data): a node with one
// child is followed by it after a space, a node with several by one parenthesised list per
// child, a dummy root contributes only its children. With no thread: "* THREAD\r\n". Walks the
// tree with an explicit stack. Pure; any thread.
void appendThreadResponse(std::string& out, const ThreadTree& tree);

}  // namespace popbridge::imap
