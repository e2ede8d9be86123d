"""Literals at the limits (RFC 7888): popbridge advertises LITERAL+, which covers LITERAL-
(non-synchronizing literals of any size, not only up to 4096 octets), so only LITERAL+ is
offered. A message literal over the configured imap.append_limit (1 MiB here) is refused with a
tagged NO [TOOBIG]: a synchronizing one gets no continuation, a non-synchronizing one is read and
dropped, and the connection goes on."""

import unittest

from harness import imap, raw
from harness.case import PopbridgeCase


def message(size):
    head = b"From: a@example.net\r\nSubject: big\r\n\r\n"
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


class LiteralsTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge(start=False)
        self.pb.append_limit = "1M"
        self.pb.start()
        self.conn = self.imap_login(self.pb)

    def test_literal_plus_without_the_4096_bound(self):
        self.assertIn("LITERAL+", self.conn.capabilities)
        self.assertNotIn("LITERAL-", self.conn.capabilities)
        _, tagged, continuations = raw.command(
            self.conn, "a1", [b"APPEND INBOX ", ("nonsync", message(100_000), False)])
        self.assertTrue(tagged.startswith(b"a1 OK"), tagged)
        self.assertEqual(continuations, 0)
        self.assertEqual(imap.status_messages(self.conn), 1)

    def test_over_long_literals_are_refused_with_toobig(self):
        big = message(2 << 20)
        # Non-synchronizing: the client sends it all; popbridge answers at once and drops it.
        _, tagged, _ = raw.command(self.conn, "b1", [b"APPEND INBOX ", ("nonsync", big, False)])
        self.assertTrue(tagged.startswith(b"b1 NO [TOOBIG]"), tagged)
        # Synchronizing: NO instead of the continuation request; the client sends nothing.
        _, tagged, continuations = raw.command(
            self.conn, "b2", [b"APPEND INBOX ", ("sync", big, False)])
        self.assertTrue(tagged.startswith(b"b2 NO [TOOBIG]"), tagged)
        self.assertEqual(continuations, 0)
        # In the middle of a MULTIAPPEND: nothing of it is stored.
        _, tagged, _ = raw.command(self.conn, "b3", [
            b"APPEND INBOX ", ("nonsync", message(1000), False), b" ", ("nonsync", big, False),
            b" ", ("nonsync", message(1000), False)])
        self.assertTrue(tagged.startswith(b"b3 NO [TOOBIG]"), tagged)
        # The connection goes on and nothing was stored.
        self.assertEqual(self.conn.noop()[0], "OK")
        self.assertEqual(imap.status_messages(self.conn), 0)


if __name__ == "__main__":
    unittest.main()
