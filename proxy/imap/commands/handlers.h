#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/imap/command.h"
#include "protocols/imap/limits.h"
#include "store/search.h"
#include "store/types.h"

namespace popbridge::proxy::imap {

class Session;
struct SelectedMailbox;

// One handler per IMAP command, each in commands/<command>.cc (STYLE.md 3.2).
void handleCapability(Session& session, popbridge::imap::Command& command);
void handleNoop(Session& session, popbridge::imap::Command& command);
void handleLogout(Session& session, popbridge::imap::Command& command);
void handleStarttls(Session& session, popbridge::imap::Command& command);
void handleLogin(Session& session, popbridge::imap::Command& command);
void handleAuthenticate(Session& session, popbridge::imap::Command& command);
void handleId(Session& session, popbridge::imap::Command& command);
void handleNamespace(Session& session, popbridge::imap::Command& command);
void handleSelect(Session& session, popbridge::imap::Command& command);
void handleList(Session& session, popbridge::imap::Command& command);
void handleStatus(Session& session, popbridge::imap::Command& command);
void handleCreate(Session& session, popbridge::imap::Command& command);
void handleSubscribe(Session& session, popbridge::imap::Command& command);
void handleDelete(Session& session, popbridge::imap::Command& command);
void handleRename(Session& session, popbridge::imap::Command& command);
void handleAppend(Session& session, popbridge::imap::Command& command);
void handleClose(Session& session, popbridge::imap::Command& command);
void handleUnselect(Session& session, popbridge::imap::Command& command);
void handleExpunge(Session& session, popbridge::imap::Command& command);
void handleFetch(Session& session, popbridge::imap::Command& command);
void handleStore(Session& session, popbridge::imap::Command& command);
void handleIdle(Session& session, popbridge::imap::Command& command);
void handleCopy(Session& session, popbridge::imap::Command& command);
void handleSearch(Session& session, popbridge::imap::Command& command);
void handleEnable(Session& session, popbridge::imap::Command& command);
void handleGetQuota(Session& session, popbridge::imap::Command& command);
void handleGetQuotaRoot(Session& session, popbridge::imap::Command& command);
void handleSetQuota(Session& session, popbridge::imap::Command& command);
void handleSort(Session& session, popbridge::imap::Command& command);
void handleThread(Session& session, popbridge::imap::Command& command);
void handleCompress(Session& session, popbridge::imap::Command& command);
void handleUnauthenticate(Session& session, popbridge::imap::Command& command);

// The logged-in user's quota limits from the configuration in force (UserContext::quotaLimits).
// Loop thread.
store::QuotaLimits quotaLimitsOf(Session& session);

// Why an APPEND message literal is refused before it arrives: the tagged NO's response code
// and text.
struct LiteralRefusal {
  std::string code;
  std::string text;
};
enum class LiteralCheck { Accepted, Pending };
// Checks an APPEND message literal of `size` bytes for `mailbox` as its announcement arrives
// (append.cc), so that a message the commit would refuse is refused before its bytes come
// (RFC 3501 6.3.11 NO [TRYCREATE], RFC 9208 4.3.1 NO [OVERQUOTA]): the mailbox must exist and
// the user's quota usage plus the literals of the command accepted so far (`staged_bytes` in
// `staged_count` literals) plus this one must fit the limits. Returns Accepted when that is
// known without the store (`done` is then never called); otherwise Pending, and `done` runs on
// the loop thread (never before returning) with the refusal or nullopt. The check reads the
// store on a worker; what it cannot decide (a store error) is accepted, since the commit checks
// again. Loop thread.
LiteralCheck checkAppendLiteral(Session& session, const std::string& mailbox, std::uint64_t size,
                                std::uint64_t staged_bytes, std::size_t staged_count,
                                std::function<void(std::optional<LiteralRefusal>)> done);

// The store query for SEARCH keys (also those of SORT and THREAD), sequence numbers and "*"
// resolved against `box` (search.cc). An error text for keys popbridge refuses. Moves strings
// out of `args`. Loop thread.
Result<store::SearchQuery, std::string> storeSearchQuery(const SelectedMailbox& box,
                                                         popbridge::imap::SearchArgs& args);

// The messages a SEARCH or SORT found in this client's view: ascending for SEARCH, in sort
// order for SORT.
struct SearchMatches {
  std::vector<std::uint32_t> numbers;  // sequence numbers, or UIDs for UID SEARCH / UID SORT
  std::vector<std::uint32_t> uids;
  std::vector<std::uint64_t> modseqs;

  // RFC 7162 3.1.5: the (MODSEQ n) of a SEARCH or SORT response, when the keys asked for it.
  std::optional<std::uint64_t> modseqIf(bool with_modseq) const {
    if (!with_modseq) return std::nullopt;
    std::uint64_t highest = 0;
    for (const std::uint64_t modseq : modseqs) highest = std::max(highest, modseq);
    return highest;
  }
};

// RFC 4731 (ESEARCH), RFC 5267 3 (ESORT: MIN and MAX are the first and last in sort order, ALL
// keeps that order), RFC 5182 (SAVE) and RFC 7162 3.1.5 (MODSEQ): writes the ESEARCH response,
// if any, and updates "$". With MIN and/or MAX and neither ALL nor COUNT, only the MIN and MAX
// messages are saved and give the MODSEQ (RFC 5182 2.1, as Dovecot does for SEARCH); otherwise
// every match. SAVE alone writes no ESEARCH response (RFC 5182 2.1). Loop thread (search.cc).
void answerEsearch(Session& s, const popbridge::imap::SearchReturn& r, const SearchMatches& matches,
                   bool with_modseq);

// Appends "* STATUS name (item value ...)\r\n" for the uppercased STATUS `items` (STATUS and
// LIST RETURN (STATUS), RFC 5819).
void appendStatusResponse(std::string& out, const Session& session, const store::MailboxInfo& info,
                          const std::vector<std::string>& items);

// Shared by LOGIN and AUTHENTICATE: checks the password on a worker thread (crypt is slow by
// design) and ends the current command with OK or NO [AUTHENTICATIONFAILED].
void verifyAndLogin(Session& session, std::string user, std::string password);

}  // namespace popbridge::proxy::imap
