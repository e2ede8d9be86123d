#include "proxy/pop/fetcher.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <limits>
#include <map>
#include <mutex>
#include <set>
#include <unordered_set>
#include <variant>

#include "protocols/pop3/commands.h"
#include "proxy/core/worker.h"
#include "proxy/server/log.h"
#include "proxy/server/user_context.h"
#include "proxy/tls/digest.h"
#include "store/user_store.h"

namespace popbridge::proxy::pop {
namespace {

// Body bytes handed to a worker per write; bounds what a download holds in memory.
constexpr std::size_t kWriteChunk = 256 * 1024;
// Received body bytes, over all downloads, held while writes are in flight before reading
// pauses; reading resumes below half of it.
constexpr std::size_t kMaxBuffered = 4 * 1024 * 1024;
// At most this many messages or bytes go into one commit: one fsync round, one transaction.
// Smaller batches form on their own while the disk keeps up (group commit: whatever was staged
// while the previous commit ran goes into the next).
constexpr std::size_t kBatchMessages = 100;
constexpr std::uint64_t kBatchBytes = 32 * 1024 * 1024;
// While more downloads are under way, a commit waits for at least this many messages or bytes:
// each commit costs a sync of the file system and a SQLite commit whatever its size, so a
// stream of one-message commits (whatever finished while the last commit ran) would spend the
// disk's time on flushes.
constexpr std::size_t kMinBatchMessages = 8;
constexpr std::uint64_t kMinBatchBytes = 4 * 1024 * 1024;
// Staged but uncommitted work above which no further RETR is sent: the disk is behind.
constexpr std::size_t kMaxUncommitted = 2 * kBatchMessages;
constexpr std::uint64_t kMaxUncommittedBytes = 2 * kBatchBytes;
// Commands outstanding at once with PIPELINING (RFC 2449 6.6). Replies are read while commands
// are written (libuv), so the TCP-window deadlock the RFC warns of cannot occur; the window only
// keeps the server's queue short so a failure wastes little.
constexpr std::size_t kPipelineWindow = 16;
// Up to this many new messages, their sizes are asked one "LIST n" each (pipelined); more, and
// one LIST of the whole maildrop costs less.
constexpr std::size_t kMaxSingleLists = 64;

std::string describe(const pop3::Status& status) {
  std::string text = status.text.empty() ? std::string("(no text)") : status.text;
  if (!status.code.empty()) return "[" + status.code + "] " + text;
  return text;
}

std::int64_t unixNow() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// RFC 5034 4 (after RFC 2449 4): an AUTH command with its initial response must fit in 255
// octets, CRLF included; a longer response is sent in answer to the server's empty challenge.
constexpr std::size_t kMaxAuthLine = 255;
// SASL challenges answered before the exchange is cancelled: LOGIN needs two, the others one.
constexpr unsigned kMaxSaslChallenges = 3;
constexpr std::size_t kMaxTokenBytes = 64 * 1024;

// Oversize messages already reported, as "<log name> <ledger key>": each is logged once per
// process, however many polls find it still waiting on the server.
bool firstOversizeReport(const std::string& id) {
  static std::mutex mutex;
  static std::set<std::string> reported;
  const std::lock_guard<std::mutex> lock(mutex);
  return reported.insert(id).second;
}

// Reads an OAuth 2.0 token file (worker thread): its content without one trailing line end.
Result<std::string, std::string> readTokenFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return fail(std::string("cannot open it"));
  std::string content(kMaxTokenBytes + 1, '\0');
  const std::size_t n = std::fread(content.data(), 1, content.size(), file);
  const bool bad = std::ferror(file) != 0;
  std::fclose(file);
  if (bad) return fail(std::string("cannot read it"));
  if (n > kMaxTokenBytes) return fail(std::string("it is larger than 64 KiB"));
  content.resize(n);
  if (!content.empty() && content.back() == '\n') content.pop_back();
  if (!content.empty() && content.back() == '\r') content.pop_back();
  if (content.empty()) return fail(std::string("it is empty"));
  return content;
}

std::string seconds(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace

std::string_view toString(PullFailure kind) {
  switch (kind) {
    case PullFailure::Temporary:
      return "temporary";
    case PullFailure::InUse:
      return "in-use";
    case PullFailure::LoginDelay:
      return "login-delay";
    case PullFailure::Auth:
      return "auth";
    case PullFailure::Permanent:
      return "permanent";
  }
  return "unknown";
}

struct Fetcher::Download {
  std::uint32_t number = 0;
  std::string key;
  std::uint64_t listed_size = 0;
  std::optional<store::StagedMessage> staged;  // touched by one thread at a time
  std::optional<store::Error> error;

  // On a worker: creates the staged file on the first call, then appends `chunk`. A failure is
  // kept in `error`, and later calls do nothing.
  void stage(store::UserStore& store, std::string_view chunk) {
    if (error) return;
    if (!staged) {
      auto created = store.stageMessage();
      if (!created) {
        error = created.error();
        return;
      }
      staged.emplace(std::move(*created));
    }
    if (chunk.empty()) return;
    if (auto written = staged->write(chunk); !written) error = written.error();
  }

  // Loop thread only:
  std::string buffer;  // received, not yet handed to a worker
  bool write_in_flight = false;
  bool handed = false;    // a worker has had (or has) some of it: its staged file exists
  bool complete = false;  // the "." arrived
};

Fetcher::Fetcher(uv_loop_t* loop, const config::PopAccount& account, UserContext& user,
                 std::shared_ptr<tls::Context> tls)
    : loop_(loop),
      account_(account),
      user_(user),
      tls_(std::move(tls)),
      policy_(RetentionPolicy::of(account)),
      log_name_("pop[" + user.name() + "/" + account.name + "]"),
      // Real mail has lines far beyond RFC 5322's 998 octets; one line is held at a time.
      reader_(pop3::Limits{.max_line = 8 * 1024 * 1024}),
      timeout_(loop),
      alive_(std::make_shared<bool>(true)) {}

Fetcher::~Fetcher() {
  alive_.reset();
  timeout_.stop();
  if (connection_) connection_->close();
  // Staged bodies that never committed delete their temp files; do that off the loop.
  std::vector<std::shared_ptr<Download>> leftovers = std::move(batch_);
  for (Pending& pending : pending_) {
    if (pending.download) leftovers.push_back(std::move(pending.download));
  }
  if (!leftovers.empty()) {
    runOnWorker(
        loop_, [leftovers = std::move(leftovers)]() mutable { leftovers.clear(); }, [] {});
  }
}

void Fetcher::start(Done done) {
  done_ = std::move(done);
  busy_.emplace();
  step_ = Step::Connecting;
  oauth2_token_ = account_.oauth2_token;
  if (account_.auth == config::PopAuth::Xoauth2 && !account_.oauth2_token_file.empty()) {
    // Read the token again for each session: an outside refresher replaces it before it
    // expires. Files are read off the loop thread.
    auto token = std::make_shared<Result<std::string, std::string>>(fail(std::string()));
    std::weak_ptr<bool> alive = alive_;
    runOnWorker(
        loop_, [token, path = account_.oauth2_token_file] { *token = readTokenFile(path); },
        [this, alive, token] {
          if (alive.expired() || step_ == Step::Finished) return;
          if (!*token) {
            // Temporary: a refresher may be about to write it; the retries back off.
            return failWith(PullFailure::Temporary, "cannot read oauth2_token_file " +
                                                        account_.oauth2_token_file + ": " +
                                                        token->error());
          }
          oauth2_token_ = std::move(**token);
          connect();
        });
    return;
  }
  connect();
}

void Fetcher::connect() {
  log(LogSeverity::Debug, log_name_, "connecting to ", account_.host, ":", account_.port);
  std::weak_ptr<bool> alive = alive_;
  Connection::connect(loop_, account_.host, account_.port, account_.timeout,
                      [this, alive](Result<std::unique_ptr<Connection>, NetError> connection) {
                        if (alive.expired()) return;
                        onConnected(std::move(connection));
                      });
}

void Fetcher::onConnected(Result<std::unique_ptr<Connection>, NetError> connection) {
  if (!connection) return failWith(connection.error().message);
  connection_ = std::move(*connection);
  Connection::Callbacks callbacks;
  callbacks.on_data = [this](std::string_view bytes) { onData(bytes); };
  callbacks.on_close = [this](std::optional<NetError> error) {
    if (step_ == Step::Finished) return;
    // A last line without CRLF still counts (servers that close right after "+OK" to QUIT).
    reader_.finish();
    onData({});
    if (step_ == Step::Finished || quit_answered_) return;
    failWith(error ? error->message : std::string("the server closed the connection"));
  };
  callbacks.on_tls_ready = [this] {
    secure_ = true;
    if (step_ == Step::Handshake) {
      // RFC 2595 4: after STLS the capabilities are asked again.
      step_ = Step::Setup;
      sendText(Command::Capa, "CAPA", {}, pop3::ReplyKind::MultiLine);
    }
  };
  connection_->setCallbacks(std::move(callbacks));
  connection_->startReading();
  if (account_.tls == config::TlsMode::Implicit) {
    connection_->startTls(tls_, TlsRole::Client, account_.host);
  }
  step_ = Step::Setup;
  reader_.expect(pop3::ReplyKind::SingleLine);
  pending_.push_back(Pending{});  // the greeting
  armTimeout();
}

std::size_t Fetcher::window() const { return capabilities_.pipelining ? kPipelineWindow : 1; }

void Fetcher::armTimeout() {
  if (step_ == Step::Finished) return;
  const bool waiting = step_ == Step::Handshake || (!pending_.empty() && !reading_paused_);
  if (!waiting) {
    timeout_.stop();
    return;
  }
  timeout_.start(account_.timeout, [this] {
    std::string what = step_ == Step::Handshake ? "the TLS handshake" : "a reply";
    failWith("timed out after " + seconds(account_.timeout) + " waiting for " + what);
  });
}

void Fetcher::send(Command command, std::string line, pop3::ReplyKind kind, Pending pending) {
  pending.command = command;
  reader_.expect(kind);
  pending_.push_back(std::move(pending));
  connection_->write(std::move(line));
  armTimeout();
}

void Fetcher::sendText(Command command, std::string_view verb, std::string_view arg,
                       pop3::ReplyKind kind) {
  auto line = pop3::encodeCommand(verb, arg);
  if (!line) {
    return failWith(PullFailure::Permanent,
                    "cannot send " + std::string(verb) + ": " + line.error().message);
  }
  send(command, std::move(*line), kind, Pending{});
}

void Fetcher::onData(std::string_view bytes) {
  if (step_ == Step::Finished) return;
  if (!bytes.empty()) reader_.feed(bytes);
  while (step_ != Step::Finished) {
    pop3::ReplyEvent event = reader_.next();
    if (std::holds_alternative<pop3::NeedMore>(event)) break;
    onEvent(event);
  }
  stageReady();
  if (!bytes.empty()) armTimeout();
}

void Fetcher::onEvent(pop3::ReplyEvent& event) {
  if (auto* error = std::get_if<pop3::ReplyError>(&event)) {
    failWith("protocol error: " + error->message);
  } else if (auto* status = std::get_if<pop3::Status>(&event)) {
    onStatus(*status);
  } else if (auto* block = std::get_if<pop3::BodyBlock>(&event)) {
    // Complete CRLF lines as the server sent them: no line needed unstuffing.
    onBodyBytes(block->text, {});
  } else if (auto* line = std::get_if<pop3::BodyLine>(&event)) {
    onBodyLine(line->text);
  } else if (std::holds_alternative<pop3::End>(event)) {
    onEnd();
  } else if (auto* challenge = std::get_if<pop3::Continuation>(&event)) {
    onChallenge(*challenge);
  } else {
    failWith("unexpected reply event");
  }
}

void Fetcher::failOn(const pop3::Status& status, PullFailure fallback, std::string what,
                     std::string_view suffix) {
  // RFC 2449 8.1 (IN-USE, LOGIN-DELAY), RFC 3206 (SYS/TEMP, SYS/PERM, AUTH). Unknown codes and
  // deeper levels ("SYS/TEMP/DISK") fall back on their first levels.
  PullFailure kind = fallback;
  const std::string& code = status.code;
  const auto starts = [&](std::string_view prefix) {
    return code.size() >= prefix.size() && code.compare(0, prefix.size(), prefix) == 0 &&
           (code.size() == prefix.size() || code[prefix.size()] == '/');
  };
  if (starts("IN-USE")) {
    kind = PullFailure::InUse;
  } else if (starts("LOGIN-DELAY")) {
    kind = PullFailure::LoginDelay;
  } else if (starts("SYS/TEMP")) {
    kind = PullFailure::Temporary;
  } else if (starts("SYS/PERM")) {
    kind = PullFailure::Permanent;
  } else if (starts("AUTH")) {
    kind = PullFailure::Auth;
  }
  failWith(kind, std::move(what) + ": " + describe(status) + std::string(suffix));
}

void Fetcher::onStatus(const pop3::Status& status) {
  if (pending_.empty()) return failWith("a reply to no command");
  const Command command = pending_.front().command;
  const bool multi = command == Command::Capa || command == Command::CapaAfterLogin ||
                     command == Command::Uidl || command == Command::List ||
                     command == Command::Top || command == Command::Retr;
  if (multi && status.ok) {
    // The body follows, up to End; the reply stays at the front until then.
    if (command == Command::Top) digest_.emplace();
    if (command != Command::Retr && command != Command::Top) lines_.clear();
    return;
  }
  Pending done = std::move(pending_.front());
  pending_.pop_front();
  switch (command) {
    case Command::Greeting:
      if (!status.ok) return failOn(status, PullFailure::Temporary, "server refused the session");
      apop_banner_ = pop3::apopBanner(status.text);
      sendText(Command::Capa, "CAPA", {}, pop3::ReplyKind::MultiLine);
      return;
    case Command::Capa:
      // RFC 2449 is optional: a server without CAPA gets the RFC 1939 basics.
      capabilities_ = pop3::Capabilities{};
      capa_ok_ = false;
      afterCapabilities();
      return;
    case Command::CapaAfterLogin:
      // The capabilities from before login stand.
      log(LogSeverity::Debug, log_name_, "CAPA after login refused: ", describe(status));
      afterLogin();
      return;
    case Command::Stls:
      if (!status.ok) {
        return failOn(status, PullFailure::Permanent, "the server refused STLS");
      }
      step_ = Step::Handshake;
      connection_->startTls(tls_, TlsRole::Client, account_.host);
      armTimeout();
      return;
    case Command::User:
      if (!status.ok) {
        return failOn(status, PullFailure::Auth, "login failed (USER)");
      }
      sendText(Command::Pass, "PASS", account_.password, pop3::ReplyKind::SingleLine);
      return;
    case Command::Pass:
      onLoginReply(status, "USER/PASS");
      return;
    case Command::Apop:
      onLoginReply(status, "APOP");
      return;
    case Command::Auth:
      if (!sasl_cancelled_.empty() && !status.ok) {
        return failWith(PullFailure::Permanent,
                        "SASL " + std::string(saslName(sasl_)) + " cancelled: " + sasl_cancelled_);
      }
      onLoginReply(status, "SASL " + std::string(saslName(sasl_)));
      return;
    case Command::Uidl:
      log(LogSeverity::Info, log_name_, "no UIDL (", describe(status),
          "): messages are keyed by their headers and size");
      have_uidl_ = false;
      listing_.clear();
      // Content keys need every size.
      sendText(Command::List, "LIST", {}, pop3::ReplyKind::MultiLine);
      return;
    case Command::List:
      if (!have_uidl_) {
        return failOn(status, PullFailure::Permanent, "the server has neither UIDL nor LIST");
      }
      log(LogSeverity::Warn, log_name_, "LIST refused: ", describe(status));
      afterListings();
      return;
    case Command::ListOne:
      if (status.ok) {
        auto entry = pop3::parseListLine(status.text);
        if (!entry || entry->number != done.number) {
          return failWith("bad reply to LIST " + std::to_string(done.number));
        }
        const auto it = std::find_if(listing_.begin(), listing_.end(), [&](const auto& message) {
          return message.number == done.number;
        });
        if (it != listing_.end()) it->size = entry->size;
      } else {
        // RFC 1939 5 requires "LIST n", but a server that refuses it may still give the whole
        // LIST, asked once the others are answered.
        log(LogSeverity::Debug, log_name_, "LIST ", done.number, " refused: ", describe(status));
        list_one_refused_ = true;
      }
      ++sizes_done_;
      requestSizes();
      return;
    case Command::Top:
      if (!have_uidl_) {
        return failOn(status, PullFailure::Permanent,
                      "no UIDL and TOP refused: messages cannot be told apart");
      }
      // A repeated UIDL without TOP: the copies are told apart by size and position only.
      log(LogSeverity::Warn, log_name_, "TOP ", done.number, " refused: ", describe(status));
      ++digests_done_;
      requestDigests();
      return;
    case Command::Retr:
      // The message went away (another client deleted it): skip it, keep the rest.
      log(LogSeverity::Warn, log_name_, "RETR ", done.number, " refused: ", describe(status));
      --downloads_open_;
      --uncommitted_;
      pump();
      return;
    case Command::Dele:
      if (status.ok) {
        dele_confirmed_.push_back(std::move(done.key));
      } else {
        log(LogSeverity::Warn, log_name_, "DELE ", done.number, " refused: ", describe(status));
      }
      pump();
      return;
    case Command::Quit:
      onQuitReply(status);
      return;
  }
}

void Fetcher::onBodyBytes(std::string_view bytes, std::string_view line_end) {
  if (pending_.empty()) return failWith("body line without a command");
  Pending& front = pending_.front();
  switch (front.command) {
    case Command::Retr: {
      Download& download = *front.download;
      download.buffer.append(bytes);
      download.buffer.append(line_end);
      buffered_ += bytes.size() + line_end.size();
      if (download.buffer.size() >= kWriteChunk && !download.write_in_flight) {
        flushBody(front.download);
      }
      updateReading();
      return;
    }
    case Command::Top:
      digest_->update(bytes);
      if (!line_end.empty()) digest_->update(line_end);
      return;
    default:
      return failWith("a message body in reply to a command without one");
  }
}

void Fetcher::onBodyLine(std::string_view line) {
  if (pending_.empty()) return failWith("body line without a command");
  Pending& front = pending_.front();
  switch (front.command) {
    case Command::Retr:
    case Command::Top:
      // Lines arrive unstuffed and without their terminator; the store keeps CRLF (RFC 5322),
      // which also normalises bare-LF servers. TOP n 0: the header section and its closing
      // empty line (RFC 1939 7).
      onBodyBytes(line, "\r\n");
      return;
    case Command::Uidl: {
      // Parsed as it arrives: a 10,000-message maildrop is 10,000 lines per poll.
      auto entry = pop3::parseUidlLine(line);
      if (!entry) return failWith("bad UIDL line: " + entry.error().message);
      listing_.push_back(ListedMessage{entry->number, std::move(entry->uid), 0, {}});
      return;
    }
    default:
      lines_.emplace_back(line);
      return;
  }
}

void Fetcher::onEnd() {
  if (pending_.empty()) return failWith("end of a reply to no command");
  Pending done = std::move(pending_.front());
  pending_.pop_front();
  switch (done.command) {
    case Command::Capa:
      capabilities_ = pop3::parseCapabilities(lines_);
      capa_ok_ = true;
      lines_.clear();
      afterCapabilities();
      return;
    case Command::CapaAfterLogin: {
      // RFC 2449 5: after login the server may show the values that apply to this user.
      const pop3::Capabilities after = pop3::parseCapabilities(lines_);
      lines_.clear();
      if (after.expire_days) capabilities_.expire_days = after.expire_days;
      if (after.login_delay) capabilities_.login_delay = after.login_delay;
      afterLogin();
      return;
    }
    case Command::Uidl:
      afterUidl();
      return;
    case Command::List: {
      std::map<std::uint32_t, std::uint64_t> sizes;
      for (const std::string& line : lines_) {
        auto entry = pop3::parseListLine(line);
        if (!entry) return failWith("bad LIST line: " + entry.error().message);
        sizes[entry->number] = entry->size;
      }
      lines_.clear();
      if (have_uidl_) {
        for (ListedMessage& message : listing_) {
          const auto it = sizes.find(message.number);
          if (it != sizes.end()) message.size = it->second;
        }
      } else {
        for (const auto& [number, size] : sizes) {
          listing_.push_back(ListedMessage{number, {}, size, {}});
        }
      }
      afterListings();
      return;
    }
    case Command::Top: {
      const std::uint32_t number = done.number;
      const std::string digest = toHex(digest_->finish());
      digest_.reset();
      for (ListedMessage& message : listing_) {
        if (message.number == number) message.header_digest = digest;
      }
      ++digests_done_;
      requestDigests();
      return;
    }
    case Command::Retr: {
      const std::shared_ptr<Download>& download = done.download;
      download->complete = true;
      if (!download->handed) {
        // Whole in memory (under kWriteChunk): staged with the others that complete in this
        // read, in one worker job (stageReady).
        ready_.push_back(download);
      } else if (!download->write_in_flight) {
        flushBody(download);
      }
      pump();
      return;
    }
    default:
      failWith("unexpected end of a multi-line reply");
      return;
  }
}

void Fetcher::afterCapabilities() {
  if (account_.tls == config::TlsMode::Starttls && !secure_) {
    sendText(Command::Stls, "STLS", {}, pop3::ReplyKind::SingleLine);
    return;
  }
  authenticate();
}

std::string_view Fetcher::saslName(Sasl mechanism) {
  switch (mechanism) {
    case Sasl::Plain:
      return "PLAIN";
    case Sasl::Login:
      return "LOGIN";
    case Sasl::Xoauth2:
      return "XOAUTH2";
  }
  return "?";
}

void Fetcher::authenticate() {
  auto method = chooseLogin(account_.auth, capabilities_, capa_ok_, apop_banner_.has_value());
  if (!method) return failWith(PullFailure::Permanent, method.error());
  switch (*method) {
    case LoginMethod::User:
      return startUser();
    case LoginMethod::Apop:
      return startApop();
    case LoginMethod::SaslPlain:
      return startSasl(Sasl::Plain);
    case LoginMethod::SaslLogin:
      return startSasl(Sasl::Login);
    case LoginMethod::SaslXoauth2:
      return startSasl(Sasl::Xoauth2);
  }
}

void Fetcher::startUser() {
  stats_.auth_mechanism = "USER";
  sendText(Command::User, "USER", account_.username, pop3::ReplyKind::SingleLine);
}

void Fetcher::startApop() {
  stats_.auth_mechanism = "APOP";
  // RFC 1939 7: MD5 of the timestamp (angle brackets included) followed by the shared secret.
  auto line = pop3::encodeApop(account_.username, tls::md5Hex(*apop_banner_ + account_.password));
  if (!line) return failWith(PullFailure::Permanent, "cannot send APOP: " + line.error().message);
  send(Command::Apop, std::move(*line), pop3::ReplyKind::SingleLine, Pending{});
}

void Fetcher::startSasl(Sasl mechanism) {
  sasl_ = mechanism;
  sasl_challenges_ = 0;
  sasl_cancelled_.clear();
  sasl_deferred_response_.clear();
  const std::string name(saslName(mechanism));
  stats_.auth_mechanism = "SASL " + name;
  std::string initial;
  if (mechanism == Sasl::Plain) {
    auto ir = pop3::saslPlainInitialChecked({}, account_.username, account_.password);
    if (!ir)
      return failWith(PullFailure::Permanent, "cannot send AUTH PLAIN: " + ir.error().message);
    initial = std::move(*ir);
  } else if (mechanism == Sasl::Xoauth2) {
    auto ir = pop3::saslXoauth2Initial(account_.username, oauth2_token_);
    if (!ir) {
      return failWith(PullFailure::Permanent, "cannot send AUTH XOAUTH2: " + ir.error().message);
    }
    initial = std::move(*ir);
  }
  // SASL LOGIN has no initial response: the server asks for each part.
  std::string arg = name;
  if (!initial.empty()) {
    if (std::string_view("AUTH ").size() + name.size() + 1 + initial.size() + 2 <= kMaxAuthLine) {
      arg += " " + initial;
    } else {
      sasl_deferred_response_ = initial + "\r\n";
    }
  }
  sendText(Command::Auth, "AUTH", arg, pop3::ReplyKind::SaslContinuation);
}

void Fetcher::onChallenge(const pop3::Continuation& challenge) {
  if (pending_.empty() || pending_.front().command != Command::Auth) {
    return failWith("unexpected SASL continuation");
  }
  if (!sasl_cancelled_.empty()) return;  // "*" sent; the server's -ERR follows
  if (++sasl_challenges_ > kMaxSaslChallenges) return cancelSasl("too many challenges");
  if (!sasl_deferred_response_.empty()) {
    // RFC 5034 4: the response that did not fit on the AUTH line answers the empty challenge.
    connection_->write(std::move(sasl_deferred_response_));
    sasl_deferred_response_.clear();
    return;
  }
  switch (sasl_) {
    case Sasl::Plain:
      // The initial response went with AUTH; a server that still asks gets an empty response,
      // and its verdict follows (RFC 5034 4).
      connection_->write("\r\n");
      return;
    case Sasl::Xoauth2: {
      // A refused token is answered with a challenge holding a JSON error; the client sends an
      // empty line and the server's -ERR follows. The JSON carries no secret.
      auto detail = pop3::base64Decode(challenge.data);
      if (detail && !detail->empty()) {
        // Server text: one log line of printable ASCII, bounded.
        std::string shown = detail->substr(0, 300);
        for (char& c : shown) {
          if (c < ' ' || c > '~') c = '?';
        }
        log(LogSeverity::Info, log_name_, "XOAUTH2 refused: ", shown);
      }
      connection_->write("\r\n");
      return;
    }
    case Sasl::Login: {
      auto prompt_text = pop3::base64Decode(challenge.data);
      if (!prompt_text) return cancelSasl("a challenge that is not base64");
      pop3::SaslLoginPrompt prompt = pop3::saslLoginPrompt(*prompt_text);
      if (prompt == pop3::SaslLoginPrompt::Unknown) {
        // Some servers word the prompts their own way: the first asks for the name.
        prompt = sasl_challenges_ == 1 ? pop3::SaslLoginPrompt::Username
                                       : pop3::SaslLoginPrompt::Password;
      }
      connection_->write(pop3::encodeSaslResponse(
          prompt == pop3::SaslLoginPrompt::Username ? account_.username : account_.password));
      return;
    }
  }
}

void Fetcher::cancelSasl(std::string reason) {
  // RFC 5034 4: "*" ends the exchange; the server answers -ERR.
  sasl_cancelled_ = std::move(reason);
  connection_->write(std::string(pop3::kSaslCancel));
}

void Fetcher::onLoginReply(const pop3::Status& status, std::string_view what) {
  if (!status.ok) {
    // RFC 3206 4: a server with AUTH-RESP-CODE marks credential problems [AUTH]; an uncoded
    // refusal from it is something else (a lock, a hiccup), not a bad password.
    return failOn(status, capabilities_.auth_resp_code ? PullFailure::Temporary : PullFailure::Auth,
                  "login failed", " (" + std::string(what) + ")");
  }
  logged_in_ = true;
  log(LogSeverity::Debug, log_name_, "logged in with ", stats_.auth_mechanism);
  if (capabilities_.expire_user || capabilities_.login_delay_user) {
    // RFC 2449 6.5, 6.7: "USER" announces per-user values, shown by CAPA after login.
    sendText(Command::CapaAfterLogin, "CAPA", {}, pop3::ReplyKind::MultiLine);
    return;
  }
  afterLogin();
}

void Fetcher::checkExpire() {
  stats_.expire_days = capabilities_.expire_days;
  if (!capabilities_.expire_days) return;
  const std::uint32_t days = *capabilities_.expire_days;
  // RFC 2449 6.7: EXPIRE says how long the server keeps retrieved mail whatever the client
  // wants; say so (once a session) when that contradicts the account's retention.
  if (!expireContradicts(policy_, days)) return;
  stats_.expire_conflict = true;
  const std::string when = days == 0 ? std::string("as soon as it is retrieved (EXPIRE 0)")
                                     : "after " + std::to_string(days) + " days (EXPIRE)";
  log(LogSeverity::Warn, log_name_, "account ", account_.name,
      ": the server deletes retrieved mail ", when, ", earlier than retention ",
      config::toString(policy_.kind), " asks");
}

void Fetcher::afterLogin() {
  logged_in_ = true;
  lines_.clear();
  checkExpire();
  // UIDL names the messages; LIST follows for the sizes the pull needs (afterUidl()).
  sendText(Command::Uidl, "UIDL", {}, pop3::ReplyKind::MultiLine);
  readLedger();
}

void Fetcher::afterUidl() {
  if (!numbersNeedingDigest(listing_, have_uidl_).empty()) {
    // A repeated UIDL: content keys need every size.
    sendText(Command::List, "LIST", {}, pop3::ReplyKind::MultiLine);
    return;
  }
  sizes_wait_for_ledger_ = true;
  askSizes();
}

void Fetcher::askSizes() {
  if (!sizes_wait_for_ledger_ || !ledger_ || step_ == Step::Finished) return;
  sizes_wait_for_ledger_ = false;
  // Unpipelined, each LIST n is a round trip of its own.
  SizeQuery query =
      sizesToAsk(listing_, *ledger_, policy_, capabilities_.pipelining ? kMaxSingleLists : 1);
  if (query.all) {
    sendText(Command::List, "LIST", {}, pop3::ReplyKind::MultiLine);
    return;
  }
  size_numbers_ = std::move(query.numbers);
  requestSizes();
}

void Fetcher::requestSizes() {
  if (step_ == Step::Finished) return;
  if (sizes_done_ == size_numbers_.size()) {
    if (list_one_refused_) {
      list_one_refused_ = false;
      sendText(Command::List, "LIST", {}, pop3::ReplyKind::MultiLine);
      return;
    }
    afterListings();
    return;
  }
  while (size_index_ < size_numbers_.size() && pending_.size() < window()) {
    Pending pending;
    pending.number = size_numbers_[size_index_++];
    send(Command::ListOne, pop3::encodeCommand("LIST", pending.number), pop3::ReplyKind::SingleLine,
         std::move(pending));
  }
}

void Fetcher::afterListings() {
  if (step_ == Step::Finished) return;
  stats_.listed = static_cast<std::uint32_t>(listing_.size());
  digest_numbers_ = numbersNeedingDigest(listing_, have_uidl_);
  if (have_uidl_ && !digest_numbers_.empty()) {
    log(LogSeverity::Warn, log_name_, digest_numbers_.size(),
        " messages repeat another's UIDL: keyed by UIDL, headers and size");
  }
  requestDigests();
}

void Fetcher::requestDigests() {
  if (step_ == Step::Finished) return;
  if (digests_done_ == digest_numbers_.size()) {
    loadLedger();
    return;
  }
  while (digest_index_ < digest_numbers_.size() && pending_.size() < window()) {
    Pending pending;
    pending.number = digest_numbers_[digest_index_++];
    send(Command::Top, pop3::encodeCommand("TOP", pending.number, 0),
         pop3::ReplyKind::MultiLineBlock, std::move(pending));
  }
}

void Fetcher::readLedger() {
  // Read while UIDL is under way, so a poll does not wait for it afterwards. Not earlier: the
  // server locks the maildrop at login (RFC 1939 4), so any other session of this maildrop
  // (whose commits all precede its QUIT) is over and its ledger rows are in this read.
  std::weak_ptr<bool> alive = alive_;
  user_.read<store::Result<std::vector<store::LedgerEntry>>>(
      [account = account_.name](store::UserStore& s) { return s.ledgerRows(account); },
      [this, alive](store::Result<std::vector<store::LedgerEntry>> ledger) {
        if (alive.expired() || step_ == Step::Finished) return;
        if (!ledger) return failWith("cannot read the ledger: " + ledger.error().message);
        ledger_ = std::move(*ledger);
        // Either the listings are complete and only the plan waited, or LIST waits for it.
        if (step_ == Step::Ledger) return loadLedger();
        askSizes();
      });
}

void Fetcher::loadLedger() {
  if (planning_) return;
  step_ = Step::Ledger;
  armTimeout();
  if (!ledger_) return;  // readLedger() calls again when the rows arrive
  planning_ = true;
  keyed_ = assignKeys(listing_);
  // Rows of messages deleted from the server (confirmed or not) that it no longer lists are
  // done with.
  std::unordered_set<std::string_view> listed;
  listed.reserve(keyed_.size());
  for (const KeyedMessage& message : keyed_) listed.insert(message.key);
  std::vector<std::string> gone;
  std::erase_if(*ledger_, [&](store::LedgerEntry& entry) {
    if (entry.state == store::LedgerState::Stored || listed.count(entry.uidl) != 0) return false;
    gone.push_back(std::move(entry.uidl));
    return true;
  });
  if (gone.empty()) return planFromLedger();  // the common poll: nothing to write
  std::weak_ptr<bool> alive = alive_;
  user_.read<store::Result<void>>(
      [account = account_.name, gone = std::move(gone)](store::UserStore& s) {
        return s.forgetLedgerRows(account, gone);
      },
      [this, alive](store::Result<void> forgotten) {
        if (alive.expired() || step_ == Step::Finished) return;
        if (!forgotten) return failWith("cannot update the ledger: " + forgotten.error().message);
        planFromLedger();
      });
}

void Fetcher::planFromLedger() {
  PullPlan plan = planPull(keyed_, *ledger_, policy_, unixNow());
  LimitedFetch limited = limitFetch(plan.fetch, SessionLimits::of(account_));
  to_fetch_ = std::move(limited.fetch);
  to_delete_ = std::move(plan.remove);
  noteOversize(limited.oversize);
  stats_.deferred = static_cast<std::uint32_t>(limited.deferred);
  if (limited.deferred > 0) {
    log(LogSeverity::Info, log_name_, "per-session limit reached: ", limited.deferred,
        " new messages left for the next poll");
  }
  log(LogSeverity::Debug, log_name_, keyed_.size(), " on server, ", plan.fetch.size(), " new, ",
      to_fetch_.size(), " to fetch now, ", to_delete_.size(), " to delete",
      capabilities_.pipelining ? " (pipelined)" : "");
  step_ = Step::Transfer;
  transfer_.messages_total = static_cast<std::uint32_t>(to_fetch_.size());
  for (const KeyedMessage& message : to_fetch_) transfer_.bytes_total += message.size;
  if (progress_) progress_(transfer_);
  pump();
}

void Fetcher::noteOversize(const std::vector<KeyedMessage>& oversize) {
  const bool skip = account_.oversize == config::Oversize::Skip;
  if (skip) stats_.oversize_skipped = static_cast<std::uint32_t>(oversize.size());
  for (const KeyedMessage& message : oversize) {
    if (!firstOversizeReport(log_name_ + " " + message.key)) continue;
    log(skip ? LogSeverity::Warn : LogSeverity::Info, log_name_, "message ", message.number, " (",
        message.size, " octets) is over max_message_size ", account_.max_message_size,
        skip ? ": left on the server" : ": fetched anyway (oversize fetch)");
  }
}

bool Fetcher::stagingFull() const {
  return uncommitted_ >= kMaxUncommitted || batch_bytes_ >= kMaxUncommittedBytes;
}

void Fetcher::pump() {
  if (step_ != Step::Transfer) return;
  while (pending_.size() < window()) {
    // Only messages whose commit has returned are in to_delete_, so no DELE precedes its
    // message's durability. Each goes out as soon as its batch has committed, between the RETRs
    // of later messages, instead of after the last download: the server applies none before
    // its +OK to QUIT (RFC 1939 6), so a session cut short still has every message on the
    // server, and the ledger keeps them DeletePending until that +OK.
    if (delete_index_ < to_delete_.size()) {
      const KeyedMessage& message = to_delete_[delete_index_++];
      Pending pending;
      pending.number = message.number;
      pending.key = message.key;
      send(Command::Dele, pop3::encodeCommand("DELE", message.number), pop3::ReplyKind::SingleLine,
           std::move(pending));
      continue;
    }
    if (fetch_index_ < to_fetch_.size() && !stagingFull()) {
      const KeyedMessage& message = to_fetch_[fetch_index_++];
      Pending pending;
      pending.number = message.number;
      pending.download = std::make_shared<Download>();
      pending.download->number = message.number;
      pending.download->key = message.key;
      pending.download->listed_size = message.size;
      ++downloads_open_;
      ++uncommitted_;
      send(Command::Retr, pop3::encodeCommand("RETR", message.number),
           pop3::ReplyKind::MultiLineBlock, std::move(pending));
      continue;
    }
    break;
  }
  armTimeout();
  const bool idle = pending_.empty() && fetch_index_ == to_fetch_.size() && downloads_open_ == 0 &&
                    batch_.empty() && !commit_in_flight_ && delete_index_ == to_delete_.size();
  if (idle) quit();
}

void Fetcher::updateReading() {
  if (!connection_ || step_ == Step::Finished) return;
  if (!reading_paused_ && buffered_ >= kMaxBuffered) {
    // The disk is slower than the network: let the server wait instead of buffering more.
    connection_->stopReading();
    reading_paused_ = true;
    armTimeout();
  } else if (reading_paused_ && buffered_ < kMaxBuffered / 2) {
    reading_paused_ = false;
    connection_->startReading();
    armTimeout();
  }
}

void Fetcher::stageReady() {
  if (ready_.empty() || step_ == Step::Finished) return;
  // One worker job stages every small message that completed in one read: a job per message
  // cost a thread wake-up and a completion on the loop each, for a 12 KB median message.
  auto group = std::make_shared<std::vector<std::shared_ptr<Download>>>(std::move(ready_));
  ready_.clear();
  auto chunks = std::make_shared<std::vector<std::string>>();
  chunks->reserve(group->size());
  for (const auto& download : *group) {
    download->write_in_flight = true;
    download->handed = true;
    buffered_ -= download->buffer.size();
    chunks->push_back(std::move(download->buffer));
    download->buffer.clear();
  }
  std::weak_ptr<bool> alive = alive_;
  runOnWorker(
      loop_,
      [group, chunks, store = user_.store()] {
        for (std::size_t i = 0; i < group->size(); ++i) (*group)[i]->stage(*store, (*chunks)[i]);
        chunks->clear();
      },
      [this, alive, group] {
        if (alive.expired()) return;
        for (const auto& download : *group) download->write_in_flight = false;
        if (step_ == Step::Finished) return;
        updateReading();
        for (const auto& download : *group) {
          if (download->error) {
            return failWith("cannot stage a message: " + download->error->message);
          }
          onMessageWritten(download);
          if (step_ == Step::Finished) return;
        }
      });
}

void Fetcher::flushBody(const std::shared_ptr<Download>& download) {
  download->write_in_flight = true;
  download->handed = true;
  std::weak_ptr<bool> alive = alive_;
  std::string chunk;
  chunk.swap(download->buffer);
  buffered_ -= chunk.size();
  runOnWorker(
      loop_,
      [download, store = user_.store(), chunk = std::move(chunk)] {
        download->stage(*store, chunk);
      },
      [this, alive, download] {
        if (alive.expired()) return;
        download->write_in_flight = false;
        if (step_ == Step::Finished) return;
        if (download->error) {
          return failWith("cannot stage a message: " + download->error->message);
        }
        updateReading();
        if (!download->buffer.empty() &&
            (download->complete || download->buffer.size() >= kWriteChunk)) {
          flushBody(download);
          return;
        }
        if (download->complete) onMessageWritten(download);
      });
}

void Fetcher::onMessageWritten(const std::shared_ptr<Download>& download) {
  const std::uint64_t size = download->staged->size();
  if (download->listed_size != 0 && download->listed_size != size) {
    // RFC 1939 5 asks for exact sizes; servers that count bare LFs or stored sizes differ. What
    // arrived (with CRLF line ends) is what is kept.
    log(LogSeverity::Info, log_name_, "message ", download->number, ": LIST said ",
        download->listed_size, " octets, received ", size);
  }
  --downloads_open_;
  batch_bytes_ += size;
  ++transfer_.messages_done;
  transfer_.bytes_done += size;
  if (progress_) progress_(transfer_);
  batch_.push_back(download);
  commitBatch();
  pump();
}

void Fetcher::commitBatch() {
  if (commit_in_flight_ || batch_.empty()) return;
  if (downloads_open_ > 0 && batch_.size() < kMinBatchMessages && batch_bytes_ < kMinBatchBytes) {
    return;  // the next download to finish calls again
  }
  commit_in_flight_ = true;
  // Take what is staged, up to one batch's worth.
  std::size_t take = 0;
  std::uint64_t bytes = 0;
  while (take < batch_.size() && take < kBatchMessages && (take == 0 || bytes < kBatchBytes)) {
    bytes += batch_[take]->staged->size();
    ++take;
  }
  auto batch = std::make_shared<std::vector<std::shared_ptr<Download>>>(
      batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(take));
  batch_.erase(batch_.begin(), batch_.begin() + static_cast<std::ptrdiff_t>(take));
  batch_bytes_ -= bytes;
  std::weak_ptr<bool> alive = alive_;
  const store::LedgerState state = stateOnCommit(policy_);
  // Filled on the worker after the commit, read on the loop after the worker finished.
  auto usage = std::make_shared<std::optional<store::QuotaUsage>>();
  user_.write(
      [batch, state, account = account_.name, folder = account_.folder,
       usage](store::UserStore& s) -> store::Result<store::ChangeSet> {
        if (auto box = s.mailbox(folder); !box) {
          if (box.error().code != store::ErrorCode::NotFound) return fail(box.error());
          if (auto created = s.createMailbox(folder); !created) return fail(created.error());
        }
        std::vector<store::NewMessage> messages;
        messages.reserve(batch->size());
        const std::int64_t now = unixNow();
        for (const auto& download : *batch) {
          messages.push_back(store::NewMessage{std::move(*download->staged), now, 0, store::Flags{},
                                               store::LedgerKey{account, download->key, state}});
        }
        // Durable on return: blobs fsynced and the rows with their ledger entries committed.
        // No quota limits: a pull is never refused for quota (the mail would stay upstream).
        auto committed = s.append(folder, std::move(messages));
        if (committed) {
          if (auto now_used = s.quotaUsage()) *usage = *now_used;
        }
        return committed;
      },
      [this, alive, batch, state, usage](store::Result<store::ChangeSet> changes) {
        if (alive.expired()) return;
        commit_in_flight_ = false;
        uncommitted_ -= batch->size();
        if (step_ == Step::Finished) {
          // A failure waited for this commit before reporting (see start()).
          if (deferred_) {
            Result<PullStats, PullError> result = std::move(*deferred_);
            deferred_.reset();
            finish(std::move(result));
          }
          return;
        }
        if (!changes) return failWith("cannot store messages: " + changes.error().message);
        std::uint64_t bytes_committed = 0;
        for (const store::MessageInfo& message : changes->appended) bytes_committed += message.size;
        if (*usage) user_.notePulledUsage(**usage);
        stats_.fetched += static_cast<std::uint32_t>(changes->appended.size());
        stats_.bytes += bytes_committed;
        log(LogSeverity::Debug, log_name_, "committed ", changes->appended.size(), " messages to ",
            account_.folder);
        if (state == store::LedgerState::DeletePending) {
          for (const auto& download : *batch) {
            to_delete_.push_back(KeyedMessage{download->number, download->key, 0});
          }
        }
        commitBatch();
        pump();
      });
}

void Fetcher::quit() {
  step_ = Step::Quit;
  sendText(Command::Quit, "QUIT", {}, pop3::ReplyKind::SingleLine);
}

void Fetcher::onQuitReply(const pop3::Status& status) {
  quit_answered_ = true;
  if (!status.ok) {
    // RFC 1939 6: without +OK to QUIT no deletion took effect; they stay pending.
    log(LogSeverity::Warn, log_name_, "QUIT refused, deletions not applied: ", describe(status));
    dele_confirmed_.clear();
  }
  timeout_.stop();
  connection_->close();
  if (dele_confirmed_.empty()) {
    finish(stats_);
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  const auto count = static_cast<std::uint32_t>(dele_confirmed_.size());
  user_.read<store::Result<void>>(
      [account = account_.name, keys = std::move(dele_confirmed_)](store::UserStore& s) {
        return s.setLedgerState(account, keys, store::LedgerState::Deleted);
      },
      [this, alive, count](store::Result<void> recorded) {
        if (alive.expired()) return;
        if (!recorded) {
          // Still pending: the next pull finds the row while the server no longer lists the
          // message, and forgets it.
          log(LogSeverity::Warn, log_name_,
              "could not record deletions: ", recorded.error().message);
        } else {
          stats_.deleted = count;
        }
        finish(stats_);
      });
}

void Fetcher::finish(Result<PullStats, PullError> result) {
  if (step_ != Step::Finished) {
    step_ = Step::Finished;
    timeout_.stop();
    if (connection_ && !connection_->closed()) connection_->closeAfterWrite();
  }
  if (commit_in_flight_) {
    deferred_ = std::move(result);
    return;
  }
  busy_.reset();
  if (done_) {
    progress_ = nullptr;
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }
}

void Fetcher::failWith(PullFailure kind, std::string reason) {
  if (step_ == Step::Finished) return;
  if (connection_) connection_->close();
  finish(fail(PullError{kind, std::move(reason)}));
}

}  // namespace popbridge::proxy::pop
