#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "proxy/imap/append_upload.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

// One message of the command, checked and ready for the store: its body is either in memory
// (a literal the reader held) or staged on disk already (a streamed one, see AppendUpload).
struct PreparedMessage {
  std::string body;
  std::optional<std::size_t> streamed;
  std::int64_t date = 0;
  int offset = 0;
  store::Flags flags;
};

using Prepared = std::shared_ptr<std::vector<PreparedMessage>>;

// Stages and commits the messages on the user's write queue, then answers the command. Streamed
// literals come either staged already (`staged`) or with their last bytes still to write
// (`tail`), which this job writes first.
void commit(Session& session, std::string mailbox, Prepared prepared, AppendUpload::Staged staged,
            std::shared_ptr<AppendUpload::Tail> tail = nullptr) {
  ImapServer* server = &session.server();
  // Filled on the worker, read on the loop after the worker finished.
  auto uidvalidity = std::make_shared<std::uint32_t>(0);
  session.user()->write(
      [mailbox = std::move(mailbox), prepared, staged, tail, uidvalidity,
       limits = quotaLimitsOf(session)](
          store::UserStore& store) mutable -> store::Result<store::ChangeSet> {
        if (tail) {
          auto completed = tail->complete();
          if (!completed) return fail(completed.error());
          staged = std::move(*completed);
        }
        // Staged bodies not committed are removed here, on the worker, however this ends.
        struct Release {
          const AppendUpload::Staged& staged;
          ~Release() {
            if (staged) staged->clear();
          }
        } release{staged};
        auto target = store.mailbox(mailbox);
        if (!target) return fail(target.error());
        *uidvalidity = target->uidvalidity;
        std::vector<store::NewMessage> batch;
        batch.reserve(prepared->size());
        for (PreparedMessage& message : *prepared) {
          // A staged body that never reaches append() is removed by its destructor.
          std::optional<store::StagedMessage> body;
          if (message.streamed) {
            body.emplace(std::move((*staged)[*message.streamed]));
          } else {
            auto fresh = store.stageMessage();
            if (!fresh) return fail(fresh.error());
            if (auto written = fresh->write(message.body); !written) return fail(written.error());
            std::string().swap(message.body);
            body.emplace(std::move(*fresh));
          }
          batch.push_back(store::NewMessage{std::move(*body), message.date, message.offset,
                                            message.flags, std::nullopt});
        }
        // RFC 9208 4.3.1: over the quota, NO [OVERQUOTA] and nothing of the command is stored.
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
        // RFC 4315 3: APPENDUID uidvalidity uid-set; RFC 3502 gives the set of every message.
        std::string code;
        if (!changes->appended.empty()) {
          std::vector<std::uint32_t> uids;
          uids.reserve(changes->appended.size());
          for (const store::MessageInfo& message : changes->appended) uids.push_back(message.uid);
          code = "APPENDUID " + std::to_string(*uidvalidity) + " ";
          popbridge::imap::appendUidSet(code, uids);
        }
        s->finish(Status::Ok, code, "APPEND completed");
      });
}

}  // namespace

LiteralCheck checkAppendLiteral(Session& session, const std::string& mailbox, std::uint64_t size,
                                std::uint64_t staged_bytes, std::size_t staged_count,
                                std::function<void(std::optional<LiteralRefusal>)> done) {
  const store::QuotaLimits limits = quotaLimitsOf(session);
  const bool limited = limits.bytes || limits.messages;
  if (!limited) {
    // Without a quota only the mailbox matters. INBOX always exists, the selected mailbox did a
    // moment ago, and so did the mailbox at the command's first literal: accepting errs on the
    // side the commit corrects (it answers NO [TRYCREATE] itself), and spares the usual APPEND
    // a round trip to a worker before its continuation request.
    const SelectedMailbox* selected = session.selected();
    if (mailbox == "INBOX" || staged_count > 0 ||
        (selected != nullptr && selected->name == mailbox)) {
      return LiteralCheck::Accepted;
    }
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::QuotaUsage>>(
      [mailbox, limited](store::UserStore& store) -> store::Result<store::QuotaUsage> {
        if (auto box = store.requireMailbox(mailbox); !box) return fail(box.error());
        if (!limited) return store::QuotaUsage{};
        // Read outside the user's write queue: a write committing meanwhile is not counted,
        // which errs toward accepting; the commit's own check is the authoritative one.
        return store.quotaUsage();
      },
      [server, id = session.id(), limits, size, staged_bytes, staged_count,
       done = std::move(done)](store::Result<store::QuotaUsage> usage) {
        if (server->find(id) == nullptr) return;
        if (!usage) {
          if (usage.error().code == store::ErrorCode::NotFound) {
            // RFC 3501 6.3.11: the client may CREATE the mailbox and try again.
            done(LiteralRefusal{"TRYCREATE", "No such mailbox"});
          } else {
            done(std::nullopt);
          }
          return;
        }
        // The same rule as the store's commit: a resource may not go up past its limit. The
        // literal's size is the message's RFC822.SIZE (stored as sent).
        const std::uint64_t adding = staged_bytes + size;
        const bool over_bytes = limits.bytes && adding > 0 && usage->bytes + adding > *limits.bytes;
        const bool over_messages =
            limits.messages && usage->messages + staged_count + 1 > *limits.messages;
        if (over_bytes || over_messages) {
          // RFC 9208 4.3.1; RFC 3502: a refused MULTIAPPEND stores none of its messages.
          done(LiteralRefusal{"OVERQUOTA", "Quota exceeded; nothing was written"});
          return;
        }
        done(std::nullopt);
      });
  return LiteralCheck::Pending;
}

// RFC 3501 6.3.11 with MULTIAPPEND (RFC 3502): every message of the command is staged and then
// committed in one store transaction, so the messages are durable before the tagged OK, get
// consecutive UIDs, and a failure anywhere stores none of them. Message literals were streamed
// to staged files while the command arrived (AppendUpload); the command waits for the last of
// those writes before it commits.
void handleAppend(Session& session, popbridge::imap::Command& command) {
  auto& args = std::get<popbridge::imap::AppendArgs>(command.args);
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  AppendUpload* upload = session.appendUpload();
  const std::size_t streamed_count = upload == nullptr ? 0 : upload->count();
  // Everything that can be refused without the store is checked for every message first.
  auto prepared = std::make_shared<std::vector<PreparedMessage>>();
  prepared->reserve(args.messages.size());
  for (popbridge::imap::AppendMessage& message : args.messages) {
    // RFC 6855 4: the UTF8 data form is a protocol error unless UTF8=ACCEPT was enabled.
    if (message.utf8 && !session.utf8AcceptEnabled()) {
      session.finish(Status::Bad, "", "APPEND UTF8 needs ENABLE UTF8=ACCEPT first");
      return;
    }
    auto flags = parseFlags(message.flags);
    if (!flags) {
      session.finish(Status::Bad, "", flags.error());
      return;
    }
    if (message.streamed && *message.streamed >= streamed_count) {
      session.finish(Status::No, "SERVERBUG", "Message data was not kept");  // never expected
      return;
    }
    PreparedMessage ready{std::move(message.message), message.streamed, now, 0, *flags};
    if (message.internal_date) {
      auto parsed = popbridge::imap::parseDateTime(*message.internal_date);
      if (!parsed) {
        session.finish(Status::Bad, "", "Invalid date-time: " + parsed.error().message);
        return;
      }
      ready.date = parsed->first;
      ready.offset = parsed->second;
    }
    prepared->push_back(std::move(ready));
  }
  if (upload == nullptr) {
    commit(session, std::move(args.mailbox), std::move(prepared), nullptr);
    return;
  }
  // The usual case, no write in flight: the last bytes are written by the commit's own job.
  if (auto tail = upload->takeTail()) {
    commit(session, std::move(args.mailbox), std::move(prepared), nullptr,
           std::make_shared<AppendUpload::Tail>(std::move(*tail)));
    return;
  }
  upload->finish([server = &session.server(), id = session.id(), mailbox = std::move(args.mailbox),
                  prepared](store::Result<AppendUpload::Staged> staged) mutable {
    // The upload belongs to the session, so the session is there; it may drop the upload now.
    Session* s = server->find(id);
    if (s == nullptr) return;
    if (!staged) {
      s->finishWithStoreError(staged.error());
      return;
    }
    commit(*s, std::move(mailbox), std::move(prepared), std::move(*staged));
  });
}

}  // namespace popbridge::proxy::imap
