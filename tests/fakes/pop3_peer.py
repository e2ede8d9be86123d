"""A scripted POP3 server (RFC 1939, CAPA of RFC 2449) that shows on demand the misbehaviour real
servers show only sometimes, and that Dovecot cannot be made to show: no UIDL, repeated UIDLs,
messages renumbered between sessions, bare-LF line ends, NUL bytes, LIST sizes that lie, a
connection closed in the middle of a RETR, a command never answered, -ERR with RFC 2449 / RFC 3206
response codes, a QUIT reply without CRLF, per-user capabilities after login (EXPIRE ... USER), and
the SASL mechanisms Dovecot offers only with an outside server (XOAUTH2: `oauth2_token`). Plain TCP on loopback only (no TLS: quirks live in the
POP3 layer, TLS is tested against Dovecot).

    peer = Pop3Peer(user="u", password="p").start()
    peer.add(b"Message-ID: <a@x>\\r\\n\\r\\nbody\\r\\n", uidl="a")
    peer.capabilities = ["UIDL", "TOP", "USER", "PIPELINING"]   # None: CAPA answers -ERR
    peer.uidl = False                                           # UIDL answers -ERR
    ...
    peer.stop()

Every setting is an attribute read at the start of each session (or at each command), so a test
may change them between sessions. `sessions` records what each session saw (commands, login
time, deletions applied at QUIT, how many commands were queued unanswered at once).

Thread model: one accept thread plus one thread per session; attributes may be set from the test
thread between sessions. Callbacks (`on_command`) run on the session thread and may block it.
"""

import base64
import json
import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class PeerMessage:
    data: bytes  # the message as the mail store holds it (any line ends)
    uidl: str = ""  # empty: the server has no unique-id for it (UIDL then fails)
    deleted: bool = False


@dataclass
class Session:
    commands: list = field(default_factory=list)  # verbs and arguments, PASS redacted
    login_time: float = None  # time.monotonic() of a successful PASS
    deleted: list = field(default_factory=list)  # uidls / indexes deleted at QUIT
    max_queued: int = 0  # most complete commands waiting unanswered at once
    order: list = field(default_factory=list)  # message index of each number, from 1
    quit_ok: bool = False
    closed_early: bool = False
    auth_response: str = None  # the decoded XOAUTH2 initial response
    after_challenge: str = None  # what the client answered to a failure challenge


def wire_lines(data):
    """The message split into lines without terminators; a last line without a line end counts."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def stored_form(data):
    """What a POP3 client should keep of `data`: every line ended by CRLF (RFC 5322 2.1), NUL
    bytes and lone CRs inside lines untouched."""
    return b"".join(line + b"\r\n" for line in wire_lines(data))


class Pop3Peer:
    def __init__(self, user="peer", password="peer-secret", host="127.0.0.1"):
        self.user = user
        self.password = password
        self.messages = []
        # Session behaviour (read at session start unless noted).
        self.greeting = "+OK quirky POP3 ready"
        self.capabilities = ["TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING"]  # None: -ERR
        self.uidl = True  # False: UIDL answers -ERR
        self.top = True  # False: TOP answers -ERR
        self.list_single = True  # False: "LIST n" answers -ERR (the whole LIST still works)
        self.pass_reply = None  # e.g. "-ERR [AUTH] invalid credentials"; None: check password
        self.line_end = b"\r\n"  # b"\n": bare-LF server
        self.size_delta = 0  # added to every LIST size
        self.order = None  # callable(list of message indexes) -> session order; None: as added
        self.close_in_retr = None  # (message index, bytes of the reply to send) then close, once
        self.never_answer = None  # verb (e.g. "RETR") whose reply never comes, once
        self.quit_without_crlf = False  # "+OK bye" then close, no line end
        self.reply_delay = 0.0  # seconds to wait before the next RETR reply (once), to see
        # how many commands the client queues meanwhile (Session.max_queued)
        self.on_command = None  # callable(session, verb, arg) before the reply, on that thread
        self.lock_maildrop = True  # a second concurrent session gets -ERR [IN-USE]
        self.capabilities_after_login = None  # list answered to CAPA once logged in; None: same
        self.oauth2_token = None  # AUTH XOAUTH2 accepts user + this bearer token; None: -ERR
        self.sessions = []
        self._lock = threading.Lock()
        self._busy = False
        self._stopping = False
        self._server = socket.create_server((host, 0))
        self.port = self._server.getsockname()[1]
        self._threads = []

    # ------------------------------------------------------------------ setup

    def add(self, data, uidl=""):
        with self._lock:
            self.messages.append(PeerMessage(data, uidl))
            return len(self.messages) - 1

    def live(self):
        """Messages not deleted, in the order they were added."""
        with self._lock:
            return [m for m in self.messages if not m.deleted]

    def start(self):
        t = threading.Thread(target=self._accept_loop, daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self):
        self._stopping = True
        try:
            self._server.close()
        except OSError:
            pass

    # ------------------------------------------------------------------ server

    def _auth(self, arg, send, read_line, session):
        """RFC 5034 AUTH XOAUTH2 (the only mechanism the peer speaks). Returns True when the
        credentials are right, False after answering -ERR, None after answering -ERR for an
        unknown mechanism."""
        words = arg.split()
        mechanism = words[0].upper() if words else ""
        if mechanism != "XOAUTH2" or self.oauth2_token is None:
            send("-ERR [SYS/PERM] unsupported mechanism")
            return None
        if len(words) > 1:
            response = words[1]
        else:
            send("+ ")
            response = read_line()
            session.commands.append("(deferred initial response)")
        try:
            decoded = base64.b64decode(response, validate=True).decode("latin-1")
        except ValueError:
            send("-ERR [AUTH] bad base64")
            return False
        session.auth_response = decoded  # the test checks the SASL string
        expected = f"user={self.user}\x01auth=Bearer {self.oauth2_token}\x01\x01"
        if decoded == expected:
            return True
        # The XOAUTH2 failure: a JSON challenge, an empty client response, then -ERR.
        status = {"status": "401", "schemes": "Bearer", "scope": "https://mail.example/"}
        send("+ " + base64.b64encode(json.dumps(status).encode()).decode())
        session.after_challenge = read_line()
        send("-ERR [AUTH] invalid bearer token")
        return False

    def _accept_loop(self):
        while not self._stopping:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn):
        session = Session()
        with self._lock:
            self.sessions.append(session)
        locked = False
        try:
            conn.settimeout(120)
            # Replies go out line by line; without this, Nagle and delayed ACKs add 40 ms each.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            locked = self._session(conn, session)
        except (OSError, ConnectionError):
            session.closed_early = True
        finally:
            if locked:
                with self._lock:
                    self._busy = False
            try:
                conn.close()
            except OSError:
                pass

    def _session(self, conn, session):
        """Runs one session; returns True if it held the maildrop lock."""
        end = self.line_end
        buf = bytearray()
        locked = False

        def send(text):
            conn.sendall(text.encode() + end if isinstance(text, str) else text)

        def read_line():
            while b"\n" not in buf:
                chunk = conn.recv(65536)
                if not chunk:
                    raise ConnectionError("client closed")
                buf.extend(chunk)
            i = buf.index(b"\n")
            line = bytes(buf[:i]).rstrip(b"\r")
            del buf[:i + 1]
            return line.decode("latin-1")

        def queued_after_wait(delay):
            """Waits, drains what the client already sent and counts complete commands."""
            if delay:
                time.sleep(delay)
            conn.setblocking(False)
            try:
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    buf.extend(chunk)
            except (BlockingIOError, InterruptedError):
                pass
            finally:
                conn.setblocking(True)
                conn.settimeout(120)
            session.max_queued = max(session.max_queued, 1 + buf.count(b"\n"))

        send(self.greeting)
        if not self.greeting.startswith("+OK"):
            return False
        user_ok = False
        authed = False
        order = []
        marked = set()
        while True:
            line = read_line()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            session.commands.append(f"{verb} ***" if verb == "PASS" else line)
            if self.on_command:
                self.on_command(session, verb, arg)
            if self.never_answer == verb:
                self.never_answer = None
                # Stay silent; keep reading so the client's close is noticed.
                while conn.recv(65536):
                    pass
                return locked
            if verb == "CAPA":
                caps = self.capabilities
                if authed and self.capabilities_after_login is not None:
                    caps = self.capabilities_after_login
                if caps is None:
                    send("-ERR unknown command")
                else:
                    send("+OK capability list follows")
                    for cap in caps:
                        send(cap)
                    send(".")
                continue
            if verb == "QUIT":
                if authed:
                    with self._lock:
                        for i in sorted(marked):
                            self.messages[i].deleted = True
                            session.deleted.append(self.messages[i].uidl or i)
                session.quit_ok = True
                if self.quit_without_crlf:
                    conn.sendall(b"+OK bye")
                else:
                    send("+OK bye")
                return locked
            if not authed:
                accepted = None  # True/False once a login command is decided
                if verb == "AUTH":
                    accepted = self._auth(arg, send, read_line, session)
                    if accepted is None:
                        continue
                if accepted is not None:
                    if not accepted:
                        continue
                    with self._lock:
                        if self.lock_maildrop and self._busy:
                            send("-ERR [IN-USE] maildrop locked by another session")
                            continue
                        self._busy = locked = True
                        order = [i for i, m in enumerate(self.messages) if not m.deleted]
                    if self.order:
                        order = list(self.order(order))
                    session.order = order
                    session.login_time = time.monotonic()
                    authed = True
                    send("+OK logged in")
                elif verb == "USER":
                    user_ok = arg == self.user
                    send("+OK" if user_ok else "-ERR [AUTH] no such user")
                elif verb == "PASS":
                    if self.pass_reply is not None:
                        send(self.pass_reply)
                        continue
                    if not (user_ok and arg == self.password):
                        send("-ERR [AUTH] invalid login")
                        continue
                    with self._lock:
                        if self.lock_maildrop and self._busy:
                            send("-ERR [IN-USE] maildrop locked by another session")
                            continue
                        self._busy = locked = True
                        order = [i for i, m in enumerate(self.messages) if not m.deleted]
                    if self.order:
                        order = list(self.order(order))
                    session.order = order
                    session.login_time = time.monotonic()
                    authed = True
                    send("+OK logged in")
                else:
                    send("-ERR not logged in")
                continue

            def message(number_text):
                try:
                    n = int(number_text)
                except ValueError:
                    return None
                if n < 1 or n > len(order) or order[n - 1] in marked:
                    return None
                return order[n - 1]

            def size_of(i):
                return len(stored_form(self.messages[i].data)) + self.size_delta

            if verb == "STAT":
                live = [i for i in order if i not in marked]
                send(f"+OK {len(live)} {sum(size_of(i) for i in live)}")
            elif verb == "LIST" and not arg:
                send("+OK scan listing follows")
                for n, i in enumerate(order, 1):
                    if i not in marked:
                        send(f"{n} {size_of(i)}")
                send(".")
            elif verb == "LIST":
                # RFC 1939 5: "LIST n" answers "+OK n size" on one line.
                i = message(arg.strip())
                if not self.list_single:
                    send("-ERR LIST with an argument not supported")
                    continue
                if i is None:
                    send("-ERR no such message")
                    continue
                send(f"+OK {int(arg)} {size_of(i)}")
            elif verb == "UIDL" and not arg:
                if not self.uidl:
                    send("-ERR UIDL not supported")
                    continue
                send("+OK unique-id listing follows")
                for n, i in enumerate(order, 1):
                    if i not in marked:
                        send(f"{n} {self.messages[i].uidl}")
                send(".")
            elif verb in ("RETR", "TOP"):
                words = arg.split()
                i = message(words[0]) if words else None
                if verb == "TOP" and (not self.top or len(words) != 2):
                    send("-ERR TOP not supported")
                    continue
                if i is None:
                    send("-ERR no such message")
                    continue
                if verb == "RETR":
                    queued_after_wait(self.reply_delay)
                    self.reply_delay = 0.0  # once: enough to see the client's window fill
                lines = wire_lines(self.messages[i].data)
                if verb == "TOP":
                    body_lines = int(words[1])
                    cut = lines.index(b"") + 1 if b"" in lines else len(lines)
                    lines = lines[:cut + body_lines]
                out = bytearray(b"+OK message follows" + end)
                for line_bytes in lines:
                    if line_bytes.startswith(b"."):
                        line_bytes = b"." + line_bytes  # RFC 1939 3: byte-stuffing
                    out += line_bytes + end
                out += b"." + end
                cut_at = self.close_in_retr
                if verb == "RETR" and cut_at and cut_at[0] == i:
                    self.close_in_retr = None
                    conn.sendall(bytes(out[:cut_at[1]]))
                    session.closed_early = True
                    conn.shutdown(socket.SHUT_RDWR)
                    return locked
                conn.sendall(bytes(out))
            elif verb == "DELE":
                i = message(arg)
                if i is None:
                    send("-ERR no such message")
                else:
                    marked.add(i)
                    send("+OK marked")
            elif verb == "NOOP":
                send("+OK")
            elif verb == "RSET":
                marked.clear()
                send("+OK")
            else:
                send("-ERR unknown command")
