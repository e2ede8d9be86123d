"""Small helpers shared by the harness: free loopback ports, deadlines, temp dirs."""

import os
import shutil
import socket
import tempfile
import time


class DeadlineExceeded(AssertionError):
    """A condition did not hold before its deadline (an AssertionError so unittest reports a
    failure, not an error)."""


def free_port(host="127.0.0.1"):
    """Returns a TCP port that was free on `host` a moment ago. Another process may take it before
    the caller binds it; callers that start servers retry with a new port when binding fails."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_accepts(port, host="127.0.0.1", timeout=0.2):
    """True when a TCP connection to host:port succeeds right now."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_until(condition, timeout, what, interval=0.05, details=None):
    """Calls `condition()` until it returns a truthy value and returns that value. Raises
    DeadlineExceeded naming `what` (plus `details()` output, e.g. a log tail) after `timeout`
    seconds. Exceptions from `condition` propagate: a broken peer is a failure, not a retry."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = ""
            if details is not None:
                try:
                    extra = "\n" + details()
                except Exception as e:  # the details are best effort; the timeout is the news
                    extra = f"\n(details unavailable: {e})"
            raise DeadlineExceeded(f"timed out after {timeout:.1f}s waiting for {what}{extra}")
        time.sleep(interval)


def make_temp_dir(prefix="popbridge-it-"):
    """Creates a private temp dir (removed by remove_temp_dir). It is made traversable (0711) so
    Dovecot's unprivileged mail processes can reach their maildir below it."""
    path = tempfile.mkdtemp(prefix=prefix)
    os.chmod(path, 0o711)
    return path


def remove_temp_dir(path):
    """Removes a temp dir unless POPBRIDGE_KEEP_TMP=1 (kept for post-mortems)."""
    if os.environ.get("POPBRIDGE_KEEP_TMP") == "1":
        print(f"popbridge-it: keeping {path}", flush=True)
        return
    shutil.rmtree(path, ignore_errors=True)


def tail(path, lines=60):
    """The last `lines` lines of a text file (for failure messages); '' when missing."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").splitlines()
    return "\n".join(text[-lines:])
