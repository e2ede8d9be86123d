#include "proxy/imap/command_table.h"

#include <array>

#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/session.h"

namespace popbridge::proxy::imap {
namespace {

constexpr std::uint8_t kAny = kNotAuthenticated | kAuthenticated | kSelected;
constexpr std::uint8_t kAuthed = kAuthenticated | kSelected;

// The one table of implemented commands (STYLE.md 3.3). The session checks the state and
// the UID form before any handler runs.
constexpr std::array kCommands{
    CommandSpec{"CAPABILITY", handleCapability, kAny, SequenceUse::None, false},
    CommandSpec{"NOOP", handleNoop, kAny, SequenceUse::None, false},
    CommandSpec{"LOGOUT", handleLogout, kAny, SequenceUse::None, false},
    CommandSpec{"ID", handleId, kAny, SequenceUse::None, false},
    CommandSpec{"STARTTLS", handleStarttls, kNotAuthenticated, SequenceUse::None, false},
    CommandSpec{"LOGIN", handleLogin, kNotAuthenticated, SequenceUse::None, false},
    CommandSpec{"AUTHENTICATE", handleAuthenticate, kNotAuthenticated, SequenceUse::None, false},
    CommandSpec{"NAMESPACE", handleNamespace, kAuthed, SequenceUse::None, false},
    CommandSpec{"SELECT", handleSelect, kAuthed, SequenceUse::None, false},
    CommandSpec{"EXAMINE", handleSelect, kAuthed, SequenceUse::None, false},
    CommandSpec{"LIST", handleList, kAuthed, SequenceUse::None, false},
    CommandSpec{"LSUB", handleList, kAuthed, SequenceUse::None, false},
    CommandSpec{"XLIST", handleList, kAuthed, SequenceUse::None, false},
    CommandSpec{"SUBSCRIBE", handleSubscribe, kAuthed, SequenceUse::None, false},
    CommandSpec{"UNSUBSCRIBE", handleSubscribe, kAuthed, SequenceUse::None, false},
    CommandSpec{"STATUS", handleStatus, kAuthed, SequenceUse::None, false},
    CommandSpec{"CREATE", handleCreate, kAuthed, SequenceUse::None, false},
    CommandSpec{"DELETE", handleDelete, kAuthed, SequenceUse::None, false},
    CommandSpec{"RENAME", handleRename, kAuthed, SequenceUse::None, false},
    CommandSpec{"APPEND", handleAppend, kAuthed, SequenceUse::None, false},
    CommandSpec{"CHECK", handleNoop, kSelected, SequenceUse::None, false},
    CommandSpec{"CLOSE", handleClose, kSelected, SequenceUse::None, false},
    CommandSpec{"UNSELECT", handleUnselect, kSelected, SequenceUse::None, false},
    CommandSpec{"EXPUNGE", handleExpunge, kSelected, SequenceUse::None, true},
    CommandSpec{"COPY", handleCopy, kSelected, SequenceUse::None, true},
    CommandSpec{"MOVE", handleCopy, kSelected, SequenceUse::None, true},
    CommandSpec{"FETCH", handleFetch, kSelected, SequenceUse::Uses, true},
    CommandSpec{"STORE", handleStore, kSelected, SequenceUse::Uses, true},
    CommandSpec{"SEARCH", handleSearch, kSelected, SequenceUse::Uses, true},
    CommandSpec{"SORT", handleSort, kSelected, SequenceUse::Uses, true},
    CommandSpec{"THREAD", handleThread, kSelected, SequenceUse::Uses, true},
    CommandSpec{"IDLE", handleIdle, kAuthed, SequenceUse::None, false},
    CommandSpec{"ENABLE", handleEnable, kAuthed, SequenceUse::None, false},
    CommandSpec{"GETQUOTA", handleGetQuota, kAuthed, SequenceUse::None, false},
    CommandSpec{"GETQUOTAROOT", handleGetQuotaRoot, kAuthed, SequenceUse::None, false},
    CommandSpec{"SETQUOTA", handleSetQuota, kAuthed, SequenceUse::None, false},
    CommandSpec{"COMPRESS", handleCompress, kAuthed, SequenceUse::None, false},
    CommandSpec{"UNAUTHENTICATE", handleUnauthenticate, kAuthed, SequenceUse::None, false},
};

}  // namespace

const CommandSpec* findCommand(std::string_view name) {
  for (const CommandSpec& spec : kCommands) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace popbridge::proxy::imap
