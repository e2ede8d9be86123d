"""Runs the real IMAP clients other than imaplib against popbridge: curl (imap:// with STARTTLS
and imaps://), mbsync (Debian's isync) and Node.js scripts using imapflow (tests/clients, its npm
packages installed by tests/clients/install.sh from the committed package-lock.json).

A client that is not installed fails the test with the command that installs it
(scripts/deps.sh): these tests are part of the suite, never silently skipped."""

import fcntl
import json
import os
import queue
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass

from .popbridge import REPO_ROOT

CLIENTS_DIR = os.path.join(REPO_ROOT, "tests", "clients")


def require(command):
    """The absolute path of `command`, or AssertionError naming the script that installs it."""
    path = shutil.which(command)
    if path is None:
        raise AssertionError(f"{command} is not installed: run scripts/deps.sh as root")
    return path


# ------------------------------------------------------------------- curl


def curl(ca_file, url, *args, user=None, password=None, upload=None, timeout=60):
    """Runs `curl -sS --cacert CA [-u USER:PASSWORD] URL ARGS...` and returns the
    CompletedProcess (stdout bytes, stderr text). `upload` is a file path sent with -T (IMAP
    APPEND). The credentials go through a curl config on stdin, not the command line."""
    cmd = [require("curl"), "-sS", "--cacert", ca_file, "--max-time", str(timeout)]
    stdin = None
    if user is not None:
        cmd += ["-K", "-"]
        escaped = f"{user}:{password}".replace("\\", "\\\\").replace('"', '\\"')
        stdin = f'user = "{escaped}"\n'.encode()
    if upload is not None:
        cmd += ["-T", upload]
    cmd += [url, *args]
    r = subprocess.run(cmd, input=stdin, capture_output=True, timeout=timeout + 10)
    return subprocess.CompletedProcess(r.args, r.returncode, r.stdout,
                                       r.stderr.decode("utf-8", "replace"))


# ------------------------------------------------------------------- Node.js / imapflow


def npm_packages():
    """Makes sure tests/clients/node_modules holds the pinned npm packages (install.sh is a no-op
    when it does) and returns the node binary. A file lock keeps two tests of one ctest -j run
    from installing at once."""
    node = require("node")
    require("npm")
    lock_path = os.path.join(CLIENTS_DIR, ".install.lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        r = subprocess.run(["bash", os.path.join(CLIENTS_DIR, "install.sh")], capture_output=True,
                           text=True, timeout=600)
    if r.returncode != 0:
        raise AssertionError(f"tests/clients/install.sh failed ({r.returncode}):\n{r.stderr}")
    return node


# ------------------------------------------------------------------- mbsync (isync)


@dataclass
class MaildirMessage:
    path: str
    uid: int  # mbsync's near-side UID, from the ",U=" part of the file name
    flags: str  # Maildir info flags after ":2,", e.g. "FS"
    data: bytes


class Mbsync:
    """One mbsync channel `pb` between popbridge (the far side) and a local Maildir tree (the near
    side), configured as the task of a real user would be: Patterns *, Create Both, Expunge Both,
    SyncState * (the sync state lives in each Maildir folder). isync 1.4 syntax (SSLType)."""

    def __init__(self, root, port, ca_file, user, password, tls="IMAPS"):
        self.root = root
        self.maildir = os.path.join(root, "mail")
        self.config = os.path.join(root, "mbsyncrc")
        os.makedirs(self.maildir, exist_ok=True)
        # Host is "localhost": mbsync 1.4 matches the certificate against DNS names only.
        with open(self.config, "w") as f:
            f.write(f"""IMAPAccount pb
Host localhost
Port {port}
User {user}
Pass "{password}"
SSLType {tls}
CertificateFile {ca_file}

IMAPStore pb-far
Account pb

MaildirStore local-near
Path {self.maildir}/
Inbox {self.maildir}/INBOX
SubFolders Verbatim

Channel pb
Far :pb-far:
Near :local-near:
Patterns *
Create Both
Expunge Both
SyncState *
""")
        self.runs = []

    def run(self, timeout=60):
        """`mbsync -Dn pb` (the network trace: every IMAP command sent and answer received);
        returns the trace's client commands (the lines after ">>> "), without the tag. Fails on a
        non-zero exit."""
        r = subprocess.run([require("mbsync"), "-c", self.config, "-Dn", "pb"],
                           capture_output=True, text=True, timeout=timeout)
        self.runs.append(r)
        if r.returncode != 0:
            raise AssertionError(f"mbsync exited {r.returncode}:\n{r.stderr}\n{r.stdout[-4000:]}")
        # Pipelined commands are logged after a "(N in progress) " prefix.
        return [m.group(1) for m in re.finditer(r"^(?:\(\d+ in progress\) )?>>> \d+ (.*)$",
                                                r.stdout, re.M)]

    def folder_path(self, name):
        return os.path.join(self.maildir, name)

    def folders(self):
        """Names of the Maildir folders (directories holding cur/, new/ and tmp/)."""
        out = []
        for dirpath, dirnames, _files in os.walk(self.maildir):
            if {"cur", "new", "tmp"} <= set(dirnames):
                out.append(os.path.relpath(dirpath, self.maildir))
        return sorted(out)

    def messages(self, folder):
        """The messages of a Maildir folder, keyed by near-side UID."""
        out = {}
        for sub in ("new", "cur"):
            d = os.path.join(self.folder_path(folder), sub)
            for name in os.listdir(d):
                m = re.search(r",U=(\d+)", name)
                if m is None:
                    raise AssertionError(f"{folder}/{sub}/{name}: no ,U= in the name after a sync")
                flags = name.rsplit(":2,", 1)[1] if ":2," in name else ""
                path = os.path.join(d, name)
                with open(path, "rb") as f:
                    out[int(m.group(1))] = MaildirMessage(path, int(m.group(1)), flags, f.read())
        return out

    def tree(self):
        """Every file below the Maildir root with its size and mtime: what a run that transfers
        nothing must leave as it was (the sync state files included)."""
        out = {}
        for dirpath, _dirs, files in os.walk(self.maildir):
            for name in files:
                st = os.stat(os.path.join(dirpath, name))
                out[os.path.relpath(os.path.join(dirpath, name), self.maildir)] = (
                    st.st_size, st.st_mtime_ns)
        return out


_TUID = re.compile(rb"^X-TUID: [^\n]*\n", re.M)


def as_imap(maildir_data):
    """What a Maildir message copied by mbsync 1.4 corresponds to on the IMAP side: mbsync stores
    LF line endings locally (CRLF over IMAP, both ways) and inserts an `X-TUID:` header line into
    every message it copies, in either direction, to find it again. Only in the header section."""
    head, sep, body = maildir_data.partition(b"\n\n")
    head = _TUID.sub(b"", head + b"\n")[:-1]
    return (head + sep + body).replace(b"\n", b"\r\n")


def strip_tuid(imap_data):
    """An IMAP-side copy made by mbsync without its X-TUID header line."""
    head, sep, body = imap_data.partition(b"\r\n\r\n")
    head = re.sub(rb"(?m)^X-TUID: [^\r\n]*\r\n", b"", head + b"\r\n")[:-2]
    return head + sep + body


class NodeSession:
    """A Node.js script from tests/clients run as a child process that reports JSON lines on
    stdout (see imapflow_session.mjs). stderr goes to a file for failure messages."""

    def __init__(self, script, config, log_dir):
        node = npm_packages()
        self.stderr_path = os.path.join(log_dir, os.path.basename(script) + ".stderr")
        self._stderr = open(self.stderr_path, "wb")
        self.process = subprocess.Popen([node, os.path.join(CLIENTS_DIR, script),
                                         json.dumps(config)], cwd=CLIENTS_DIR,
                                        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                        stderr=self._stderr)
        self._lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def next_event(self, timeout):
        """The next JSON event (a dict); AssertionError on timeout, on exit without one, and on
        an {"event": "error"} report."""
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no event from the node script in {timeout}s\n"
                                 f"{self.stderr()}") from None
        if line is None:
            code = self.process.wait()
            raise AssertionError(f"node script exited ({code}) without a result\n{self.stderr()}")
        event = json.loads(line)
        if event.get("event") == "error":
            raise AssertionError(f"node script failed: {event.get('stack')}\n"
                                 f"commands sent: {event.get('commands')}\n{self.stderr()}")
        return event

    def stderr(self):
        if not self._stderr.closed:
            self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    def close(self, timeout=10):
        """Waits for the script to end (killing it after `timeout`); returns its exit code.
        Idempotent."""
        if self._stderr.closed:
            return self.process.returncode
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.process.stdout.close()
        self._stderr.close()
        return code
