#include <chrono>
#include <memory>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {

// RFC 3501 6.3.11. The message is durable in the store before the tagged OK.
void handleAppend(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::AppendArgs>(command.args);
  auto flags = parseFlags(args.flags);
  if (!flags) {
    session.finish(Status::Bad, "", flags.error());
    return;
  }
  std::int64_t date = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  int offset = 0;
  if (args.internal_date) {
    auto parsed = popbridge::imap::parseDateTime(*args.internal_date);
    if (!parsed) {
      session.finish(Status::Bad, "", "Invalid date-time: " + parsed.error().message);
      return;
    }
    date = parsed->first;
    offset = parsed->second;
  }
  ImapServer* server = &session.server();
  // Filled on the worker, read on the loop after the worker finished.
  auto uidvalidity = std::make_shared<std::uint32_t>(0);
  session.user()->write(
      [mailbox = std::move(args.mailbox), message = std::move(args.message), flags = *flags, date,
       offset, uidvalidity, limits = quotaLimitsOf(session)](
          store::UserStore& store) -> store::Result<store::ChangeSet> {
        auto target = store.mailbox(mailbox);
        if (!target) return fail(target.error());
        *uidvalidity = target->uidvalidity;
        auto staged = store.stageMessage();
        if (!staged) return fail(staged.error());
        if (auto written = staged->write(message); !written) return fail(written.error());
        std::vector<store::NewMessage> batch;
        batch.push_back(store::NewMessage{std::move(*staged), date, offset, flags, std::nullopt});
        // RFC 9208 4.3.1: over the quota, NO [OVERQUOTA] and nothing is stored.
        return store.append(mailbox, std::move(batch), limits);
      },
      [server, id = session.id(), uidvalidity](store::Result<store::ChangeSet> changes) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!changes) {
          if (changes.error().code == store::ErrorCode::NotFound) {
            // RFC 3501 6.3.11: the client may CREATE the mailbox and try again.
            s->finish(Status::No, "TRYCREATE", "No such mailbox");
          } else {
            s->finishWithStoreError(changes.error());
          }
          return;
        }
        // RFC 4315 3: APPENDUID uidvalidity uid.
        std::string code;
        if (!changes->appended.empty()) {
          code = "APPENDUID " + std::to_string(*uidvalidity) + " " +
                 std::to_string(changes->appended.front().uid);
        }
        s->finish(Status::Ok, code, "APPEND completed");
      });
}

}  // namespace popbridge::proxy::imap
