#pragma once

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "proxy/core/deflate_stream.h"
#include "proxy/core/error.h"
#include "proxy/core/timer.h"
#include "proxy/core/tls_mode.h"
#include "proxy/core/uv_handle.h"
#include "proxy/tls/context.h"
#include "proxy/tls/engine.h"

namespace popbridge::proxy {

// A TCP stream with back-pressure and optional TLS, implicit from the start or upgraded later by
// STARTTLS (RFC 3501 section 6.2.1) or STLS (RFC 2595 section 4).
//
// Output: write() queues bytes and keeps exactly one uv_write in flight (STYLE.md 5.5). Once more
// than the high mark (256 KiB) waits, congested() is true and reading from the peer pauses, so a
// client that never reads cannot make popbridge buffer without bound; reading resumes when the
// output falls below the low mark (64 KiB), and on_drain tells a producer to send its next chunk.
//
// Lifetime: loop thread only. Callbacks run on the loop thread from libuv callbacks, never from
// inside a call on this object. close() may be called from any callback; destroying the
// Connection inside its own callback is tolerated too, though owners should prefer close() and
// deferred deletion (STYLE.md 5.3).
class Connection {
 public:
  struct Callbacks {
    // Plaintext from the peer (decrypted when TLS is on). The view is valid during the call only.
    // May be called many times per loop turn.
    std::function<void(std::string_view plaintext)> on_data;
    // Output that had reached the low mark fell below it: time to stream the next chunk.
    std::function<void()> on_drain;
    // The connection ended: nullopt when the peer closed (EOF or TLS close_notify) or when
    // closeAfterWrite() finished; a NetError on failure. Called at most once, never after close().
    std::function<void(std::optional<NetError>)> on_close;
    // The TLS handshake begun by startTls() completed (and, for clients, the peer was verified).
    std::function<void()> on_tls_ready;
  };

  // Default output marks, in bytes.
  static constexpr std::size_t kDefaultHighMark = 256 * 1024;
  static constexpr std::size_t kDefaultLowMark = 64 * 1024;

  // Accepts a pending connection from a listening stream; call from TcpListener's connection
  // callback. Returns the connection (not yet reading) or a NetError. Never calls back.
  static Result<std::unique_ptr<Connection>, NetError> accept(uv_loop_t* loop, uv_stream_t* server);

  // Resolves `host` (uv_getaddrinfo, off the loop thread) and connects to each address in turn
  // until one answers. `done` runs once on the loop thread, never before connect() returns, with
  // the connection (not yet reading) or a NetError such as
  // "connect to pop.example.net:995: connection refused" or "...: timed out after 10000 ms" when
  // `timeout` passes first. `done` must find its owner by id: it may run after the owner is gone.
  static void connect(uv_loop_t* loop, std::string host, std::uint16_t port,
                      std::chrono::milliseconds timeout,
                      std::function<void(Result<std::unique_ptr<Connection>, NetError>)> done);

  // Closes the connection (close()).
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Replaces all callbacks. Call before startReading().
  void setCallbacks(Callbacks callbacks);

  // Starts delivering on_data (paused meanwhile while congested). Idempotent.
  void startReading();
  // Stops delivering on_data until startReading(), e.g. while a command runs on a worker.
  // TLS handshake and close_notify are not processed meanwhile either.
  void stopReading();

  // Queues `bytes` (plaintext; encrypted when TLS is on, held until the handshake completes).
  // Everything written during one loop turn goes to the kernel together at the turn's end (the
  // check phase), so a response's untagged lines and its tagged line leave in one syscall and
  // one segment. Never blocks and never calls back; a failure is reported later through
  // on_close. Ignored after close() or closeAfterWrite().
  void write(std::string bytes);

  // Bytes accepted by write() that the kernel has not taken yet (queued, in flight, or held by
  // TLS until the handshake completes; TLS counts its encrypted size).
  std::size_t pendingOutput() const;
  // pendingOutput() is above the high mark: reads are paused; wait for on_drain.
  bool congested() const;
  // Overrides the marks (low < high). For tuning and tests.
  void setOutputMarks(std::size_t low, std::size_t high);

  // Begins TLS on this stream. Bytes already queued go out as they are (the "OK Begin TLS" reply
  // of STARTTLS); everything written or received from now on goes through TLS. A client verifies
  // the peer against `server_name` per the context's policy. on_tls_ready fires when the
  // handshake completes; a handshake or verification failure ends the connection with a NetError
  // naming the reason ("TLS with 192.0.2.1:995: certificate verify failed: ..."). Calling it a
  // second time ends the connection with an error. Never calls back before returning.
  void startTls(std::shared_ptr<tls::Context> context, TlsRole role, std::string server_name);
  // True once startTls() was called on this connection.
  bool tlsActive() const { return tls_ != nullptr; }

  // RFC 4978 COMPRESS=DEFLATE: from now on both directions are raw DEFLATE, inside TLS when TLS
  // is on (TLS carries the compressed bytes). Bytes already queued go out as they are (the tagged
  // OK of COMPRESS); bytes received from now on are inflated before on_data, in slices of at most
  // 16 KiB so that stopReading() takes effect between slices (the rest waits, compressed). Output
  // is sync-flushed whenever no write is in flight, so every response batch reaches the peer
  // whole. Corrupt input ends the connection with a NetError "DEFLATE from <peer>: <reason>".
  // Calling it a second time ends the connection with an error. Never calls back.
  void startCompression();
  bool compressionActive() const { return deflater_ != nullptr; }
  struct CompressionStats {
    std::uint64_t out_plain = 0;  // bytes given to write() since startCompression()
    std::uint64_t out_wire = 0;   // their compressed size
    std::uint64_t in_wire = 0;    // compressed bytes read from the peer
    std::uint64_t in_plain = 0;   // what they inflated to
  };
  CompressionStats compressionStats() const;
  // Whether zlib state is held right now (for memory tests): false while idle.
  bool compressionStateAllocated() const;

  // The peer as "127.0.0.1:54321" / "[::1]:993" ("unknown" if the socket could not say).
  std::string peerAddress() const { return peer_address_; }
  bool peerIsLoopback() const { return peer_is_loopback_; }

  // Flushes queued output (with TLS, ends it with close_notify), half-closes the stream, then
  // closes; on_close(nullopt) follows, or on_close(error) if the flush fails. Used after
  // "* BYE" / QUIT. Incoming data is discarded meanwhile. Never calls back before returning.
  void closeAfterWrite();

  // Closes now; idempotent; no callback runs after this returns. Output written during this loop
  // turn is offered to the kernel once without waiting (as it would have been at the turn's
  // end); anything the socket does not take at once is dropped.
  void close();
  // True after close() or once on_close was called.
  bool closed() const { return closed_; }

 private:
  struct WriteRequest;
  class ConnectOperation;

  Connection(uv_loop_t* loop, UvHandle<uv_tcp_t> tcp);

  static void onAlloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void onRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void onWrite(uv_write_t* request, int status) noexcept;
  static void onShutdown(uv_shutdown_t* request, int status) noexcept;

  void handleRead(std::string_view bytes);
  // Hands peer plaintext to on_data (inflating it first when compression is on). Returns false
  // if the connection was closed or destroyed meanwhile.
  bool deliver(std::string_view bytes);
  // Inflates `compressed` slice by slice into on_data while reading is wanted; keeps the rest in
  // inflate_backlog_. Returns false if the connection was closed or destroyed meanwhile.
  bool inflateAndDeliver(std::string_view compressed);
  void resumeBacklog();
  // Plaintext (or compressed bytes) onto the wire: through TLS when on, else into the queue.
  void sendWire(std::string bytes);
  // Sync-flushes the compressor into the wire queue.
  void flushCompressor();
  void handleTlsRead(std::string_view ciphertext);
  void handleWriteDone(int status);
  void enqueue(std::string bytes);
  void takeCiphertext();
  void flush();
  // Arranges flush() at the end of this loop turn (write()); see flush_check_.
  void scheduleFlush();
  // A flush is armed for the end of this turn (the check handle is active).
  bool flushScheduled() const { return !closed_ && uv_is_active(flush_check_.base()) != 0; }
  static void onFlushCheck(uv_check_t* check) noexcept;
  // Closes without offering pending output (the peer or the socket failed).
  void closeNow();
  void updateReading();
  void maybeShutdown();
  void bestEffortFlush();
  // Ends the connection from a libuv callback and tells the owner; `this` may be gone after it.
  void finish(std::optional<NetError> error);
  // Ends the connection on the next loop turn (failures found inside the owner's own calls).
  void finishLater(std::optional<NetError> error);
  // Invokes a copy of `callback`; returns false if the connection was closed or destroyed by it.
  template <class F, class... Args>
  bool notify(const F& callback, Args&&... args);

  uv_loop_t* loop_;
  UvHandle<uv_tcp_t> tcp_;
  Callbacks callbacks_;
  std::string peer_address_;
  bool peer_is_loopback_ = false;

  std::deque<std::string> queue_;  // wire bytes (ciphertext once TLS is on), oldest first
  std::size_t queued_bytes_ = 0;
  WriteRequest* in_flight_ = nullptr;  // owned by libuv until onWrite
  std::size_t in_flight_bytes_ = 0;
  // write() only queues; the check handle flushes after the turn's I/O callbacks, and the idle
  // handle keeps that turn's poll from blocking when the write came from a timer.
  UvHandle<uv_check_t> flush_check_;
  UvHandle<uv_idle_t> flush_idle_;
  std::size_t low_mark_ = kDefaultLowMark;
  std::size_t high_mark_ = kDefaultHighMark;
  bool drain_armed_ = false;

  bool reading_wanted_ = false;
  bool reading_active_ = false;
  bool paused_for_output_ = false;
  std::unique_ptr<char[]> read_buffer_;

  std::unique_ptr<tls::Engine> tls_;
  bool tls_ready_reported_ = false;

  std::unique_ptr<Deflater> deflater_;  // set by startCompression(), with inflater_
  std::unique_ptr<Inflater> inflater_;
  std::string inflate_backlog_;  // compressed input held back while reading is stopped
  bool inflate_more_ = false;    // the inflater may hold output not yet given to on_data
  std::unique_ptr<Timer> resume_;

  bool closing_after_write_ = false;
  bool shutdown_started_ = false;
  bool doomed_ = false;  // finishLater() pending: accept no more output
  bool closed_ = false;
  std::unique_ptr<Timer> deferred_;
  bool* destroyed_flag_ = nullptr;  // set while a callback runs; see notify()
};

}  // namespace popbridge::proxy
