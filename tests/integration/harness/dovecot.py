"""A private Dovecot POP3 server for one test (and, on request, IMAP on the same maildirs).

Everything lives below one directory: configuration, base_dir (sockets, pid), state_dir, logs,
the passwd-file, the maildirs and the TLS material. The system Dovecot (/etc/dovecot, its service)
is never read or started: `dovecot -F -c <dir>/dovecot.conf` runs in the foreground as a child of
the test and is stopped by SIGTERM to its master.

Tests run as root, but Dovecot refuses uid 0 for mail access. Mail processes therefore run as the
existing unprivileged `nobody:nogroup` account, and first_valid_uid/last_valid_uid (and the gid
pair) are narrowed to exactly that account, so the check stays on and admits only the one uid the
harness owns the maildirs with. Auth runs as Dovecot's packaged `dovecot` user and logins as
`dovenull`, as in the Debian default.
"""

import grp
import os
import poplib
import pwd
import re
import signal
import socket
import ssl
import subprocess
import threading
import time
from dataclasses import dataclass

from . import util

# poplib refuses lines longer than 2048 bytes; the corpus has longer ones on purpose (RFC 5322
# section 2.1.1 asks for at most 998, real mail ignores that), and Dovecot serves them as stored.
poplib._MAXLINE = max(poplib._MAXLINE, 1 << 20)

MAIL_USER = "nobody"
MAIL_GROUP = "nogroup"


@dataclass
class PopMessage:
    number: int  # message number in the POP session that read it
    uidl: str
    size: int  # LIST size reported by the server
    data: bytes  # the message as a POP3 client receives it (dot-unstuffed, CRLF lines)

    @property
    def message_id(self):
        return message_id_of(self.data)


_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(<[^>\r\n]+>)", re.IGNORECASE | re.MULTILINE)


def message_id_of(data):
    """The Message-ID (with angle brackets, as bytes decoded to str) from a message's header
    section, or None."""
    header_end = data.find(b"\r\n\r\n")
    header = data if header_end < 0 else data[:header_end + 2]
    m = _MESSAGE_ID.search(header)
    return m.group(1).decode("ascii") if m else None


class Dovecot:
    """One private Dovecot POP3 instance. Construct, add_user(), start(); stop() (idempotent)
    kills the master and waits for it. Thread-safe for deliver()/add_user() from test threads."""

    def __init__(self, root, certs, disable_plaintext_auth=False, imap=False,
                 auth_mechanisms="plain login", imap_conf=""):
        """`root`: a directory owned by this instance (created if needed). `certs`: a CertSet whose
        server cert Dovecot presents on POP3S and after STLS. `imap`: also serve IMAP (plain, with
        STARTTLS offered) on `imap_port`, from Debian's dovecot-imapd, e.g. as a reference for
        ENVELOPE and BODYSTRUCTURE. `auth_mechanisms`: Dovecot's setting of that name; with
        "apop" in it the POP3 greeting carries an APOP timestamp (RFC 1939 7), which works since
        the passdb holds plaintext passwords. `imap_conf`: more settings, written at the top
        level when IMAP is served (e.g. the quota plugin's)."""
        self.auth_mechanisms = auth_mechanisms
        self.imap_conf = imap_conf
        self.root = os.path.abspath(root)
        self.certs = certs
        self.disable_plaintext_auth = disable_plaintext_auth
        self.imap = imap
        self.pop3_port = None  # plain POP3, STLS offered (RFC 2595)
        self.pop3s_port = None  # implicit TLS POP3S
        self.imap_port = None  # plain IMAP when imap=True
        self.process = None
        self._users = {}
        self._lock = threading.Lock()
        self._counter = 0
        self._uid = pwd.getpwnam(MAIL_USER).pw_uid
        self._gid = grp.getgrnam(MAIL_GROUP).gr_gid
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        # Mail processes (uid nobody) must traverse to their home; nothing here is secret from
        # them except the TLS key, which only the root config process reads.
        os.chmod(self.root, 0o711)
        os.chmod(os.path.join(self.root, "home"), 0o711)
        # One passwd-file per user (the passdb path expands %u): a user added while Dovecot runs
        # is a new file, found at its first lookup. A shared file is re-read only when its
        # mtime moves, which a same-second append does not guarantee.
        self.passwd_dir = os.path.join(self.root, "passwd.d")
        os.makedirs(self.passwd_dir, exist_ok=True)
        os.chmod(self.passwd_dir, 0o755)  # read by the auth process (user dovecot)
        self.log_file = os.path.join(self.root, "dovecot.log")
        self.config_file = os.path.join(self.root, "dovecot.conf")

    # ----------------------------------------------------------------- users and maildirs

    def add_user(self, name, password):
        """Adds a POP user with a fresh, empty maildir. Works before and after start()."""
        if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", name) or ":" in password or "\n" in password:
            raise ValueError("user names are [A-Za-z0-9._-]+ not starting with '.', passwords "
                             "without ':' or newlines")
        with self._lock:
            if name in self._users:
                raise ValueError(f"user {name} exists")
            maildir = self.maildir(name)
            for sub in ("", "/tmp", "/new", "/cur"):
                os.makedirs(maildir + sub, exist_ok=True)
            for path in (os.path.dirname(maildir), maildir, maildir + "/tmp", maildir + "/new",
                         maildir + "/cur"):
                os.chown(path, self._uid, self._gid)
                os.chmod(path, 0o700)
            self._users[name] = password
            entry = os.path.join(self.passwd_dir, name)
            with open(entry + ".tmp", "w") as f:
                f.write(f"{name}:{{PLAIN}}{password}::::::\n")
            os.chmod(entry + ".tmp", 0o644)
            os.rename(entry + ".tmp", entry)

    def password(self, user):
        return self._users[user]

    def maildir(self, user):
        return os.path.join(self.root, "home", user, "Maildir")

    def deliver(self, user, data):
        """Adds one message to `user`'s maildrop, the maildir way: write to tmp/, then rename into
        new/ (atomic; Dovecot picks it up at the next session). `data` is stored as given; the
        corpus uses CRLF line endings, which Dovecot serves unchanged. Returns the file name."""
        with self._lock:
            self._counter += 1
            n = self._counter
        maildir = self.maildir(user)
        now = time.time()
        name = f"{int(now)}.M{int((now % 1) * 1e6)}P{os.getpid()}Q{n}.popbridge-test"
        tmp = os.path.join(maildir, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chown(tmp, self._uid, self._gid)
        os.chmod(tmp, 0o600)
        os.rename(tmp, os.path.join(maildir, "new", name))
        return name

    def deliver_all(self, user, messages):
        """Delivers each corpus message (objects with .data) in order."""
        for m in messages:
            self.deliver(user, m.data)

    def maildrop_file_count(self, user):
        """Messages in the maildir (new/ + cur/), read from the file system so it never takes a POP
        session that could interfere with popbridge's own."""
        maildir = self.maildir(user)
        return sum(len(os.listdir(os.path.join(maildir, sub))) for sub in ("new", "cur"))

    # ----------------------------------------------------------------- lifecycle

    def _write_config(self):
        run = os.path.join(self.root, "run")
        state = os.path.join(self.root, "state")
        home = os.path.join(self.root, "home")
        imap_conf = ""
        if self.imap:
            # The IMAP listener is on a private port; imaps is switched off (port 0) so the
            # packaged default 993 is never bound.
            imap_conf = f"""
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
protocol imap {{
  mail_max_userip_connections = 1000
}}
{self.imap_conf}
"""
        conf = f"""# Private Dovecot for one popbridge integration test. Generated; do not edit.
protocols = {"pop3 imap" if self.imap else "pop3"}
listen = 127.0.0.1
base_dir = {run}
state_dir = {state}
instance_name = popbridge-test-{os.getpid()}-{id(self):x}
log_path = {self.log_file}
info_log_path = {self.log_file}
debug_log_path = {self.log_file}
auth_verbose = yes
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.certs.cert}
ssl_key = <{self.certs.key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = {"yes" if self.disable_plaintext_auth else "no"}
auth_mechanisms = {self.auth_mechanisms}
# Failed logins answer at once (default 2 s): tests of wrong POP passwords stay fast.
auth_failure_delay = 0

passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
userdb {{
  driver = static
  args = uid={self._uid} gid={self._gid} home={home}/%u
}}
first_valid_uid = {self._uid}
last_valid_uid = {self._uid}
first_valid_gid = {self._gid}
last_valid_gid = {self._gid}
mail_location = maildir:~/Maildir
mail_fsync = always

service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    address = 127.0.0.1
    port = {self.pop3s_port}
    ssl = yes
  }}
}}
service anvil {{
  # anvil keeps per-IP connection counts; loopback tests open many connections quickly.
  client_limit = 1000
}}
protocol pop3 {{
  mail_max_userip_connections = 1000
}}
{imap_conf}"""
        with open(self.config_file, "w") as f:
            f.write(conf)

    def start(self, timeout=20):
        """Starts the master and waits until both POP3 ports accept connections. Retries with new
        ports when another process grabbed a chosen one. Returns self."""
        last_error = ""
        for _attempt in range(5):
            self.pop3_port = util.free_port()
            self.pop3s_port = util.free_port()
            if self.pop3s_port == self.pop3_port:
                continue
            if self.imap:
                self.imap_port = util.free_port()
                if self.imap_port in (self.pop3_port, self.pop3s_port):
                    continue
            self._write_config()
            log = open(os.path.join(self.root, "dovecot.stderr"), "ab")
            try:
                self.process = subprocess.Popen(
                    ["dovecot", "-F", "-c", self.config_file], stdin=subprocess.DEVNULL,
                    stdout=log, stderr=log, start_new_session=True)
            finally:
                log.close()
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if (self._greets(self.pop3_port, None)
                        and self._greets(self.pop3s_port, self.ssl_context())
                        and (not self.imap or self._imap_greets(self.imap_port))):
                    return self
                time.sleep(0.05)
            last_error = self.logs()
            self.stop()
            if "Address already in use" not in last_error:
                break
        raise RuntimeError(f"dovecot did not start:\n{last_error}")

    @staticmethod
    def _greets(port, ctx):
        """True when a POP3 session on `port` gets "+OK" and ends with QUIT. A complete session
        (not a bare connect) leaves no login process waiting for auth, which would otherwise hold
        up the master's shutdown by seconds."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                s = ctx.wrap_socket(raw, server_hostname="localhost") if ctx else raw
                f = s.makefile("rb")
                if not f.readline().startswith(b"+OK"):
                    return False
                s.sendall(b"QUIT\r\n")
                f.readline()
                f.close()
                if ctx:
                    s.close()
                return True
        except OSError:
            return False

    @staticmethod
    def _imap_greets(port):
        """True when an IMAP session on `port` gets "* OK" and ends with LOGOUT."""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                f = s.makefile("rb")
                if not f.readline().startswith(b"* OK"):
                    return False
                s.sendall(b"a LOGOUT\r\n")
                while True:
                    line = f.readline()
                    if not line or line.startswith(b"a "):
                        break
                f.close()
                return True
        except OSError:
            return False

    def stop(self, timeout=10):
        """Stops the master with SIGTERM (it terminates its children: shutdown_clients=yes) and
        waits for it; SIGKILLs the process group it started if anything lingers. Idempotent."""
        p = self.process
        if p is None:
            return
        self.process = None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        # The master ran in its own session (start_new_session): its pid is the group id.
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def logs(self):
        return (util.tail(os.path.join(self.root, "dovecot.stderr"), 40) + "\n"
                + util.tail(self.log_file, 60))

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # ----------------------------------------------------------------- POP3 client side

    def ssl_context(self):
        """A client SSLContext that trusts exactly the harness CA."""
        ctx = ssl.create_default_context(cafile=self.certs.ca_cert)
        ctx.check_hostname = True
        return ctx

    def pop_connect(self, user, tls="implicit", timeout=30):
        """A logged-in poplib client (caller QUITs it). tls: implicit | starttls | none."""
        if tls == "implicit":
            pop = poplib.POP3_SSL("127.0.0.1", self.pop3s_port, timeout=timeout,
                                  context=self.ssl_context())
        else:
            pop = poplib.POP3("127.0.0.1", self.pop3_port, timeout=timeout)
            if tls == "starttls":
                pop.stls(context=self.ssl_context())
            elif tls != "none":
                raise ValueError(tls)
        pop.user(user)
        pop.pass_(self._users[user])
        return pop

    def uidl_list(self, user, tls="implicit"):
        """The maildrop's UIDLs in message-number order, from a read-only POP session."""
        pop = self.pop_connect(user, tls)
        try:
            _resp, lines, _octets = pop.uidl()
            return [line.split(b" ", 1)[1].decode("ascii") for line in lines]
        finally:
            pop.quit()

    def retrieve_all(self, user, tls="implicit"):
        """Every message in the maildrop exactly as a POP3 client receives it (RFC 1939 RETR,
        dot-unstuffed, CRLF line endings), in message-number order. Nothing is deleted. These
        bytes are the reference popbridge must store."""
        pop = self.pop_connect(user, tls)
        try:
            _resp, uidl_lines, _ = pop.uidl()
            _resp, list_lines, _ = pop.list()
            sizes = {int(a): int(b) for a, b in (line.split() for line in list_lines)}
            out = []
            for line in uidl_lines:
                num_s, uid = line.split(b" ", 1)
                num = int(num_s)
                _resp, lines, octets = pop.retr(num)
                # poplib strips each line's CRLF and one leading '.' of stuffed lines; every line
                # on the wire ends in CRLF (RFC 1939 section 3), so joining restores the bytes.
                data = b"".join(l + b"\r\n" for l in lines)
                if len(data) != octets:
                    raise AssertionError(f"message {num}: rebuilt {len(data)} bytes, read {octets}")
                out.append(PopMessage(num, uid.decode("ascii"), sizes[num], data))
            return out
        finally:
            pop.quit()
