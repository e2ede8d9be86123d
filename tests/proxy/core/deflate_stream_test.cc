// Deflater / Inflater (RFC 4978 raw DEFLATE), checked against zlib itself as the peer.

#include "proxy/core/deflate_stream.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <random>
#include <string>
#include <vector>

namespace popbridge::proxy {
namespace {

// A client's side as RFC 4978 asks of it: one raw stream, full 32 KiB window, a sync flush after
// each command so the server can act on it.
class PeerDeflater {
 public:
  PeerDeflater() { EXPECT_EQ(deflateInit2(&z_, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK); }
  ~PeerDeflater() { deflateEnd(&z_); }
  std::string compress(const std::string& text, int mode = Z_SYNC_FLUSH) {
    std::string out;
    z_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
    z_.avail_in = static_cast<uInt>(text.size());
    std::array<Bytef, 4096> buffer;
    do {
      z_.next_out = buffer.data();
      z_.avail_out = buffer.size();
      deflate(&z_, mode);
      out.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - z_.avail_out);
    } while (z_.avail_out == 0);
    return out;
  }

 private:
  z_stream z_{};
};

// zlib's own raw inflater with the full window, as a client uses.
std::string peerInflate(const std::string& compressed) {
  z_stream z{};
  EXPECT_EQ(inflateInit2(&z, -15), Z_OK);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::string out;
  std::array<Bytef, 4096> buffer;
  int rc = Z_OK;
  do {
    z.next_out = buffer.data();
    z.avail_out = buffer.size();
    rc = inflate(&z, Z_SYNC_FLUSH);
    out.append(reinterpret_cast<char*>(buffer.data()), buffer.size() - z.avail_out);
  } while (rc == Z_OK && (z.avail_in > 0 || z.avail_out == 0));
  EXPECT_TRUE(rc == Z_OK || rc == Z_BUF_ERROR) << rc;
  EXPECT_EQ(z.avail_in, 0u);
  inflateEnd(&z);
  return out;
}

// Inflates everything, in as many calls as it takes.
Result<std::string, NetError> inflateAll(Inflater& inflater, std::string_view input,
                                         std::size_t max_out = 16 * 1024) {
  std::string out;
  while (true) {
    const std::size_t before = out.size();
    auto used = inflater.inflate(input, out, max_out);
    if (!used) return fail(used.error());
    EXPECT_LE(out.size() - before, max_out);
    input.remove_prefix(*used);
    if (input.empty() && out.size() - before < max_out) return out;
  }
}

std::string imapText(int n) {
  std::string text;
  for (int i = 1; i <= n; ++i) {
    text += "* " + std::to_string(i) + " FETCH (UID " + std::to_string(1000 + i) +
            " FLAGS (\\Seen) RFC822.SIZE " + std::to_string(2000 + i * 7) + ")\r\n";
  }
  return text;
}

std::string randomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string out(n, '\0');
  for (char& c : out) c = static_cast<char>(rng() & 0xff);
  return out;
}

TEST(DeflaterTest, BatchesDecodeWithZlibAndStateIsFreedAfterEachFlush) {
  Deflater deflater;
  EXPECT_FALSE(deflater.allocated());
  std::string wire;
  std::string expected;
  for (int batch = 0; batch < 5; ++batch) {
    const std::string text = imapText(50 + batch) + "a" + std::to_string(batch) + " OK done\r\n";
    ASSERT_TRUE(deflater.compress(text.substr(0, 100), wire));
    ASSERT_TRUE(deflater.compress(text.substr(100), wire));
    EXPECT_TRUE(deflater.allocated());
    EXPECT_EQ(deflater.unflushed(), text.size());
    deflater.flush(wire);
    EXPECT_FALSE(deflater.allocated());
    EXPECT_EQ(deflater.unflushed(), 0u);
    expected += text;
    // Each batch is decodable on its own: a peer never waits for the next one.
    EXPECT_EQ(peerInflate(wire), expected);
  }
  EXPECT_LT(wire.size(), expected.size() / 3);  // it really compresses
  EXPECT_EQ(deflater.totalIn(), expected.size());
  EXPECT_EQ(deflater.totalOut(), wire.size());
  std::string nothing;
  deflater.flush(nothing);  // nothing given: no bytes
  EXPECT_TRUE(nothing.empty());
}

TEST(DeflaterTest, LargeIncompressibleBodyRoundTrips) {
  Deflater deflater;
  const std::string body = randomBytes(1 << 20, 7) + imapText(2000);
  std::string wire;
  for (std::size_t at = 0; at < body.size(); at += 100000) {
    ASSERT_TRUE(deflater.compress(std::string_view(body).substr(at, 100000), wire));
  }
  deflater.flush(wire);
  EXPECT_EQ(peerInflate(wire), body);
  Inflater inflater;  // our own inflater reads it too
  auto back = inflateAll(inflater, wire);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, body);
}

TEST(InflaterTest, CommandsSplitAtEveryOffset) {
  // Commands that refer back to earlier ones (the peer's window spans sync flushes).
  const std::vector<std::string> commands = {"a1 LOGIN alice secret\r\n",
                                             "a2 SELECT INBOX\r\n",
                                             "a3 UID FETCH 1:* (FLAGS)\r\n",
                                             "a4 UID FETCH 1:* (FLAGS BODY.PEEK[HEADER])\r\n",
                                             "a5 IDLE\r\n",
                                             "DONE\r\n",
                                             "a6 UID STORE 1:5 +FLAGS (\\Seen)\r\n"};
  PeerDeflater peer;
  std::string wire;
  std::string plain;
  for (const std::string& command : commands) {
    wire += peer.compress(command);
    plain += command;
  }
  for (std::size_t split = 0; split <= wire.size(); ++split) {
    Inflater inflater;
    std::string out;
    auto first = inflateAll(inflater, std::string_view(wire).substr(0, split));
    ASSERT_TRUE(first) << split;
    auto second = inflateAll(inflater, std::string_view(wire).substr(split));
    ASSERT_TRUE(second) << split;
    EXPECT_EQ(*first + *second, plain) << split;
  }
  // Byte by byte.
  Inflater inflater;
  std::string out;
  for (const char c : wire) {
    auto piece = inflateAll(inflater, std::string_view(&c, 1));
    ASSERT_TRUE(piece);
    out += *piece;
  }
  EXPECT_EQ(out, plain);
}

TEST(InflaterTest, ReleasesStateBetweenCommandsAndKeepsHistory) {
  PeerDeflater peer;
  Inflater inflater;
  const std::string command = "a1 UID FETCH 1:* (FLAGS INTERNALDATE RFC822.SIZE ENVELOPE)\r\n";
  auto first = inflateAll(inflater, peer.compress(command));
  ASSERT_TRUE(first);
  EXPECT_EQ(*first, command);
  EXPECT_FALSE(inflater.allocated());
  EXPECT_EQ(inflater.savedHistory(), command.size());
  // The repeat is coded as a back-reference into the released window.
  const std::string again = peer.compress(command);
  EXPECT_LT(again.size(), 20u);
  auto second = inflateAll(inflater, again);
  ASSERT_TRUE(second);
  EXPECT_EQ(*second, command);
  EXPECT_FALSE(inflater.allocated());
  // Without a sync flush the inflater stops mid-block and must keep its state.
  std::string partial = peer.compress("a2 NOOP\r\n", Z_NO_FLUSH);
  partial += peer.compress(std::string(3000, 'x'), Z_PARTIAL_FLUSH);
  auto third = inflateAll(inflater, partial);
  ASSERT_TRUE(third);
  EXPECT_EQ(*third, "a2 NOOP\r\n" + std::string(3000, 'x'));
  auto fourth = inflateAll(inflater, peer.compress(command));
  ASSERT_TRUE(fourth);
  EXPECT_EQ(*fourth, command);
}

TEST(InflaterTest, HistoryIsCappedAtTheWindow) {
  PeerDeflater peer;
  Inflater inflater;
  const std::string big = randomBytes(100000, 3);
  auto out = inflateAll(inflater, peer.compress(big));
  ASSERT_TRUE(out);
  EXPECT_EQ(*out, big);
  EXPECT_FALSE(inflater.allocated());
  EXPECT_EQ(inflater.savedHistory(), 32u * 1024);
  const std::string tail = big.substr(big.size() - 30000);  // all of it back-references
  auto again = inflateAll(inflater, peer.compress(tail));
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, tail);
}

TEST(InflaterTest, OutputPerCallIsBounded) {
  PeerDeflater peer;
  const std::string bomb = peer.compress(std::string(8 << 20, '\0'));
  EXPECT_LT(bomb.size(), 16u * 1024);
  Inflater inflater;
  std::string out;
  auto used = inflater.inflate(bomb, out, 4096);
  ASSERT_TRUE(used);
  EXPECT_EQ(out.size(), 4096u);
  auto rest = inflateAll(inflater, std::string_view(bomb).substr(*used), 4096);
  ASSERT_TRUE(rest);
  EXPECT_EQ(out.size() + rest->size(), 8u << 20);
}

TEST(InflaterTest, CorruptInputFailsCleanly) {
  {
    Inflater inflater;
    std::string out;
    auto used = inflater.inflate(std::string("\xff\xff\xff\xff", 4), out, 1024);  // block type 3
    ASSERT_FALSE(used);
    EXPECT_NE(used.error().message.find("invalid block type"), std::string::npos)
        << used.error().message;
    EXPECT_FALSE(inflater.inflate("x", out, 1024));  // stays failed
  }
  {
    // A final block, then more data: the stream is over (RFC 1951 3.2.3 BFINAL).
    PeerDeflater peer;
    std::string wire = peer.compress("a1 NOOP\r\n", Z_FINISH) + "junk";
    Inflater inflater;
    auto out = inflateAll(inflater, wire);
    ASSERT_FALSE(out);
    EXPECT_NE(out.error().message.find("after the final block"), std::string::npos);
  }
  // Every single-byte corruption of a valid stream either fails or decodes to something; it
  // never crashes or reads out of bounds (ASan checks the latter).
  PeerDeflater peer;
  std::string wire;
  for (int i = 0; i < 20; ++i) wire += peer.compress("a" + std::to_string(i) + " NOOP\r\n");
  int failures = 0;
  for (std::size_t at = 0; at < wire.size(); ++at) {
    for (const int flip : {0x01, 0x80, 0xff}) {
      std::string bad = wire;
      bad[at] = static_cast<char>(static_cast<unsigned char>(bad[at]) ^ flip);
      Inflater inflater;
      if (!inflateAll(inflater, bad)) ++failures;
    }
  }
  EXPECT_GT(failures, 0);
}

}  // namespace
}  // namespace popbridge::proxy
