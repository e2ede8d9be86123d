#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "protocols/common/result.h"
#include "protocols/pop3/parsers.h"
#include "protocols/pop3/reply_reader.h"
#include "proxy/config/config.h"
#include "proxy/core/connection.h"
#include "proxy/core/timer.h"
#include "store/types.h"

namespace popbridge::proxy {
class UserContext;
}

namespace popbridge::proxy::pop {

// What one pull did.
struct PullStats {
  std::uint32_t listed = 0;   // messages on the server
  std::uint32_t fetched = 0;  // new messages committed to the store
  std::uint32_t deleted = 0;  // DELEs the server confirmed by its +OK to QUIT
  std::uint64_t bytes = 0;    // body bytes committed
};

// One POP3 session for one account, following the pull in DESIGN.md:
// connect (implicit TLS or STLS), CAPA, USER/PASS, UIDL; RETR each message the ledger has not
// seen, streaming it to a staged store file on worker threads; commit batches durably (blob
// and ledger row in one transaction); only then DELE what the retention policy deletes; QUIT,
// and record the deletes only after the server's +OK to QUIT.
// Loop thread only. Destroying a Fetcher closes its connection; `done` is not called then.
class Fetcher {
 public:
  using Done = std::function<void(Result<PullStats, std::string>)>;

  // `account` and `user` must outlive the fetcher. `tls` is the client context for the
  // account (null when tls is none).
  Fetcher(uv_loop_t* loop, const config::PopAccount& account, UserContext& user,
          std::shared_ptr<tls::Context> tls);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Starts the pull; `done` runs once, on the loop thread, at the end.
  void start(Done done);
  const std::string& logName() const { return log_name_; }

 private:
  enum class Step {
    Connecting,
    Greeting,
    Capa,
    Stls,
    Handshake,
    User,
    Pass,
    AuthPlain,
    Uidl,
    Ledger,
    Retr,
    Commit,
    Dele,
    Quit,
    Finished
  };
  struct Download;  // one message being written to the store

  void onConnected(Result<std::unique_ptr<Connection>, NetError> connection);
  void onData(std::string_view bytes);
  void onEvent(pop3::ReplyEvent& event);
  void onStatus(const pop3::Status& status);
  void onBodyLine(std::string_view line);
  void onEnd();

  void send(std::string_view verb, std::string_view arg, pop3::ReplyKind kind);
  void sendNumber(std::string_view verb, std::uint32_t number, pop3::ReplyKind kind);
  void expect(Step step, pop3::ReplyKind kind);
  void authenticate();
  void afterCapabilities();
  void loadLedger();
  void planFromLedger(std::vector<store::LedgerEntry> ledger);
  void retrieveNext();
  void flushBody(bool last);
  void onMessageWritten();
  void commitBatch();
  void deleteNext();
  void quit();
  void finish(Result<PullStats, std::string> result);
  void failWith(std::string reason);
  void armTimeout();

  uv_loop_t* loop_;
  const config::PopAccount& account_;
  UserContext& user_;
  std::shared_ptr<tls::Context> tls_;
  std::string log_name_;
  Done done_;

  std::unique_ptr<Connection> connection_;
  pop3::ReplyReader reader_;
  Timer timeout_;
  Step step_ = Step::Connecting;
  bool secure_ = false;
  pop3::Capabilities capabilities_;
  std::vector<std::string> lines_;  // collected lines of CAPA / UIDL

  struct ServerMessage {
    std::uint32_t number;
    std::string uidl;
  };
  std::vector<ServerMessage> listing_;  // UIDL, first occurrence of each uid
  std::vector<ServerMessage> to_fetch_;
  std::vector<ServerMessage> to_delete_;  // committed and due for DELE
  std::size_t fetch_index_ = 0;
  std::size_t delete_index_ = 0;
  std::vector<std::string> dele_confirmed_;  // +OK to DELE; final only after +OK to QUIT

  std::shared_ptr<Download> download_;  // the message being received
  std::string body_buffer_;             // received, not yet handed to a worker
  bool write_in_flight_ = false;
  bool reading_paused_ = false;                 // the staged file is behind the network
  bool body_complete_ = false;
  std::vector<std::shared_ptr<Download>> batch_;  // written, not yet committed
  std::uint64_t batch_bytes_ = 0;
  bool commit_in_flight_ = false;

  PullStats stats_;
  std::shared_ptr<bool> alive_;  // completions check it (STYLE.md 5.4)
};

}  // namespace popbridge::proxy::pop
