#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "protocols/common/result.h"
#include "proxy/core/error.h"

namespace popbridge::proxy {

// Raw DEFLATE (RFC 1951, zlib windowBits -15) in each direction of an IMAP connection after
// COMPRESS DEFLATE (RFC 4978). Built for many mostly idle connections: neither side keeps zlib
// state while nothing flows.
//
// - Deflater: its zlib state exists only between the first byte of a response batch and the
//   sync flush that ends it; flush() frees it. The next batch starts a fresh raw stream, which
//   the peer's inflater reads as more blocks of the same stream (a block never needs to refer
//   back, RFC 1951 2; RFC 4978 4 allows clearing the dictionary at any time).
// - Inflater: the peer's deflater may refer back up to 32 KiB, so that history must survive.
//   Whenever a chunk of input ends on a block boundary (the client sync-flushed, as clients do
//   after each command) the inflater copies its window out (as much as has been produced, at most
//   32 KiB), frees its zlib state, and restores the window as the dictionary of a fresh raw
//   inflater when the next input arrives (inflateSetDictionary allows that for raw streams).
//
// Single thread; never calls back.
class Deflater {
 public:
  // zlib's 6 is its default trade-off. A 4 KiB window (2^12) and memLevel 5 keep the state near
  // 38 KiB while a batch is being compressed (zlib: 2^(windowBits+2) + 2^(memLevel+9) + ~6 KiB);
  // the peer's inflater accepts any window up to 32 KiB.
  static constexpr int kLevel = 6;
  static constexpr int kWindowBits = 12;
  static constexpr int kMemLevel = 5;

  Deflater();
  ~Deflater();
  Deflater(const Deflater&) = delete;
  Deflater& operator=(const Deflater&) = delete;

  // Compresses `plaintext` and appends whatever output zlib releases to `out`; part of the input
  // may stay inside until flush(). Fails only when zlib cannot allocate its state.
  Result<void, NetError> compress(std::string_view plaintext, std::string& out);
  // Ends the batch with Z_SYNC_FLUSH (so the peer can decode every byte given so far), appends
  // the output to `out` and frees the zlib state. A no-op when nothing was given since the last
  // flush.
  void flush(std::string& out);
  // Bytes given to compress() since the last flush().
  std::size_t unflushed() const { return unflushed_; }
  // Whether zlib state is allocated right now (for tests and memory accounting).
  bool allocated() const { return stream_ != nullptr; }

  std::uint64_t totalIn() const { return total_in_; }
  std::uint64_t totalOut() const { return total_out_; }

 private:
  struct Stream;
  void run(int flush_mode, std::string& out);

  std::unique_ptr<Stream> stream_;
  std::size_t unflushed_ = 0;
  std::uint64_t total_in_ = 0;
  std::uint64_t total_out_ = 0;
};

class Inflater {
 public:
  // RFC 4978 requires the full 32 KiB window from the peer's side.
  static constexpr int kWindowBits = 15;

  Inflater();
  ~Inflater();
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  // Decompresses from `compressed`, appending at most `max_out` bytes to `out` (bounding what one
  // call can expand to). Returns how many bytes of `compressed` it consumed; call again with the
  // rest (or, when `out` grew by max_out, with nothing) to go on. Fails with a NetError naming
  // zlib's reason ("invalid block type") on corrupt input or data after the final block; the
  // Inflater is unusable afterwards.
  Result<std::size_t, NetError> inflate(std::string_view compressed, std::string& out,
                                        std::size_t max_out);
  // Whether zlib state is allocated right now (for tests and memory accounting).
  bool allocated() const { return stream_ != nullptr; }
  // Bytes of history kept while the zlib state is released (at most 32 KiB).
  std::size_t savedHistory() const { return history_.size(); }

  std::uint64_t totalIn() const { return total_in_; }
  std::uint64_t totalOut() const { return total_out_; }

 private:
  struct Stream;
  Result<void, NetError> open();
  void release();

  std::unique_ptr<Stream> stream_;
  std::string history_;
  bool ended_ = false;   // the peer sent its final block
  bool failed_ = false;  // corrupt input was seen
  std::uint64_t total_in_ = 0;
  std::uint64_t total_out_ = 0;
};

}  // namespace popbridge::proxy
