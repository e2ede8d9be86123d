"""Config reload (SIGHUP or the control socket's `reload`) against the real daemon: a broken file
is refused with its line and key while the daemon keeps serving on the old configuration; a good
one adds, changes and removes accounts and users at once; listener changes are left for a
restart and said so."""

import imaplib
import json
import os
import signal
import socket
import unittest

from harness import imap
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase
from harness.util import wait_until


def ask(pb, request, timeout=60):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(os.path.join(pb.data_dir, "control.sock"))
        s.sendall(request.encode() + b"\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return [json.loads(line) for line in data.decode().splitlines()]


def accounts(pb):
    return [(a["user"], a["account"]) for a in ask(pb, "status") if a["type"] == "account"]


class ReloadTest(PopbridgeCase):
    def assert_login_refused(self, pb, user, password):
        conn = imap.connect(pb.imaps_port, self.certs.ca_cert, "implicit")
        try:
            with self.assertRaises(imaplib.IMAP4.error):
                conn.login(user, password)
        finally:
            imap.safe_logout(conn)

    def test_broken_config_keeps_the_daemon_serving(self):
        self.seed(count=2, attachment_size=2000)
        pb = self.new_popbridge([self.account(tls="implicit")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 2)

        text = pb.config_text().replace("retention: keep", "retention: kep")
        line = text.splitlines().index("        retention: kep") + 1
        with open(pb.config_file, "w") as f:
            f.write(text)
        pb.process.send_signal(signal.SIGHUP)
        where = f"{pb.config_file}:{line}:"
        wait_until(lambda: "reload failed" in pb.logs(400), 30, "the failed reload",
                   details=pb.logs)
        log = pb.logs(400)
        self.assertIn("keeping the running configuration", log)
        self.assertIn(where, log)
        self.assertIn("users[0].accounts[0].retention", log)

        # The control socket's reload says the same.
        reply = ask(pb, "reload")
        self.assertFalse(reply[-1]["ok"])
        self.assertIn(where, reply[-1]["error"])
        self.assertIn("users[0].accounts[0].retention", reply[-1]["error"])

        # Still serving, still polling with the old configuration.
        self.assertTrue(pb.running())
        more = self.seed(count=2, attachment_size=2000, tag="after-reload")
        conn2 = self.imap_login(pb)
        self.wait_for_inbox(pb, conn2, 4)
        self.assert_store_matches(conn2, more)

    def test_reload_applies_accounts_and_users(self):
        self.dovecot.add_user("bob", "bob-pop-secret")
        self.seed(count=1, attachment_size=1000)
        pb = self.new_popbridge([self.account(tls="implicit")])
        conn = self.imap_login(pb)
        self.wait_for_inbox(pb, conn, 1)
        self.assertEqual(accounts(pb), [("alice", "dovecot")])

        # A second account into its own folder, and a new local user with bob's maildrop.
        bob_mail = self.seed(count=2, user="bob", attachment_size=1000, tag="bob")
        pb.users[0].accounts.append(self.account(tls="starttls", name="second", user="bob",
                                                 folder="Second"))
        pb.add_user("carol", "carol-imap-secret",
                    [self.account(tls="implicit", name="bobs", user="bob")])
        pb.write_config()
        reply = ask(pb, "reload")
        self.assertTrue(reply[-1]["ok"], reply)
        self.assertIn("POP accounts 2 added, 0 removed", reply[-1]["message"])
        self.assertIn("users 1 added", reply[-1]["message"])
        self.assertEqual(accounts(pb),
                         [("alice", "dovecot"), ("alice", "second"), ("carol", "bobs")])
        carol = self.imap_login(pb, user="carol", password="carol-imap-secret")
        self.wait_for_inbox(pb, carol, 2)
        self.assert_store_matches(carol, bob_mail)
        wait_until(lambda: conn.select("Second", readonly=True)[0] == "OK" and
                   int(conn.select("Second", readonly=True)[1][0]) == 2, 60,
                   "bob's mail in alice's folder Second", details=pb.logs)

        # Remove carol and the second account; change alice's IMAP password.
        pb.users = [pb.users[0]]
        pb.users[0].accounts = pb.users[0].accounts[:1]
        pb.users[0].password = "a-new-imap-password"
        pb.write_config()
        pb.process.send_signal(signal.SIGHUP)
        wait_until(lambda: accounts(pb) == [("alice", "dovecot")], 30, "the accounts removed",
                   details=pb.logs)
        self.assertIn("user carol removed", pb.logs(400))
        self.assert_login_refused(pb, "carol", "carol-imap-secret")
        self.assert_login_refused(pb, IMAP_USER, IMAP_PASSWORD)
        fresh = self.imap_login(pb, password="a-new-imap-password")
        self.assertEqual(fresh.select("INBOX", readonly=True)[0], "OK")

    def test_listener_change_needs_a_restart(self):
        pb = self.new_popbridge([])
        old_port = pb.imaps_port
        text = pb.config_text()
        new_port = old_port + 1 if old_port < 65000 else old_port - 1
        with open(pb.config_file, "w") as f:
            f.write(text.replace(f"127.0.0.1:{old_port}", f"127.0.0.1:{new_port}"))
        reply = ask(pb, "reload")
        self.assertTrue(reply[-1]["ok"], reply)
        self.assertIn("imap.listen changed: restart popbridge to apply it", reply[-1]["message"])
        self.assertIn("imap.listen changed: restart popbridge", pb.logs(200))
        conn = self.imap_login(pb)  # the old listener still serves
        self.assertEqual(conn.select("INBOX", readonly=True)[0], "OK")


if __name__ == "__main__":
    unittest.main()
