#include "proxy/server/mailbox_hub.h"

#include <algorithm>

namespace popbridge::proxy {

void MailboxHub::subscribe(std::string_view user, std::int64_t mailbox_id,
                           std::uint64_t session_id) {
  auto& ids = subscribers_[Key{std::string(user), mailbox_id}];
  if (std::find(ids.begin(), ids.end(), session_id) == ids.end()) ids.push_back(session_id);
}

void MailboxHub::unsubscribe(std::string_view user, std::int64_t mailbox_id,
                             std::uint64_t session_id) {
  const auto it = subscribers_.find(Key{std::string(user), mailbox_id});
  if (it == subscribers_.end()) return;
  std::erase(it->second, session_id);
  if (it->second.empty()) subscribers_.erase(it);
}

std::size_t MailboxHub::publish(std::string_view user, const store::ChangeSet& changes) {
  if (!deliver_) return 0;
  const auto it = subscribers_.find(Key{std::string(user), changes.mailbox_id});
  if (it == subscribers_.end()) return 0;
  // A session may unsubscribe while it handles the delivery; walk a copy.
  const std::vector<std::uint64_t> ids = it->second;
  for (const std::uint64_t id : ids) deliver_(id, changes);
  return ids.size();
}

std::size_t MailboxHub::subscriberCount(std::string_view user, std::int64_t mailbox_id) const {
  const auto it = subscribers_.find(Key{std::string(user), mailbox_id});
  return it == subscribers_.end() ? 0 : it->second.size();
}

}  // namespace popbridge::proxy
