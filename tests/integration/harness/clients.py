"""Runs the real IMAP clients other than imaplib against popbridge: curl (imap:// with STARTTLS
and imaps://), mbsync (Debian's isync) and Node.js scripts using imapflow (tests/clients, its npm
packages installed by tests/clients/install.sh from the committed package-lock.json).

A client that is not installed fails the test with the command that installs it
(scripts/deps.sh): these tests are part of the suite, never silently skipped."""

import fcntl
import os
import shutil
import subprocess

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
