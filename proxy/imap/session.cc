#include "proxy/imap/session.h"

#include <algorithm>
#include <cmath>
#include <variant>

#include "protocols/imap/mutf7.h"
#include "proxy/core/worker.h"
#include "proxy/imap/append_upload.h"
#include "proxy/imap/command_table.h"
#include "proxy/imap/commands/handlers.h"
#include "proxy/imap/fetch_job.h"
#include "proxy/imap/flags.h"
#include "proxy/imap/server.h"
#include "proxy/server/log.h"
#include "proxy/server/mailbox_hub.h"
#include "proxy/server/user_context.h"

namespace popbridge::proxy::imap {
namespace {

// Output produced per worker round of a FETCH; the connection's high mark bounds the rest.
constexpr std::size_t kFetchRoundBytes = 256 * 1024;

// RFC 3501 5.4: at least 30 minutes once authenticated; a connection that never logs in is
// dropped sooner. RFC 2177 asks idling clients to renew IDLE within 29 minutes; popbridge
// lets an IDLE run an hour before it gives up on the client.
constexpr auto kAutologoutBeforeLogin = std::chrono::minutes(2);
constexpr auto kAutologout = std::chrono::minutes(30);
constexpr auto kAutologoutIdle = std::chrono::minutes(60);

// Input read ahead of the running command before popbridge stops reading from the client.
constexpr std::size_t kMaxPipelinedInput = 1024 * 1024;

// A client that keeps sending commands popbridge answers BAD is broken or probing; as Dovecot
// does, the connection ends at the 20th in a row.
constexpr unsigned kMaxBadInARow = 20;
// Failed logins on one connection before it is closed.
constexpr unsigned kMaxFailedLogins = 3;

}  // namespace

std::optional<std::size_t> SelectedMailbox::indexOf(std::uint32_t uid) const {
  const auto it = std::lower_bound(
      messages.begin(), messages.end(), uid,
      [](const store::MessageInfo& m, std::uint32_t value) { return m.uid < value; });
  if (it == messages.end() || it->uid != uid) return std::nullopt;
  return static_cast<std::size_t>(it - messages.begin());
}

Session::Session(ImapServer& server, std::uint64_t id, std::unique_ptr<Connection> connection,
                 ListenerOptions options)
    : server_(server),
      id_(id),
      log_name_("imap#" + std::to_string(id)),
      connection_(std::move(connection)),
      options_(std::move(options)),
      autologout_(server.loop()),
      delay_(server.loop()) {
  if (options_.max_command_rate) {
    rate_tokens_ = *options_.max_command_rate;  // a full second's burst to start with
    rate_checked_ms_ = uv_now(server_.loop());
  }
}

Session::~Session() {
  if (selected_ && user_) server_.hub().unsubscribe(user_name_, selected_->id, id_);
  connection_->close();
}

void Session::start() {
  log(LogSeverity::Debug, log_name_, "connected from ", connection_->peerAddress());
  Connection::Callbacks callbacks;
  callbacks.on_data = [this](std::string_view bytes) { onData(bytes); };
  callbacks.on_drain = [this] { onDrain(); };
  callbacks.on_close = [this](std::optional<NetError> error) {
    if (error) {
      // A peer that hangs up is routine; corrupt compressed input is worth a visible line.
      const bool deflate = error->message.starts_with("DEFLATE");
      log(deflate ? LogSeverity::Warn : LogSeverity::Debug, log_name_,
          "connection closed: ", error->message);
    }
    close();
  };
  callbacks.on_tls_ready = [this] {
    if (options_.tls == config::TlsMode::Implicit && !current_) {
      sendGreeting();
      return;
    }
    // STARTTLS finished (RFC 3501 6.2.1): the session goes on with a fresh reader.
    starttls_pending_ = false;
    current_.reset();
    processInput();
  };
  connection_->setCallbacks(std::move(callbacks));
  connection_->startReading();
  armAutologout();
  if (options_.tls == config::TlsMode::Implicit) {
    connection_->startTls(options_.tls_context, TlsRole::Server, "");
  } else {
    sendGreeting();
  }
}

void Session::sendGreeting() {
  std::string out;
  popbridge::imap::appendUntaggedStatus(out, Status::Ok, "CAPABILITY " + capabilities(),
                                        "popbridge ready");
  send(std::move(out));
}

void Session::close() {
  if (closing_) return;
  closing_ = true;
  autologout_.stop();
  delay_.stop();
  if (connection_->compressionActive()) {
    const Connection::CompressionStats stats = connection_->compressionStats();
    log(LogSeverity::Info, log_name_, "DEFLATE totals: sent ", stats.out_plain, " bytes as ",
        stats.out_wire, ", received ", stats.in_plain, " bytes as ", stats.in_wire);
  }
  connection_->close();
  server_.retire(id_);
}

std::uint8_t Session::state() const { return state_; }

bool Session::loginAllowed() const {
  if (secure()) return true;
  switch (options_.plaintext_auth) {
    case config::PlaintextAuth::Always:
      return true;
    case config::PlaintextAuth::Loopback:
      return connection_->peerIsLoopback();
    case config::PlaintextAuth::Never:
      return false;
  }
  return false;
}

std::string Session::capabilities() const {
  // Only what is complete is advertised (RFC 3501 7.2.1).
  // IMAP4rev2 (RFC 9051) is offered next to IMAP4rev1; a client switches with ENABLE.
  std::string caps =
      "IMAP4rev1 IMAP4rev2 LITERAL+ SASL-IR ID IDLE NAMESPACE UNSELECT UIDPLUS MULTIAPPEND MOVE "
      "ENABLE UTF8=ACCEPT";
  caps += " CONDSTORE QRESYNC";
  caps += " CHILDREN LIST-EXTENDED LIST-STATUS SPECIAL-USE CREATE-SPECIAL-USE XLIST";
  // RFC 8438 (STATUS and LIST-STATUS SIZE: the sum of RFC822.SIZE, exact); RFC 9208 with one
  // quota root "" per user over STORAGE and MESSAGE; limits come from the config (no QUOTASET).
  caps += " STATUS=SIZE QUOTA QUOTA=RES-STORAGE QUOTA=RES-MESSAGE";
  // RFC 7889 3.1: one limit for every mailbox, the command reader's literal limit.
  caps += " APPENDLIMIT=" + std::to_string(appendLimit());
  caps += " ESEARCH SEARCHRES WITHIN";  // RFC 4731, RFC 5182, RFC 5032
  caps += " SORT SORT=DISPLAY ESORT THREAD=ORDEREDSUBJECT THREAD=REFERENCES";
  caps += " BINARY";            // RFC 3516: FETCH BINARY[], BINARY.SIZE[] and APPEND literal8
  caps += " COMPRESS=DEFLATE";  // RFC 4978
  caps += " OBJECTID";          // RFC 8474
  if (state_ != kNotAuthenticated) caps += " UNAUTHENTICATE";  // RFC 8437
  if (state_ == kNotAuthenticated) {
    // After UNAUTHENTICATE on a compressed connection, TLS cannot start inside DEFLATE.
    if (!secure() && options_.tls == config::TlsMode::Starttls && options_.tls_context &&
        !connection_->compressionActive()) {
      caps += " STARTTLS";
    }
    if (loginAllowed()) {
      caps += " AUTH=PLAIN AUTH=LOGIN";
    } else {
      caps += " LOGINDISABLED";
    }
  }
  return caps;
}

void Session::enableCondstore() {
  if (condstore_) return;
  condstore_ = true;
  if (selected_ && selected_->loaded) {
    send("* OK [HIGHESTMODSEQ " + std::to_string(selected_->highestmodseq) + "] Highest\r\n");
  }
}

void Session::enableQresync() {
  enableCondstore();
  qresync_ = true;
}

void Session::enableRev2() {
  rev2_ = true;
  reader_.setMailboxNames(mailboxNames());
}

void Session::enableUtf8Accept() {
  utf8_accept_ = true;
  reader_.setMailboxNames(mailboxNames());
}

popbridge::imap::MailboxNames Session::mailboxNames() const {
  return rev2_ || utf8_accept_ ? popbridge::imap::MailboxNames::Utf8
                               : popbridge::imap::MailboxNames::Mutf7;
}

void Session::appendMailbox(std::string& out, std::string_view name) const {
  if (mailboxNames() == popbridge::imap::MailboxNames::Utf8) {
    popbridge::imap::appendMailboxName(out, name, popbridge::imap::MailboxNames::Utf8);
  } else {
    popbridge::imap::appendAstring(out, popbridge::imap::encodeMutf7(name));
  }
}

void Session::send(std::string bytes) {
  if (closing_ || bytes.empty()) return;
  connection_->write(std::move(bytes));
}

void Session::armAutologout() {
  const auto limit = idling_                       ? kAutologoutIdle
                     : state_ == kNotAuthenticated ? kAutologoutBeforeLogin
                                                   : kAutologout;
  autologout_.start(std::chrono::duration_cast<std::chrono::milliseconds>(limit), [this] {
    log(LogSeverity::Info, log_name_, "autologout after inactivity");
    send("* BYE Autologout; idle for too long\r\n");
    hangUpAfterWrite();
  });
}

void Session::onData(std::string_view bytes) {
  if (closing_) return;
  armAutologout();
  reader_.feed(bytes);
  processInput();
  // A client that pipelines while a command runs (or faster than its command rate) waits in the
  // kernel, not in popbridge's memory.
  if (((current_ && !awaiting_line_) || rate_waiting_ || literal_check_) &&
      reader_.buffered() > kMaxPipelinedInput) {
    connection_->stopReading();
    reading_paused_ = true;
  }
}

std::uint64_t Session::appendLimit() const { return server_.config().append_limit; }

void Session::processInput() {
  while (!closing_ && !hanging_up_ && (!current_ || awaiting_line_) && !literal_check_ &&
         !(upload_ && upload_->full())) {
    if (!current_ && reader_.buffered() > 0 && throttled()) return;
    popbridge::imap::ReadResult result = reader_.next();
    if (std::holds_alternative<popbridge::imap::NeedMore>(result)) return;
    if (const auto* more = std::get_if<popbridge::imap::NeedContinuation>(&result)) {
      (void)more;
      send("+ Ready for literal data\r\n");
      continue;
    }
    if (const auto* begin = std::get_if<popbridge::imap::LiteralBegin>(&result)) {
      onLiteralBegin(*begin);
      continue;
    }
    if (const auto* chunk = std::get_if<popbridge::imap::LiteralChunk>(&result)) {
      onLiteralChunk(chunk->bytes);
      continue;
    }
    if (auto* line = std::get_if<popbridge::imap::Line>(&result)) {
      if (awaiting_line_) {
        awaiting_line_ = false;
        onLine(std::move(line->text));
      }
      continue;
    }
    if (auto* error = std::get_if<popbridge::imap::ParseError>(&result)) {
      dropUpload();  // nothing of a refused command is stored
      std::string out;
      if (error->kind == popbridge::imap::ParseError::Kind::TooLong) {
        // The rest of the stream cannot be framed reliably: say so and hang up.
        popbridge::imap::appendUntaggedStatus(out, Status::Bye, "TOOBIG", error->message);
        send(std::move(out));
        log(LogSeverity::Info, log_name_, "closing: ", error->message);
        hangUpAfterWrite();
        return;
      }
      // A literal over the limit (RFC 7889 APPENDLIMIT, RFC 4469): the reader has skipped it (a
      // refused synchronizing literal is not expected, a LITERAL+ one was read and dropped), so
      // the command is answered NO [TOOBIG] and the connection goes on. Other errors are BAD.
      const bool too_big = error->kind == popbridge::imap::ParseError::Kind::TooBig;
      const char* code = too_big ? "TOOBIG" : "";
      if (error->tag.empty()) {
        popbridge::imap::appendUntaggedStatus(out, Status::Bad, code, error->message);
      } else if (too_big) {
        popbridge::imap::appendTagged(out, error->tag, Status::No, code, error->message);
      } else {
        popbridge::imap::appendTagged(out, error->tag, Status::Bad, code, error->message);
      }
      send(std::move(out));
      if (!too_big) countBad();
      continue;
    }
    if (options_.max_command_rate) rate_tokens_ -= 1;
    dispatch(std::move(std::get<Command>(result)));
  }
}

bool Session::throttled() {
  if (!options_.max_command_rate) return false;
  if (rate_waiting_) return true;
  const double rate = *options_.max_command_rate;
  const std::uint64_t now = uv_now(server_.loop());
  rate_tokens_ =
      std::min(rate, rate_tokens_ + static_cast<double>(now - rate_checked_ms_) * rate / 1000.0);
  rate_checked_ms_ = now;
  if (rate_tokens_ >= 1) return false;
  const auto wait = std::chrono::milliseconds(
      static_cast<std::int64_t>(std::ceil((1 - rate_tokens_) * 1000.0 / rate)));
  rate_waiting_ = true;
  delay_.start(wait, [this] {
    rate_waiting_ = false;
    if (reading_paused_ && !current_) {
      reading_paused_ = false;
      connection_->startReading();
    }
    processInput();
  });
  return true;
}

void Session::countBad() {
  if (++bad_in_a_row_ < kMaxBadInARow) return;
  log(LogSeverity::Info, log_name_, "closing: ", kMaxBadInARow, " invalid commands in a row from ",
      connection_->peerAddress());
  send("* BYE Too many invalid commands\r\n");
  hangUpAfterWrite();
}

void Session::loginFailed() {
  ++failed_logins_;
  auto answer = [this] {
    finish(Status::No, "AUTHENTICATIONFAILED", "Authentication failed");
    if (failed_logins_ >= kMaxFailedLogins && !hanging_up_) {
      log(LogSeverity::Info, log_name_, "closing: ", kMaxFailedLogins, " failed logins from ",
          connection_->peerAddress());
      send("* BYE Too many failed logins\r\n");
      hangUpAfterWrite();
    }
  };
  if (options_.auth_failure_delay.count() == 0) {
    answer();
    return;
  }
  delay_.start(options_.auth_failure_delay, std::move(answer));
}

void Session::onLiteralBegin(const popbridge::imap::LiteralBegin& begin) {
  // The reader streams only once authenticated() gave it a limit, so there is a user.
  if (user_ == nullptr) return;
  if (!begin.mailbox) {
    acceptLiteral(begin);  // the command will not parse; it is answered BAD once complete
    return;
  }
  // A MULTIAPPEND's earlier messages count against the quota with this one (RFC 3502).
  const std::uint64_t staged_bytes = upload_ ? upload_->announcedBytes() : 0;
  const std::size_t staged_count = upload_ ? upload_->count() : 0;
  const LiteralCheck check = checkAppendLiteral(
      *this, *begin.mailbox, begin.size, staged_bytes, staged_count,
      [server = &server_, id = id_, begin](std::optional<LiteralRefusal> refusal) {
        if (Session* s = server->find(id)) s->onLiteralChecked(begin, refusal);
      });
  if (check == LiteralCheck::Accepted) {
    acceptLiteral(begin);
    return;
  }
  // processInput() reads nothing more until the answer: the literal's bytes, if the client
  // sends them already (LITERAL+), wait in the reader (and, past kMaxPipelinedInput, the kernel).
  literal_check_ = true;
}

void Session::acceptLiteral(const popbridge::imap::LiteralBegin& begin) {
  if (!upload_) {
    upload_ = std::make_unique<AppendUpload>(server_.loop(), user_->store(),
                                             [server = &server_, id = id_] {
                                               if (Session* s = server->find(id)) {
                                                 s->onUploadProgress();
                                               }
                                             });
  }
  upload_->begin(begin.size);
  if (begin.sync) send("+ Ready for literal data\r\n");
}

void Session::onLiteralChecked(const popbridge::imap::LiteralBegin& begin,
                               const std::optional<LiteralRefusal>& refusal) {
  if (!literal_check_ || closing_ || hanging_up_) return;
  literal_check_ = false;
  if (refusal) {
    // RFC 3501 6.3.11 / RFC 9208 4.3.1: the tagged NO instead of the continuation request; the
    // reader drops a LITERAL+ literal's bytes (never staged) and the rest of the command, and
    // the messages a MULTIAPPEND had staged already are removed (RFC 3502: none is appended).
    reader_.refuseLiteral();
    dropUpload();
    std::string out;
    popbridge::imap::appendTagged(out, begin.tag, Status::No, refusal->code, refusal->text);
    send(std::move(out));
    log(LogSeverity::Debug, log_name_, "APPEND literal refused: ", refusal->code);
  } else {
    acceptLiteral(begin);
  }
  if (reading_paused_ && !rate_waiting_) {
    reading_paused_ = false;
    if (!upload_paused_) connection_->startReading();
  }
  processInput();
}

void Session::onLiteralChunk(std::string_view bytes) {
  if (!upload_) return;
  upload_->add(bytes);
  // The disk is slower than the client: let the client wait in the kernel (STYLE.md 5.5).
  if (upload_->full() && !upload_paused_) {
    upload_paused_ = true;
    connection_->stopReading();
  }
}

void Session::onUploadProgress() {
  if (closing_ || !upload_ || upload_->full()) return;
  if (upload_paused_) {
    upload_paused_ = false;
    if (!reading_paused_) connection_->startReading();
  }
  processInput();
}

void Session::dropUpload() {
  upload_.reset();
  if (upload_paused_) {
    upload_paused_ = false;
    if (!reading_paused_ && !closing_) connection_->startReading();
  }
}

void Session::dispatch(Command command) {
  log(LogSeverity::Debug, log_name_, "C: ", command.redacted());
  current_ = std::move(command);
  const CommandSpec* spec = findCommand(current_->name);
  if (spec == nullptr || (current_->uid && !spec->uid_form)) {
    finish(Status::Bad, "", "Unknown command");
    return;
  }
  if ((spec->states & state_) == 0) {
    const char* why = state_ == kNotAuthenticated ? "Log in first"
                      : state_ == kAuthenticated  ? "Select a mailbox first"
                                                  : "Not allowed in this state";
    finish(Status::Bad, "", why);
    return;
  }
  // RFC 3501 7.4.1: no EXPUNGE while answering a FETCH, STORE or SEARCH by sequence number.
  expunge_allowed_ = current_->uid || spec->sequence_use == SequenceUse::None;
  spec->handler(*this, *current_);
}

void Session::onLine(std::string line) {
  if (idling_) {
    setIdling(false);
    if (line.size() == 4 && (line[0] | 0x20) == 'd' && (line[1] | 0x20) == 'o' &&
        (line[2] | 0x20) == 'n' && (line[3] | 0x20) == 'e') {
      finish(Status::Ok, "", "IDLE terminated");
    } else {
      finish(Status::Bad, "", "Expected DONE");
    }
    return;
  }
  // AUTHENTICATE continuation: the handler stored its state in the command; hand it the line.
  if (current_ && current_->name == "AUTHENTICATE") {
    auto& args = std::get<popbridge::imap::AuthenticateArgs>(current_->args);
    args.initial_response = std::move(line);
    Command& command = *current_;
    const CommandSpec* spec = findCommand("AUTHENTICATE");
    spec->handler(*this, command);
  }
}

void Session::awaitLine() {
  awaiting_line_ = true;
  reader_.expectLine();
  processInput();
}

void Session::noteActivity() {
  if (user_ == nullptr) return;
  server_.clientActivity(user_name_, selected_ ? std::string_view(selected_->name) : "INBOX");
}

void Session::setIdling(bool idling) {
  idling_ = idling;
  armAutologout();
  if (idling_ && selected_ && selected_->loaded) applyPending(Announce::Yes, ExpungeRule::Allow);
}

void Session::finish(Status status, std::string_view code, std::string_view text) {
  if (!current_) return;
  if (selected_ && selected_->loaded) {
    applyPending(Announce::Yes, expunge_allowed_ ? ExpungeRule::Allow : ExpungeRule::Hold);
  }
  std::string out;
  popbridge::imap::appendTagged(out, current_->tag, status, code, text);
  send(std::move(out));
  if (status == Status::Bad) {
    countBad();
  } else {
    bad_in_a_row_ = 0;
  }
  if (logout_pending_) {
    hangUpAfterWrite();
    return;
  }
  if (starttls_pending_) {
    // The tagged OK goes out in plaintext; the handshake starts right behind it.
    reader_.discardBuffered();
    connection_->startTls(options_.tls_context, TlsRole::Server, "");
    return;
  }
  if (compress_pending_) {
    // RFC 4978 3: compression starts right after the CRLF of the tagged OK, in both directions.
    // The client waits for that OK, so anything it sent before is not part of the stream.
    compress_pending_ = false;
    reader_.discardBuffered();
    connection_->startCompression();
    log(LogSeverity::Info, log_name_, "COMPRESS DEFLATE active",
        connection_->tlsActive() ? " (inside TLS)" : "");
  }
  current_.reset();
  dropUpload();
  expunge_allowed_ = true;
  if (reading_paused_) {
    reading_paused_ = false;
    connection_->startReading();
  }
  processInput();
}

void Session::hangUpAfterWrite() {
  // The connection reports on_close once the last byte is out; close() runs then. Until then
  // no input is read and the session stays alive so the output is not dropped.
  hanging_up_ = true;
  connection_->closeAfterWrite();
}

void Session::startTlsAfterResponse() { starttls_pending_ = true; }

void Session::compressAfterResponse() { compress_pending_ = true; }

void Session::logoutAfterResponse() { logout_pending_ = true; }

void Session::finishWithStoreError(const store::Error& error) {
  switch (error.code) {
    case store::ErrorCode::NotFound:
      finish(Status::No, "NONEXISTENT", error.message);
      return;
    case store::ErrorCode::AlreadyExists:
      finish(Status::No, "ALREADYEXISTS", error.message);
      return;
    case store::ErrorCode::InvalidName:
      finish(Status::No, "CANNOT", error.message);
      return;
    case store::ErrorCode::OverQuota:
      // RFC 9208 4.3.1: the write would exceed a quota limit; nothing was written.
      finish(Status::No, "OVERQUOTA", "Quota exceeded; nothing was written");
      return;
    case store::ErrorCode::Io:
    case store::ErrorCode::Corrupt:
    case store::ErrorCode::Internal:
      log(LogSeverity::Error, log_name_, "store error: ", error.message);
      finish(Status::No, "SERVERBUG", "Internal error in the mail store; nothing was changed");
      return;
  }
}

void Session::authenticated(UserContext& user, const std::string& user_name) {
  user_ = &user;
  user_name_ = user_name;
  state_ = kAuthenticated;
  // From now on APPEND messages go to disk as they arrive, up to APPENDLIMIT each.
  reader_.setStreamedLiteralLimit(appendLimit());
  log(LogSeverity::Info, log_name_, "logged in as ", user_name, " from ",
      connection_->peerAddress());
}

void Session::unauthenticate() {
  unselect();
  log(LogSeverity::Info, log_name_, "logged out of ", user_name_, " (UNAUTHENTICATE)");
  user_ = nullptr;
  user_name_.clear();
  state_ = kNotAuthenticated;
  condstore_ = false;
  qresync_ = false;
  rev2_ = false;
  utf8_accept_ = false;
  reader_.setMailboxNames(mailboxNames());
  // As before the first login: APPEND literals are not streamed to a user's store.
  reader_.setStreamedLiteralLimit(0);
  armAutologout();
}

SelectedMailbox& Session::beginSelect(std::int64_t id, std::string name, bool read_only) {
  unselect();
  selected_.emplace();
  selected_->id = id;
  selected_->name = std::move(name);
  selected_->read_only = read_only;
  server_.hub().subscribe(user_name_, id, id_);
  state_ = kSelected;
  return *selected_;
}

void Session::unselect() {
  if (selected_) {
    server_.hub().unsubscribe(user_name_, selected_->id, id_);
    selected_.reset();
  }
  if (state_ == kSelected) state_ = kAuthenticated;
}

void Session::onChanges(const store::ChangeSet& changes) {
  if (!selected_ || changes.mailbox_id != selected_->id) return;
  selected_->pending.push_back(changes);
  if (idling_ && selected_->loaded) applyPending(Announce::Yes, ExpungeRule::Allow);
}

void Session::applyPending(Announce announce, ExpungeRule expunge_rule,
                           const std::set<std::uint32_t>& quiet_flags) {
  SelectedMailbox& box = *selected_;
  std::string out;
  // Messages added by this call: the client has not been told of them (no EXISTS yet).
  std::set<std::uint32_t> fresh;
  std::set<std::uint32_t> flag_changed;
  for (const store::ChangeSet& changes : box.pending) {
    // Changes arrive in commit order; anything the snapshot already holds is skipped, so a
    // change set that raced with SELECT's snapshot is applied exactly once.
    for (const store::MessageInfo& message : changes.appended) {
      if (message.uid > box.maxUid()) {
        box.messages.push_back(message);
        fresh.insert(message.uid);
      }
    }
    for (const store::MessageInfo& change : changes.flag_changes) {
      const auto index = box.indexOf(change.uid);
      if (!index) continue;
      store::MessageInfo& known = box.messages[*index];
      if (change.modseq <= known.modseq) continue;
      known.flags = change.flags;
      known.modseq = change.modseq;
      flag_changed.insert(change.uid);
    }
    for (const std::uint32_t uid : changes.expunged) {
      const auto index = box.indexOf(uid);
      if (!index) continue;
      if (fresh.erase(uid) > 0) {
        // Appended and expunged before the client heard of it: it never enters the client's
        // view. An EXPUNGE (or VANISHED) for it would name a message the client does not count
        // (RFC 3501 7.4.1: the EXPUNGE decrements the number of messages the client knows).
        box.messages.erase(box.messages.begin() + static_cast<std::ptrdiff_t>(*index));
        flag_changed.erase(uid);
        continue;
      }
      box.expunge_held.insert(uid);
    }
    if (box.uidnext <= box.maxUid()) box.uidnext = box.maxUid() + 1;
    box.applied_modseq = std::max(box.applied_modseq, changes.highestmodseq);
  }
  box.pending.clear();

  const bool announce_all = announce == Announce::Yes;
  if (expunge_rule == ExpungeRule::Allow || !announce_all) {
    std::vector<std::uint32_t> vanished;
    for (const std::uint32_t uid : box.expunge_held) {
      const auto index = box.indexOf(uid);
      if (!index) continue;
      // RFC 7162 3.2.10: with QRESYNC on, expunges are told by UID in one VANISHED.
      if (announce_all && qresync_) {
        vanished.push_back(uid);
      } else if (announce_all) {
        out += "* " + std::to_string(*index + 1) + " EXPUNGE\r\n";
      }
      box.messages.erase(box.messages.begin() + static_cast<std::ptrdiff_t>(*index));
      flag_changed.erase(uid);
    }
    box.expunge_held.clear();
    popbridge::imap::appendVanished(out, vanished, popbridge::imap::Vanished::Now);
  }
  if (box.expunge_held.empty()) box.highestmodseq = std::max(box.highestmodseq, box.applied_modseq);
  if (announce_all) {
    if (!fresh.empty()) out += "* " + std::to_string(box.messages.size()) + " EXISTS\r\n";
    for (const std::uint32_t uid : flag_changed) {
      if (quiet_flags.contains(uid)) continue;
      const auto index = box.indexOf(uid);
      if (!index) continue;
      const store::MessageInfo& message = box.messages[*index];
      out += "* " + std::to_string(*index + 1) + " FETCH (UID " + std::to_string(uid) + " FLAGS ";
      appendStoreFlags(out, message.flags);
      // RFC 7162 3.1: once CONDSTORE is on, every unsolicited FETCH carries MODSEQ.
      if (condstore_) out += " MODSEQ (" + std::to_string(message.modseq) + ")";
      out += ")\r\n";
    }
    send(std::move(out));
  }
}

void Session::runFetch(std::shared_ptr<FetchJob> job) {
  fetch_job_ = std::move(job);
  fetchRound();
}

void Session::fetchRound() {
  fetch_round_running_ = true;
  fetch_waiting_drain_ = false;
  auto out = std::make_shared<std::string>();
  auto finished = std::make_shared<bool>(false);
  auto job = fetch_job_;
  ImapServer* server = &server_;
  runOnWorker(
      server_.loop(), [job, out, finished] { *finished = job->produce(*out, kFetchRoundBytes); },
      [server, id = id_, job, out, finished] {
        Session* session = server->find(id);
        if (session == nullptr || session->fetch_job_ != job) return;  // gone: drop the result
        session->fetch_round_running_ = false;
        session->send(std::move(*out));
        if (!*finished) {
          if (session->connection_->congested()) {
            session->fetch_waiting_drain_ = true;
          } else {
            session->fetchRound();
          }
          return;
        }
        session->fetch_job_.reset();
        if (job->error()) {
          session->finishWithStoreError(*job->error());
        } else if (job->unknownCte()) {
          // RFC 3516 4.3; the other messages were answered.
          session->finish(Status::No, "UNKNOWN-CTE",
                          "Cannot decode the Content-Transfer-Encoding of a part");
        } else if (job->expungeIssued()) {
          session->finish(Status::No, "EXPUNGEISSUED",
                          "Some messages were expunged by another session");
        } else {
          session->finish(Status::Ok, "", "FETCH completed");
        }
      });
}

void Session::onDrain() {
  if (fetch_job_ && fetch_waiting_drain_ && !fetch_round_running_) fetchRound();
}

}  // namespace popbridge::proxy::imap
