#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {

void appendStatusResponse(std::string& out, const Session& session, const store::MailboxInfo& info,
                          const std::vector<std::string>& items) {
  out += "* STATUS ";
  session.appendMailbox(out, info.name);
  out += " (";
  bool first = true;
  for (const std::string& item : items) {
    if (!first) out += ' ';
    first = false;
    if (item == "MAILBOXID") {  // RFC 8474 4.2: "MAILBOXID" SP "(" objectid ")"
      out += "MAILBOXID (" + info.object_id + ")";
      continue;
    }
    std::uint64_t value = 0;  // RECENT: popbridge keeps no \Recent (RFC 9051 dropped it)
    if (item == "MESSAGES") value = info.messages;
    if (item == "UIDNEXT") value = info.uidnext;
    if (item == "UIDVALIDITY") value = info.uidvalidity;
    if (item == "UNSEEN") value = info.unseen;
    if (item == "SIZE") value = info.total_bytes;
    if (item == "DELETED") value = info.deleted;  // RFC 9051 6.3.11
    if (item == "HIGHESTMODSEQ") value = info.highestmodseq;
    if (item == "APPENDLIMIT")
      value = session.appendLimit();  // RFC 7889 4: the same for every mailbox
    out += item + " " + std::to_string(value);
  }
  out += ")\r\n";
}

// RFC 3501 6.3.10 (items checked by the parser: RFC 9051 6.3.11 SIZE, RFC 7162 HIGHESTMODSEQ).
void handleStatus(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::StatusArgs>(command.args);
  for (const std::string& item : args.items) {
    if (item == "HIGHESTMODSEQ") session.enableCondstore();  // RFC 7162 3.1, 3.1.6
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::MailboxInfo>>(
      [name = args.mailbox](store::UserStore& store) { return store.mailbox(name); },
      [server, id = session.id(), items = args.items](store::Result<store::MailboxInfo> info) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!info) {
          s->finishWithStoreError(info.error());
          return;
        }
        std::string out;
        appendStatusResponse(out, *s, *info, items);
        s->send(std::move(out));
        s->finish(Status::Ok, "", "STATUS completed");
      });
}

}  // namespace popbridge::proxy::imap
