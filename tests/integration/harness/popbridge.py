"""Runs the popbridge daemon for a test: writes its YAML config, hashes local passwords with
`popbridge hash-password`, starts `popbridge serve -c FILE` in the foreground with stderr to a
log file, waits for the IMAP listeners, stops it with SIGTERM or kills it with SIGKILL.

Readiness is "both IMAP ports accept connections" (the daemon's contract); progress of POP pulls
is observed over IMAP by the tests, never by sleeping."""

import glob
import json
import os
import signal
import subprocess
import time
from dataclasses import dataclass, field

from . import util

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
    __file__)))))


def find_binary():
    """The daemon to test: $POPBRIDGE_BIN (set by CTest) or, for a manual run, the newest
    build/*/proxy/popbridge in the repository. None when there is none."""
    env = os.environ.get("POPBRIDGE_BIN")
    if env:
        return env
    candidates = [p for p in glob.glob(os.path.join(REPO_ROOT, "build", "*", "proxy", "popbridge"))
                  if os.access(p, os.X_OK)]
    if not candidates:
        return None
    return max(candidates, key=os.path.getmtime)


def _q(value):
    """A YAML double-quoted scalar (JSON strings are valid YAML 1.2 double-quoted scalars)."""
    return json.dumps(str(value))


@dataclass
class Account:
    """One POP account of a popbridge user (config `users[].accounts[]`)."""

    name: str
    host: str
    port: int
    tls: str  # implicit | starttls | none
    username: str
    password: str  # written to a password_file
    ca_file: str = ""
    verify_certificates: bool = True
    poll_interval: str = "1s"
    retention: str = "keep"  # keep | delete
    folder: str = "INBOX"


@dataclass
class User:
    name: str
    password: str  # the IMAP login password (hashed into the config)
    accounts: list = field(default_factory=list)
    quota: dict = field(default_factory=dict)  # users[].quota, e.g. {"storage": "10K"}


class Popbridge:
    """One daemon instance with its own data_dir and ports. Not thread-safe except kill(), which a
    fault-proxy callback may call from its thread."""

    def __init__(self, binary, root, certs, log_level="debug", plaintext_auth="never"):
        self.binary = binary
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)
        self.certs = certs
        self.log_level = log_level
        self.plaintext_auth = plaintext_auth
        self.imap_settings = {}  # more keys of the imap section, e.g. {"max_command_rate": 20}
        self.append_limit = None  # imap.append_limit, e.g. "1M"; None leaves the default
        self.data_dir = os.path.join(self.root, "data")
        self.config_file = os.path.join(self.root, "popbridge.yaml")
        self.users = []
        self.imap_port = None  # STARTTLS listener
        self.imaps_port = None  # implicit TLS listener
        self.process = None
        self.log_file = None
        self.starts = 0
        self._hashes = {}

    # ----------------------------------------------------------------- CLI helpers

    def run(self, *args, input=None, timeout=60):
        """Runs `popbridge ARGS...` to completion; returns the CompletedProcess (text mode)."""
        return subprocess.run([self.binary, *args], input=input, capture_output=True, text=True,
                              timeout=timeout)

    def hash_password(self, password):
        """`popbridge hash-password` with the password on stdin; returns the crypt hash."""
        if password not in self._hashes:
            r = self.run("hash-password", input=password + "\n")
            if r.returncode != 0 or not r.stdout.strip().startswith("$"):
                raise AssertionError(f"hash-password failed ({r.returncode}): {r.stderr}")
            self._hashes[password] = r.stdout.strip().splitlines()[-1].strip()
        return self._hashes[password]

    def check_config(self, path=None):
        return self.run("check-config", "-c", path or self.config_file)

    def store_check(self, *users):
        return self.run("store", "check", "-c", self.config_file, *users, timeout=120)

    # ----------------------------------------------------------------- config

    def add_user(self, name, password, accounts=()):
        user = User(name, password, list(accounts))
        self.users.append(user)
        return user

    def config_text(self):
        lines = [
            f"data_dir: {_q(self.data_dir)}",
            f"log_level: {self.log_level}",
            "imap:",
            "  listen:",
            f"    - {{ address: \"127.0.0.1:{self.imap_port}\", tls: starttls }}",
            f"    - {{ address: \"127.0.0.1:{self.imaps_port}\", tls: implicit }}",
            f"  tls: {{ cert: {_q(self.certs.cert)}, key: {_q(self.certs.key)} }}",
            f"  plaintext_auth: {self.plaintext_auth}",
            *[f"  {key}: {value}" for key, value in self.imap_settings.items()],
        ]
        if self.append_limit is not None:
            lines.append(f"  append_limit: {self.append_limit}")
        lines += [
            "users:",
        ]
        for user in self.users:
            lines += [f"  - name: {_q(user.name)}",
                      f"    password_hash: {_q(self.hash_password(user.password))}"]
            if user.quota:
                lines.append("    quota: { " +
                             ", ".join(f"{k}: {v}" for k, v in user.quota.items()) + " }")
            if not user.accounts:
                lines.append("    accounts: []")
                continue
            lines.append("    accounts:")
            for a in user.accounts:
                secret = os.path.join(self.root, f"pop-secret-{user.name}-{a.name}")
                with open(secret, "w") as f:
                    f.write(a.password + "\n")
                os.chmod(secret, 0o600)
                lines += [
                    f"      - name: {_q(a.name)}",
                    f"        host: {_q(a.host)}",
                    f"        port: {a.port}",
                    f"        tls: {a.tls}",
                    f"        verify_certificates: {'true' if a.verify_certificates else 'false'}",
                ]
                if a.ca_file:
                    lines.append(f"        ca_file: {_q(a.ca_file)}")
                lines += [
                    f"        username: {_q(a.username)}",
                    f"        password_file: {_q(secret)}",
                    f"        poll_interval: {a.poll_interval}",
                    f"        retention: {a.retention}",
                    f"        folder: {_q(a.folder)}",
                ]
        return "\n".join(lines) + "\n"

    def write_config(self):
        if self.imap_port is None:
            self.imap_port = util.free_port()
            self.imaps_port = util.free_port()
            while self.imaps_port == self.imap_port:
                self.imaps_port = util.free_port()
        with open(self.config_file, "w") as f:
            f.write(self.config_text())
        return self.config_file

    # ----------------------------------------------------------------- lifecycle

    def start(self, timeout=30, wait_ready=True):
        """Writes the config (keeping the ports of an earlier start), starts `serve` and waits until
        both IMAP ports accept connections. Retries with new ports if another process took one.
        Returns self; raises AssertionError with the log tail if the daemon does not come up.
        wait_ready=False returns right after spawning (for tests that may kill it at once)."""
        if self.process is not None:
            raise RuntimeError("already running")
        for attempt in range(4):
            self.write_config()
            self.starts += 1
            self.log_file = os.path.join(self.root, f"popbridge-{self.starts}.log")
            with open(self.log_file, "wb") as log:
                self.process = subprocess.Popen([self.binary, "serve", "-c", self.config_file],
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
            if not wait_ready:
                return self
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    break
                if util.port_accepts(self.imap_port) and util.port_accepts(self.imaps_port):
                    return self
                time.sleep(0.05)
            code = self.process.poll()
            text = util.tail(self.log_file, 40)
            self.kill()
            in_use = "in use" in text.lower() or "EADDRINUSE" in text
            if code is not None and in_use and attempt < 3:
                self.imap_port = None  # pick new ports
                continue
            raise AssertionError(
                f"popbridge did not become ready (exit code {code}) on ports "
                f"{self.imap_port}/{self.imaps_port}:\n{text}")
        raise AssertionError("unreachable")

    def stop(self, timeout=15):
        """SIGTERM and wait; returns the exit code (None if it was not running). A daemon that
        ignores SIGTERM for `timeout` seconds is SIGKILLed and the stop raises AssertionError."""
        p = self.process
        if p is None:
            return None
        self.process = None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                return p.wait(timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
                raise AssertionError(f"popbridge ignored SIGTERM for {timeout}s:\n{self.logs()}")
        return p.returncode

    def kill(self):
        """SIGKILL and reap (safe from any thread, idempotent)."""
        p = self.process
        if p is None:
            return
        try:
            p.send_signal(signal.SIGKILL)
        except ProcessLookupError:
            pass
        p.wait()
        self.process = None

    def kill_now(self):
        """SIGKILL without reaping or bookkeeping: async-safe enough for a fault-proxy callback
        that must stop the daemon before the proxy forwards another byte. Call kill() later to
        reap."""
        p = self.process
        if p is not None and p.returncode is None:
            try:
                os.kill(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    def running(self):
        return self.process is not None and self.process.poll() is None

    def logs(self, lines=80):
        if not self.log_file:
            return "(popbridge never started)"
        return f"--- popbridge log {self.log_file} (tail) ---\n" + util.tail(self.log_file, lines)
