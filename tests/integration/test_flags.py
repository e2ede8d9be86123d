"""Flags set over IMAP persist across sessions and daemon restarts; BODY[] sets \\Seen and
BODY.PEEK[] does not (RFC 3501 section 6.4.5)."""

import imaplib
import re
import unittest

from harness import imap
from harness.case import PopbridgeCase


class FlagsTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=4, attachment_size=200000)
        self.pb = self.new_popbridge([self.account()])
        conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, conn, len(self.ref))
        imap.safe_logout(conn)

    def selected(self, readonly=False):
        conn = self.imap_login(self.pb)
        typ, data = conn.select("INBOX", readonly=readonly)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), len(self.ref))
        return conn

    def test_store_persists_across_logout_and_restart(self):
        conn = self.selected()
        uids = sorted(imap.uid_flags(conn))
        self.assertEqual(len(uids), 4)
        first, second = uids[0], uids[1]
        typ, data = conn.uid("STORE", str(first), "+FLAGS", r"(\Seen \Flagged)")
        self.assertEqual(typ, "OK", data)
        typ, data = conn.uid("STORE", str(second), "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK", data)
        typ, data = conn.uid("STORE", str(second), "-FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK", data)
        imap.safe_logout(conn)

        def expect(c):
            flags = imap.uid_flags(c)
            self.assertTrue({r"\Seen", r"\Flagged"} <= flags[first], flags)
            self.assertFalse({r"\Seen", r"\Flagged"} & flags[second], flags)
            for uid in uids[2:]:
                self.assertNotIn(r"\Seen", flags[uid], flags)

        expect(self.selected(readonly=True))
        self.assert_clean_stop(self.pb)
        self.pb.start()
        after = self.selected(readonly=True)
        expect(after)
        self.assertEqual(sorted(imap.uid_flags(after)), uids, "UIDs must survive a restart")
        self.assert_store_matches(after, self.ref)

    def test_body_fetch_sets_seen_and_peek_does_not(self):
        conn = self.selected()
        uids = sorted(imap.uid_flags(conn))
        body = imap.fetch_item(conn, uids[0], "BODY.PEEK[]")
        self.assertNotIn(r"\Seen", imap.uid_flags(conn)[uids[0]])
        self.assertEqual(imap.fetch_item(conn, uids[0], "BODY[]"), body)
        self.assertIn(r"\Seen", imap.uid_flags(conn)[uids[0]])
        for uid in uids[1:]:
            self.assertNotIn(r"\Seen", imap.uid_flags(conn)[uid])
        imap.safe_logout(conn)
        self.assertIn(r"\Seen", imap.uid_flags(self.selected(readonly=True))[uids[0]])

    def test_examine_is_read_only(self):
        conn = self.selected(readonly=True)  # EXAMINE
        uid = sorted(imap.uid_flags(conn))[0]
        imap.fetch_item(conn, uid, "BODY[]")
        # RFC 3501 section 6.3.2: EXAMINE permits no changes, including the implicit \Seen.
        self.assertNotIn(r"\Seen", imap.uid_flags(conn)[uid])
        try:
            typ, _ = conn.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")
        except imaplib.IMAP4.error:  # BAD is as acceptable as NO here
            typ = "BAD"
        self.assertNotEqual(typ, "OK")
        self.assertNotIn(r"\Flagged", imap.uid_flags(conn)[uid])

    def test_other_session_learns_of_flag_change(self):
        a = self.selected()
        b = self.selected()
        uid = sorted(imap.uid_flags(a))[0]
        typ, _ = a.uid("STORE", str(uid), "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK")
        # B learns through an untagged FETCH at its next command (RFC 3501 section 7.4.2).
        typ, _ = b.noop()
        self.assertEqual(typ, "OK")
        fetches = b.untagged_responses.get("FETCH", [])
        self.assertTrue(any(re.search(rb"\\Flagged", f if isinstance(f, bytes) else f[0])
                            for f in fetches), fetches)
        self.assertIn(r"\Flagged", imap.uid_flags(b)[uid])


if __name__ == "__main__":
    unittest.main()
