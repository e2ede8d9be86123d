#include "proxy/pop/fetcher.h"

#include <chrono>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "protocols/pop3/commands.h"
#include "proxy/core/worker.h"
#include "proxy/server/log.h"
#include "proxy/server/user_context.h"
#include "store/user_store.h"

namespace popbridge::proxy::pop {
namespace {

// Body bytes handed to a worker per write; bounds what a download holds in memory.
constexpr std::size_t kWriteChunk = 256 * 1024;
// Received body bytes held while a write is in flight before reading pauses.
constexpr std::size_t kMaxBuffered = 4 * 1024 * 1024;
// A commit batch: one fsync round and one transaction for this many messages or bytes.
constexpr std::size_t kBatchMessages = 100;
constexpr std::uint64_t kBatchBytes = 32 * 1024 * 1024;
constexpr auto kConnectTimeout = std::chrono::seconds(30);
// No byte from the server for this long ends the session (RFC 1939 3: servers time out idle
// clients after 10 minutes; a client waiting longer for one reply gains nothing).
constexpr auto kReplyTimeout = std::chrono::seconds(60);

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

}  // namespace

struct Fetcher::Download {
  std::uint32_t number = 0;
  std::string uidl;
  std::optional<store::StagedMessage> staged;  // touched by one thread at a time
  std::optional<store::Error> error;
};

Fetcher::Fetcher(uv_loop_t* loop, const config::PopAccount& account, UserContext& user,
                 std::shared_ptr<tls::Context> tls)
    : loop_(loop),
      account_(account),
      user_(user),
      tls_(std::move(tls)),
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
  if (!batch_.empty() || download_) {
    runOnWorker(
        loop_,
        [batch = std::move(batch_), download = std::move(download_)]() mutable {
          batch.clear();
          download.reset();
        },
        [] {});
  }
}

void Fetcher::start(Done done) {
  done_ = std::move(done);
  step_ = Step::Connecting;
  log(LogSeverity::Debug, log_name_, "connecting to ", account_.host, ":", account_.port);
  std::weak_ptr<bool> alive = alive_;
  Connection::connect(loop_, account_.host, account_.port, kConnectTimeout,
                      [this, alive](Result<std::unique_ptr<Connection>, NetError> connection) {
                        if (alive.expired()) return;
                        onConnected(std::move(connection));
                      });
}

void Fetcher::onConnected(Result<std::unique_ptr<Connection>, NetError> connection) {
  if (!connection) {
    failWith(connection.error().message);
    return;
  }
  connection_ = std::move(*connection);
  Connection::Callbacks callbacks;
  callbacks.on_data = [this](std::string_view bytes) { onData(bytes); };
  callbacks.on_close = [this](std::optional<NetError> error) {
    if (step_ == Step::Finished) return;
    // A last line without CRLF still counts (RFC 1939 servers that close right after it).
    reader_.finish();
    onData({});
    if (step_ == Step::Finished) return;
    failWith(error ? error->message : std::string("the server closed the connection"));
  };
  callbacks.on_tls_ready = [this] {
    secure_ = true;
    if (step_ == Step::Handshake) {
      // RFC 2595 4: after STLS the capabilities are asked again.
      send("CAPA", {}, pop3::ReplyKind::MultiLine);
      step_ = Step::Capa;
    }
  };
  connection_->setCallbacks(std::move(callbacks));
  connection_->startReading();
  if (account_.tls == config::TlsMode::Implicit) {
    connection_->startTls(tls_, TlsRole::Client, account_.host);
  }
  expect(Step::Greeting, pop3::ReplyKind::SingleLine);
  armTimeout();
}

void Fetcher::armTimeout() {
  timeout_.start(std::chrono::duration_cast<std::chrono::milliseconds>(kReplyTimeout),
                 [this] { failWith("timed out waiting for the server"); });
}

void Fetcher::expect(Step step, pop3::ReplyKind kind) {
  step_ = step;
  reader_.expect(kind);
}

void Fetcher::send(std::string_view verb, std::string_view arg, pop3::ReplyKind kind) {
  auto line = pop3::encodeCommand(verb, arg);
  if (!line) {
    failWith("cannot send " + std::string(verb) + ": " + line.error().message);
    return;
  }
  reader_.expect(kind);
  connection_->write(std::move(*line));
  armTimeout();
}

void Fetcher::sendNumber(std::string_view verb, std::uint32_t number, pop3::ReplyKind kind) {
  reader_.expect(kind);
  connection_->write(pop3::encodeCommand(verb, number));
  armTimeout();
}

void Fetcher::onData(std::string_view bytes) {
  if (step_ == Step::Finished) return;
  if (!bytes.empty()) {
    reader_.feed(bytes);
    armTimeout();
  }
  while (step_ != Step::Finished) {
    pop3::ReplyEvent event = reader_.next();
    if (std::holds_alternative<pop3::NeedMore>(event)) return;
    onEvent(event);
  }
}

void Fetcher::onEvent(pop3::ReplyEvent& event) {
  if (auto* error = std::get_if<pop3::ReplyError>(&event)) {
    failWith("protocol error: " + error->message);
  } else if (auto* status = std::get_if<pop3::Status>(&event)) {
    onStatus(*status);
  } else if (auto* line = std::get_if<pop3::BodyLine>(&event)) {
    if (step_ == Step::Retr) {
      onBodyLine(line->text);
    } else {
      lines_.emplace_back(line->text);
    }
  } else if (std::holds_alternative<pop3::End>(event)) {
    onEnd();
  } else if (step_ == Step::AuthPlain) {
    // The initial response went with AUTH; a server that still asks gets an empty response,
    // and its verdict follows (RFC 5034 4).
    connection_->write("\r\n");
  } else {
    failWith("unexpected SASL continuation");
  }
}

void Fetcher::onStatus(const pop3::Status& status) {
  switch (step_) {
    case Step::Greeting:
      if (!status.ok) return failWith("server refused the connection: " + describe(status));
      lines_.clear();
      send("CAPA", {}, pop3::ReplyKind::MultiLine);
      step_ = Step::Capa;
      return;
    case Step::Capa:
      lines_.clear();
      if (!status.ok) {
        // RFC 2449 is optional: a server without CAPA gets the RFC 1939 basics.
        capabilities_ = pop3::Capabilities{};
        afterCapabilities();
      }
      return;
    case Step::Stls:
      if (!status.ok) return failWith("the server refused STLS: " + describe(status));
      step_ = Step::Handshake;
      connection_->startTls(tls_, TlsRole::Client, account_.host);
      return;
    case Step::User:
      if (!status.ok) return failWith("login failed (USER): " + describe(status));
      send("PASS", account_.password, pop3::ReplyKind::SingleLine);
      step_ = Step::Pass;
      return;
    case Step::Pass:
    case Step::AuthPlain:
      if (!status.ok) return failWith("login failed: " + describe(status));
      lines_.clear();
      send("UIDL", {}, pop3::ReplyKind::MultiLine);
      step_ = Step::Uidl;
      return;
    case Step::Uidl:
      if (!status.ok) return failWith("the server does not support UIDL: " + describe(status));
      return;
    case Step::Retr:
      if (!status.ok) {
        // The message went away (another client deleted it): skip it, keep the rest.
        log(LogSeverity::Warn, log_name_, "RETR ", download_->number,
            " refused: ", describe(status));
        download_.reset();
        ++fetch_index_;
        retrieveNext();
      }
      return;
    case Step::Dele:
      if (status.ok) {
        dele_confirmed_.push_back(to_delete_[delete_index_ - 1].uidl);
      } else {
        log(LogSeverity::Warn, log_name_, "DELE refused: ", describe(status));
      }
      deleteNext();
      return;
    case Step::Quit: {
      if (!status.ok) {
        // RFC 1939 6: without +OK to QUIT no deletion took effect; they stay pending.
        log(LogSeverity::Warn, log_name_,
            "QUIT refused, deletions not applied: ", describe(status));
        dele_confirmed_.clear();
      }
      step_ = Step::Finished;
      timeout_.stop();
      connection_->close();
      if (dele_confirmed_.empty()) {
        finish(stats_);
        return;
      }
      std::weak_ptr<bool> alive = alive_;
      const auto count = static_cast<std::uint32_t>(dele_confirmed_.size());
      user_.read<store::Result<void>>(
          [account = account_.name, uidls = std::move(dele_confirmed_)](store::UserStore& s) {
            return s.setLedgerState(account, uidls, store::LedgerState::Deleted);
          },
          [this, alive, count](store::Result<void> recorded) {
            if (alive.expired()) return;
            if (!recorded) {
              // Still DeletePending: the next pull sends DELE again, which is harmless.
              log(LogSeverity::Warn, log_name_,
                  "could not record deletions: ", recorded.error().message);
            } else {
              stats_.deleted = count;
            }
            finish(stats_);
          });
      return;
    }
    default:
      failWith("unexpected reply from the server");
      return;
  }
}

void Fetcher::onEnd() {
  switch (step_) {
    case Step::Capa:
      capabilities_ = pop3::parseCapabilities(lines_);
      lines_.clear();
      afterCapabilities();
      return;
    case Step::Uidl: {
      std::unordered_set<std::string> seen;
      for (const std::string& line : lines_) {
        auto entry = pop3::parseUidlLine(line);
        if (!entry) return failWith("bad UIDL line: " + entry.error().message);
        // Two messages under one UIDL cannot be told apart: only the first is taken.
        if (!seen.insert(entry->uid).second) {
          log(LogSeverity::Warn, log_name_, "duplicate UIDL ", entry->uid, " ignored");
          continue;
        }
        listing_.push_back(ServerMessage{entry->number, entry->uid});
      }
      lines_.clear();
      stats_.listed = static_cast<std::uint32_t>(listing_.size());
      loadLedger();
      return;
    }
    case Step::Retr:
      body_complete_ = true;
      if (!write_in_flight_) flushBody(true);
      return;
    default:
      failWith("unexpected end of a multi-line reply");
      return;
  }
}

void Fetcher::afterCapabilities() {
  if (account_.tls == config::TlsMode::Starttls && !secure_) {
    send("STLS", {}, pop3::ReplyKind::SingleLine);
    step_ = Step::Stls;
    return;
  }
  authenticate();
}

void Fetcher::authenticate() {
  const bool plain = std::find(capabilities_.sasl.begin(), capabilities_.sasl.end(), "PLAIN") !=
                     capabilities_.sasl.end();
  if (!capabilities_.user && plain) {
    // RFC 5034 with an initial response.
    send("AUTH", "PLAIN " + pop3::saslPlainInitial({}, account_.username, account_.password),
         pop3::ReplyKind::SaslContinuation);
    step_ = Step::AuthPlain;
    return;
  }
  send("USER", account_.username, pop3::ReplyKind::SingleLine);
  step_ = Step::User;
}

void Fetcher::loadLedger() {
  step_ = Step::Ledger;
  timeout_.stop();
  std::weak_ptr<bool> alive = alive_;
  std::vector<std::string> listed;
  listed.reserve(listing_.size());
  for (const ServerMessage& message : listing_) listed.push_back(message.uidl);
  user_.read<store::Result<std::vector<store::LedgerEntry>>>(
      [account = account_.name, listed = std::move(listed)](store::UserStore& s) {
        // Rows of messages the server has deleted and no longer lists are done with.
        if (auto forgotten = s.forgetLedger(account, listed); !forgotten) {
          return store::Result<std::vector<store::LedgerEntry>>(fail(forgotten.error()));
        }
        return s.ledger(account);
      },
      [this, alive](store::Result<std::vector<store::LedgerEntry>> ledger) {
        if (alive.expired() || step_ == Step::Finished) return;
        if (!ledger) return failWith("cannot read the ledger: " + ledger.error().message);
        planFromLedger(std::move(*ledger));
      });
}

void Fetcher::planFromLedger(std::vector<store::LedgerEntry> ledger) {
  std::unordered_map<std::string, store::LedgerState> known;
  for (store::LedgerEntry& entry : ledger) known.emplace(std::move(entry.uidl), entry.state);
  for (const ServerMessage& message : listing_) {
    const auto it = known.find(message.uidl);
    if (it == known.end()) {
      to_fetch_.push_back(message);
      continue;
    }
    // Committed earlier. Deletes that never got their +OK to QUIT are sent again.
    const bool pending = it->second != store::LedgerState::Stored;
    if (pending || account_.retention == config::Retention::Delete) to_delete_.push_back(message);
  }
  log(LogSeverity::Debug, log_name_, listing_.size(), " on server, ", to_fetch_.size(), " new, ",
      to_delete_.size(), " to delete");
  retrieveNext();
}

void Fetcher::retrieveNext() {
  if (step_ == Step::Finished) return;
  if (fetch_index_ < to_fetch_.size()) {
    const ServerMessage& message = to_fetch_[fetch_index_];
    download_ = std::make_shared<Download>();
    download_->number = message.number;
    download_->uidl = message.uidl;
    body_buffer_.clear();
    body_complete_ = false;
    sendNumber("RETR", message.number, pop3::ReplyKind::MultiLine);
    step_ = Step::Retr;
    return;
  }
  if (!batch_.empty()) {
    commitBatch();
    return;
  }
  deleteNext();
}

void Fetcher::onBodyLine(std::string_view line) {
  // Lines arrive unstuffed and without their terminator; the store keeps CRLF (RFC 5322).
  body_buffer_.append(line);
  body_buffer_.append("\r\n");
  if (body_buffer_.size() < kWriteChunk) return;
  if (!write_in_flight_) {
    flushBody(false);
  } else if (body_buffer_.size() >= kMaxBuffered && !reading_paused_) {
    // The disk is slower than the network: let the server wait instead of buffering more.
    connection_->stopReading();
    reading_paused_ = true;
  }
}

void Fetcher::flushBody(bool last) {
  (void)last;
  write_in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  std::string chunk;
  chunk.swap(body_buffer_);
  runOnWorker(
      loop_,
      [download = download_, store = user_.store(), chunk = std::move(chunk)] {
        if (download->error) return;
        if (!download->staged) {
          auto staged = store->stageMessage();
          if (!staged) {
            download->error = staged.error();
            return;
          }
          download->staged.emplace(std::move(*staged));
        }
        if (chunk.empty()) return;
        if (auto written = download->staged->write(chunk); !written) {
          download->error = written.error();
        }
      },
      [this, alive, download = download_] {
        if (alive.expired() || step_ == Step::Finished || download != download_) return;
        write_in_flight_ = false;
        if (download->error) return failWith("cannot stage a message: " + download->error->message);
        if (reading_paused_) {
          reading_paused_ = false;
          connection_->startReading();
        }
        if (!body_buffer_.empty() && (body_complete_ || body_buffer_.size() >= kWriteChunk)) {
          flushBody(body_complete_);
          return;
        }
        if (body_complete_) onMessageWritten();
      });
}

void Fetcher::onMessageWritten() {
  const std::uint64_t size = download_->staged->size();
  batch_bytes_ += size;
  batch_.push_back(std::move(download_));
  ++fetch_index_;
  if (batch_.size() >= kBatchMessages || batch_bytes_ >= kBatchBytes) {
    commitBatch();
  } else {
    retrieveNext();
  }
}

void Fetcher::commitBatch() {
  step_ = Step::Commit;
  timeout_.stop();
  commit_in_flight_ = true;
  std::weak_ptr<bool> alive = alive_;
  auto batch = std::make_shared<std::vector<std::shared_ptr<Download>>>(std::move(batch_));
  batch_.clear();
  batch_bytes_ = 0;
  const store::LedgerState state = account_.retention == config::Retention::Delete
                                       ? store::LedgerState::DeletePending
                                       : store::LedgerState::Stored;
  user_.write(
      [batch, state, account = account_.name,
       folder = account_.folder](store::UserStore& s) -> store::Result<store::ChangeSet> {
        if (auto box = s.mailbox(folder); !box) {
          if (box.error().code != store::ErrorCode::NotFound) return fail(box.error());
          if (auto created = s.createMailbox(folder); !created) return fail(created.error());
        }
        std::vector<store::NewMessage> messages;
        messages.reserve(batch->size());
        const std::int64_t now = unixNow();
        for (const auto& download : *batch) {
          messages.push_back(store::NewMessage{std::move(*download->staged), now, 0, store::Flags{},
                                               store::LedgerKey{account, download->uidl, state}});
        }
        // Durable on return: blobs fsynced and the rows with their ledger entries committed.
        return s.append(folder, std::move(messages));
      },
      [this, alive, batch](store::Result<store::ChangeSet> changes) {
        if (alive.expired()) return;
        commit_in_flight_ = false;
        if (step_ == Step::Finished) return;
        if (!changes) return failWith("cannot store messages: " + changes.error().message);
        std::uint64_t bytes = 0;
        for (const store::MessageInfo& message : changes->appended) bytes += message.size;
        stats_.fetched += static_cast<std::uint32_t>(changes->appended.size());
        stats_.bytes += bytes;
        log(LogSeverity::Debug, log_name_, "committed ", changes->appended.size(), " messages to ",
            account_.folder);
        if (account_.retention == config::Retention::Delete) {
          for (const auto& download : *batch) {
            to_delete_.push_back(ServerMessage{download->number, download->uidl});
          }
        }
        armTimeout();
        retrieveNext();
      });
}

void Fetcher::deleteNext() {
  if (step_ == Step::Finished) return;
  // Only messages whose commit has returned are here: the DELE never precedes durability.
  if (delete_index_ < to_delete_.size()) {
    const ServerMessage& message = to_delete_[delete_index_++];
    sendNumber("DELE", message.number, pop3::ReplyKind::SingleLine);
    step_ = Step::Dele;
    return;
  }
  quit();
}

void Fetcher::quit() {
  send("QUIT", {}, pop3::ReplyKind::SingleLine);
  step_ = Step::Quit;
}

void Fetcher::finish(Result<PullStats, std::string> result) {
  step_ = Step::Finished;
  timeout_.stop();
  if (connection_ && !connection_->closed()) connection_->closeAfterWrite();
  if (done_) {
    Done done = std::move(done_);
    done_ = nullptr;
    done(std::move(result));
  }
}

void Fetcher::failWith(std::string reason) {
  if (step_ == Step::Finished) return;
  if (connection_) connection_->close();
  finish(fail(std::move(reason)));
}

}  // namespace popbridge::proxy::pop
