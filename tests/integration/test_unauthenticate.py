"""UNAUTHENTICATE (RFC 8437) with imaplib, the command itself sent raw (harness.raw): one
connection logs in as alice with IMAP4rev2 and QRESYNC on and a mailbox selected, leaves with
UNAUTHENTICATE and logs in as bob. The second login sees only bob's mail, with nothing of alice's
session left: no mailbox selected, no ENABLEd extension (RECENT is back, STORE answers without
MODSEQ), and no news of alice's mailbox. TLS stays on (the same TLS socket carries both logins),
and so does COMPRESS on a plain connection, where STARTTLS is then refused. Before login the
command is BAD and the capability is not offered."""

import imaplib
import re
import unittest

from harness import imap, raw
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase

BOB = "bob"
BOB_PASSWORD = "imap-secret-bob"


def message(owner, i):
    return (b"From: sender@example.org\r\nTo: %s@example.org\r\nSubject: %s %d\r\n"
            b"Message-ID: <unauth-%s-%d@example.org>\r\n\r\nbody of %s %d\r\n"
            % (owner, owner, i, owner, i, owner, i))


class UnauthenticateTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge(start=False)
        self.pb.add_user(BOB, BOB_PASSWORD)
        self.pb.plaintext_auth = "loopback"  # the COMPRESS case logs in on the plain port
        self.pb.start()
        alice = self.imap_login(self.pb)
        for i in range(3):
            self.assertEqual(alice.append("INBOX", None, None, message(b"alice", i))[0], "OK")
        bob = self.imap_login(self.pb, user=BOB, password=BOB_PASSWORD)
        self.assertEqual(bob.append("INBOX", None, None, message(b"bob", 0))[0], "OK")
        imap.safe_logout(alice)
        imap.safe_logout(bob)
        self.n = 0

    def raw(self, conn, text):
        """One raw command; returns (untagged lines, tagged line without the tag)."""
        self.n += 1
        tag = "u%d" % self.n
        untagged, tagged, _ = raw.command(conn, tag, [text])
        lines = [raw.text_of(pieces).rstrip(b"\r\n") for pieces in untagged]
        return lines, tagged[len(tag) + 1:].rstrip(b"\r\n")

    def unauthenticate(self, conn):
        lines, tagged = self.raw(conn, b"UNAUTHENTICATE")
        self.assertEqual(lines, [])
        self.assertTrue(tagged.startswith(b"OK [CAPABILITY "), tagged)
        caps = tagged.split(b"]")[0].split()
        # Not authenticated again: a login mechanism is offered, UNAUTHENTICATE is not.
        self.assertIn(b"AUTH=PLAIN", caps)
        self.assertNotIn(b"UNAUTHENTICATE", caps)
        conn.state = "NONAUTH"  # imaplib cannot know; the server said so
        return caps

    def subjects(self, conn):
        typ, data = conn.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
        self.assertEqual(typ, "OK")
        return sorted(part[1].strip() for part in data if isinstance(part, tuple))

    def test_reuse_over_tls_resets_the_session(self):
        conn = imap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(imap.safe_logout, conn)
        # Before login: not advertised, and the command is not allowed.
        self.assertNotIn("UNAUTHENTICATE", conn.capabilities)
        lines, tagged = self.raw(conn, b"UNAUTHENTICATE")
        self.assertTrue(tagged.startswith(b"BAD"), tagged)
        typ, data = conn.login(IMAP_USER, IMAP_PASSWORD)
        self.assertEqual(typ, "OK")
        self.assertIn(b"UNAUTHENTICATE", data[0])
        typ, data = conn.capability()
        self.assertIn(b"UNAUTHENTICATE", data[0].split())
        tls_socket = conn.sock

        # alice: IMAP4rev2 and QRESYNC on, INBOX selected.
        lines, tagged = self.raw(conn, b"ENABLE IMAP4rev2 QRESYNC")
        self.assertIn(b"* ENABLED IMAP4rev2 QRESYNC", lines)
        lines, tagged = self.raw(conn, b"SELECT INBOX")
        self.assertTrue(tagged.startswith(b"OK"), tagged)
        self.assertIn(b"* 3 EXISTS", lines)
        self.assertFalse([line for line in lines if b"RECENT" in line], lines)
        lines, tagged = self.raw(conn, b"STORE 1 +FLAGS (\\Flagged)")
        self.assertRegex(lines[0], rb"^\* 1 FETCH \(.*MODSEQ \(\d+\)")
        self.assertEqual(conn.select("INBOX", readonly=True)[0], "OK")

        self.unauthenticate(conn)
        # Commands of the authenticated states are refused again.
        for command in (b"SELECT INBOX", b"FETCH 1 (FLAGS)", b"LIST \"\" *"):
            lines, tagged = self.raw(conn, command)
            self.assertTrue(tagged.startswith(b"BAD"), (command, tagged))
        self.assertEqual(self.raw(conn, b"NOOP")[1][:2], b"OK")

        # bob on the same TLS socket.
        typ, _ = conn.login(BOB, BOB_PASSWORD)
        self.assertEqual(typ, "OK")
        self.assertIs(conn.sock, tls_socket)
        # No mailbox selected any more (alice's INBOX is not bob's).
        lines, tagged = self.raw(conn, b"FETCH 1 (FLAGS)")
        self.assertTrue(tagged.startswith(b"BAD"), tagged)
        # IMAP4rev1 rules again: SELECT reports RECENT, mailbox names in modified UTF-7.
        lines, tagged = self.raw(conn, b"SELECT INBOX")
        self.assertTrue(tagged.startswith(b"OK"), tagged)
        self.assertIn(b"* 1 EXISTS", lines)
        self.assertIn(b"* 0 RECENT", lines)
        self.assertEqual(conn.select("INBOX")[0], "OK")  # for imaplib's state
        self.assertEqual(self.subjects(conn), [b"Subject: bob 0"])
        # CONDSTORE is off: STORE's FETCH has no MODSEQ (RFC 7162 3.1 ties it to enabling).
        lines, tagged = self.raw(conn, b"STORE 1 +FLAGS (\\Seen)")
        self.assertEqual(len(lines), 1, lines)
        self.assertTrue(lines[0].startswith(b"* 1 FETCH ("), lines)
        self.assertIn(b"FLAGS (\\Seen)", lines[0])
        self.assertNotIn(b"MODSEQ", lines[0])
        # A change to alice's INBOX reaches alice's sessions only.
        other = self.imap_login(self.pb)
        self.assertEqual(other.append("INBOX", None, None, message(b"alice", 9))[0], "OK")
        lines, tagged = self.raw(conn, b"NOOP")
        self.assertEqual(lines, [])
        typ, data = conn.status("INBOX", "(MESSAGES)")
        self.assertIn(b"MESSAGES 1", data[0])
        # And back to alice: her mail, her flag, a fresh session.
        self.unauthenticate(conn)
        self.assertEqual(conn.login(IMAP_USER, IMAP_PASSWORD)[0], "OK")
        self.assertEqual(conn.select("INBOX")[0], "OK")
        self.assertEqual(self.subjects(conn), [b"Subject: alice %d" % i for i in (0, 1, 2, 9)])
        typ, data = conn.fetch("1", "(FLAGS)")
        self.assertIn(b"\\Flagged", data[0])
        self.assertEqual(conn.logout()[0], "BYE")

    def test_compress_stays_on_and_starttls_is_refused(self):
        conn = imap.connect(self.pb.imap_port, self.certs.ca_cert, mode="plain")
        self.addCleanup(imap.safe_logout, conn)
        self.assertIn("STARTTLS", conn.capabilities)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        deflated = imap.Deflated(conn)
        self.assertEqual(conn.select("INBOX")[0], "OK")
        caps = self.unauthenticate(conn)
        # DEFLATE goes on in both directions (the answers above and below decode); TLS cannot
        # start inside it, so STARTTLS is neither offered nor accepted.
        self.assertNotIn(b"STARTTLS", caps)
        lines, tagged = self.raw(conn, b"STARTTLS")
        self.assertTrue(tagged.startswith(b"NO"), tagged)
        self.assertEqual(conn.login(BOB, BOB_PASSWORD)[0], "OK")
        self.assertEqual(conn.select("INBOX")[0], "OK")
        self.assertEqual(self.subjects(conn), [b"Subject: bob 0"])
        # A second COMPRESS is still refused: the layer is the one started before.
        try:
            typ, data = conn._simple_command("COMPRESS", "DEFLATE")
        except imaplib.IMAP4.error as e:
            self.fail(f"COMPRESS: {e}")
        self.assertEqual(typ, "NO")
        self.assertTrue(data[0].startswith(b"[COMPRESSIONACTIVE]"), data)
        self.assertGreater(deflated.wire_in, 0)
        self.assertEqual(conn.logout()[0], "BYE")

    def test_plain_connection_may_start_tls_after_unauthenticate(self):
        # Without COMPRESS the not-authenticated state offers STARTTLS again (RFC 3501 6.2.1).
        conn = imap.connect(self.pb.imap_port, self.certs.ca_cert, mode="plain")
        self.addCleanup(imap.safe_logout, conn)
        conn.login(IMAP_USER, IMAP_PASSWORD)
        caps = self.unauthenticate(conn)
        self.assertIn(b"STARTTLS", caps)
        conn.starttls(ssl_context=imap.client_context(self.certs.ca_cert))
        self.assertEqual(conn.login(BOB, BOB_PASSWORD)[0], "OK")
        self.assertEqual(conn.select("INBOX")[0], "OK")
        self.assertEqual(self.subjects(conn), [b"Subject: bob 0"])
        self.assertEqual(conn.logout()[0], "BYE")


if __name__ == "__main__":
    unittest.main()
