// The pull benchmark's reference reader (bench/pull_bench.py --tools bare-file,bare-maildir):
// the least a POP3 client can do per message, to put the tools' rates next to what the machine
// allows. It logs in over POP3S (or POP3), sends LIST, then pipelines RETR for every message
// (a window of outstanding commands) and reads the replies with large TLS reads, removing the
// dot-stuffing. Nothing else: no UIDL, no ledger, no MIME parsing, no DELE, no error recovery.
//
//   bare_pop_reader HOST PORT tls|plain CA_FILE USER PASSWORD file|maildir OUTPUT
//
// file:    every message appended to the file OUTPUT, no fsync (the page cache's bound).
// maildir: each message written to OUTPUT/tmp/N, fsync'd, renamed to OUTPUT/new/N, and OUTPUT/new
//          fsync'd, one message after the other (the bound of a delivery durable per message).
// Prints "messages bytes" on success; exits 1 with a message on stderr otherwise.

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

enum { kWindow = 32, kReadSize = 256 * 1024, kWriteBuffer = 256 * 1024 };

static int sock = -1;
static SSL* ssl = NULL;
static char in[kReadSize * 2];
static size_t in_len = 0;
static size_t in_pos = 0;

static void die(const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("bare_pop_reader: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static void send_all(const char* data, size_t len) {
  while (len > 0) {
    long n = ssl ? SSL_write(ssl, data, (int)len) : write(sock, data, len);
    if (n <= 0) die("write failed");
    data += n;
    len -= (size_t)n;
  }
}

// Refills the input buffer, keeping the unread bytes; 0 at end of stream.
static size_t fill(void) {
  if (in_pos > 0) {
    memmove(in, in + in_pos, in_len - in_pos);
    in_len -= in_pos;
    in_pos = 0;
  }
  if (in_len == sizeof in) die("line longer than %zu bytes", sizeof in);
  size_t room = sizeof in - in_len;
  if (room > kReadSize) room = kReadSize;
  long n = ssl ? SSL_read(ssl, in + in_len, (int)room) : read(sock, in + in_len, room);
  if (n <= 0) return 0;
  in_len += (size_t)n;
  return (size_t)n;
}

// The next line, CRLF included, as a pointer into the buffer valid until the next call.
static const char* next_line(size_t* len) {
  for (;;) {
    const char* start = in + in_pos;
    const char* lf = memchr(start, '\n', in_len - in_pos);
    if (lf != NULL) {
      *len = (size_t)(lf - start) + 1;
      in_pos += *len;
      return start;
    }
    if (fill() == 0) die("connection closed");
  }
}

static void expect_ok(const char* what) {
  size_t len = 0;
  const char* line = next_line(&len);
  if (len < 3 || strncmp(line, "+OK", 3) != 0) die("%s: %.*s", what, (int)len, line);
}

static void command(const char* text) {
  send_all(text, strlen(text));
  expect_ok(text);
}

struct Output {
  int fd;
  char buffer[kWriteBuffer];
  size_t used;
};

static void flush_output(struct Output* out) {
  const char* p = out->buffer;
  while (out->used > 0) {
    ssize_t n = write(out->fd, p, out->used);
    if (n < 0) die("write: %s", strerror(errno));
    p += n;
    out->used -= (size_t)n;
  }
}

static void emit(struct Output* out, const char* data, size_t len) {
  if (out->used + len > sizeof out->buffer) flush_output(out);
  if (len > sizeof out->buffer) {
    struct Output direct = {.fd = out->fd, .used = 0};
    while (len > 0) {
      ssize_t n = write(direct.fd, data, len);
      if (n < 0) die("write: %s", strerror(errno));
      data += n;
      len -= (size_t)n;
    }
    return;
  }
  memcpy(out->buffer + out->used, data, len);
  out->used += len;
}

// Copies one multi-line reply's body (after its +OK line) to `out`; returns its size.
static size_t copy_body(struct Output* out) {
  size_t size = 0;
  for (;;) {
    size_t len = 0;
    const char* line = next_line(&len);
    if (len >= 2 && line[0] == '.') {
      if ((len == 3 && line[1] == '\r') || len == 2) return size;
      ++line;  // RFC 1939 3: byte-stuffed line
      --len;
    }
    emit(out, line, len);
    size += len;
  }
}

int main(int argc, char** argv) {
  if (argc != 9) {
    die("usage: bare_pop_reader HOST PORT tls|plain CA_FILE USER PASSWORD file|maildir OUTPUT");
  }
  const int use_tls = strcmp(argv[3], "tls") == 0;
  const int maildir = strcmp(argv[7], "maildir") == 0;
  const char* output = argv[8];

  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
  if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) die("bad address %s", argv[1]);
  sock = socket(AF_INET, SOCK_STREAM, 0);
  if (sock < 0 || connect(sock, (struct sockaddr*)&addr, sizeof addr) != 0) {
    die("connect: %s", strerror(errno));
  }
  const int one = 1;
  setsockopt(sock, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (use_tls) {
    SSL_CTX* ctx = SSL_CTX_new(TLS_method());
    if (ctx == NULL || SSL_CTX_load_verify_locations(ctx, argv[4], NULL) != 1) {
      die("cannot load CA file %s", argv[4]);
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    ssl = SSL_new(ctx);
    SSL_set_tlsext_host_name(ssl, "localhost");
    SSL_set1_host(ssl, "localhost");
    SSL_set_fd(ssl, sock);
    if (SSL_connect(ssl) != 1) die("TLS handshake failed");
  }
  expect_ok("greeting");
  char text[512];
  snprintf(text, sizeof text, "USER %s\r\n", argv[5]);
  command(text);
  snprintf(text, sizeof text, "PASS %s\r\n", argv[6]);
  command(text);

  send_all("STAT\r\n", 6);
  size_t len = 0;
  const char* line = next_line(&len);
  unsigned long count = 0;
  if (sscanf(line, "+OK %lu", &count) != 1) die("STAT: %.*s", (int)len, line);

  struct Output out = {.fd = -1, .used = 0};
  if (!maildir) {
    out.fd = open(output, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (out.fd < 0) die("open %s: %s", output, strerror(errno));
  }
  char tmp_dir[4096];
  char new_dir[4096];
  snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", output);
  snprintf(new_dir, sizeof new_dir, "%s/new", output);
  int new_fd = -1;
  if (maildir) {
    new_fd = open(new_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (new_fd < 0) die("open %s: %s", new_dir, strerror(errno));
  }

  unsigned long sent = 0;
  unsigned long long bytes = 0;
  for (unsigned long done = 0; done < count; ++done) {
    // Keep the window full: commands are tiny, so writing them never waits on the replies.
    while (sent < count && sent - done < kWindow) {
      ++sent;
      int n = snprintf(text, sizeof text, "RETR %lu\r\n", sent);
      send_all(text, (size_t)n);
    }
    expect_ok("RETR");
    if (!maildir) {
      bytes += copy_body(&out);
      continue;
    }
    char tmp_path[4200];
    char new_path[4200];
    snprintf(tmp_path, sizeof tmp_path, "%s/%lu.bare", tmp_dir, done + 1);
    snprintf(new_path, sizeof new_path, "%s/%lu.bare", new_dir, done + 1);
    out.fd = open(tmp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out.fd < 0) die("open %s: %s", tmp_path, strerror(errno));
    bytes += copy_body(&out);
    flush_output(&out);
    if (fsync(out.fd) != 0) die("fsync: %s", strerror(errno));
    close(out.fd);
    if (rename(tmp_path, new_path) != 0) die("rename: %s", strerror(errno));
    if (fsync(new_fd) != 0) die("fsync %s: %s", new_dir, strerror(errno));
  }
  if (!maildir) {
    flush_output(&out);
    close(out.fd);
  }
  command("QUIT\r\n");
  printf("%lu %llu\n", count, bytes);
  return 0;
}
