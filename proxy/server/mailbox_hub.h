#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "store/types.h"

namespace popbridge::proxy {

// Routes committed store changes to the IMAP sessions that have a mailbox selected
// (STYLE.md 6.1, 6.3): a POP pull, another session, or the session itself all publish here,
// and only after the commit. Loop thread only.
class MailboxHub {
 public:
  using Deliver = std::function<void(std::uint64_t session_id, const store::ChangeSet& changes)>;

  // The function that hands a change set to a session by id (the IMAP server sets it).
  void setDeliver(Deliver deliver) { deliver_ = std::move(deliver); }

  void subscribe(std::string_view user, std::int64_t mailbox_id, std::uint64_t session_id);
  void unsubscribe(std::string_view user, std::int64_t mailbox_id, std::uint64_t session_id);

  // Delivers `changes` to every session subscribed to (user, changes.mailbox_id), in
  // subscription order, and returns how many it was handed to. Sessions that unsubscribe
  // meanwhile are skipped.
  std::size_t publish(std::string_view user, const store::ChangeSet& changes);

  std::size_t subscriberCount(std::string_view user, std::int64_t mailbox_id) const;

 private:
  using Key = std::pair<std::string, std::int64_t>;
  std::map<Key, std::vector<std::uint64_t>, std::less<>> subscribers_;
  Deliver deliver_;
};

}  // namespace popbridge::proxy
