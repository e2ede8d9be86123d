"""mbsync (Debian's isync 1.4) syncing a local Maildir with popbridge both ways: Patterns *,
Create Both, Expunge Both, SyncState *, over implicit TLS and over STARTTLS, both verifying the
harness CA.

The first sync brings every message of every folder into the Maildir, byte-identical to what
popbridge serves (mbsync stores LF line endings and adds an X-TUID header line: see
clients.as_imap); flags made in the Maildir (renamed files) reach popbridge and flags set over
IMAP reach the Maildir; a message written to the Maildir, and a Maildir folder created locally,
are uploaded; a message deleted on one side disappears on the other; mail popbridge pulls from
POP3 meanwhile arrives; and a run with nothing changed sends nothing but LIST, SELECT, UID FETCH
(UID FLAGS), CLOSE and LOGOUT and leaves every local file as it was. mbsync turns on
COMPRESS=DEFLATE (RFC 4978) by itself when offered, so all of this runs compressed."""

import os
import unittest

from harness import clients, corpus, imap
from harness.case import IMAP_PASSWORD, IMAP_USER, POP_USER, PopbridgeCase

# IMAP system flags and their Maildir info letters (mbsync's mapping; \Deleted is T).
MAILDIR_FLAGS = {"\\Draft": "D", "\\Flagged": "F", "\\Answered": "R", "\\Seen": "S",
                 "\\Deleted": "T"}

# Commands of a sync that finds nothing to do (mbsync 1.4 over a server without CONDSTORE).
READ_ONLY_COMMANDS = ("AUTHENTICATE", "LOGIN", "CAPABILITY", "STARTTLS", "COMPRESS", "NAMESPACE",
                      "LIST", "SELECT", "EXAMINE", "UID FETCH", "CLOSE", "LOGOUT")


def local_message(n):
    return (f"From: Me <me@example.org>\nTo: friend{n}@example.net\nSubject: written locally {n}\n"
            f"Message-ID: <local-{n}@popbridge.test>\nDate: Sun, 03 Mar 2024 12:00:00 +0000\n\n"
            f"local body {n}\n.\n..dots\n").encode()


def imap_message(n, mailbox):
    mid = f"<{mailbox.replace('/', '-')}-{n}@popbridge.test>"
    return (f"From: Sender <s{n}@example.net>\r\nTo: alice@example.org\r\n"
            f"Subject: in {mailbox} {n}\r\nMessage-ID: {mid}\r\n\r\n"
            f"body {n} of {mailbox}\r\n").encode()


class MbsyncTest(PopbridgeCase):
    FOLDERS = {"Archive": 2, "Projects/2026": 1}

    def setUp(self):
        super().setUp()
        self.ref = self.seed(count=4, attachment_size=150_000)
        self.pb = self.new_popbridge([self.account()])
        self.conn = self.imap_login(self.pb)
        self.wait_for_inbox(self.pb, self.conn, len(self.ref))
        for mailbox, count in self.FOLDERS.items():
            if mailbox != "Archive":  # every user starts with Archive (SPECIAL-USE)
                self.assertEqual(self.conn.create(mailbox)[0], "OK")
            for n in range(count):
                flags = "(\\Seen \\Flagged)" if n == 0 else None
                typ, data = self.conn.append(mailbox, flags, None, imap_message(n, mailbox))
                self.assertEqual(typ, "OK", data)

    def mbsync(self, tls="IMAPS"):
        port = self.pb.imaps_port if tls == "IMAPS" else self.pb.imap_port
        return clients.Mbsync(os.path.join(self.dir, f"mbsync-{tls}"), port, self.certs.ca_cert,
                              IMAP_USER, IMAP_PASSWORD, tls)

    def far(self, mailbox):
        """{uid: Fetched} of a popbridge mailbox, read with imaplib (BODY.PEEK: no flag change)."""
        typ, data = self.conn.select(mailbox, readonly=True)
        self.assertEqual(typ, "OK", data)
        return {m.uid: m for m in imap.fetch_all(self.conn)}

    def far_mailboxes(self):
        typ, data = self.conn.list()
        self.assertEqual(typ, "OK")
        return sorted(line.rsplit(b' "/" ', 1)[1].strip(b'"').decode() for line in data)

    def assert_in_sync(self, mb):
        """Both sides hold the same folders; in each, the same messages (byte for byte, up to
        mbsync's own rewriting) with the same flags."""
        self.assertEqual(mb.folders(), self.far_mailboxes())
        for folder in mb.folders():
            far = self.far(folder)
            near = mb.messages(folder)
            far_set = sorted((clients.strip_tuid(m.body),
                              "".join(sorted(MAILDIR_FLAGS[f] for f in m.flags
                                             if f in MAILDIR_FLAGS)))
                             for m in far.values())
            near_set = sorted((clients.as_imap(m.data), "".join(sorted(m.flags)))
                              for m in near.values())
            self.assertEqual(len(near_set), len(far_set), f"{folder}: message counts")
            self.assertEqual(near_set, far_set, f"{folder}: messages or flags differ")

    def assert_transfers_nothing(self, mb):
        before = mb.tree()
        sent = mb.run()
        self.assertIn("COMPRESS DEFLATE", sent)  # popbridge offers it; isync 1.4 takes it
        self.assertTrue([c for c in sent if c.startswith("LIST ")], sent)
        self.assertEqual(len([c for c in sent if c.startswith("SELECT")]), len(mb.folders()), sent)
        writes = [c for c in sent if not c.startswith(READ_ONLY_COMMANDS)
                  or (c.startswith("UID FETCH") and "BODY" in c.upper())]
        self.assertEqual(writes, [], f"a sync with nothing changed sent {writes}")
        self.assertEqual(mb.tree(), before, "a sync with nothing changed touched local files")

    def find_near(self, mb, folder, needle):
        hits = [m for m in mb.messages(folder).values() if needle in m.data]
        self.assertEqual(len(hits), 1, f"{needle!r} in {folder}: {hits}")
        return hits[0]

    def rename_with_flags(self, message, flags):
        """Sets a Maildir message's flags the way a Maildir mail reader does: renames the file
        into cur/ with the new info part."""
        folder_dir = os.path.dirname(os.path.dirname(message.path))
        base = os.path.basename(message.path).split(":2,", 1)[0]
        os.rename(message.path, os.path.join(folder_dir, "cur", f"{base}:2,{flags}"))

    def test_two_way_sync(self):
        mb = self.mbsync("IMAPS")
        mb.run()
        # Every folder and message arrived, flags included; POP mail byte-identical (but for
        # mbsync's LF and X-TUID rewriting) to what Dovecot served.
        # (Drafts, Junk, Sent and Trash: every user starts with them, SPECIAL-USE.)
        self.assertEqual(mb.folders(), ["Archive", "Drafts", "INBOX", "Junk", "Projects/2026",
                                        "Sent", "Trash"])
        self.assert_in_sync(mb)
        near_inbox = sorted(clients.as_imap(m.data) for m in mb.messages("INBOX").values())
        self.assertEqual(near_inbox, sorted(r.data for r in self.ref))
        self.assertEqual(self.find_near(mb, "Archive", b"body 0 of Archive").flags, "FS")

        self.assert_transfers_nothing(mb)

        # Changes on the near side: flags, a deletion, a new message, a new folder.
        pop_id = self.ref[0].message_id.encode()
        self.rename_with_flags(self.find_near(mb, "INBOX", pop_id), "FS")
        os.unlink(self.find_near(mb, "Archive", b"body 1 of Archive").path)
        with open(os.path.join(mb.folder_path("Archive"), "new", "1700000000.1.local"), "wb") as f:
            f.write(local_message(1))
        local = mb.folder_path("Local")
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(local, sub))
        with open(os.path.join(local, "new", "1700000000.2.local"), "wb") as f:
            f.write(local_message(2))
        # Changes on the far side: a flag, an expunge, and new mail pulled from POP3.
        second = next(uid for uid, m in self.far("INBOX").items()
                      if self.ref[1].message_id.encode() in m.body)
        self.conn.select("INBOX")
        self.assertEqual(self.conn.uid("STORE", str(second), "+FLAGS", "(\\Answered)")[0], "OK")
        self.conn.select("Projects/2026")
        self.assertEqual(self.conn.store("1", "+FLAGS", "(\\Deleted)")[0], "OK")
        self.assertEqual(self.conn.expunge()[0], "OK")
        late = corpus.small_corpus(self.tag() + "-late", 1, attachment_size=20_000)
        self.dovecot.deliver_all(POP_USER, late)
        self.conn.select("INBOX", readonly=True)
        self.wait_for_inbox(self.pb, self.conn, len(self.ref) + 1)

        sent = mb.run()
        # What went over the wire: the near side's changes, and the new POP mail's body.
        for command in ("UID STORE", "APPEND \"Archive\"", "CREATE \"Local\"", "APPEND \"Local\"",
                        "UID FETCH"):
            self.assertTrue([c for c in sent if c.startswith(command)], f"no {command}: {sent}")
        self.assertIn("+FLAGS.SILENT (\\Deleted)", " ".join(sent))
        self.assertIn("BODY.PEEK[]", " ".join(sent))
        self.assert_in_sync(mb)
        pop_far = [m for m in self.far("INBOX").values() if pop_id in m.body]
        self.assertEqual(len(pop_far), 1)
        self.assertEqual(set(pop_far[0].flags), {"\\Flagged", "\\Seen"})
        self.assertEqual(self.find_near(mb, "INBOX", self.ref[1].message_id.encode()).flags, "R")
        self.assertEqual(mb.messages("Projects/2026"), {})
        archive = sorted(clients.strip_tuid(m.body) for m in self.far("Archive").values())
        self.assertEqual(archive, sorted([imap_message(0, "Archive"),
                                          local_message(1).replace(b"\n", b"\r\n")]))
        self.assertIn("Local", self.far_mailboxes())
        self.assertEqual([clients.strip_tuid(m.body) for m in self.far("Local").values()],
                         [local_message(2).replace(b"\n", b"\r\n")])
        late_ref = [r for r in self.reference() if r.message_id == late[0].message_id]
        self.assertEqual(clients.as_imap(self.find_near(mb, "INBOX",
                                                        late[0].message_id.encode()).data),
                         late_ref[0].data)

        self.assert_transfers_nothing(mb)

    def test_starttls_first_sync_then_nothing(self):
        mb = self.mbsync("STARTTLS")
        sent = mb.run()
        self.assertIn("STARTTLS", sent)
        self.assert_in_sync(mb)
        self.assert_transfers_nothing(mb)


if __name__ == "__main__":
    unittest.main()
