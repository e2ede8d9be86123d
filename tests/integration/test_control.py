"""`popbridge status` and `popbridge sync` against the real daemon and a private Dovecot POP3:
the control socket answers while the daemon runs, an account stopped by wrong passwords shows as
disabled and `popbridge sync` (or SIGHUP, see test_reload.py) brings it back, and without a
daemon `popbridge sync --once` pulls in its own process with plain progress lines."""

import json
import os
import signal
import socket
import stat
import unittest

from harness.case import PopbridgeCase
from harness.util import wait_until


def control_socket(pb):
    return os.path.join(pb.data_dir, "control.sock")


def status_json(pb):
    r = pb.run("status", "-c", pb.config_file, "--json", timeout=30)
    if r.returncode != 0:
        raise AssertionError(f"status exited {r.returncode}: {r.stderr}\n{pb.logs()}")
    return json.loads(r.stdout)


def account_state(pb, name="dovecot"):
    for account in status_json(pb)["accounts"]:
        if account["account"] == name:
            return account
    raise AssertionError(f"no account {name} in status")


def secret_file(pb, account="dovecot", user="alice"):
    return os.path.join(pb.root, f"pop-secret-{user}-{account}")


def ask(pb, request, timeout=30):
    """Sends one request line over the control socket; returns the decoded reply objects."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(control_socket(pb))
        s.sendall(request.encode() + b"\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


class StatusTest(PopbridgeCase):
    def test_status_while_running(self):
        self.seed(count=3, attachment_size=2000)
        pb = self.new_popbridge([self.account(tls="implicit")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        wait_until(lambda: account_state(pb)["last_result"] == "ok", 30, "a finished poll",
                   details=pb.logs)

        account = account_state(pb)
        self.assertEqual(account["user"], "alice")
        self.assertIn(account["state"], ("idle", "pulling"))
        self.assertEqual(account["messages"], 3)
        self.assertEqual(account["folder"], "INBOX")
        self.assertGreater(account["last_poll"], 0)
        self.assertEqual(account["error"], "")
        daemon = status_json(pb)["daemon"]
        self.assertEqual(daemon["pid"], pb.process.pid)
        self.assertEqual(daemon["accounts"], 1)

        r = pb.run("status", "-c", pb.config_file)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"running (pid {pb.process.pid})", r.stdout)
        self.assertRegex(r.stdout, r"alice/dovecot: (idle|pulling)\n")
        self.assertRegex(r.stdout, r"last poll: +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC \(.*\), ok: ")
        self.assertIn("3 messages in INBOX", r.stdout)

    def test_control_socket_is_private_and_removed_on_exit(self):
        pb = self.new_popbridge([])
        mode = os.stat(control_socket(pb)).st_mode
        self.assertTrue(stat.S_ISSOCK(mode))
        self.assertEqual(stat.S_IMODE(mode), 0o600)
        self.assert_clean_stop(pb)
        self.assertFalse(os.path.exists(control_socket(pb)))

    def test_stale_socket_from_a_crash_is_replaced(self):
        pb = self.new_popbridge([])
        pb.kill()  # SIGKILL: the socket file stays behind
        self.assertTrue(os.path.exists(control_socket(pb)))
        pb.start()
        self.assertIn("replacing the stale control socket", pb.logs(400))
        self.assertEqual(status_json(pb)["accounts"], [])

    def test_status_without_daemon_fails_clearly(self):
        pb = self.new_popbridge([self.account(tls="implicit")], start=False)
        pb.write_config()
        r = pb.run("status", "-c", pb.config_file)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not running", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_protocol_errors_are_answered(self):
        pb = self.new_popbridge([])
        reply = ask(pb, "frobnicate")
        self.assertEqual(len(reply), 1)
        self.assertFalse(reply[0]["ok"])
        self.assertIn("unknown command", reply[0]["error"])
        reply = ask(pb, "sync nobody")
        self.assertFalse(reply[-1]["ok"])
        self.assertIn("nobody", reply[-1]["error"])


class DisabledAccountTest(PopbridgeCase):
    def disabled_account(self):
        """A daemon whose only account failed to log in three times and stopped."""
        account = self.account(tls="implicit")
        account.password = "not-the-password"
        pb = self.new_popbridge([account])
        wait_until(lambda: account_state(pb)["state"] == "disabled", 60,
                   "the account to stop after repeated login failures", details=pb.logs)
        state = account_state(pb)
        self.assertIn("login failed", state["error"])
        self.assertEqual(state["failures"], 3)
        self.assertEqual(state["next_poll"], 0)
        r = pb.run("status", "-c", pb.config_file)
        self.assertIn("alice/dovecot: disabled after 3 failed logins (fix the credentials", r.stdout)
        self.assertIn("failed: login failed: ", r.stdout)
        return pb

    def fix_password(self, pb):
        with open(secret_file(pb), "w") as f:
            f.write(self.dovecot.password("alice") + "\n")

    def test_sync_reenables_and_pulls(self):
        pb = self.disabled_account()
        reference = self.seed(count=4, attachment_size=3000)
        # Still the wrong password: sync enables the account again, and the pull fails.
        r = pb.run("sync", "-c", pb.config_file, "alice/dovecot", timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("alice/dovecot: failed: login failed", r.stdout)
        self.assertRegex(r.stdout, r"failed: 1 of 1 accounts")
        self.assertNotEqual(account_state(pb)["state"], "disabled")
        # Fixed in the password file: sync (by account name) re-reads the config and pulls.
        self.fix_password(pb)
        r = pb.run("sync", "-c", pb.config_file, "dovecot", timeout=120)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr + pb.logs())
        self.assertIn("alice/dovecot: pulling", r.stdout)
        self.assertIn("alice/dovecot: 4 new messages (", r.stdout)
        self.assertRegex(r.stdout, r"alice/dovecot: pulled 4 new of 4 on the server")
        self.assertRegex(r.stdout, r"done: 4 new messages")
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 4)
        self.assert_store_matches(conn, reference)
        self.assertIn(account_state(pb)["state"], ("idle", "pulling"))

    def test_sync_of_a_disabled_account_with_fixed_password(self):
        pb = self.disabled_account()
        reference = self.seed(count=3, attachment_size=3000)
        self.fix_password(pb)
        pb.process.send_signal(signal.SIGHUP)  # reload: enables the account and polls at once
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 3)
        self.assert_store_matches(conn, reference)
        wait_until(lambda: account_state(pb)["last_result"] == "ok", 30, "a good poll",
                   details=pb.logs)
        self.assertIn("enabled again", pb.logs(400))
        # A sync of a healthy account follows one more pull to its end.
        r = pb.run("sync", "-c", pb.config_file, "alice", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("alice/dovecot: pulled 0 new of 3 on the server", r.stdout)


class SyncWithoutDaemonTest(PopbridgeCase):
    def test_sync_once_pulls_in_process_with_plain_progress(self):
        reference = self.seed(count=12, attachment_size=50_000)
        pb = self.new_popbridge([self.account(tls="implicit")], start=False)
        pb.write_config()
        r = pb.run("sync", "-c", pb.config_file, "--once", timeout=180)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[0], "popbridge is not running: pulling in this process")
        self.assertIn("alice/dovecot: pulling", lines)
        self.assertTrue(any(l.startswith("alice/dovecot: 12 new messages (") and
                            l.endswith(") to fetch") for l in lines), lines)
        progress = [l for l in lines if "/12 messages, " in l]
        self.assertTrue(progress, lines)
        self.assertTrue(progress[-1].startswith("alice/dovecot: 12/12 messages, "), progress)
        self.assertNotIn("\r", r.stdout)  # not a terminal: no bar
        self.assertRegex(lines[-2], r"^alice/dovecot: pulled 12 new of 12 on the server \(.*\), "
                                    r"deleted 0, in \d+\.\ds$")
        self.assertRegex(lines[-1], r"^done: 12 new messages \(.*\) from 1 account in \d+\.\ds$")
        # The daemon finds everything stored, and pulls nothing twice.
        pb.start()
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 12)
        wait_until(lambda: account_state(pb)["last_result"] == "ok", 30, "a poll",
                   details=pb.logs)
        self.assert_store_matches(conn, reference)

    def test_sync_without_once_says_it_pulls_once(self):
        self.seed(count=1, attachment_size=1000)
        pb = self.new_popbridge([self.account(tls="implicit")], start=False)
        pb.write_config()
        r = pb.run("sync", "-c", pb.config_file, "alice/dovecot", timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("pulling once in this process", r.stdout.splitlines()[0])
        self.assertIn("done: 1 new messages", r.stdout)

    def test_sync_failure_exits_nonzero_with_the_error(self):
        account = self.account(tls="implicit")
        account.password = "wrong"
        pb = self.new_popbridge([account], start=False)
        pb.write_config()
        r = pb.run("sync", "-c", pb.config_file, "--once", timeout=60)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertIn("alice/dovecot: failed: ", r.stdout)
        self.assertIn("failed: 1 of 1 accounts", r.stdout)

    def test_unknown_target_is_a_usage_error(self):
        pb = self.new_popbridge([self.account(tls="implicit")], start=False)
        pb.write_config()
        r = pb.run("sync", "-c", pb.config_file, "alice/nothing")
        self.assertEqual(r.returncode, 2)
        self.assertIn("no POP account \"nothing\"", r.stderr)


if __name__ == "__main__":
    unittest.main()
