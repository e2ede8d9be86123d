"""IMAP client helpers on top of imaplib: TLS connections that trust the harness CA, a FETCH
response parser (imaplib hands back raw lines and literals), IDLE (which imaplib lacks before
Python 3.14), and polling helpers with deadlines."""

import imaplib
import re
import socket
import ssl
import time
import zlib
from dataclasses import dataclass

from . import util

# Large BODY[] literals arrive as one response; imaplib's default line limit (1 MB) is about the
# lines around them, but long header lines may exceed smaller limits in older Pythons.
imaplib._MAXLINE = max(imaplib._MAXLINE, 10 << 20)
# imaplib refuses commands it does not know; COMPRESS (RFC 4978) is sent in any state so that
# tests can check the server's refusals too.
imaplib.Commands.setdefault("COMPRESS", ("NONAUTH", "AUTH", "SELECTED"))


def client_context(ca_file):
    """A client SSLContext trusting exactly `ca_file`, with hostname checking on."""
    ctx = ssl.create_default_context(cafile=ca_file)
    ctx.check_hostname = True
    return ctx


def connect(port, ca_file, mode="implicit", timeout=30):
    """An IMAP connection that is not logged in. mode: implicit (IMAP4_SSL), starttls (IMAP4 then
    STARTTLS, RFC 3501 section 6.2.1) or plain (IMAP4, no TLS at all)."""
    if mode == "implicit":
        return imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=client_context(ca_file),
                                 timeout=timeout)
    imap = imaplib.IMAP4("127.0.0.1", port, timeout=timeout)
    if mode == "starttls":
        imap.starttls(ssl_context=client_context(ca_file))
    elif mode != "plain":
        raise ValueError(mode)
    return imap


def login(port, ca_file, user, password, mode="implicit", timeout=30):
    imap = connect(port, ca_file, mode, timeout)
    imap.login(user, password)
    return imap


def safe_logout(imap):
    """LOGOUT, ignoring a connection the test (or a killed daemon) already broke."""
    try:
        imap.logout()
    except (imaplib.IMAP4.error, OSError, EOFError):
        try:
            imap.shutdown()
        except OSError:
            pass


# ------------------------------------------------------------------- FETCH parsing


class Literal(bytes):
    """A literal string from the response (kept distinct from atoms)."""


_LITERAL_SUFFIX = re.compile(rb"\{(\d+)\+?\}\s*$")


def _tokenize(text, out):
    """Appends the tokens of `text` (bytes without literals) to `out`: b"(", b")", atoms (bytes,
    brackets like BODY[HEADER.FIELDS (A B)]<0> kept whole), quoted strings (str)."""
    i = 0
    n = len(text)
    while i < n:
        c = text[i:i + 1]
        if c in (b" ", b"\r", b"\n"):
            i += 1
        elif c in (b"(", b")"):
            out.append(c)
            i += 1
        elif c == b'"':
            i += 1
            buf = bytearray()
            while i < n and text[i:i + 1] != b'"':
                if text[i:i + 1] == b"\\":
                    i += 1
                buf += text[i:i + 1]
                i += 1
            i += 1
            out.append(buf.decode("utf-8", "replace"))
        else:
            start = i
            depth = 0
            while i < n:
                ch = text[i:i + 1]
                if ch == b"[":
                    depth += 1
                elif ch == b"]":
                    depth -= 1
                elif depth == 0 and ch in (b" ", b"(", b")", b"\r", b"\n"):
                    break
                i += 1
            out.append(text[start:i])


def _parse_list(tokens, pos):
    """Parses a parenthesized list starting after its "(" at tokens[pos]; returns (list, pos)."""
    items = []
    while pos < len(tokens):
        t = tokens[pos]
        if isinstance(t, bytes) and not isinstance(t, Literal) and t == b")":
            return items, pos + 1
        if isinstance(t, bytes) and not isinstance(t, Literal) and t == b"(":
            sub, pos = _parse_list(tokens, pos + 1)
            items.append(sub)
            continue
        items.append(t)
        pos += 1
    raise ValueError("unbalanced parentheses in FETCH response")


def _responses(data):
    """Groups imaplib's FETCH data (bytes lines and (line, literal) tuples) into responses: a run
    of tuples closed by one bytes element (the rest of the line after the last literal)."""
    current = []
    for item in data:
        if item is None:
            continue
        current.append(item)
        if isinstance(item, bytes):
            yield current
            current = []
    if current:
        yield current


def parse_fetch(data):
    """Parses the data imaplib returns for FETCH / UID FETCH into a list of (seq, dict) with item
    names as upper-case str ("UID", "FLAGS", "BODY[]", "RFC822.SIZE", ...) and values as int
    (numbers), tuple of str (FLAGS), bytes (literals and strings), or nested lists."""
    out = []
    for parts in _responses(data):
        tokens = []
        for part in parts:
            if isinstance(part, tuple):
                head, literal = part
                m = _LITERAL_SUFFIX.search(head)
                if not m:
                    raise ValueError(f"literal without {{n}}: {head[-80:]!r}")
                _tokenize(head[: m.start()], tokens)
                if len(literal) != int(m.group(1)):
                    raise ValueError(f"literal size {len(literal)} != announced {m.group(1)}")
                tokens.append(Literal(literal))
            else:
                _tokenize(part, tokens)
        # imaplib hands over "<seq> (...)": it strips "* " and the FETCH keyword.
        seq = int(tokens[0])
        start = tokens.index(b"(")
        items, _ = _parse_list(tokens, start + 1)
        values = {}
        for k in range(0, len(items) - 1, 2):
            key = items[k]
            key = key.decode("ascii").upper() if isinstance(key, bytes) else str(key).upper()
            value = items[k + 1]
            if key in ("UID", "RFC822.SIZE", "MODSEQ") and not isinstance(value, list):
                value = int(value)
            elif key == "FLAGS":
                value = tuple(v.decode("ascii") if isinstance(v, bytes) else v for v in value)
            elif key == "INTERNALDATE":
                value = value if isinstance(value, str) else value.decode()
            elif isinstance(value, bytes) and not isinstance(value, Literal) and value == b"NIL":
                value = None
            elif isinstance(value, str):
                value = value.encode("utf-8")
            elif isinstance(value, Literal):
                value = bytes(value)
            values[key] = value
        out.append((seq, values))
    return out


@dataclass
class Fetched:
    seq: int
    uid: int
    flags: tuple
    size: int
    internaldate: str
    body: bytes


def fetch_all(imap, peek=True):
    """UID FETCH 1:* (UID FLAGS RFC822.SIZE INTERNALDATE BODY.PEEK[]) in the selected mailbox, as
    a list of Fetched in sequence order. peek=False fetches BODY[] (which sets \\Seen,
    RFC 3501 section 6.4.5)."""
    section = "BODY.PEEK[]" if peek else "BODY[]"
    typ, data = imap.uid("FETCH", "1:*", f"(UID FLAGS RFC822.SIZE INTERNALDATE {section})")
    if typ != "OK":
        raise AssertionError(f"UID FETCH failed: {typ} {data}")
    merged = {}
    for seq, values in parse_fetch(data):
        merged.setdefault(seq, {}).update(values)
    out = []
    for seq in sorted(merged):
        v = merged[seq]
        if "BODY[]" not in v:
            continue  # an unsolicited FLAGS update for a message we also fetched above
        out.append(Fetched(seq, v["UID"], v.get("FLAGS", ()), v["RFC822.SIZE"],
                           v.get("INTERNALDATE", ""), v["BODY[]"]))
    return out


def fetch_item(imap, uid, item):
    """UID FETCH <uid> (<item>) and return that item's value (e.g. "BODY[HEADER]", "FLAGS")."""
    typ, data = imap.uid("FETCH", str(uid), f"({item})")
    if typ != "OK":
        raise AssertionError(f"UID FETCH {uid} {item} failed: {typ} {data}")
    key = item.upper().replace(".PEEK", "")
    for _seq, values in parse_fetch(data):
        if values.get("UID", uid) == uid and key in values:
            return values[key]
    raise AssertionError(f"no {key} for UID {uid} in {data!r}"[:500])


def uid_flags(imap):
    """{uid: set(flags)} for the selected mailbox."""
    typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS)")
    if typ != "OK":
        raise AssertionError(f"UID FETCH FLAGS failed: {typ} {data}")
    return {v["UID"]: set(v["FLAGS"]) for _s, v in parse_fetch(data) if "UID" in v}


_STATUS_MESSAGES = re.compile(rb"MESSAGES (\d+)", re.IGNORECASE)


def status_messages(imap, mailbox="INBOX"):
    typ, data = imap.status(mailbox, "(MESSAGES)")
    if typ != "OK":
        raise AssertionError(f"STATUS {mailbox} failed: {typ} {data}")
    m = _STATUS_MESSAGES.search(data[0])
    if not m:
        raise AssertionError(f"STATUS without MESSAGES: {data!r}")
    return int(m.group(1))


def wait_for_count(imap, count, timeout, details=None, mailbox="INBOX", exact=False):
    """Polls STATUS <mailbox> (MESSAGES) until it reaches `count` (or equals it with exact=True);
    returns the last count. A count above `count` with exact=True fails at once: duplicates."""
    def reached():
        n = status_messages(imap, mailbox)
        if exact and n > count:
            raise AssertionError(f"{mailbox} has {n} messages, expected {count}")
        return n >= count and n

    return util.wait_until(reached, timeout, f"{count} messages in {mailbox}", interval=0.1,
                           details=details)


# ------------------------------------------------------------------- IDLE (RFC 2177)


class Idle:
    """Runs IDLE on a logged-in imaplib connection with a mailbox selected:
        idle = Idle(imap); idle.start(); line = idle.wait_for(rb"^\\* (\\d+) EXISTS", 10);
        idle.done()  # returns the tagged completion line
    """

    def __init__(self, imap):
        self.imap = imap
        self.tag = None
        self.seen = []  # untagged lines received while idling

    def _readline(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise util.DeadlineExceeded("timed out reading from the IMAP server")
        self.imap.sock.settimeout(left)
        try:
            line = self.imap.readline()
        except (socket.timeout, TimeoutError):
            raise util.DeadlineExceeded("timed out reading from the IMAP server") from None
        finally:
            self.imap.sock.settimeout(None)
        if not line:
            raise EOFError("IMAP server closed the connection during IDLE")
        return line

    def start(self, timeout=10):
        """Sends IDLE and waits for the continuation request ("+ ..."). Untagged responses sent
        before it are kept in `seen`."""
        self.tag = self.imap._new_tag()
        self.imap.send(self.tag + b" IDLE\r\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if line.startswith(b"+"):
                return
            if line.startswith(self.tag):
                raise AssertionError(f"IDLE refused: {line!r}")
            self.seen.append(line)

    def wait_for(self, pattern, timeout):
        """Reads untagged lines until one matches `pattern` (bytes regex); returns the match."""
        rx = re.compile(pattern)
        for line in self.seen:
            m = rx.search(line)
            if m:
                return m
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            self.seen.append(line)
            m = rx.search(line)
            if m:
                return m

    def done(self, timeout=10):
        """Sends DONE and returns the tagged completion line (e.g. b"A005 OK IDLE terminated")."""
        self.imap.send(b"DONE\r\n")
        deadline = time.monotonic() + timeout
        while True:
            line = self._readline(deadline)
            if line.startswith(self.tag + b" "):
                return line.rstrip(b"\r\n")
            self.seen.append(line)


# ------------------------------------------------------------------- COMPRESS (RFC 4978)


class Deflated:
    """Turns on COMPRESS DEFLATE (RFC 4978) on a logged-in imaplib connection (imaplib has no
    support): sends the command, checks the tagged OK, then routes imaplib's send / read /
    readline through a raw DEFLATE pair (zlib, wbits=-15), sync-flushing every write as clients
    do. Works over plain TCP and TLS alike (imaplib's sock is then the TLS socket, so the
    compressed bytes travel inside TLS). Counts plaintext and wire bytes each way."""

    def __init__(self, imap):
        self.imap = imap
        self.compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.decompressor = zlib.decompressobj(-15)
        self.buffer = b""
        self.plain_in = self.wire_in = self.plain_out = self.wire_out = 0
        typ, data = imap._simple_command("COMPRESS", "DEFLATE")
        if typ != "OK":
            raise AssertionError(f"COMPRESS DEFLATE refused: {typ} {data}")
        self.raw_file = imap.file
        imap.send = self.send
        imap.read = self.read
        imap.readline = self.readline

    def send(self, data):
        wire = self.compressor.compress(data) + self.compressor.flush(zlib.Z_SYNC_FLUSH)
        self.plain_out += len(data)
        self.wire_out += len(wire)
        self.imap.sock.sendall(wire)

    def send_raw(self, wire):
        """Writes bytes as they are, bypassing the compressor (to corrupt the stream)."""
        self.imap.sock.sendall(wire)

    def _fill(self):
        chunk = self.raw_file.read1(65536)
        if not chunk:
            raise EOFError("server closed the compressed connection")
        self.wire_in += len(chunk)
        plain = self.decompressor.decompress(chunk)
        self.plain_in += len(plain)
        self.buffer += plain

    def readline(self):
        while b"\n" not in self.buffer:
            self._fill()
        line, _, self.buffer = self.buffer.partition(b"\n")
        return line + b"\n"

    def read(self, size):
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data
