#include "proxy/core/connection.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxy/core/timer.h"
#include "tests/proxy/core/connection_fixture.h"

namespace popbridge::proxy {
namespace {

using std::chrono::milliseconds;
using testing::Endpoint;
using ::testing::HasSubstr;
using testing::patternByte;
using testing::patternChunk;

class ConnectionTest : public testing::ConnectionTest {};

TEST_F(ConnectionTest, EchoRoundTrip) {
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view bytes) {
      self.connection->write(std::string(bytes));
    };
  };
  ASSERT_TRUE(connectClient());
  client_.connection->write("a1 NOOP\r\n");
  client_.connection->write("a2 LOGOUT\r\n");
  ASSERT_TRUE(runUntil([&] { return client_.received.size() >= 20; }));
  EXPECT_EQ(client_.received, "a1 NOOP\r\na2 LOGOUT\r\n");
  EXPECT_EQ(server().received, "a1 NOOP\r\na2 LOGOUT\r\n");
  EXPECT_FALSE(client_.connection->tlsActive());
  EXPECT_EQ(client_.connection->pendingOutput(), 0u);
}

TEST_F(ConnectionTest, ConnectResolvesLocalhost) {
  // localhost may resolve to ::1 first, where nothing listens: the next address must be tried.
  auto outcome = testing::startConnect(loop(), "localhost", listener_->port(), milliseconds(5000));
  ASSERT_TRUE(runUntil([&] { return outcome->has_value(); }));
  ASSERT_TRUE(**outcome) << (*outcome)->error().message;
  const auto& connection = ***outcome;
  EXPECT_TRUE(connection->peerIsLoopback());
}

// The producer writes only while not congested and resumes on on_drain; the consumer reads in
// bursts with pauses. The queue stays bounded and 50 MB arrive intact.
TEST_F(ConnectionTest, LargeWriteToSlowReaderStaysBounded) {
  constexpr std::size_t kTotal = 50u * 1024 * 1024;
  constexpr std::size_t kChunk = 64 * 1024;
  std::size_t sent = 0;
  std::size_t max_pending = 0;
  int congested_seen = 0;
  std::function<void(Endpoint&)> produce = [&](Endpoint& e) {
    while (sent < kTotal) {
      if (e.connection->congested()) {
        ++congested_seen;
        return;  // wait for on_drain
      }
      const std::size_t n = std::min(kChunk, kTotal - sent);
      e.connection->write(patternChunk(sent, n));
      sent += n;
      max_pending = std::max(max_pending, e.connection->pendingOutput());
    }
  };
  on_accept_ = [&](Endpoint& e) { e.on_drain = produce; };
  ASSERT_TRUE(connectClient());

  // The reader checks bytes as they come (keeping 50 MB around would hide nothing) and pauses
  // for a few milliseconds after every 4 MB.
  std::size_t received = 0;
  std::size_t mismatches = 0;
  std::size_t next_pause = 4u * 1024 * 1024;
  Timer resume(loop());
  client_.on_data = [&](Endpoint& self, std::string_view bytes) {
    for (char c : bytes) {
      mismatches += c != patternByte(received++) ? 1u : 0u;
    }
    self.received.clear();
    if (received >= next_pause) {
      next_pause += 4u * 1024 * 1024;
      self.connection->stopReading();
      resume.start(milliseconds(5), [&self] { self.connection->startReading(); });
    }
  };
  produce(server());
  ASSERT_TRUE(runUntil([&] { return received == kTotal; }, std::chrono::seconds(120)));
  EXPECT_EQ(sent, kTotal);
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(congested_seen, 0);
  EXPECT_GT(server().drains, 0);
  EXPECT_LE(max_pending, Connection::kDefaultHighMark + kChunk);
  EXPECT_TRUE(runUntil([&] { return server().connection->pendingOutput() == 0; }));
}

TEST_F(ConnectionTest, CongestionPausesReadingFromThatPeer) {
  // A peer that sends but never reads: once the reply queue passes the high mark, popbridge
  // stops reading its requests (STYLE.md 5.5).
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view bytes) {
      self.connection->write(std::string(bytes) + std::string(bytes));  // replies twice as big
    };
  };
  ASSERT_TRUE(connectClient());
  client_.connection->stopReading();
  // The client models an ordinary peer whose reads never wait on its own output; two
  // connections that both paused reading for output would wait on each other.
  client_.connection->setOutputMarks(32u * 1024 * 1024, 64u * 1024 * 1024);
  const std::string request(16 * 1024, 'r');
  std::size_t written = 0;
  for (int i = 0; i < 400; ++i) {  // 6.4 MB, far beyond socket buffers and the high mark
    client_.connection->write(request);
    written += request.size();
  }
  // Wait until the server's queue is congested and the request stream stalls.
  ASSERT_TRUE(runUntil([&] { return !servers_.empty() && server().connection->congested(); }));
  runUntil([] { return false; }, milliseconds(100));
  const std::size_t stalled_at = server().received.size();
  EXPECT_LT(stalled_at, written);
  runUntil([] { return false; }, milliseconds(100));
  EXPECT_EQ(server().received.size(), stalled_at);  // no reads while congested
  // Once the client reads, everything flows again.
  client_.on_data = [](Endpoint& self, std::string_view) { self.received.clear(); };
  client_.connection->startReading();
  ASSERT_TRUE(runUntil([&] { return server().received.size() == written; }));
}

TEST_F(ConnectionTest, PeerCloseReportsOnceWithoutError) {
  ASSERT_TRUE(connectClient());
  server().connection->close();
  ASSERT_TRUE(runUntil([&] { return client_.close_calls > 0; }));
  EXPECT_FALSE(client_.close_error.has_value());
  EXPECT_TRUE(client_.connection->closed());
  runUntil([] { return false; }, milliseconds(50));
  EXPECT_EQ(client_.close_calls, 1);
  EXPECT_EQ(server().close_calls, 0);  // close() never reports to its own caller
}

TEST_F(ConnectionTest, NoCallbackAfterClose) {
  // The server keeps sending; the client closes while data is still arriving.
  ASSERT_TRUE(connectClient());
  for (int i = 0; i < 64; ++i) {
    server().connection->write(std::string(64 * 1024, 'x'));
  }
  ASSERT_TRUE(runUntil([&] { return !client_.received.empty(); }));
  client_.connection->close();
  client_.connection->close();  // idempotent
  const std::size_t seen = client_.received.size();
  client_.connection->write("ignored");
  EXPECT_EQ(client_.connection->pendingOutput(), 0u);
  runUntil([] { return false; }, milliseconds(50));
  EXPECT_EQ(client_.received.size(), seen);
  EXPECT_EQ(client_.close_calls, 0);
  // The server notices the reset or EOF as its peer closing.
  ASSERT_TRUE(runUntil([&] { return server().close_calls == 1; }));
}

TEST_F(ConnectionTest, CloseInsideOnDataIsSafe) {
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view) {
      self.connection->close();
      self.connection->write("after close");  // ignored, no crash
    };
  };
  ASSERT_TRUE(connectClient());
  // Several writes so more data is pending in the socket when the server closes.
  for (int i = 0; i < 16; ++i) {
    client_.connection->write(std::string(32 * 1024, 'd'));
  }
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1; }));
  EXPECT_EQ(server().close_calls, 0);
  EXPECT_FALSE(server().received.empty());
}

TEST_F(ConnectionTest, DestroyInsideOnDataIsSafe) {
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view) { self.connection.reset(); };
  };
  ASSERT_TRUE(connectClient());
  for (int i = 0; i < 16; ++i) {
    client_.connection->write(std::string(32 * 1024, 'd'));
  }
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1; }));
  EXPECT_EQ(server().connection, nullptr);
}

TEST_F(ConnectionTest, DestroyInsideOnCloseIsSafe) {
  ASSERT_TRUE(connectClient());
  client_.on_close = [](Endpoint& self) { self.connection.reset(); };
  server().connection->close();
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1; }));
  EXPECT_EQ(client_.connection, nullptr);
}

TEST_F(ConnectionTest, CloseAfterWriteFlushesThenCloses) {
  constexpr std::size_t kSize = 3u * 1024 * 1024;
  ASSERT_TRUE(connectClient());
  server().connection->write(patternChunk(0, kSize));
  server().connection->write("* BYE\r\n");
  server().connection->closeAfterWrite();
  server().connection->write("dropped");  // after closeAfterWrite: ignored
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1 && server().close_calls == 1; }));
  EXPECT_FALSE(client_.close_error.has_value());
  EXPECT_FALSE(server().close_error.has_value());
  ASSERT_EQ(client_.received.size(), kSize + 7);
  EXPECT_TRUE(client_.received.substr(0, kSize) == patternChunk(0, kSize));
  EXPECT_EQ(client_.received.substr(kSize), "* BYE\r\n");
}

TEST_F(ConnectionTest, StopReadingHoldsDataBack) {
  ASSERT_TRUE(connectClient());
  client_.connection->stopReading();
  server().connection->write("* OK held\r\n");
  runUntil([] { return false; }, milliseconds(50));
  EXPECT_TRUE(client_.received.empty());
  client_.connection->startReading();
  ASSERT_TRUE(runUntil([&] { return client_.received == "* OK held\r\n"; }));
}

// The kernel's count of data segments a raw client socket has received (struct tcp_info's
// tcpi_data_segs_in, Linux 4.6; glibc's struct tcp_info stops before it, so the kernel's layout
// after it is spelled out here).
std::uint32_t dataSegmentsIn(int fd) {
  struct {
    tcp_info base;
    std::uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
    std::uint32_t segs_out, segs_in, notsent_bytes, min_rtt, data_segs_in, data_segs_out;
  } info{};
  socklen_t length = sizeof info;
  EXPECT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length), 0);
  EXPECT_GE(length, offsetof(decltype(info), data_segs_out));
  return info.data_segs_in;
}

// A raw client socket connected to the test's listener, closed at the end of the scope.
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : fd_(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;
  bool connected() const { return connected_; }
  int fd() const { return fd_; }
  // Appends whatever has arrived, without waiting.
  void poll(std::string& into) const {
    char buffer[4096];
    for (;;) {
      const ssize_t n = recv(fd_, buffer, sizeof buffer, MSG_DONTWAIT);
      if (n <= 0) return;
      into.append(buffer, static_cast<std::size_t>(n));
    }
  }

 private:
  int fd_;
  bool connected_ = false;
};

// A response's untagged lines and its tagged line, written one by one in one loop turn, reach
// the client as one TCP segment: one syscall and one wake-up for the peer instead of three.
TEST_F(ConnectionTest, WritesOfOneTurnLeaveAsOneSegment) {
  RawClient raw(listener_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(runUntil([&] { return !servers_.empty(); }));
  EXPECT_EQ(dataSegmentsIn(raw.fd()), 0u);
  const std::string expected = "* 1 EXISTS\r\n* 1 FETCH (FLAGS (\\Seen))\r\na1 OK NOOP done\r\n";
  server().connection->write("* 1 EXISTS\r\n");
  server().connection->write("* 1 FETCH (FLAGS (\\Seen))\r\n");
  server().connection->write("a1 OK NOOP done\r\n");
  std::string received;
  ASSERT_TRUE(runUntil([&] {
    raw.poll(received);
    return received.size() >= expected.size();
  }));
  EXPECT_EQ(received, expected);
  EXPECT_EQ(dataSegmentsIn(raw.fd()), 1u);

  // The next turn's writes are the next segment.
  server().connection->write("a2 OK NOOP done\r\n");
  ASSERT_TRUE(runUntil([&] {
    raw.poll(received);
    return received.size() >= expected.size() + 17;
  }));
  EXPECT_EQ(dataSegmentsIn(raw.fd()), 2u);
}

// Output written from a timer, with nothing else happening on the loop, leaves in that same
// turn: the loop must not block in its poll with the bytes still queued.
TEST_F(ConnectionTest, WriteFromATimerIsNotHeldUntilTheNextEvent) {
  RawClient raw(listener_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(runUntil([&] { return !servers_.empty(); }));
  Timer writer(loop());
  bool written = false;
  writer.start(milliseconds(1), [&] {
    server().connection->write("* OK from a timer\r\n");
    written = true;
  });
  // Only a guard that fires long after: if the write waited for another event, this would be
  // the event that released it.
  Timer guard(loop());
  bool guard_fired = false;
  guard.start(milliseconds(3000), [&] { guard_fired = true; });
  std::string received;
  while (received.size() < 19 && !guard_fired) {
    uv_run(loop(), UV_RUN_ONCE);
    raw.poll(received);
  }
  EXPECT_TRUE(written);
  EXPECT_FALSE(guard_fired);
  EXPECT_EQ(received, "* OK from a timer\r\n");
}

// close() right after a write (a BYE, then the socket goes) still hands the bytes to the kernel.
TEST_F(ConnectionTest, CloseRightAfterWriteStillSendsIt) {
  RawClient raw(listener_->port());
  ASSERT_TRUE(raw.connected());
  ASSERT_TRUE(runUntil([&] { return !servers_.empty(); }));
  server().connection->write("* BYE going away\r\n");
  server().connection->close();
  std::string received;
  ASSERT_TRUE(runUntil([&] {
    raw.poll(received);
    return received.size() >= 18;
  }));
  EXPECT_EQ(received, "* BYE going away\r\n");
}

std::string fetchLines(std::size_t count) {
  std::string out;
  for (std::size_t i = 1; i <= count; ++i) {
    out += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(i + 100) +
           " FLAGS (\\Seen))\r\n";
  }
  return out;
}

// RFC 4978: both ends compress; an echo of 1 MB of IMAP-like text arrives intact, the wire
// carries far fewer bytes, and neither end holds zlib state once the traffic stops.
TEST_F(ConnectionTest, CompressedEchoRoundTrip) {
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view bytes) {
      self.connection->write(std::string(bytes));
    };
  };
  after_accept_ = [](Endpoint& e) { e.connection->startCompression(); };
  ASSERT_TRUE(connectClient());
  client_.connection->startCompression();
  const std::string text = fetchLines(25000);
  for (std::size_t at = 0; at < text.size(); at += 100000) {
    client_.connection->write(text.substr(at, 100000));
  }
  ASSERT_TRUE(runUntil([&] { return client_.received.size() >= text.size(); }));
  EXPECT_TRUE(client_.received == text);
  const Connection::CompressionStats stats = server().connection->compressionStats();
  EXPECT_EQ(stats.in_plain, text.size());
  EXPECT_EQ(stats.out_plain, text.size());
  EXPECT_LT(stats.in_wire * 5, stats.in_plain);
  EXPECT_LT(stats.out_wire * 5, stats.out_plain);
  EXPECT_FALSE(server().connection->compressionStateAllocated());
  EXPECT_FALSE(client_.connection->compressionStateAllocated());
  EXPECT_EQ(client_.connection->pendingOutput(), 0u);
}

// Input that inflates a lot is handed over in slices; after stopReading() the rest waits
// (compressed) and follows, in order, after startReading().
TEST_F(ConnectionTest, CompressedInputWaitsWhileReadingIsStopped) {
  on_accept_ = [](Endpoint& e) {
    e.on_data = [](Endpoint& self, std::string_view /*bytes*/) { self.connection->stopReading(); };
  };
  after_accept_ = [](Endpoint& e) { e.connection->startCompression(); };
  ASSERT_TRUE(connectClient());
  client_.connection->startCompression();
  const std::string big = patternChunk(0, 64 * 1024) + std::string(4u << 20, 'z') + "tail\r\n";
  client_.connection->write(big);
  ASSERT_TRUE(runUntil([&] { return !server().received.empty(); }));
  runUntil([] { return false; }, milliseconds(50));
  EXPECT_EQ(server().received.size(), 16u * 1024);  // one slice, then nothing while stopped
  server().on_data = nullptr;
  server().connection->startReading();
  ASSERT_TRUE(runUntil([&] { return server().received.size() >= big.size(); }));
  EXPECT_TRUE(server().received == big);
}

TEST_F(ConnectionTest, CorruptCompressedInputEndsTheConnection) {
  after_accept_ = [](Endpoint& e) { e.connection->startCompression(); };
  ASSERT_TRUE(connectClient());
  client_.connection->write(std::string("\xff\xff\xff\xff", 4));  // block type 3 (RFC 1951)
  ASSERT_TRUE(runUntil([&] { return server().close_calls == 1; }));
  ASSERT_TRUE(server().close_error.has_value());
  EXPECT_THAT(server().close_error->message,
              HasSubstr(": corrupt compressed input (invalid block type)"));
  EXPECT_THAT(server().close_error->message, ::testing::StartsWith("DEFLATE from 127.0.0.1:"));
  EXPECT_TRUE(server().received.empty());
  ASSERT_TRUE(runUntil([&] { return client_.close_calls == 1; }));
}

TEST_F(ConnectionTest, ConnectToClosedPortFails) {
  const std::uint16_t port = listener_->port();
  listener_->close();
  auto outcome = testing::startConnect(loop(), "127.0.0.1", port, milliseconds(5000));
  EXPECT_FALSE(outcome->has_value());  // never before connect() returns
  ASSERT_TRUE(runUntil([&] { return outcome->has_value(); }));
  ASSERT_FALSE(**outcome);
  const NetError* error = &(*outcome)->error();
  EXPECT_EQ(error->message,
            "connect to 127.0.0.1:" + std::to_string(port) + ": connection refused");
}

TEST_F(ConnectionTest, ConnectTimesOut) {
  // A listening socket with a full accept queue: Linux drops further SYNs, so the next connect
  // hangs until the deadline.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), length), 0);
  ASSERT_EQ(::listen(fd, 0), 0);
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::uint16_t port = ntohs(address.sin_port);

  // Fill the queue: connections the kernel completes although nobody accepts them.
  std::vector<std::unique_ptr<Connection>> fillers;
  std::shared_ptr<testing::ConnectOutcome> outcome;
  std::chrono::steady_clock::time_point started;
  for (int i = 0; i < 8; ++i) {
    started = std::chrono::steady_clock::now();
    outcome = testing::startConnect(loop(), "127.0.0.1", port, milliseconds(300));
    ASSERT_TRUE(runUntil([&] { return outcome->has_value(); }));
    if (!**outcome) {
      break;
    }
    fillers.push_back(std::move(***outcome));
  }
  ::close(fd);
  ASSERT_FALSE(**outcome) << "the accept queue never filled";
  EXPECT_EQ((*outcome)->error().message,
            "connect to 127.0.0.1:" + std::to_string(port) + ": timed out after 300 ms");
  // libuv's clock is cached per loop turn and counts whole milliseconds.
  EXPECT_GE(std::chrono::steady_clock::now() - started, milliseconds(295));
}

}  // namespace
}  // namespace popbridge::proxy
