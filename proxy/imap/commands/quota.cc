#include "protocols/imap/commands/quota.h"

#include <string>
#include <vector>

#include "protocols/imap/mutf7.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/server.h"
#include "proxy/imap/session.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

// Every user has one quota root, "" (RFC 9208 3.2: the root's name is the server's choice),
// covering all of its mailboxes, when the configuration gives it a limit.
constexpr std::string_view kRoot;

bool limited(const store::QuotaLimits& limits) { return limits.bytes || limits.messages; }

// STORAGE is in units of 1024 octets (RFC 9208 5.1): usage rounded up and the limit down, so a
// client never sees room that is not there.
std::uint64_t kibUp(std::uint64_t bytes) { return bytes / 1024 + (bytes % 1024 != 0 ? 1 : 0); }

void appendQuota(std::string& out, const store::QuotaUsage& usage,
                 const store::QuotaLimits& limits) {
  std::vector<popbridge::imap::QuotaResource> resources;
  if (limits.bytes) resources.push_back({"STORAGE", kibUp(usage.bytes), *limits.bytes / 1024});
  if (limits.messages) resources.push_back({"MESSAGE", usage.messages, *limits.messages});
  popbridge::imap::appendQuotaResponse(out, kRoot, resources);
}

}  // namespace

store::QuotaLimits quotaLimitsOf(Session& session) {
  return session.user() == nullptr ? store::QuotaLimits{} : session.user()->quotaLimits();
}

// RFC 9208 4.2: GETQUOTA "" lists the usage and limit of each limited resource.
void handleGetQuota(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::QuotaArgs>(command.args);
  const store::QuotaLimits limits = quotaLimitsOf(session);
  if (args.name != kRoot || !limited(limits)) {
    session.finish(Status::No, "NONEXISTENT", "No such quota root");
    return;
  }
  ImapServer* server = &session.server();
  session.user()->read<store::Result<store::QuotaUsage>>(
      [](store::UserStore& store) { return store.quotaUsage(); },
      [server, id = session.id(), limits](store::Result<store::QuotaUsage> usage) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!usage) {
          s->finishWithStoreError(usage.error());
          return;
        }
        std::string out;
        appendQuota(out, *usage, limits);
        s->send(std::move(out));
        s->finish(Status::Ok, "", "GETQUOTA completed");
      });
}

// RFC 9208 4.3: the mailbox's quota roots, then a QUOTA response for each. A user without
// limits has no root: "* QUOTAROOT mailbox" alone.
void handleGetQuotaRoot(Session& session, popbridge::imap::Command& command) {
  const auto& args = std::get<popbridge::imap::QuotaArgs>(command.args);
  const store::QuotaLimits limits = quotaLimitsOf(session);
  struct Answer {
    std::string mailbox;
    store::QuotaUsage usage;
  };
  ImapServer* server = &session.server();
  session.user()->read<store::Result<Answer>>(
      [name = args.name](store::UserStore& store) -> store::Result<Answer> {
        // One snapshot is not needed: the mailbox only has to exist, the usage is the latest.
        auto box = store.mailbox(name);
        if (!box) return fail(box.error());
        auto usage = store.quotaUsage();
        if (!usage) return fail(usage.error());
        return Answer{box->name, *usage};
      },
      [server, id = session.id(), limits](store::Result<Answer> answer) {
        Session* s = server->find(id);
        if (s == nullptr) return;
        if (!answer) {
          s->finishWithStoreError(answer.error());
          return;
        }
        std::string out;
        std::vector<std::string> roots;
        if (limited(limits)) roots.emplace_back(kRoot);
        const bool utf8 = s->mailboxNames() == popbridge::imap::MailboxNames::Utf8;
        popbridge::imap::appendQuotaRootResponse(
            out, utf8 ? answer->mailbox : popbridge::imap::encodeMutf7(answer->mailbox), roots,
            s->mailboxNames());
        if (limited(limits)) appendQuota(out, answer->usage, limits);
        s->send(std::move(out));
        s->finish(Status::Ok, "", "GETQUOTAROOT completed");
      });
}

// RFC 9208 4.1.3: SETQUOTA needs the QUOTASET capability, which popbridge does not offer: the
// limits are the operator's, in the configuration file.
void handleSetQuota(Session& session, popbridge::imap::Command& /*command*/) {
  session.finish(Status::No, "NOPERM",
                 "Quota limits are set in the popbridge configuration, not over IMAP");
}

}  // namespace popbridge::proxy::imap
