"""The daemon remembers a user's last successful password check (proxy/imap/login_cache.h): a
repeated LOGIN or AUTHENTICATE PLAIN with the same password skips crypt(3), which the daemon's CPU
time shows (the harness hashes with yescrypt, tens of milliseconds per check); a wrong password
after a remembered success is still refused and still costs a full check; a reload that changes
the user's password makes the remembered one useless at once."""

import imaplib
import os
import signal
import unittest

from harness import imap
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase
from harness.util import wait_until


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class LoginCacheTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge([self.account()], start=False)
        self.pb.imap_settings["auth_failure_delay"] = "0s"
        self.pb.start()

    def attempt(self, password, mechanism="LOGIN"):
        """One connection, one LOGIN (or AUTHENTICATE PLAIN with an initial response); True when
        it was accepted."""
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        try:
            if mechanism == "LOGIN":
                conn.login(IMAP_USER, password)
            else:
                conn.authenticate("PLAIN",
                                  lambda _: f"\0{IMAP_USER}\0{password}".encode())
            return True
        except imaplib.IMAP4.error:
            return False
        finally:
            imap.safe_logout(conn)

    def cpu_of(self, password, expect_ok, rounds, mechanism="LOGIN"):
        """CPU seconds the daemon spent on `rounds` connections that each try `password`."""
        before = cpu_seconds(self.pb.process.pid)
        for _ in range(rounds):
            self.assertEqual(self.attempt(password, mechanism), expect_ok)
        return cpu_seconds(self.pb.process.pid) - before

    def test_repeated_login_skips_the_hash_and_a_wrong_password_does_not(self):
        rounds = 10
        # The first check hashes; later ones with the same password do not.
        first = self.cpu_of(IMAP_PASSWORD, True, 1)
        cached = self.cpu_of(IMAP_PASSWORD, True, rounds)
        # A wrong password is never answered from the cache: each costs a full hash.
        wrong = self.cpu_of("not-" + IMAP_PASSWORD, False, rounds)
        times = f"first {first:.3f} s, {rounds} cached {cached:.3f} s, {rounds} wrong {wrong:.3f} s"
        self.assertGreater(wrong, 0.01 * rounds, times)
        self.assertLess(cached, wrong / 3, times)
        # Still remembered after the failures; AUTHENTICATE PLAIN goes through the same check.
        plain = self.cpu_of(IMAP_PASSWORD, True, rounds, mechanism="PLAIN")
        self.assertLess(plain, wrong / 3, f"{times}, {rounds} AUTHENTICATE PLAIN {plain:.3f} s")

    def test_reload_with_a_new_password_refuses_the_remembered_one(self):
        self.assertTrue(self.attempt(IMAP_PASSWORD))
        self.assertTrue(self.attempt(IMAP_PASSWORD))
        self.pb.users[0].password = "a-new-imap-password"
        self.pb.write_config()
        self.pb.process.send_signal(signal.SIGHUP)
        wait_until(lambda: not self.attempt(IMAP_PASSWORD), 30,
                   "the old password refused after the reload", details=self.pb.logs)
        self.assertTrue(self.attempt("a-new-imap-password"))
        self.assertTrue(self.attempt("a-new-imap-password"))
        self.assertFalse(self.attempt(IMAP_PASSWORD))


if __name__ == "__main__":
    unittest.main()
