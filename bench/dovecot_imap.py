"""A private Dovecot IMAP server in its high-performance configuration, the peer of
bench/imap_bench.py.

Like tests/integration/harness/dovecot.py it lives below one directory and never touches the
system Dovecot: `dovecot -F -c <dir>/dovecot.conf` runs as a child in its own session and is
stopped by SIGTERM. Mail processes run as `nobody:nogroup`. What differs is the tuning, the one
Dovecot's documentation gives for busy servers:

- `service imap-login` and `service imap` with `service_count = 0` (processes are reused for
  any number of connections) and `process_min_avail` (processes forked ahead of the load);
  imap-login serves many clients per process (`client_limit`);
- maildir, `mail_fsync = optimized` (fsync where the data must be durable, as on commit);
- a static passdb (one password for every user: no file or database look-up per login), a
  static userdb;
- limits raised for thousands of connections (process, client and per-user connection counts).
"""

import grp
import os
import pwd
import signal
import socket
import subprocess
import time

MAIL_USER = "nobody"
MAIL_GROUP = "nogroup"


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class TunedDovecot:
    """One private Dovecot IMAP instance. start() / stop(); maildir(user) is where a user's mail
    lives (created on demand, owned by the mail user)."""

    def __init__(self, root, certs, password, max_connections=12_000):
        self.root = os.path.abspath(root)
        self.certs = certs
        self.password = password
        self.max_connections = max_connections
        self.imap_port = None
        self.imaps_port = None
        self.process = None
        self.uid = pwd.getpwnam(MAIL_USER).pw_uid
        self.gid = grp.getgrnam(MAIL_GROUP).gr_gid
        self.home = os.path.join(self.root, "home")
        for sub in ("run", "state", "home"):
            os.makedirs(os.path.join(self.root, sub), exist_ok=True)
        os.chmod(self.root, 0o711)
        os.chmod(self.home, 0o711)
        self.log_file = os.path.join(self.root, "dovecot.log")
        self.config_file = os.path.join(self.root, "dovecot.conf")

    def maildir(self, user):
        """`home/<user>/Maildir` with cur/new/tmp, owned by the mail user."""
        home = os.path.join(self.home, user)
        path = os.path.join(home, "Maildir")
        for d in (home, path, *(os.path.join(path, s) for s in ("cur", "new", "tmp"))):
            if not os.path.isdir(d):
                os.mkdir(d, 0o700)
                os.chown(d, self.uid, self.gid)
        return path

    def _write_config(self):
        n = self.max_connections
        conf = f"""# Private tuned Dovecot for bench/imap_bench.py. Generated; do not edit.
protocols = imap
listen = 127.0.0.1
base_dir = {self.root}/run
state_dir = {self.root}/state
instance_name = popbridge-bench-{os.getpid()}-{id(self):x}
log_path = {self.log_file}
# Login and logout lines are not written (popbridge runs with log_level warn).
info_log_path = /dev/null
shutdown_clients = yes

ssl = yes
ssl_cert = <{self.certs.cert}
ssl_key = <{self.certs.key}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0

passdb {{
  driver = static
  args = password={self.password}
}}
userdb {{
  driver = static
  args = uid={self.uid} gid={self.gid} home={self.home}/%u allow_all_users=yes
}}
first_valid_uid = {self.uid}
last_valid_uid = {self.uid}
first_valid_gid = {self.gid}
last_valid_gid = {self.gid}
mail_location = maildir:~/Maildir
mail_fsync = optimized

default_process_limit = {n}
default_client_limit = {4 * n}
default_vsz_limit = 1G

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.imaps_port}
    ssl = yes
  }}
  service_count = 0
  process_min_avail = 2
  client_limit = {n}
}}
service imap {{
  service_count = 0
  process_min_avail = 2
  process_limit = {n}
}}
service anvil {{
  client_limit = {4 * n}
}}
service auth {{
  client_limit = {4 * n}
}}
protocol imap {{
  mail_max_userip_connections = {n}
}}
"""
        with open(self.config_file, "w") as f:
            f.write(conf)

    def start(self, timeout=30):
        for _attempt in range(5):
            self.imap_port, self.imaps_port = free_port(), free_port()
            if self.imap_port == self.imaps_port:
                continue
            self._write_config()
            with open(os.path.join(self.root, "dovecot.stderr"), "ab") as log:
                self.process = subprocess.Popen(["dovecot", "-F", "-c", self.config_file],
                                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                                start_new_session=True)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.process.poll() is None:
                if self._greets(self.imap_port):
                    return self
                time.sleep(0.05)
            text = self.logs()
            self.stop()
            if "Address already in use" not in text:
                raise RuntimeError(f"dovecot did not start:\n{text}")
        raise RuntimeError("dovecot did not start: no free ports")

    @staticmethod
    def _greets(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                f = s.makefile("rb")
                if not f.readline().startswith(b"* OK"):
                    return False
                s.sendall(b"a LOGOUT\r\n")
                while True:
                    line = f.readline()
                    if not line or line.startswith(b"a "):
                        return True
        except OSError:
            return False

    def pids(self):
        """Every process of this instance: the master and its descendants share its session."""
        if self.process is None:
            return []
        sid = self.process.pid
        out = []
        for name in os.listdir("/proc"):
            if not name.isdigit():
                continue
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid:  # fields after the name: state ppid pgrp session
                out.append(int(name))
        return out

    def stop(self, timeout=20):
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
        try:
            os.killpg(p.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def logs(self, lines=40):
        out = []
        for name in ("dovecot.stderr", "dovecot.log"):
            try:
                with open(os.path.join(self.root, name), "rb") as f:
                    out += f.read().decode("utf-8", "replace").splitlines()[-lines:]
            except OSError:
                pass
        return "\n".join(out)
