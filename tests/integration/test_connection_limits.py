"""Limits on one IMAP connection against password guessing and flooding (issue: "limits on ...
command rate, a clear BAD/NO with response codes for every refusal"):
- a failed login is answered NO [AUTHENTICATIONFAILED] only after imap.auth_failure_delay (2 s by
  default), and the third failure on a connection ends it with BYE;
- 20 commands answered BAD in a row end the connection with BYE; any other answer starts the
  count again;
- imap.max_command_rate: a client that pipelines faster than the rate has every command
  answered, later; nothing is refused."""

import time
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap


def tagged_lines(conn, count):
    """The next `count` tagged response lines (untagged ones skipped), raw."""
    out = []
    while len(out) < count:
        line = conn.file.readline()
        if not line:
            raise AssertionError(f"connection closed after {len(out)} tagged responses")
        if not line.startswith(b"*"):
            out.append(line)
    return out


class ConnectionLimitsTest(PopbridgeCase):
    def connect(self, pb):
        conn = TlsRawImap(pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(conn.sock.close)
        return conn

    def test_failed_logins_wait_and_the_third_closes(self):
        pb = self.new_popbridge()
        conn = self.connect(pb)
        started = time.monotonic()
        _, tagged = conn.exchange(b"LOGIN %s wrong-password" % IMAP_USER.encode())
        waited = time.monotonic() - started
        self.assertTrue(tagged.startswith(b"NO [AUTHENTICATIONFAILED]"), tagged)
        self.assertGreaterEqual(waited, 1.9)  # the default imap.auth_failure_delay is 2 s
        # An unknown user waits as long (no user enumeration by timing either).
        started = time.monotonic()
        _, tagged = conn.exchange(b"LOGIN nobody-here %s" % IMAP_PASSWORD.encode())
        self.assertTrue(tagged.startswith(b"NO [AUTHENTICATIONFAILED]"), tagged)
        self.assertGreaterEqual(time.monotonic() - started, 1.9)
        # The third failure is answered, then the connection ends.
        untagged, tagged = conn.exchange(b"LOGIN %s again-wrong" % IMAP_USER.encode())
        self.assertTrue(tagged.startswith(b"NO [AUTHENTICATIONFAILED]"), tagged)
        self.assertEqual(conn.file.readline(), b"* BYE Too many failed logins\r\n")
        self.assertEqual(conn.file.readline(), b"")
        self.assertIn("3 failed logins", pb.logs())

        # Two failures, then the right password: the connection is usable.
        conn = self.connect(pb)
        for _ in range(2):
            _, tagged = conn.exchange(b"LOGIN %s wrong" % IMAP_USER.encode())
            self.assertTrue(tagged.startswith(b"NO [AUTHENTICATIONFAILED]"), tagged)
        conn.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        conn.command(b"SELECT INBOX")

    def test_no_delay_when_configured_off(self):
        pb = self.new_popbridge(start=False)
        pb.imap_settings["auth_failure_delay"] = "0s"
        pb.start()
        conn = self.connect(pb)
        _, tagged = conn.exchange(b"LOGIN %s wrong" % IMAP_USER.encode())
        self.assertTrue(tagged.startswith(b"NO [AUTHENTICATIONFAILED]"), tagged)
        conn.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))

    def test_twenty_bad_commands_in_a_row_close_the_connection(self):
        pb = self.new_popbridge()
        conn = self.connect(pb)
        conn.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        # 19 BADs of several kinds (unknown command, syntax, wrong state), then one good command:
        # the count starts again.
        bad = [b"x%d NOSUCHCOMMAND\r\n", b"x%d FETCH\r\n", b"x%d EXPUNGE\r\n", b"x%d SELECT\r\n"]
        conn.sock.sendall(b"".join(bad[i % len(bad)] % i for i in range(19)))
        for line in tagged_lines(conn, 19):
            self.assertRegex(line, rb"^x\d+ BAD ")
        conn.command(b"NOOP")
        conn.sock.sendall(b"".join(b"y%d NOSUCHCOMMAND\r\n" % i for i in range(19)))
        self.assertEqual(len(tagged_lines(conn, 19)), 19)
        conn.command(b"NOOP")  # still open after 19 more
        # The 20th in a row: answered BAD, then BYE, then the end of the connection; commands
        # sent behind it are not run.
        conn.sock.sendall(b"".join(b"z%d BLAH\r\n" % i for i in range(20)) + b"z99 NOOP\r\n")
        self.assertEqual(len(tagged_lines(conn, 20)), 20)
        self.assertEqual(conn.file.readline(), b"* BYE Too many invalid commands\r\n")
        self.assertEqual(conn.file.readline(), b"")
        self.assertIn("20 invalid commands in a row", pb.logs())

    def test_command_rate_delays_and_refuses_nothing(self):
        pb = self.new_popbridge(start=False)
        pb.imap_settings["max_command_rate"] = 20
        pb.start()
        conn = self.connect(pb)
        conn.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        conn.command(b"SELECT INBOX")
        time.sleep(1.1)  # the bucket is full again: a burst of 20
        started = time.monotonic()
        conn.sock.sendall(b"".join(b"n%d NOOP\r\n" % i for i in range(80)))
        lines = tagged_lines(conn, 80)
        elapsed = time.monotonic() - started
        self.assertEqual(lines, [b"n%d OK NOOP completed\r\n" % i for i in range(80)])
        # 20 at once, the other 60 at 20 per second: 3 s at least, whatever the machine's load.
        self.assertGreaterEqual(elapsed, 2.8)
        # A second connection has a bucket of its own.
        other = self.connect(pb)
        other.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        other.sock.sendall(b"".join(b"m%d NOOP\r\n" % i for i in range(10)))
        self.assertEqual(len(tagged_lines(other, 10)), 10)


if __name__ == "__main__":
    unittest.main()
