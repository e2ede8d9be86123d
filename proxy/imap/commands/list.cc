#include <algorithm>
#include <cctype>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

constexpr char kDelimiter = '/';

bool matches(const std::string& pattern, const std::string& name) {
  if (popbridge::imap::listMatch(pattern, name, kDelimiter)) return true;
  // INBOX is case-insensitive (RFC 3501 5.1): "inbox" and "Inbox*" find it too.
  if (name == "INBOX" || name.starts_with("INBOX/")) {
    std::string upper = pattern;
    const std::size_t prefix = std::min<std::size_t>(5, upper.size());
    std::transform(upper.begin(), upper.begin() + static_cast<std::ptrdiff_t>(prefix),
                   upper.begin(), [](char c) { return static_cast<char>(std::toupper(c)); });
    return popbridge::imap::listMatch(upper, name, kDelimiter);
  }
  return false;
}

}  // namespace

// RFC 3501 6.3.8 LIST and 6.3.9 LSUB (every mailbox counts as subscribed for now).
void handleList(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::ListArgs>(command.args);
  const std::string verb = command.name;
  if (args.pattern.empty()) {
    // The hierarchy delimiter and root (RFC 3501 6.3.8).
    if (verb == "LIST") session.send("* LIST (\\Noselect) \"/\" \"\"\r\n");
    session.finish(Status::Ok, "", verb + " completed");
    return;
  }
  std::string pattern = args.reference + args.pattern;
  ImapServer* server = &session.server();
  session.user()->read<store::Result<std::vector<store::MailboxInfo>>>(
      [](store::UserStore& store) { return store.listMailboxes(); },
      [server, id = session.id(), pattern,
       verb](store::Result<std::vector<store::MailboxInfo>> mailboxes) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!mailboxes) {
          s->finishWithStoreError(mailboxes.error());
          return;
        }
        std::string out;
        for (const store::MailboxInfo& mailbox : *mailboxes) {
          if (!matches(pattern, mailbox.name)) continue;
          const std::string prefix = mailbox.name + kDelimiter;
          const bool children =
              std::any_of(mailboxes->begin(), mailboxes->end(),
                          [&](const store::MailboxInfo& m) { return m.name.starts_with(prefix); });
          out += "* " + verb + " (" + (children ? "\\HasChildren" : "\\HasNoChildren") + ") \"/\" ";
          popbridge::imap::appendAstring(out, mailbox.name);
          out += "\r\n";
        }
        s->send(std::move(out));
        s->finish(Status::Ok, "", verb + " completed");
      });
}

}  // namespace popbridge::proxy::imap
