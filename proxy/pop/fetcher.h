#pragma once

#include <uv.h>

#include <chrono>
#include <cstdint>
#include <deque>
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
#include "proxy/core/worker.h"
#include "proxy/pop/pull_plan.h"
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
  // New messages left on the server: over max_message_size with oversize skip, and those the
  // per-session caps leave for the next session.
  std::uint32_t oversize_skipped = 0;
  std::uint32_t deferred = 0;
  std::string auth_mechanism;  // how the session logged in: "USER", "APOP", "SASL PLAIN", ...
  // The server's EXPIRE (RFC 2449 6.7) as it stood after login (UINT32_MAX: NEVER), and whether
  // it deletes mail earlier than the account's retention asks (also logged as a warning).
  std::optional<std::uint32_t> expire_days;
  bool expire_conflict = false;
};

// How far a pull's transfer is: the new messages it fetches, with totals from LIST sizes.
struct TransferProgress {
  std::uint32_t messages_total = 0;
  std::uint32_t messages_done = 0;  // downloaded to a staged file (committed in batches)
  std::uint64_t bytes_total = 0;
  std::uint64_t bytes_done = 0;
};

// How a pull failed, for the scheduler's retry decision (RFC 2449 8.1 and RFC 3206 codes).
enum class PullFailure {
  Temporary,   // network, timeout, protocol error, -ERR [SYS/TEMP], a store error: back off
  InUse,       // -ERR [IN-USE]: another session holds the maildrop; retry later
  LoginDelay,  // -ERR [LOGIN-DELAY]: logged in too soon; wait at least the advertised delay
  Auth,        // -ERR [AUTH] (or a refused login without AUTH-RESP-CODE): credentials rejected
  Permanent,   // -ERR [SYS/PERM], refused STLS, no way to key messages: needs a human
};

struct PullError {
  PullFailure kind = PullFailure::Temporary;
  std::string message;
};

// Returns the config-style name of a failure kind ("temporary", "in-use", ...). Pure.
std::string_view toString(PullFailure kind);

// One POP3 session for one account, following the pull in DESIGN.md:
// connect (implicit TLS or STLS), CAPA, log in (USER/PASS, APOP, or SASL PLAIN, LOGIN or XOAUTH2
// as the account's `auth` says; CAPA again after login when the server marks EXPIRE or
// LOGIN-DELAY per user), UIDL while the ledger is read on a worker, then only the LIST sizes
// the pull needs (none when nothing is new, "LIST n" for a few new messages, the whole LIST for
// many, for keep_under and for content keys), and TOP n 0 where a message needs a content key
// (no UIDL, or a repeated one); RETR each message the ledger has
// not seen, streaming it to a staged store file on worker threads; commit batches durably (blob
// and ledger row in one transaction) while the next messages stream; only after a commit has
// returned DELE what the retention policy deletes (new messages within the account's size and
// per-session limits only, oldest first); QUIT, and record the deletes only after the
// server's +OK to QUIT. With PIPELINING (RFC 2449 6.6) up to a window of RETR/DELE/TOP commands
// is outstanding at once.
// Loop thread only. Destroying a Fetcher closes its connection; `done` is not called then.
class Fetcher {
 public:
  using Done = std::function<void(Result<PullStats, PullError>)>;
  using Progress = std::function<void(const TransferProgress&)>;

  // `account` and `user` must outlive the fetcher. `tls` is the client context for the
  // account (null when tls is none).
  Fetcher(uv_loop_t* loop, const config::PopAccount& account, UserContext& user,
          std::shared_ptr<tls::Context> tls);
  ~Fetcher();
  Fetcher(const Fetcher&) = delete;
  Fetcher& operator=(const Fetcher&) = delete;

  // Starts the pull; `done` runs once, on the loop thread, at the end (never before start()
  // returns). On failure it runs only after a commit in flight has returned, so a following
  // pull reads a ledger that includes everything this one stored.
  void start(Done done);
  // Optional, before start(): `progress` runs on the loop thread once the new messages are
  // known and after each is downloaded; never after `done`, never before start() returns. It
  // must not destroy the fetcher.
  void setProgress(Progress progress) { progress_ = std::move(progress); }
  const std::string& logName() const { return log_name_; }
  // True once the server accepted the login (LOGIN-DELAY counts from then, RFC 2449 6.5).
  bool loggedIn() const { return logged_in_; }
  // The LOGIN-DELAY the server advertised in CAPA, in seconds, if any.
  std::optional<std::uint32_t> loginDelay() const { return capabilities_.login_delay; }

 private:
  enum class Step { Connecting, Setup, Handshake, Ledger, Transfer, Quit, Finished };
  // The command each queued reply answers.
  enum class Command {
    Greeting,
    Capa,
    Stls,
    User,
    Pass,
    Apop,
    Auth,  // AUTH <SASL mechanism> (RFC 5034)
    CapaAfterLogin,
    Uidl,
    List,
    ListOne,  // LIST n: the size of one new message
    Top,
    Retr,
    Dele,
    Quit
  };
  struct Download;  // one message being written to the store
  struct Pending {
    Command command = Command::Greeting;
    std::uint32_t number = 0;            // ListOne, Top, Retr, Dele
    std::string key;                     // Dele: ledger key
    std::shared_ptr<Download> download;  // Retr
  };

  void onConnected(Result<std::unique_ptr<Connection>, NetError> connection);
  void onData(std::string_view bytes);
  void onEvent(pop3::ReplyEvent& event);
  void onStatus(const pop3::Status& status);
  void onBodyLine(std::string_view line);
  // Body bytes of RETR or TOP: `bytes` then `line_end` (empty for a BodyBlock).
  void onBodyBytes(std::string_view bytes, std::string_view line_end);
  void onEnd();

  void send(Command command, std::string line, pop3::ReplyKind kind, Pending pending);
  void sendText(Command command, std::string_view verb, std::string_view arg, pop3::ReplyKind kind);
  enum class Sasl { Plain, Login, Xoauth2 };
  static std::string_view saslName(Sasl mechanism);
  void connect();
  void authenticate();
  void startUser();
  void startApop();
  void startSasl(Sasl mechanism);
  void onChallenge(const pop3::Continuation& challenge);
  void cancelSasl(std::string reason);
  void onLoginReply(const pop3::Status& status, std::string_view what);
  void checkExpire();
  void noteOversize(const std::vector<KeyedMessage>& oversize);
  void afterCapabilities();
  void afterLogin();
  void afterUidl();
  void askSizes();
  void requestSizes();
  void afterListings();
  void requestDigests();
  void readLedger();
  void loadLedger();
  void planFromLedger();
  void pump();
  bool stagingFull() const;
  void flushBody(const std::shared_ptr<Download>& download);
  void stageReady();
  void onMessageWritten(const std::shared_ptr<Download>& download);
  void commitBatch();
  void quit();
  void onQuitReply(const pop3::Status& status);
  void finish(Result<PullStats, PullError> result);
  void failWith(PullFailure kind, std::string reason);
  void failWith(std::string reason) { failWith(PullFailure::Temporary, std::move(reason)); }
  // Fails with `what`: the reply's code and text, then `suffix`; the kind from the response
  // code, else `fallback`.
  void failOn(const pop3::Status& status, PullFailure fallback, std::string what,
              std::string_view suffix = {});
  void armTimeout();
  void updateReading();
  std::size_t window() const;

  uv_loop_t* loop_;
  const config::PopAccount& account_;
  UserContext& user_;
  std::shared_ptr<tls::Context> tls_;
  RetentionPolicy policy_;
  std::string log_name_;
  Done done_;
  Progress progress_;
  TransferProgress transfer_;

  std::unique_ptr<Connection> connection_;
  pop3::ReplyReader reader_;
  Timer timeout_;
  Step step_ = Step::Connecting;
  std::deque<Pending> pending_;  // commands sent, replies not complete, in order
  bool secure_ = false;
  bool logged_in_ = false;
  bool quit_answered_ = false;  // the session is over; deletions are being recorded
  pop3::Capabilities capabilities_;
  bool capa_ok_ = false;                    // the server answered CAPA (RFC 2449)
  std::optional<std::string> apop_banner_;  // the greeting's timestamp (RFC 1939 7)
  std::string oauth2_token_;                // auth xoauth2: this session's bearer token
  Sasl sasl_ = Sasl::Plain;                 // the mechanism of a Command::Auth in flight
  std::string sasl_deferred_response_;      // an initial response too long for the AUTH line
  unsigned sasl_challenges_ = 0;
  std::string sasl_cancelled_;      // why the exchange was cancelled ("*"), if it was
  std::vector<std::string> lines_;  // collected lines of CAPA / UIDL / LIST

  bool have_uidl_ = true;
  std::vector<ListedMessage> listing_;         // this session's maildrop, by message number
  std::vector<std::uint32_t> digest_numbers_;  // messages needing TOP n 0
  std::size_t digest_index_ = 0;               // next TOP to send
  std::size_t digests_done_ = 0;
  std::optional<Sha256> digest_;  // the TOP reply being hashed
  std::vector<KeyedMessage> keyed_;
  // The account's ledger rows, read on a worker while UIDL is under way.
  std::optional<std::vector<store::LedgerEntry>> ledger_;
  bool planning_ = false;                    // loadLedger() has the rows and went on
  bool sizes_wait_for_ledger_ = false;       // UIDL is in; the ledger decides what LIST asks
  std::vector<std::uint32_t> size_numbers_;  // new messages whose size LIST n asks
  std::size_t size_index_ = 0;               // next LIST n to send
  std::size_t sizes_done_ = 0;
  bool list_one_refused_ = false;  // a LIST n got -ERR: the whole LIST follows

  std::vector<KeyedMessage> to_fetch_;
  std::vector<KeyedMessage> to_delete_;      // committed and due for DELE
  std::size_t fetch_index_ = 0;              // next RETR to send
  std::size_t delete_index_ = 0;             // next DELE to send
  std::vector<std::string> dele_confirmed_;  // +OK to DELE; final only after +OK to QUIT

  std::size_t downloads_open_ = 0;                // RETR sent, body not yet fully staged
  std::size_t buffered_ = 0;                      // received body bytes not yet handed to a worker
  bool reading_paused_ = false;                   // the staged files are behind the network
  std::vector<std::shared_ptr<Download>> ready_;  // complete, never handed to a worker
  std::vector<std::shared_ptr<Download>> batch_;  // staged, not yet committed
  std::uint64_t batch_bytes_ = 0;
  std::size_t uncommitted_ = 0;  // downloads started and not yet committed
  bool commit_in_flight_ = false;
  std::optional<Result<PullStats, PullError>> deferred_;  // failure held until the commit returns

  PullStats stats_;
  // Held from start() until `done` runs: the daemon's background indexing waits for the pull.
  std::optional<ForegroundSpan> busy_;
  std::shared_ptr<bool> alive_;  // completions check it (STYLE.md 5.4)
};

}  // namespace popbridge::proxy::pop
