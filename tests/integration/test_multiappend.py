"""MULTIAPPEND (RFC 3502): several messages in one APPEND, synchronizing literals, LITERAL+ and
literal8 mixed, stored in one transaction with consecutive UIDs reported as one APPENDUID set
(RFC 4315); a message refused in the middle (by the parser, by the flag check or by the store)
stores none of them and leaves no staged body behind."""

import glob
import os
import re
import unittest

from harness import imap, raw
from harness.case import PopbridgeCase


def message(n, extra=b""):
    return (f"From: sender{n}@example.net\r\nTo: alice@example.net\r\n"
            f"Subject: multi {n}\r\nMessage-ID: <multi{n}@example.net>\r\n\r\n"
            f"body of message {n}\r\n").encode() + extra


class MultiappendTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        self.conn = self.imap_login(self.pb)

    def count(self, mailbox):
        return imap.status_messages(self.conn, mailbox)

    def staged_files(self):
        return [p for p in glob.glob(os.path.join(self.pb.data_dir, "**", "tmp", "*"),
                                     recursive=True) if os.path.isfile(p)]

    def test_capability(self):
        self.assertIn("MULTIAPPEND", self.conn.capabilities)

    def test_three_messages_one_appenduid_set(self):
        self.assertEqual(self.conn.create("Multi")[0], "OK")
        bodies = [message(1), message(2), message(3, b"nul \x00 byte\r\n")]
        untagged, tagged, continuations = raw.command(self.conn, "m1", [
            b"APPEND Multi (\\Seen) ", ("sync", bodies[0], False),
            b" (\\Flagged $Work) \"01-Feb-2021 10:20:30 +0100\" ", ("nonsync", bodies[1], False),
            b" ", ("sync", bodies[2], True),
        ])
        self.assertEqual(continuations, 2)
        m = re.match(rb"m1 OK \[APPENDUID (\d+) (\d+):(\d+)\]", tagged)
        self.assertIsNotNone(m, tagged)
        first, last = int(m.group(2)), int(m.group(3))
        self.assertEqual(last - first, 2)
        typ, _ = self.conn.select("Multi")
        self.assertEqual(typ, "OK")
        fetched = imap.fetch_all(self.conn)
        self.assertEqual([f.uid for f in fetched], [first, first + 1, first + 2])
        self.assertEqual([f.body for f in fetched], bodies)
        self.assertIn("\\Seen", fetched[0].flags)
        self.assertEqual(set(fetched[1].flags), {"\\Flagged", "$Work"})
        self.assertIn("1-Feb-2021 10:20:30 +0100", fetched[1].internaldate)
        # The selected mailbox hears about a later MULTIAPPEND as one EXISTS.
        untagged, tagged, _ = raw.command(self.conn, "m2", [
            b"APPEND Multi ", ("nonsync", message(4), False), b" ", ("nonsync", message(5), False)])
        self.assertTrue(tagged.startswith(b"m2 OK [APPENDUID"), tagged)
        exists = [raw.text_of(p) for p in untagged if raw.text_of(p).endswith(b" EXISTS\r\n")]
        self.assertEqual(exists, [b"* 5 EXISTS\r\n"])

    def test_failure_in_the_middle_stores_nothing(self):
        before = self.count("INBOX")
        cases = [
            # the third message is not a literal: a syntax error after two literals
            ([b"APPEND INBOX ", ("sync", message(1), False), b" ", ("sync", message(2), False),
              b" \"garbage\""], b"BAD"),
            # \Recent cannot be stored (RFC 3501 2.3.2)
            ([b"APPEND INBOX ", ("sync", message(1), False), b" (\\Recent) ",
              ("sync", message(2), False)], b"BAD"),
            # a keyword the store refuses (over 255 bytes), in the second of three messages
            ([b"APPEND INBOX ", ("nonsync", message(1), False), b" ($" + b"k" * 300 + b") ",
              ("nonsync", message(2), False), b" ", ("nonsync", message(3), False)], b"NO"),
            # no such mailbox: NO [TRYCREATE] (RFC 3501 6.3.11)
            ([b"APPEND Nowhere ", ("nonsync", message(1), False), b" ",
              ("nonsync", message(2), False)], b"NO [TRYCREATE]"),
        ]
        for i, (parts, answer) in enumerate(cases):
            with self.subTest(case=i):
                tag = f"f{i}"
                _, tagged, _ = raw.command(self.conn, tag, parts)
                self.assertTrue(tagged.startswith(tag.encode() + b" " + answer), tagged)
                self.assertEqual(self.count("INBOX"), before)
                self.assertEqual(self.staged_files(), [])
        # The session goes on.
        _, tagged, _ = raw.command(self.conn, "ok", [
            b"APPEND INBOX ", ("sync", message(7), False), b" ", ("sync", message(8), False)])
        self.assertTrue(tagged.startswith(b"ok OK [APPENDUID"), tagged)
        self.assertEqual(self.count("INBOX"), before + 2)


if __name__ == "__main__":
    unittest.main()
