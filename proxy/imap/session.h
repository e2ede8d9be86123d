#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "protocols/imap/command.h"
#include "protocols/imap/command_reader.h"
#include "protocols/imap/encoder.h"
#include "proxy/config/config.h"
#include "proxy/core/connection.h"
#include "proxy/core/timer.h"
#include "store/error.h"
#include "store/types.h"

namespace popbridge::proxy {
class UserContext;
namespace tls {
class Context;
}
}  // namespace popbridge::proxy

namespace popbridge::proxy::imap {

using popbridge::imap::Command;
using popbridge::imap::Status;

class ImapServer;
class FetchJob;
class AppendUpload;
struct LiteralRefusal;

// RFC 3501 3: the connection states a command may be legal in (bit set).
enum StateBit : std::uint8_t {
  kNotAuthenticated = 1,
  kAuthenticated = 2,
  kSelected = 4,
};

// What a listener offers its sessions.
struct ListenerOptions {
  config::TlsMode tls = config::TlsMode::None;
  config::PlaintextAuth plaintext_auth = config::PlaintextAuth::Never;
  std::shared_ptr<tls::Context> tls_context;  // null when the listener has no TLS
  // Config::auth_failure_delay and Config::max_command_rate.
  std::chrono::milliseconds auth_failure_delay{0};
  std::optional<std::uint32_t> max_command_rate;
};

// The selected mailbox as this client knows it: sequence number n is messages[n - 1].
// Changes committed by anyone arrive through the hub into `pending` and are applied (and
// announced) only where IMAP allows it (STYLE.md 6.2).
struct SelectedMailbox {
  std::int64_t id = 0;
  std::string name;
  bool read_only = false;
  std::uint32_t uidvalidity = 0;
  std::uint32_t uidnext = 1;
  std::string object_id;  // RFC 8474 MAILBOXID
  // HIGHESTMODSEQ as this client may know it (RFC 7162 3.1.2.1): every change up to it has been
  // announced. It does not move while an expunge is held back.
  std::uint64_t highestmodseq = 0;
  std::uint64_t applied_modseq = 0;  // the newest change applied, announced or held
  std::vector<store::MessageInfo> messages;
  bool loaded = false;                   // the initial snapshot arrived
  std::deque<store::ChangeSet> pending;  // published, not yet applied
  std::set<std::uint32_t> expunge_held;  // expunged in the store, still in the client's view
  // RFC 5182 "$": the UIDs the last SEARCH RETURN (SAVE) found, ascending. Kept as UIDs, so a
  // message leaves "$" when it leaves this client's view (expunged) and new ones never join;
  // a new SELECT/EXAMINE starts with a fresh, empty one.
  std::vector<std::uint32_t> saved_uids;

  // Index of `uid` in messages, or nullopt.
  std::optional<std::size_t> indexOf(std::uint32_t uid) const;
  std::uint32_t maxUid() const { return messages.empty() ? 0 : messages.back().uid; }
};

// One IMAP connection. Owned by the ImapServer; destroyed only by the server at the start of a
// later loop turn (STYLE.md 5.3). Worker completions find it by id (STYLE.md 5.4).
// Commands run one at a time; input that arrives meanwhile waits in the reader.
class Session {
 public:
  Session(ImapServer& server, std::uint64_t id, std::unique_ptr<Connection> connection,
          ListenerOptions options);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Sends the greeting (after the TLS handshake on an implicit-TLS listener).
  void start();
  std::uint64_t id() const { return id_; }
  const std::string& logName() const { return log_name_; }

  // The hub hands over a committed change of the selected mailbox. Loop thread.
  void onChanges(const store::ChangeSet& changes);
  // Closes the connection and asks the server to destroy this session later. Idempotent.
  void close();
  bool closing() const { return closing_; }

  // --- for command handlers (proxy/imap/commands/) ---
  ImapServer& server() { return server_; }
  const ListenerOptions& listener() const { return options_; }
  Connection& connection() { return *connection_; }
  std::uint8_t state() const;
  UserContext* user() { return user_; }
  SelectedMailbox* selected() { return selected_ ? &*selected_ : nullptr; }
  const Command& current() const { return *current_; }

  // Whether the connection is encrypted.
  bool secure() const { return connection_->tlsActive(); }
  // RFC 3501 6.2.3 / 7.2.1: LOGINDISABLED while plaintext authentication is refused.
  bool loginAllowed() const;
  std::string capabilities() const;

  // RFC 7162 / RFC 5161: what this client turned on; it stays on for the connection.
  bool condstoreEnabled() const { return condstore_; }
  bool qresyncEnabled() const { return qresync_; }
  // Any CONDSTORE enabling command (RFC 7162 3.1). The first time, with a mailbox selected, the
  // client is told the mailbox's HIGHESTMODSEQ at once.
  void enableCondstore();
  // ENABLE QRESYNC (RFC 7162 3.2.3); turns CONDSTORE on too. Expunges are then VANISHED.
  void enableQresync();
  // ENABLE IMAP4rev2 (RFC 9051 2.1, Appendix E): the session follows IMAP4rev2's response rules
  // from the next command on: no RECENT, SEARCH answered by ESEARCH, UTF-8 mailbox names,
  // \NonExistent in LIST, a LIST response in SELECT.
  void enableRev2();
  bool rev2Enabled() const { return rev2_; }
  // ENABLE UTF8=ACCEPT (RFC 6855 3): UTF-8 mailbox names and the APPEND UTF8 data form.
  void enableUtf8Accept();
  bool utf8AcceptEnabled() const { return utf8_accept_; }
  // How this client spells mailbox names: UTF-8 once either of the two above is on.
  popbridge::imap::MailboxNames mailboxNames() const;
  // Appends the stored (UTF-8) mailbox `name` as this client reads mailbox names.
  void appendMailbox(std::string& out, std::string_view name) const;

  // The largest message APPEND accepts, in bytes (RFC 7889 APPENDLIMIT, imap.append_limit).
  std::uint64_t appendLimit() const;
  // The message literals of the current APPEND as they were streamed to disk while the command
  // arrived; null when it had none. Owned by the session until the command finishes.
  AppendUpload* appendUpload() { return upload_.get(); }

  // Writes raw protocol bytes (already encoded).
  void send(std::string bytes);
  // Ends the current command: applies and announces pending changes as the command's rules
  // allow, writes the tagged response, and reads the next command.
  void finish(Status status, std::string_view code, std::string_view text);
  // Ends the current command with the NO/BAD that a store error maps to (STYLE.md 7.4).
  void finishWithStoreError(const store::Error& error);

  // The current command wants the next client line raw (AUTHENTICATE, IDLE's DONE).
  void awaitLine();
  // IDLE: changes are announced the moment they arrive until DONE.
  void setIdling(bool idling);
  // Tells the scheduler this client is looking at its mailbox (SELECT, NOOP, IDLE).
  void noteActivity();

  void authenticated(UserContext& user, const std::string& user_name);
  // Ends a LOGIN or AUTHENTICATE whose credentials were wrong: NO [AUTHENTICATIONFAILED] after
  // the listener's auth_failure_delay; the third failure on this connection also says BYE and
  // hangs up.
  void loginFailed();
  // RFC 8437 UNAUTHENTICATE: back to the not-authenticated state with nothing of the user's
  // session left (selected mailbox, ENABLEd extensions, CONDSTORE); TLS and COMPRESS, which
  // sit below IMAP, stay on.
  void unauthenticate();
  // Enters the selected state for `mailbox` (snapshot not loaded yet); subscribes to changes.
  SelectedMailbox& beginSelect(std::int64_t id, std::string name, bool read_only);
  // Leaves the selected state without announcing anything.
  void unselect();
  // Applies pending changes to the client's view. With Announce::Yes the untagged responses
  // are written (EXPUNGE only if `allow_expunge`); uids in `quiet_flags` get no FETCH.
  enum class Announce { No, Yes };
  enum class ExpungeRule { Hold, Allow };
  void applyPending(Announce announce, ExpungeRule expunge_rule,
                    const std::set<std::uint32_t>& quiet_flags = {});

  // Streams a FETCH job's output (worker-produced) as the connection drains, then finishes.
  void runFetch(std::shared_ptr<FetchJob> job);
  // STARTTLS: after the tagged OK is on the wire, start the TLS handshake.
  void startTlsAfterResponse();
  // COMPRESS: after the tagged OK is queued (uncompressed), compress both directions.
  void compressAfterResponse();
  // LOGOUT: close once the BYE and tagged OK are written.
  void logoutAfterResponse();

 private:
  void onData(std::string_view bytes);
  void processInput();
  void dispatch(Command command);
  void onLine(std::string line);
  void sendGreeting();
  void fetchRound();
  void onDrain();
  void hangUpAfterWrite();
  // RFC 3501 5.4: the autologout timer restarts with every byte from the client.
  void armAutologout();
  // Whether the command rate limit holds the next command back; if so, a timer runs
  // processInput() again once the client may send one more.
  bool throttled();
  // Counts a BAD answer; the 20th in a row hangs up.
  void countBad();
  // An APPEND literal arrives (CommandReader::LiteralBegin / LiteralChunk).
  void onLiteralBegin(const popbridge::imap::LiteralBegin& begin);
  void onLiteralChunk(std::string_view bytes);
  // The check of an APPEND literal (checkAppendLiteral) answered: the literal is accepted (its
  // upload begins, a synchronizing one gets its continuation request) or refused (the command
  // ends with the tagged NO, nothing of it is kept, and the reader skips what the client sends
  // of it anyway).
  void onLiteralChecked(const popbridge::imap::LiteralBegin& begin,
                        const std::optional<LiteralRefusal>& refusal);
  void acceptLiteral(const popbridge::imap::LiteralBegin& begin);
  // The upload wrote a chunk: read on if it had made the session stop.
  void onUploadProgress();
  // Drops the upload (its staged files are removed) and reads on if it had stopped reading.
  void dropUpload();

  ImapServer& server_;
  std::uint64_t id_;
  std::string log_name_;
  std::unique_ptr<Connection> connection_;
  ListenerOptions options_;
  popbridge::imap::CommandReader reader_;
  Timer autologout_;
  Timer delay_;  // a failed login's answer; the command rate limit's wait

  // Command rate limit (token bucket): commands the client may still send now, and when that
  // was last topped up (uv_now, ms).
  double rate_tokens_ = 0;
  std::uint64_t rate_checked_ms_ = 0;
  bool rate_waiting_ = false;
  unsigned bad_in_a_row_ = 0;
  unsigned failed_logins_ = 0;

  std::uint8_t state_ = kNotAuthenticated;
  UserContext* user_ = nullptr;
  std::string user_name_;
  std::optional<SelectedMailbox> selected_;

  std::optional<Command> current_;  // the command in progress
  bool expunge_allowed_ = true;     // false during sequence-number FETCH/STORE/SEARCH
  bool awaiting_line_ = false;
  bool idling_ = false;
  bool closing_ = false;
  bool starttls_pending_ = false;
  bool compress_pending_ = false;
  bool logout_pending_ = false;
  bool hanging_up_ = false;
  bool reading_paused_ = false;  // stopped reading: too much pipelined input
  bool condstore_ = false;
  bool qresync_ = false;
  bool rev2_ = false;
  bool utf8_accept_ = false;
  std::unique_ptr<AppendUpload> upload_;  // the current APPEND's streamed literals
  bool upload_paused_ = false;            // stopped reading: the upload's buffer is full
  bool literal_check_ = false;            // an APPEND literal waits for checkAppendLiteral
  std::shared_ptr<FetchJob> fetch_job_;
  bool fetch_round_running_ = false;
  bool fetch_waiting_drain_ = false;
};

}  // namespace popbridge::proxy::imap
