"""Mailboxes and moving mail with a real IMAP client (imaplib): CREATE, APPEND with APPENDUID,
COPY with COPYUID, MOVE (RFC 6851) reporting COPYUID and EXPUNGE, UID EXPUNGE (RFC 4315) removing
only the named deleted messages, and a second session seeing all of it."""

import re
import unittest

from harness import imap
from harness.case import PopbridgeCase


def message(n):
    return (f"From: sender{n}@example.net\r\nTo: alice@example.net\r\n"
            f"Subject: message {n}\r\nMessage-ID: <m{n}@example.net>\r\n\r\n"
            f"body of message {n}\r\n").encode()


class MailboxesTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        self.conn = self.imap_login(self.pb)

    def append(self, mailbox, n, flags=None):
        typ, data = self.conn.append(mailbox, flags, None, message(n))
        self.assertEqual(typ, "OK", data)
        match = re.search(rb"\[APPENDUID (\d+) (\d+)\]", data[0])
        self.assertIsNotNone(match, data)
        return int(match.group(1)), int(match.group(2))

    def bodies(self, mailbox):
        typ, _ = self.conn.select(mailbox)
        self.assertEqual(typ, "OK")
        return {m.uid: m.body for m in imap.fetch_all(self.conn)}

    def test_capabilities_advertise_uidplus_and_move(self):
        caps = self.conn.capabilities
        self.assertIn("UIDPLUS", caps)
        self.assertIn("MOVE", caps)

    def test_append_reports_appenduid_matching_select(self):
        typ, _ = self.conn.create("Filed")
        self.assertEqual(typ, "OK")
        validity, uid = self.append("Filed", 1)
        typ, data = self.conn.select("Filed")
        self.assertEqual(typ, "OK")
        self.assertEqual(int(self.conn.untagged_responses["UIDVALIDITY"][0]), validity)
        self.assertEqual(self.bodies("Filed"), {uid: message(1)})

    def test_append_to_missing_mailbox_says_trycreate(self):
        typ, data = self.conn.append("Nowhere", None, None, message(1))
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])

    def test_copy_keeps_source_and_reports_copyuid(self):
        self.conn.create("Keep")
        for n in range(1, 5):
            self.append("INBOX", n)
        self.conn.select("INBOX")
        typ, data = self.conn.uid("COPY", "2:3", "Keep")
        self.assertEqual(typ, "OK", data)
        # imaplib files the tagged response's [COPYUID ...] code under its name.
        _, codes = self.conn.response("COPYUID")
        self.assertIsNotNone(codes[0], "no COPYUID in the tagged OK")
        validity, source, dest = codes[0].split()
        self.assertEqual(source, b"2:3")
        self.assertEqual(len(dest.split(b":")), 2)
        inbox = self.bodies("INBOX")
        kept = self.bodies("Keep")
        self.assertEqual(len(inbox), 4)
        self.assertEqual(sorted(kept.values()), sorted([message(2), message(3)]))

    def test_move_expunges_from_source_and_other_sessions_see_it(self):
        self.conn.create("Moved")
        for n in range(1, 6):
            self.append("INBOX", n)
        other = self.imap_login(self.pb)
        other.select("INBOX")
        self.conn.select("INBOX")
        typ, data = self.conn.uid("MOVE", "2,4", "Moved")
        self.assertEqual(typ, "OK", data)
        _, codes = self.conn.response("COPYUID")
        self.assertIsNotNone(codes[0], "no untagged OK [COPYUID ...] before the expunges")
        self.assertEqual(codes[0].split()[1], b"2,4")
        # The mover heard the expunges of both messages (seq 2, then seq 3 = old 4).
        self.assertEqual(self.conn.untagged_responses.get("EXPUNGE"), [b"2", b"3"])
        self.assertEqual(sorted(self.bodies("Moved").values()), [message(2), message(4)])
        self.assertEqual(sorted(self.bodies("INBOX").values()),
                         [message(1), message(3), message(5)])
        # The other session learns of the expunges at its next command.
        typ, _ = other.noop()
        self.assertEqual(typ, "OK")
        self.assertEqual(len(other.untagged_responses.get("EXPUNGE", [])), 2)
        imap.safe_logout(other)

    def test_uid_expunge_removes_only_named_deleted_messages(self):
        for n in range(1, 5):
            self.append("INBOX", n, flags="(\\Deleted)")
        self.conn.select("INBOX")
        typ, data = self.conn.uid("EXPUNGE", "1:2")
        self.assertEqual(typ, "OK", data)
        remaining = self.bodies("INBOX")
        self.assertEqual(sorted(remaining), [3, 4])

    def test_copy_to_missing_mailbox_says_trycreate(self):
        self.append("INBOX", 1)
        self.conn.select("INBOX")
        typ, data = self.conn.copy("1", "Nowhere")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[TRYCREATE]", data[0])

    def names(self):
        typ, data = self.conn.list()
        self.assertEqual(typ, "OK")
        return sorted(line.rsplit(b' "/" ', 1)[1].strip(b'"').decode() for line in data)

    def test_delete_removes_mailbox_and_its_messages_but_keeps_children(self):
        self.conn.create("Old")
        self.conn.create("Old/Child")
        self.append("Old", 1)
        typ, data = self.conn.delete("Old")
        self.assertEqual(typ, "OK", data)
        self.assertNotIn("Old", self.names())
        self.assertIn("Old/Child", self.names())
        typ, _ = self.conn.select("Old")
        self.assertEqual(typ, "NO")
        # A new mailbox under the old name starts over with a new UIDVALIDITY.
        validity_before = None
        self.conn.create("Again")
        validity_before, _ = self.append("Again", 2)
        self.conn.delete("Again")
        self.conn.create("Again")
        validity_after, uid = self.append("Again", 3)
        self.assertGreater(validity_after, validity_before)
        self.assertEqual(uid, 1)

    def test_delete_inbox_is_refused(self):
        typ, data = self.conn.delete("INBOX")
        self.assertEqual(typ, "NO")

    def test_rename_moves_children_and_keeps_uids(self):
        self.conn.create("Projects")
        self.conn.create("Projects/2026")
        _, uid = self.append("Projects/2026", 1)
        typ, data = self.conn.rename("Projects", "Work")
        self.assertEqual(typ, "OK", data)
        names = self.names()
        self.assertIn("Work", names)
        self.assertIn("Work/2026", names)
        self.assertNotIn("Projects", names)
        self.assertEqual(self.bodies("Work/2026"), {uid: message(1)})

    def test_rename_inbox_moves_its_messages_and_leaves_it_empty(self):
        self.append("INBOX", 1)
        self.append("INBOX", 2)
        typ, data = self.conn.rename("INBOX", "Saved")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(sorted(self.bodies("Saved").values()), [message(1), message(2)])
        self.assertEqual(self.bodies("INBOX"), {})

    def test_rename_onto_existing_mailbox_is_refused(self):
        self.conn.create("A")
        self.conn.create("B")
        typ, data = self.conn.rename("A", "B")
        self.assertEqual(typ, "NO")
        self.assertIn(b"ALREADYEXISTS", data[0])


if __name__ == "__main__":
    unittest.main()
