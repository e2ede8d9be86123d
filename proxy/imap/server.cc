#include "proxy/imap/server.h"

#include <chrono>

#include "proxy/auth/password.h"
#include "proxy/server/log.h"
#include "proxy/server/mailbox_hub.h"

namespace popbridge::proxy::imap {

ImapServer::ImapServer(uv_loop_t* loop, const config::Config& config, MailboxHub& hub,
                       UserLookup users, std::shared_ptr<tls::Context> tls_context)
    : loop_(loop),
      config_(config),
      hub_(hub),
      users_(std::move(users)),
      tls_context_(std::move(tls_context)),
      reaper_(loop) {
  if (auto decoy =
          auth::hashPassword("decoy-" + std::to_string(reinterpret_cast<std::uintptr_t>(this)))) {
    decoy_hash_ = std::move(*decoy);
  }
  hub_.setDeliver([this](std::uint64_t id, const store::ChangeSet& changes) {
    if (Session* session = find(id)) session->onChanges(changes);
  });
}

ImapServer::~ImapServer() {
  stop();
  hub_.setDeliver({});
}

Result<void, std::string> ImapServer::start() {
  for (const config::Listener& listener : config_.listeners) {
    ListenerOptions options;
    options.tls = listener.tls;
    options.plaintext_auth = config_.plaintext_auth;
    options.auth_failure_delay = config_.auth_failure_delay;
    options.max_command_rate = config_.max_command_rate;
    if (listener.tls != config::TlsMode::None) options.tls_context = tls_context_;
    auto bound = TcpListener::listen(loop_, listener.address,
                                     [this, options](uv_stream_t* s) { accept(s, options); });
    if (!bound) return fail("IMAP listener " + listener.address + ": " + bound.error().message);
    log(LogSeverity::Info, "imap", "listening on ", listener.address, " (tls: ",
        listener.tls == config::TlsMode::Implicit   ? "implicit"
        : listener.tls == config::TlsMode::Starttls ? "starttls"
                                                    : "none",
        ")");
    listeners_.push_back(std::move(*bound));
  }
  return {};
}

void ImapServer::stop() {
  if (stopped_) return;
  stopped_ = true;
  for (auto& listener : listeners_) listener->close();
  for (auto& [id, session] : sessions_) session->close();
  sessions_.clear();
  doomed_.clear();
  reaper_.stop();
}

void ImapServer::accept(uv_stream_t* listener, const ListenerOptions& options) {
  auto connection = Connection::accept(loop_, listener);
  if (!connection) {
    log(LogSeverity::Warn, "imap", "accept failed: ", connection.error().message);
    return;
  }
  if (stopped_) return;
  const std::uint64_t id = next_id_++;
  auto session = std::make_unique<Session>(*this, id, std::move(*connection), options);
  Session& ref = *session;
  sessions_.emplace(id, std::move(session));
  ref.start();
}

Session* ImapServer::find(std::uint64_t id) {
  const auto it = sessions_.find(id);
  if (it == sessions_.end() || it->second->closing()) return nullptr;
  return it->second.get();
}

void ImapServer::retire(std::uint64_t id) {
  doomed_.push_back(id);
  if (doomed_.size() == 1 && !stopped_) {
    reaper_.start(std::chrono::milliseconds(0), [this] { reap(); });
  }
}

void ImapServer::reap() {
  std::vector<std::uint64_t> doomed;
  doomed.swap(doomed_);
  for (const std::uint64_t id : doomed) sessions_.erase(id);
}

}  // namespace popbridge::proxy::imap
