#include "proxy/core/deflate_stream.h"

#include <zlib.h>

#include <array>
#include <cstdlib>
#include <vector>

namespace popbridge::proxy {
namespace {

// Output is produced through a stack buffer of this size per zlib call.
constexpr std::size_t kChunk = 16 * 1024;
// The largest window a raw inflater may need (RFC 1951 3.2.5: distances up to 32768).
constexpr std::size_t kMaxHistory = 32 * 1024;

// zlib's blocks, recycled per thread. Every connection's deflater and inflater ask for the same
// few sizes, and they are freed whenever a connection goes quiet; handed back to malloc, those
// touched pages would be given to whatever is allocated next (such as a new connection's mostly
// untouched read buffer) and count in RSS as that connection's. Kept here instead, they serve
// only the next zlib state. At most kMaxCachedBlocks (~250 KiB) wait per thread.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;  // gcc
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;  // clang
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

// Under AddressSanitizer no block is kept: each goes back to malloc, so a use of zlib memory
// after its stream ended is still caught.
class BlockCache {
 public:
  static constexpr std::size_t kMaxCachedBlocks = 12;
  static constexpr std::size_t kHeader = 16;  // keeps malloc's 16-byte alignment for zlib

  BlockCache() = default;
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() {
    for (void* block : free_) std::free(block);
  }

  void* take(std::size_t size) {
    for (std::size_t i = 0; i < free_.size(); ++i) {
      if (sizeOf(free_[i]) == size) {
        void* block = free_[i];
        free_[i] = free_.back();
        free_.pop_back();
        return static_cast<char*>(block) + kHeader;
      }
    }
    void* block = std::malloc(size + kHeader);
    if (block == nullptr) return nullptr;
    *static_cast<std::size_t*>(block) = size;
    return static_cast<char*>(block) + kHeader;
  }

  void give(void* address) {
    void* block = static_cast<char*>(address) - kHeader;
    if (!kAddressSanitizer && free_.size() < kMaxCachedBlocks) {
      free_.push_back(block);
    } else {
      std::free(block);
    }
  }

 private:
  static std::size_t sizeOf(void* block) { return *static_cast<std::size_t*>(block); }
  std::vector<void*> free_;
};

thread_local BlockCache block_cache;

voidpf zlibAlloc(voidpf /*opaque*/, uInt items, uInt size) {
  return block_cache.take(static_cast<std::size_t>(items) * size);
}

void zlibFree(voidpf /*opaque*/, voidpf address) {
  if (address != nullptr) block_cache.give(address);
}

void useBlockCache(z_stream& z) {
  z.zalloc = zlibAlloc;
  z.zfree = zlibFree;
  z.opaque = nullptr;
}

std::string zlibReason(const z_stream& stream, int rc) {
  if (stream.msg != nullptr) return stream.msg;
  switch (rc) {
    case Z_MEM_ERROR:
      return "out of memory";
    case Z_DATA_ERROR:
      return "corrupt data";
    case Z_STREAM_ERROR:
      return "inconsistent stream state";
    default:
      return "zlib error " + std::to_string(rc);
  }
}

}  // namespace

struct Deflater::Stream {
  z_stream z{};
};

struct Inflater::Stream {
  z_stream z{};
};

Deflater::Deflater() = default;

Deflater::~Deflater() {
  if (stream_) deflateEnd(&stream_->z);
}

Result<void, NetError> Deflater::compress(std::string_view plaintext, std::string& out) {
  if (plaintext.empty()) return {};
  if (!stream_) {
    auto stream = std::make_unique<Stream>();
    useBlockCache(stream->z);
    const int rc =
        deflateInit2(&stream->z, kLevel, Z_DEFLATED, -kWindowBits, kMemLevel, Z_DEFAULT_STRATEGY);
    if (rc != Z_OK) return fail(NetError{"DEFLATE: " + zlibReason(stream->z, rc)});
    stream_ = std::move(stream);
  }
  // zlib does not write through next_in; the cast only satisfies its pre-const API.
  stream_->z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(plaintext.data()));
  stream_->z.avail_in = static_cast<uInt>(plaintext.size());
  run(Z_NO_FLUSH, out);
  unflushed_ += plaintext.size();
  total_in_ += plaintext.size();
  return {};
}

void Deflater::flush(std::string& out) {
  if (!stream_) return;
  stream_->z.next_in = nullptr;
  stream_->z.avail_in = 0;
  run(Z_SYNC_FLUSH, out);
  deflateEnd(&stream_->z);
  stream_.reset();
  unflushed_ = 0;
}

void Deflater::run(int flush_mode, std::string& out) {
  std::array<Bytef, kChunk> buffer;
  // With a valid stream, deflate() cannot fail here: Z_BUF_ERROR only says "no progress".
  do {
    stream_->z.next_out = buffer.data();
    stream_->z.avail_out = static_cast<uInt>(buffer.size());
    deflate(&stream_->z, flush_mode);
    const std::size_t produced = buffer.size() - stream_->z.avail_out;
    out.append(reinterpret_cast<const char*>(buffer.data()), produced);
    total_out_ += produced;
  } while (stream_->z.avail_in > 0 || stream_->z.avail_out == 0);
}

Inflater::Inflater() = default;

Inflater::~Inflater() {
  if (stream_) inflateEnd(&stream_->z);
}

Result<void, NetError> Inflater::open() {
  auto stream = std::make_unique<Stream>();
  useBlockCache(stream->z);
  const int rc = inflateInit2(&stream->z, -kWindowBits);
  if (rc != Z_OK) return fail(NetError{"DEFLATE: " + zlibReason(stream->z, rc)});
  if (!history_.empty()) {
    // Raw streams accept a dictionary right after init: the window continues where it was.
    const int set =
        inflateSetDictionary(&stream->z, reinterpret_cast<const Bytef*>(history_.data()),
                             static_cast<uInt>(history_.size()));
    if (set != Z_OK) {
      inflateEnd(&stream->z);
      return fail(NetError{"DEFLATE: cannot restore history: " + zlibReason(stream->z, set)});
    }
    std::string().swap(history_);
  }
  stream_ = std::move(stream);
  return {};
}

void Inflater::release() {
  std::array<Bytef, kMaxHistory> window;
  uInt length = 0;
  if (inflateGetDictionary(&stream_->z, window.data(), &length) != Z_OK) return;  // keep state
  history_.assign(reinterpret_cast<const char*>(window.data()), length);
  inflateEnd(&stream_->z);
  stream_.reset();
}

Result<std::size_t, NetError> Inflater::inflate(std::string_view compressed, std::string& out,
                                                std::size_t max_out) {
  if (failed_) return fail(NetError{"stream already failed"});
  if (ended_) {
    if (compressed.empty()) return std::size_t{0};
    failed_ = true;
    return fail(NetError{"data after the final block"});
  }
  if (!stream_) {
    if (compressed.empty()) return std::size_t{0};
    if (auto opened = open(); !opened) {
      failed_ = true;
      return fail(std::move(opened.error()));
    }
  }
  z_stream& z = stream_->z;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  z.avail_in = static_cast<uInt>(compressed.size());
  std::array<Bytef, kChunk> buffer;
  std::size_t produced_total = 0;
  int rc = Z_OK;
  while (produced_total < max_out) {
    const std::size_t room = std::min(buffer.size(), max_out - produced_total);
    z.next_out = buffer.data();
    z.avail_out = static_cast<uInt>(room);
    rc = ::inflate(&z, Z_SYNC_FLUSH);
    const std::size_t produced = room - z.avail_out;
    out.append(reinterpret_cast<const char*>(buffer.data()), produced);
    produced_total += produced;
    if (rc == Z_STREAM_END) {
      ended_ = true;
      break;
    }
    if (rc == Z_BUF_ERROR) break;  // no progress possible: input used up
    if (rc != Z_OK) {
      failed_ = true;
      return fail(NetError{zlibReason(z, rc)});
    }
    if (z.avail_in == 0 && z.avail_out != 0) break;  // all input taken, all output given
  }
  const std::size_t consumed = compressed.size() - z.avail_in;
  total_in_ += consumed;
  total_out_ += produced_total;
  if (ended_ && z.avail_in > 0) {
    failed_ = true;
    return fail(NetError{"data after the final block"});
  }
  // data_type: bit 7 = between blocks, low 3 bits = unused bits of the last input byte. Only
  // between blocks on a byte boundary, with nothing more to give out, is the window all the
  // state there is.
  const bool between_blocks = (z.data_type & 128) != 0 && (z.data_type & 7) == 0;
  if (!ended_ && between_blocks && z.avail_in == 0 && z.avail_out != 0) release();
  return consumed;
}

}  // namespace popbridge::proxy
