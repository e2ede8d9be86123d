#include "proxy/core/connection.h"

#include <utility>
#include <vector>

#include "proxy/core/socket_address.h"

namespace popbridge::proxy {
namespace {

// One read callback's worth of input. 64 KiB is what libuv suggests and what a TLS read needs
// to hold several full records.
constexpr std::size_t kReadBufferSize = 64 * 1024;
// Limits of one uv_write: enough buffers and bytes to fill a socket buffer in one syscall
// without gathering the whole queue.
constexpr std::size_t kMaxWriteBuffers = 64;
constexpr std::size_t kMaxWriteBytes = 1024 * 1024;
// Inflated input is handed to on_data in slices of this size, so that a few KiB of compressed
// input (DEFLATE expands up to ~1000:1) cannot flood the session in one call.
constexpr std::size_t kInflateSlice = 16 * 1024;

std::string uvError(int status) { return uv_strerror(status); }

}  // namespace

struct Connection::WriteRequest {
  uv_write_t request{};
  std::vector<std::string> chunks;  // the bytes libuv is writing; alive until onWrite
};

// Resolve, then try each address until one connects, all under one deadline. Owns itself: it is
// deleted once it has reported and every libuv request it started has called back.
class Connection::ConnectOperation {
 public:
  ConnectOperation(uv_loop_t* loop, std::string host, std::uint16_t port,
                   std::chrono::milliseconds timeout,
                   std::function<void(Result<std::unique_ptr<Connection>, NetError>)> done)
      : loop_(loop),
        host_(std::move(host)),
        port_(port),
        label_(host_.find(':') != std::string::npos ? "[" + host_ + "]:" + std::to_string(port)
                                                    : host_ + ":" + std::to_string(port)),
        timeout_(timeout),
        done_(std::move(done)),
        timer_(loop) {
    resolve_.data = this;
    connect_.data = this;
  }

  ~ConnectOperation() {
    if (addresses_ != nullptr) {
      uv_freeaddrinfo(addresses_);
    }
  }

  void start() {
    timer_.start(timeout_, [this] { onTimeout(); });
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    const std::string service = std::to_string(port_);
    const int rc = uv_getaddrinfo(loop_, &resolve_, &ConnectOperation::onResolved, host_.c_str(),
                                  service.c_str(), &hints);
    if (rc != 0) {
      // Reported from the timer so that `done` never runs inside connect().
      const NetError error{"connect to " + label_ + ": cannot resolve host: " + uvError(rc)};
      timer_.start(std::chrono::milliseconds(0), [this, error] { report(fail(error)); });
      return;
    }
    ++outstanding_;
    resolving_ = true;
  }

 private:
  static void onResolved(uv_getaddrinfo_t* request, int status, addrinfo* result) noexcept {
    auto* self = static_cast<ConnectOperation*>(request->data);
    --self->outstanding_;
    self->resolving_ = false;
    if (self->reported_) {
      if (result != nullptr) {
        uv_freeaddrinfo(result);
      }
      self->maybeDelete();
      return;
    }
    if (status != 0) {
      self->report(fail(
          NetError{"connect to " + self->label_ + ": cannot resolve host: " + uvError(status)}));
      return;
    }
    self->addresses_ = result;
    self->next_ = result;
    self->tryNext();
  }

  void tryNext() {
    while (next_ != nullptr) {
      const addrinfo* candidate = next_;
      next_ = next_->ai_next;
      tcp_ = UvHandle<uv_tcp_t>(loop_);  // a fresh socket; a failed one is closed by the move
      const int rc =
          uv_tcp_connect(&connect_, tcp_.get(), candidate->ai_addr, &ConnectOperation::onConnected);
      if (rc == 0) {
        ++outstanding_;
        return;
      }
      last_error_ = uvError(rc);
    }
    report(fail(NetError{"connect to " + label_ + ": " + last_error_}));
  }

  static void onConnected(uv_connect_t* request, int status) noexcept {
    auto* self = static_cast<ConnectOperation*>(request->data);
    --self->outstanding_;
    if (self->reported_) {
      self->maybeDelete();
      return;
    }
    if (status != 0) {
      self->last_error_ = uvError(status);
      self->tryNext();
      return;
    }
    std::unique_ptr<Connection> connection(new Connection(self->loop_, std::move(self->tcp_)));
    self->report(std::move(connection));
  }

  void onTimeout() {
    if (reported_) {
      return;
    }
    // A running lookup cannot be cancelled (uv_cancel fails); its callback is then ignored.
    if (resolving_) {
      uv_cancel(reinterpret_cast<uv_req_t*>(&resolve_));
    }
    tcp_.close();  // a pending connect calls back with UV_ECANCELED
    report(fail(NetError{"connect to " + label_ + ": timed out after " +
                         std::to_string(timeout_.count()) + " ms"}));
  }

  void report(Result<std::unique_ptr<Connection>, NetError> result) {
    reported_ = true;
    timer_.stop();
    tcp_.close();
    auto done = std::move(done_);
    if (done) {
      done(std::move(result));
    }
    maybeDelete();
  }

  void maybeDelete() {
    if (reported_ && outstanding_ == 0) {
      delete this;
    }
  }

  uv_loop_t* loop_;
  std::string host_;
  std::uint16_t port_;
  std::string label_;
  std::chrono::milliseconds timeout_;
  std::function<void(Result<std::unique_ptr<Connection>, NetError>)> done_;
  Timer timer_;
  uv_getaddrinfo_t resolve_{};
  uv_connect_t connect_{};
  UvHandle<uv_tcp_t> tcp_;
  addrinfo* addresses_ = nullptr;
  const addrinfo* next_ = nullptr;
  std::string last_error_ = "no address found";
  int outstanding_ = 0;
  bool resolving_ = false;
  bool reported_ = false;
};

Result<std::unique_ptr<Connection>, NetError> Connection::accept(uv_loop_t* loop,
                                                                 uv_stream_t* server) {
  UvHandle<uv_tcp_t> tcp(loop);
  if (const int rc = uv_accept(server, tcp.stream()); rc != 0) {
    return fail(NetError{"accept: " + uvError(rc)});
  }
  return std::unique_ptr<Connection>(new Connection(loop, std::move(tcp)));
}

void Connection::connect(uv_loop_t* loop, std::string host, std::uint16_t port,
                         std::chrono::milliseconds timeout,
                         std::function<void(Result<std::unique_ptr<Connection>, NetError>)> done) {
  auto* operation = new ConnectOperation(loop, std::move(host), port, timeout, std::move(done));
  operation->start();  // owns itself from here
}

Connection::Connection(uv_loop_t* loop, UvHandle<uv_tcp_t> tcp)
    : loop_(loop),
      tcp_(std::move(tcp)),
      flush_check_(loop),
      flush_idle_(loop),
      read_buffer_(new char[kReadBufferSize]) {
  tcp_.get()->data = this;
  flush_check_.get()->data = this;
  // Protocol replies are small and latency-bound (IMAP tagged responses, POP3 +OK lines).
  uv_tcp_nodelay(tcp_.get(), 1);
  sockaddr_storage peer{};
  int length = sizeof peer;
  if (uv_tcp_getpeername(tcp_.get(), reinterpret_cast<sockaddr*>(&peer), &length) == 0) {
    peer_address_ = formatAddress(reinterpret_cast<const sockaddr*>(&peer));
    peer_is_loopback_ = isLoopback(reinterpret_cast<const sockaddr*>(&peer));
  } else {
    peer_address_ = "unknown";
  }
}

Connection::~Connection() {
  if (destroyed_flag_ != nullptr) {
    *destroyed_flag_ = true;
  }
  close();
}

void Connection::setCallbacks(Callbacks callbacks) { callbacks_ = std::move(callbacks); }

template <class F, class... Args>
bool Connection::notify(const F& callback, Args&&... args) {
  if (!callback) {
    return !closed_;
  }
  // A copy runs, so the owner may replace the callbacks or destroy this object meanwhile.
  F copy = callback;
  bool destroyed = false;
  bool* outer = destroyed_flag_;
  destroyed_flag_ = &destroyed;
  copy(std::forward<Args>(args)...);
  if (destroyed) {
    if (outer != nullptr) {
      *outer = true;
    }
    return false;
  }
  destroyed_flag_ = outer;
  return !closed_;
}

void Connection::startReading() {
  reading_wanted_ = true;
  updateReading();
  if ((!inflate_backlog_.empty() || inflate_more_) && !closed_ && !doomed_) {
    // Held-back input goes first, from the loop rather than from inside this call.
    if (!resume_) resume_ = std::make_unique<Timer>(loop_);
    resume_->start(std::chrono::milliseconds(0), [this] { resumeBacklog(); });
  }
}

void Connection::stopReading() {
  reading_wanted_ = false;
  updateReading();
}

void Connection::updateReading() {
  if (closed_) {
    return;
  }
  const std::size_t pending = pendingOutput();
  if (paused_for_output_) {
    paused_for_output_ = pending >= low_mark_;
  } else {
    paused_for_output_ = pending > high_mark_;
  }
  // While TLS handshakes, held writes drain only once the peer's handshake records are read, so
  // pausing then would stall both forever.
  const bool handshaking = tls_ && tls_->state() == tls::Engine::State::Handshaking;
  // Compressed input held back is delivered before anything newer is read.
  const bool backlog = !inflate_backlog_.empty() || inflate_more_;
  const bool want = reading_wanted_ && (!paused_for_output_ || handshaking) && !doomed_ && !backlog;
  if (want && !reading_active_) {
    if (const int rc = uv_read_start(tcp_.stream(), &Connection::onAlloc, &Connection::onRead);
        rc != 0) {
      finishLater(NetError{"read from " + peer_address_ + ": " + uvError(rc)});
      return;
    }
    reading_active_ = true;
  } else if (!want && reading_active_) {
    uv_read_stop(tcp_.stream());
    reading_active_ = false;
  }
}

void Connection::onAlloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  if (self == nullptr) {
    *buf = uv_buf_init(nullptr, 0);  // libuv then reports UV_ENOBUFS, which onRead ignores
    return;
  }
  *buf = uv_buf_init(self->read_buffer_.get(), static_cast<unsigned>(kReadBufferSize));
}

void Connection::onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (self == nullptr || self->closed_ || nread == 0) {
    return;  // 0 is EAGAIN: nothing to do
  }
  if (nread == UV_EOF) {
    self->finish(std::nullopt);
    return;
  }
  if (nread < 0) {
    self->finish(
        NetError{"read from " + self->peer_address_ + ": " + uvError(static_cast<int>(nread))});
    return;
  }
  self->handleRead(std::string_view(buf->base, static_cast<std::size_t>(nread)));
}

void Connection::handleRead(std::string_view bytes) {
  if (tls_) {
    handleTlsRead(bytes);
    return;
  }
  if (!closing_after_write_) {
    deliver(bytes);
  }
}

bool Connection::deliver(std::string_view bytes) {
  if (!inflater_) {
    return notify(callbacks_.on_data, bytes);
  }
  if (!inflate_backlog_.empty() || inflate_more_) {
    inflate_backlog_.append(bytes);  // keep the order behind what waits already
    return true;
  }
  return inflateAndDeliver(bytes);
}

bool Connection::inflateAndDeliver(std::string_view compressed) {
  std::string_view rest = compressed;
  while (!rest.empty() || inflate_more_) {
    if (closing_after_write_) {
      return true;  // input is discarded meanwhile
    }
    if (!reading_wanted_) {
      inflate_backlog_.append(rest);
      updateReading();
      return true;
    }
    std::string plaintext;
    auto used = inflater_->inflate(rest, plaintext, kInflateSlice);
    if (!used) {
      finish(NetError{"DEFLATE from " + peer_address_ + ": corrupt compressed input (" +
                      used.error().message + ")"});
      return false;
    }
    rest.remove_prefix(*used);
    inflate_more_ = plaintext.size() == kInflateSlice;
    if (plaintext.empty() && *used == 0) {
      if (!rest.empty()) {
        finish(NetError{"DEFLATE from " + peer_address_ + ": compressed input makes no progress"});
        return false;
      }
      break;
    }
    if (!plaintext.empty() && !notify(callbacks_.on_data, std::string_view(plaintext))) {
      return false;
    }
  }
  return true;
}

void Connection::resumeBacklog() {
  if (closed_ || doomed_) {
    return;
  }
  const std::string pending = std::move(inflate_backlog_);
  inflate_backlog_.clear();
  if (!inflateAndDeliver(pending)) {
    return;
  }
  updateReading();
}

void Connection::handleTlsRead(std::string_view ciphertext) {
  tls_->feedCiphertext(ciphertext);
  std::string plaintext;
  auto result = tls_->readPlaintext(plaintext);
  takeCiphertext();  // handshake replies, alerts, held writes released by the handshake
  if (!result) {
    bestEffortFlush();  // let the peer see our alert before the socket goes
    finish(NetError{"TLS with " + peer_address_ + ": " + result.error().message});
    return;
  }
  flush();
  if (!tls_ready_reported_ && tls_->state() != tls::Engine::State::Handshaking) {
    tls_ready_reported_ = true;
    if (!notify(callbacks_.on_tls_ready)) {
      return;
    }
  }
  if (!plaintext.empty() && !closing_after_write_) {
    if (!deliver(plaintext)) {
      return;
    }
  }
  if (tls_ && tls_->state() == tls::Engine::State::Closed) {
    // close_notify: the peer will send nothing more (RFC 8446 section 6.1).
    finish(std::nullopt);
    return;
  }
  updateReading();
}

void Connection::write(std::string bytes) {
  if (closed_ || doomed_ || closing_after_write_ || bytes.empty()) {
    return;
  }
  if (deflater_) {
    // Sync-flushed in flush() once no write is in flight: one flush per batch, not per write.
    std::string compressed;
    if (auto result = deflater_->compress(bytes, compressed); !result) {
      finishLater(NetError{"DEFLATE to " + peer_address_ + ": " + result.error().message});
      return;
    }
    sendWire(std::move(compressed));
  } else {
    sendWire(std::move(bytes));
  }
  if (pendingOutput() >= low_mark_) {
    drain_armed_ = true;
  }
  scheduleFlush();
  updateReading();
}

void Connection::scheduleFlush() {
  if (closed_ || flushScheduled()) {
    return;
  }
  uv_check_start(flush_check_.get(), &Connection::onFlushCheck);
  uv_idle_start(flush_idle_.get(), [](uv_idle_t* /*idle*/) {});
}

void Connection::onFlushCheck(uv_check_t* check) noexcept {
  auto* self = static_cast<Connection*>(check->data);
  if (self == nullptr) {
    return;
  }
  uv_check_stop(self->flush_check_.get());
  uv_idle_stop(self->flush_idle_.get());
  self->flush();
  self->updateReading();
}

void Connection::sendWire(std::string bytes) {
  if (bytes.empty() || closed_ || doomed_) {
    return;
  }
  if (tls_) {
    if (auto result = tls_->writePlaintext(bytes); !result) {
      finishLater(NetError{"TLS with " + peer_address_ + ": " + result.error().message});
      return;
    }
    takeCiphertext();
  } else {
    enqueue(std::move(bytes));
  }
}

void Connection::flushCompressor() {
  if (!deflater_ || deflater_->unflushed() == 0) {
    return;
  }
  std::string compressed;
  deflater_->flush(compressed);
  sendWire(std::move(compressed));
}

void Connection::startCompression() {
  if (closed_ || doomed_) {
    return;
  }
  if (deflater_) {
    finishLater(NetError{"DEFLATE with " + peer_address_ + ": already started"});
    return;
  }
  deflater_ = std::make_unique<Deflater>();
  inflater_ = std::make_unique<Inflater>();
}

Connection::CompressionStats Connection::compressionStats() const {
  CompressionStats stats;
  if (deflater_) {
    stats.out_plain = deflater_->totalIn();
    stats.out_wire = deflater_->totalOut();
  }
  if (inflater_) {
    stats.in_wire = inflater_->totalIn();
    stats.in_plain = inflater_->totalOut();
  }
  return stats;
}

bool Connection::compressionStateAllocated() const {
  return (deflater_ && deflater_->allocated()) || (inflater_ && inflater_->allocated());
}

void Connection::enqueue(std::string bytes) {
  if (bytes.empty()) {
    return;
  }
  queued_bytes_ += bytes.size();
  queue_.push_back(std::move(bytes));
}

void Connection::takeCiphertext() {
  if (!tls_) {
    return;
  }
  std::string ciphertext;
  tls_->takeCiphertext(ciphertext);
  enqueue(std::move(ciphertext));
}

std::size_t Connection::pendingOutput() const {
  // Bytes inside the compressor count at their plaintext size: an upper bound until the flush.
  return queued_bytes_ + in_flight_bytes_ + (tls_ ? tls_->pendingPlaintext() : 0) +
         (deflater_ ? deflater_->unflushed() : 0);
}

bool Connection::congested() const { return pendingOutput() > high_mark_; }

void Connection::setOutputMarks(std::size_t low, std::size_t high) {
  low_mark_ = low;
  high_mark_ = high > low ? high : low + 1;
  updateReading();
}

void Connection::flush() {
  if (closed_ || in_flight_ != nullptr) {
    return;
  }
  // Whatever was written while the last write was in flight ends its batch now (RFC 4978 4: the
  // peer must be able to decode every response without waiting for more).
  flushCompressor();
  if (closed_ || queue_.empty()) {
    return;
  }
  auto request = std::make_unique<WriteRequest>();
  std::size_t total = 0;
  while (!queue_.empty() && request->chunks.size() < kMaxWriteBuffers && total < kMaxWriteBytes) {
    total += queue_.front().size();
    request->chunks.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
  queued_bytes_ -= total;
  std::vector<uv_buf_t> buffers;
  buffers.reserve(request->chunks.size());
  for (std::string& chunk : request->chunks) {
    buffers.push_back(uv_buf_init(chunk.data(), static_cast<unsigned>(chunk.size())));
  }
  request->request.data = request.get();
  // libuv copies the uv_buf_t array; the bytes themselves stay in request->chunks.
  if (const int rc = uv_write(&request->request, tcp_.stream(), buffers.data(),
                              static_cast<unsigned>(buffers.size()), &Connection::onWrite);
      rc != 0) {
    finishLater(NetError{"write to " + peer_address_ + ": " + uvError(rc)});
    return;
  }
  in_flight_bytes_ = total;
  in_flight_ = request.release();
}

void Connection::onWrite(uv_write_t* request, int status) noexcept {
  std::unique_ptr<WriteRequest> owned(static_cast<WriteRequest*>(request->data));
  auto* self = static_cast<Connection*>(request->handle->data);
  if (self == nullptr) {
    return;  // closed meanwhile (status is UV_ECANCELED)
  }
  self->handleWriteDone(status);
}

void Connection::handleWriteDone(int status) {
  in_flight_ = nullptr;
  in_flight_bytes_ = 0;
  if (status != 0) {
    finish(NetError{"write to " + peer_address_ + ": " + uvError(status)});
    return;
  }
  flush();
  updateReading();
  if (drain_armed_ && pendingOutput() < low_mark_) {
    drain_armed_ = false;
    if (!closing_after_write_ && !notify(callbacks_.on_drain)) {
      return;
    }
  }
  maybeShutdown();
}

void Connection::bestEffortFlush() {
  if (in_flight_ != nullptr) {
    return;  // a write is in flight; what follows it cannot jump the queue
  }
  for (std::string& chunk : queue_) {
    const uv_buf_t buf = uv_buf_init(chunk.data(), static_cast<unsigned>(chunk.size()));
    if (uv_try_write(tcp_.stream(), &buf, 1) != static_cast<int>(chunk.size())) {
      return;
    }
  }
}

void Connection::startTls(std::shared_ptr<tls::Context> context, TlsRole role,
                          std::string server_name) {
  if (closed_ || doomed_) {
    return;
  }
  if (tls_) {
    finishLater(NetError{"TLS with " + peer_address_ + ": already started"});
    return;
  }
  tls_ = std::make_unique<tls::Engine>(std::move(context), role, std::move(server_name));
  if (tls_->state() == tls::Engine::State::Failed) {
    finishLater(NetError{"TLS with " + peer_address_ + ": " + tls_->failure()});
    return;
  }
  if (role == TlsRole::Client) {
    // The client speaks first: this produces the ClientHello.
    std::string nothing;
    if (auto result = tls_->readPlaintext(nothing); !result) {
      finishLater(NetError{"TLS with " + peer_address_ + ": " + result.error().message});
      return;
    }
    takeCiphertext();
    flush();
  }
}

void Connection::closeAfterWrite() {
  if (closed_ || doomed_ || closing_after_write_) {
    return;
  }
  closing_after_write_ = true;
  flushCompressor();  // the compressed tail goes before TLS close_notify
  if (tls_ && tls_->state() == tls::Engine::State::Open) {
    tls_->shutdown();
    takeCiphertext();
    flush();
  }
  maybeShutdown();
}

void Connection::maybeShutdown() {
  if (closed_ || !closing_after_write_ || shutdown_started_ || in_flight_ != nullptr ||
      !queue_.empty() || (deflater_ && deflater_->unflushed() > 0)) {
    return;
  }
  shutdown_started_ = true;
  auto* request = new uv_shutdown_t{};
  // uv_shutdown sends FIN once the write queue is empty; the peer sees a clean end of stream.
  if (const int rc = uv_shutdown(request, tcp_.stream(), &Connection::onShutdown); rc != 0) {
    delete request;
    // ENOTCONN and friends: the peer is gone already, which is the end we wanted.
    finishLater(std::nullopt);
  }
}

void Connection::onShutdown(uv_shutdown_t* request, int status) noexcept {
  std::unique_ptr<uv_shutdown_t> owned(request);
  auto* self = static_cast<Connection*>(request->handle->data);
  if (self == nullptr) {
    return;
  }
  if (status != 0 && status != UV_ENOTCONN) {
    self->finish(NetError{"shutdown to " + self->peer_address_ + ": " + uvError(status)});
    return;
  }
  self->finish(std::nullopt);
}

void Connection::finish(std::optional<NetError> error) {
  if (closed_) {
    return;
  }
  auto on_close = std::move(callbacks_.on_close);
  closeNow();
  if (on_close) {
    on_close(std::move(error));  // the owner may destroy this connection here
  }
}

void Connection::finishLater(std::optional<NetError> error) {
  if (closed_ || doomed_) {
    return;
  }
  doomed_ = true;
  if (reading_active_) {
    uv_read_stop(tcp_.stream());
    reading_active_ = false;
  }
  deferred_ = std::make_unique<Timer>(loop_);
  deferred_->start(std::chrono::milliseconds(0),
                   [this, error = std::move(error)]() mutable { finish(std::move(error)); });
}

void Connection::close() {
  if (closed_) {
    return;
  }
  if (flushScheduled() && !doomed_) {
    // What this turn wrote would have gone at its end: offer it now, as write() once did.
    flushCompressor();
    bestEffortFlush();
  }
  closeNow();
}

void Connection::closeNow() {
  if (closed_) {
    return;
  }
  closed_ = true;
  flush_check_.close();
  flush_idle_.close();
  reading_active_ = false;
  tcp_.close();  // pending write and shutdown requests call back with UV_ECANCELED, unowned
  in_flight_ = nullptr;
  in_flight_bytes_ = 0;
  queue_.clear();
  queued_bytes_ = 0;
  // Safe even from inside the deferred timer's own callback (Timer allows it).
  deferred_.reset();
  resume_.reset();
  inflate_backlog_.clear();
  inflate_more_ = false;
}

}  // namespace popbridge::proxy
