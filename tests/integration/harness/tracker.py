"""A small IMAP client that keeps the selected mailbox's state the way a careful client must:
the sequence-number -> UID map and the flags, maintained only from what the server says
(EXISTS, EXPUNGE, VANISHED, FETCH). Every response is checked against that model as it arrives;
a contradiction raises ProtocolError with the recent transcript.

Rules checked (RFC 3501 7.3.1, 7.4.1; RFC 9051 7.5.1; RFC 7162 3.2.10):
- EXISTS never announces fewer messages than the client knows of (only EXPUNGE/VANISHED shrink);
- EXPUNGE names a sequence number the client knows, never while a FETCH, STORE or SEARCH by
  sequence number is answered, never once QRESYNC is on (VANISHED replaces it);
- VANISHED (without EARLIER) only with QRESYNC on, never during those commands either, and only
  for messages the client counts (by UID, or among those EXISTS announced whose UID it has not
  learnt yet);
- FETCH names a known sequence number, and a UID it carries matches the one the client has there;
- UIDs ascend with sequence numbers; BYE and BAD never come."""

import re
import select
import socket
import time

_LITERAL_END = re.compile(rb"\{(\d+)\+?\}\r\n$")
_NUMBERED = re.compile(rb"^\* (\d+) (EXISTS|EXPUNGE|RECENT|FETCH)\b ?(.*)$", re.S)
_UID = re.compile(rb"\bUID (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_MODSEQ = re.compile(rb"\bMODSEQ \((\d+)\)")
_CODE = re.compile(rb"^\* OK \[(\S+) ?([^\]]*)\]")
_TAGGED = re.compile(rb"^(\S+) (OK|NO|BAD)\b ?(?:\[([^\]]*)\])? ?(.*)$", re.S)

# Commands during which no EXPUNGE/VANISHED may arrive (RFC 3501 7.4.1).
SEQUENCE_KINDS = ("FETCH", "STORE", "SEARCH")


class ProtocolError(AssertionError):
    pass


def parse_set(text):
    """[numbers] of an IMAP sequence set such as b"4:6,9" (no "*")."""
    out = []
    for part in text.decode().split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.extend(range(min(a, b), max(a, b) + 1))
        elif part:
            out.append(int(part))
    return out


def format_set(numbers):
    """b"1:3,7" for ascending numbers."""
    parts = []
    numbers = sorted(numbers)
    i = 0
    while i < len(numbers):
        j = i
        while j + 1 < len(numbers) and numbers[j + 1] == numbers[j] + 1:
            j += 1
        parts.append(str(numbers[i]) if i == j else f"{numbers[i]}:{numbers[j]}")
        i = j + 1
    return ",".join(parts)


class Entry:
    __slots__ = ("uid", "flags", "modseq")

    def __init__(self):
        self.uid = None  # not learnt yet (announced by EXISTS only)
        self.flags = None
        self.modseq = 0

    def __repr__(self):
        return f"{self.uid}:{sorted(self.flags) if self.flags is not None else '?'}"


class Reply:
    def __init__(self, status, code, text, untagged):
        self.status = status  # "OK" | "NO"
        self.code = code  # bytes inside [...] or None
        self.text = text
        self.untagged = untagged  # [bytes] (literals replaced by "{n}")
        self.fetches = []  # [(seq, uid or None, flags or None)] from this command's FETCHes
        self.expunged = []  # UIDs (or None when unknown) removed during this command
        self.search = None  # [numbers] of an untagged SEARCH
        self.search_view = None  # the UIDs of the view when the SEARCH response came
        self.vanished_earlier = set()  # SELECT (QRESYNC ...): UIDs expunged since then
        self.codes = {}  # untagged OK [CODE value]


class TrackingClient:
    def __init__(self, port, user, password, name, enable=None, timeout=30):
        """`enable`: None, "CONDSTORE" or "QRESYNC" (RFC 7162), turned on before any SELECT."""
        self.name = name
        self.qresync = enable == "QRESYNC"
        self.condstore = enable is not None
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.transcript = []
        self.model = []  # [Entry], sequence number n is model[n - 1]
        self.selected = False
        self.kind = None  # what the command in progress is ("FETCH" for a seq FETCH, ...)
        self.reply = None
        self.tag_no = 0
        self.counts = {}
        self.doomed = {}  # UID a SEARCH ALL left out (expunged elsewhere?) -> where
        greeting = self._read()
        if not greeting.startswith(b"* OK"):
            raise ProtocolError(f"{name}: greeting {greeting!r}")
        self.command(f'LOGIN {user} "{password}"')
        if enable:
            r = self.command(f"ENABLE {enable}")
            if not any(u.startswith(b"* ENABLED") and enable.encode() in u for u in r.untagged):
                self.fail(f"ENABLE {enable} not confirmed: {r.untagged}")

    # ------------------------------------------------------------------ wire

    def fail(self, why):
        raise ProtocolError(f"{self.name}: {why}\n--- last lines:\n" +
                            "\n".join(self.transcript[-40:]))

    def _note(self, line):
        self.transcript.append(line)
        if len(self.transcript) > 200:
            del self.transcript[:100]

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            self.fail("connection closed by the server")
        self.buf += data

    def _readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[: i + 1], self.buf[i + 1:]
                return line
            self._fill()

    def _skip(self, n):
        while len(self.buf) < n:
            self._fill()
        self.buf = self.buf[n:]

    def _read(self):
        """One response line with literals replaced by {n} (their bytes are read and dropped)."""
        out = b""
        while True:
            line = self._readline()
            m = _LITERAL_END.search(line)
            if not m:
                out += line.rstrip(b"\r\n")
                self._note("S: " + out.decode("utf-8", "replace")[:300])
                return out
            out += line[: m.start()] + b"{%d}" % int(m.group(1))
            self._skip(int(m.group(1)))

    def _send(self, data):
        self._note("C: " + data.decode("utf-8", "replace").rstrip()[:300])
        self.sock.sendall(data)

    def next_tag(self):
        self.tag_no += 1
        return f"{self.name}.{self.tag_no}"

    def command(self, text, kind=None, literal=None):
        """Runs one command to its tagged response and returns its Reply. `kind` names the rule
        set ("FETCH"/"STORE"/"SEARCH" for sequence-number forms). A NO is returned, a BAD fails.
        `literal` (bytes) is sent as a synchronizing literal after `text`."""
        tag = self.next_tag()
        self.kind = kind
        self.reply = Reply(None, None, None, [])
        if literal is None:
            self._send(f"{tag} {text}\r\n".encode())
        else:
            self._send(f"{tag} {text} {{{len(literal)}}}\r\n".encode())
            while True:
                line = self._read()
                if line.startswith(b"+"):
                    break
                if line.startswith(tag.encode() + b" "):
                    self.fail(f"literal refused: {line!r}")
                self._untagged(line)
            self._note(f"C: <{len(literal)} bytes>")
            self.sock.sendall(literal + b"\r\n")
        reply = self._until_tagged(tag)
        words = text.split(" ", 2)
        key = (" ".join(words[:2]) if words[0] == "UID" else words[0], reply.status)
        self.counts[key] = self.counts.get(key, 0) + 1
        return reply

    def pipeline(self, commands):
        """Sends several commands at once (RFC 3501 5.5) and reads their responses in order;
        `commands` is [(text, kind)]. Returns their Replies."""
        tags = [self.next_tag() for _ in commands]
        self._send(b"".join(f"{tag} {text}\r\n".encode()
                            for tag, (text, _) in zip(tags, commands)))
        replies = []
        for tag, (text, kind) in zip(tags, commands):
            self.kind = kind
            self.reply = Reply(None, None, None, [])
            replies.append(self._until_tagged(tag))
        return replies

    def _until_tagged(self, tag):
        while True:
            line = self._read()
            if line.startswith(tag.encode() + b" "):
                m = _TAGGED.match(line)
                if not m:
                    self.fail(f"malformed tagged response {line!r}")
                if m.group(2) == b"BAD":
                    self.fail(f"BAD response: {line!r}")
                reply = self.reply
                reply.status = m.group(2).decode()
                reply.code = m.group(3)
                reply.text = m.group(4)
                if reply.code and reply.code.startswith(b"HIGHESTMODSEQ ") and self.condstore:
                    # RFC 7162 3.2.7 (EXPUNGE, MOVE): every change up to it has been told, so
                    # a later SELECT (QRESYNC) may start from it.
                    self.highestmodseq = max(self.highestmodseq or 0, int(reply.code.split()[1]))
                self.kind = None
                self.reply = None
                self.check_order()
                return reply
            if line.startswith(b"+"):
                self.fail(f"unexpected continuation {line!r}")
            if not line.startswith(b"* "):
                self.fail(f"unexpected line {line!r}")
            self._untagged(line)

    # ------------------------------------------------------------------ model

    def _untagged(self, line):
        if self.reply is not None:
            self.reply.untagged.append(line)
        m = _NUMBERED.match(line)
        if m:
            n = int(m.group(1))
            what = m.group(2)
            if what == b"EXISTS":
                if n < len(self.model):
                    self.fail(f"EXISTS {n} below the {len(self.model)} messages known")
                self.model.extend(Entry() for _ in range(n - len(self.model)))
            elif what == b"EXPUNGE":
                if self.qresync:
                    self.fail("EXPUNGE sent although QRESYNC is enabled (RFC 7162 3.2.10)")
                self._check_expunge_allowed("EXPUNGE")
                if not 1 <= n <= len(self.model):
                    self.fail(f"EXPUNGE {n} outside the {len(self.model)} messages known")
                entry = self.model.pop(n - 1)
                if self.reply is not None:
                    self.reply.expunged.append(entry.uid)
            elif what == b"FETCH":
                self._fetch(n, m.group(3))
            return
        if line.startswith(b"* VANISHED"):
            self._vanished(line)
            return
        if line.startswith(b"* SEARCH") or line.startswith(b"* SORT"):
            if self.reply is not None:
                self.reply.search = [int(x) for x in line.split()[2:]]
                self.reply.search_view = [e.uid for e in self.model]  # what it was about
            return
        if (m := _CODE.match(line)) and self.reply is not None:
            self.reply.codes[m.group(1)] = m.group(2)
            if m.group(1) == b"CLOSED":
                self.model = []  # RFC 7162 3.2.11: what follows is about the new mailbox
            return
        if line.startswith(b"* BYE"):
            self.fail(f"BYE: {line!r}")
        if line.startswith(b"* BAD"):
            self.fail(f"untagged BAD: {line!r}")
        # OK [...], FLAGS, CAPABILITY, ENABLED, LIST, STATUS, ESEARCH...: nothing to track.

    def _check_expunge_allowed(self, what):
        if self.kind in SEQUENCE_KINDS:
            self.fail(f"{what} during a {self.kind} by sequence number (RFC 3501 7.4.1)")

    def _vanished(self, line):
        rest = line[len(b"* VANISHED "):]
        if rest.startswith(b"(EARLIER)"):
            if self.kind != "QRESYNC" or self.reply is None:
                self.fail("VANISHED (EARLIER) without a command that asks for it")
            self.reply.vanished_earlier.update(parse_set(rest[len(b"(EARLIER)"):].strip()))
            return
        if not self.qresync:
            self.fail("VANISHED without QRESYNC enabled")
        self._check_expunge_allowed("VANISHED")
        for uid in parse_set(rest.strip()):
            index = self.index_of(uid)
            if index is None:
                index = self.gap_for(uid)
                if index is None:
                    self.fail(f"VANISHED {uid}: a message this client was never told of")
            self.model.pop(index)
            if self.reply is not None:
                self.reply.expunged.append(uid)

    def gap_for(self, uid):
        """Where an unknown `uid` can sit: the first of the messages of unknown UID between the
        known UIDs around it (UIDs ascend with sequence numbers; which one of that run does not
        matter, they are all unknown), or None if no such message is counted."""
        lower = 0
        run = None
        for i, e in enumerate(self.model):
            if e.uid is None:
                if lower < uid and run is None:
                    run = i
                continue
            if e.uid > uid:
                return run
            lower = e.uid
            run = None
        return run

    def _fetch(self, n, body):
        if not 1 <= n <= len(self.model):
            self.fail(f"FETCH for message {n} outside the {len(self.model)} messages known")
        entry = self.model[n - 1]
        uid = flags = None
        if (m := _UID.search(body)):
            uid = int(m.group(1))
            if entry.uid is None:
                entry.uid = uid
            elif entry.uid != uid:
                self.fail(f"FETCH {n} has UID {uid}, the client knows UID {entry.uid} there")
        if (m := _MODSEQ.search(body)):
            modseq = int(m.group(1))
            if modseq < entry.modseq:
                self.fail(f"MODSEQ of message {n} went back from {entry.modseq} to {modseq}")
            entry.modseq = modseq
        if (m := _FLAGS.search(body)):
            flags = frozenset(f for f in m.group(1).decode().split() if f != "\\Recent")
            entry.flags = flags
        if self.reply is not None:
            self.reply.fetches.append((n, uid, flags))

    def check_order(self):
        last = 0
        for n, e in enumerate(self.model, 1):
            if e.uid is None:
                continue
            if e.uid <= last:
                self.fail(f"UID {e.uid} at message {n} after UID {last}: UIDs must ascend")
            last = e.uid

    def index_of(self, uid):
        for i, e in enumerate(self.model):
            if e.uid == uid:
                return i
        return None

    def uids(self):
        return [e.uid for e in self.model]

    def learn(self):
        """Learns the UID and flags of messages announced only by EXISTS (a sequence-number
        FETCH, during which nothing may be expunged, so the numbers hold)."""
        for _ in range(5):
            unknown = [n for n, e in enumerate(self.model, 1)
                       if e.uid is None or e.flags is None or (self.condstore and not e.modseq)]
            if not unknown:
                return
            items = "UID FLAGS MODSEQ" if self.condstore else "UID FLAGS"
            r = self.command(f"FETCH {format_set(unknown)} ({items})", kind="FETCH")
            if r.status != "OK":
                # Messages expunged by another session: the rest must still have come.
                if b"EXPUNGEISSUED" not in (r.code or b""):
                    self.fail(f"FETCH to learn UIDs: {r.status} {r.code} {r.text}")
        if any(e.uid is None for e in self.model):
            self.fail("UIDs still unknown after FETCH")

    # ------------------------------------------------------------------ helpers

    def select(self, mailbox="INBOX"):
        if not self.selected:
            self.model = []
        self.selected = True
        r = self.command(f"SELECT {mailbox}")
        if r.status != "OK":
            self.fail(f"SELECT: {r.status} {r.text}")
        self.uidvalidity = int(r.codes[b"UIDVALIDITY"])
        self.highestmodseq = int(r.codes[b"HIGHESTMODSEQ"]) if self.condstore else None
        self.learn()
        return r

    def resync(self, mailbox="INBOX"):
        """SELECT again with QRESYNC (RFC 7162 3.2.5) and the HIGHESTMODSEQ of the last SELECT:
        the view is rebuilt from the current one, the VANISHED (EARLIER) UIDs and the FETCHes of
        what changed since; then a FETCH of every UID must find exactly that view."""
        old = {e.uid: e.flags for e in self.model}
        self.model = []
        r = self.command(f"SELECT {mailbox} (QRESYNC ({self.uidvalidity} {self.highestmodseq}))",
                         kind="QRESYNC")
        if r.status != "OK":
            self.fail(f"SELECT (QRESYNC): {r.status} {r.text}")
        if int(r.codes[b"UIDVALIDITY"]) != self.uidvalidity:
            self.fail("UIDVALIDITY changed")
        changed = {uid for _, uid, _ in r.fetches}
        kept = sorted(set(old) - r.vanished_earlier - changed)
        unknown = [e for e in self.model if e.uid is None]
        if len(unknown) != len(kept):
            self.fail(f"SELECT (QRESYNC {self.highestmodseq}): {len(self.model)} messages, "
                      f"{len(changed)} changed, {len(r.vanished_earlier)} vanished: "
                      f"{len(unknown)} unchanged but {len(kept)} of the old view remain")
        for e, uid in zip(unknown, kept):
            e.uid = uid
            e.flags = old[uid]
        self.check_order()
        self.highestmodseq = int(r.codes[b"HIGHESTMODSEQ"])
        # Every message once more by sequence number: the UID must be the one placed there.
        if self.model:
            r = self.command(f"FETCH 1:{len(self.model)} (UID)", kind="FETCH")
            if r.status != "OK":
                self.fail(f"FETCH after SELECT (QRESYNC): {r.status} {r.code} {r.text}")
        return r

    def idle(self, seconds):
        """IDLE for `seconds`: whatever arrives is applied (EXPUNGE/VANISHED allowed), then
        DONE."""
        tag = self.next_tag()
        self.kind = "IDLE"
        self.reply = Reply(None, None, None, [])
        self._send(f"{tag} IDLE\r\n".encode())
        while True:
            line = self._read()
            if line.startswith(b"+"):
                break
            if line.startswith(tag.encode() + b" "):
                self.fail(f"IDLE refused: {line!r}")
            self._untagged(line)
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            if b"\n" not in self.buf:
                readable, _, _ = select.select([self.sock], [], [], left)
                if not readable:
                    break
                self._fill()
                continue
            self._untagged(self._read())
        self._send(b"DONE\r\n")
        return self._until_tagged(tag)

    def close(self):
        try:
            self._send(f"{self.next_tag()} LOGOUT\r\n".encode())
            self.sock.close()
        except OSError:
            pass
