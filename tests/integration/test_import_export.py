"""`popbridge import` and `popbridge export` with real parts: mbox files and Maildir trees
generated here are imported with the daemon stopped, then the real daemon serves them and
imaplib checks mailboxes, counts, flags, INTERNALDATE and byte-identical bodies. The export is
compared with its source, imported again (the round trip must give the same IMAP state) and
served by a private Dovecot IMAP, which must see the same messages and flags."""

import datetime
import os
import re
import shutil
import unittest

from harness import dovecot, imap
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase

USER = IMAP_USER


def internaldate_seconds(text):
    """INTERNALDATE "28-Nov-2026 12:15:17 +0000" -> unix seconds."""
    return int(datetime.datetime.strptime(text.strip(), "%d-%b-%Y %H:%M:%S %z").timestamp())


def crlf(data):
    """LF -> CRLF where not already CRLF (what import does to Maildir files)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def message(subject, body, extra_headers=b""):
    return (b"From: Sender <sender@example.org>\nTo: alice@example.org\nSubject: " + subject +
            b"\nMessage-ID: <" + subject.replace(b" ", b"-") + b"@import.test>\n" +
            extra_headers + b"\n" + body)


# ------------------------------------------------------------------- fixtures

# An mbox (mboxrd) with the hard cases: an envelope-less first separator (INTERNALDATE from
# Date:), "From " lines in bodies that are no separators, quoted ">From" lines, Status and
# X-Status flags, CRLF and LF lines mixed, and no newline at the very end.
MBOX = (
    b"From sender@example.org Mon Jan  2 03:04:05 2006\n"
    b"From: a@example.org\nSubject: first\nMessage-ID: <m1@import.test>\n"
    b"Status: RO\nX-Status: A\n\n"
    b"From the start of a body line.\n"
    b">From quoted once\n"
    b">>From quoted twice\n"
    b"\n"
    b"From here, after an empty line, but with no date\n"
    b"\n"
    b"From other@example.org Tue Jul  1 08:52:37 2003\r\n"
    b"From: b@example.org\r\nSubject: second\r\nMessage-ID: <m2@import.test>\r\n"
    b"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\nX-Status: FT\r\n\r\n"
    b"crlf body\r\n"
    b"\n"
    b"From x@example.org Wed Mar  4 05:06:07 2015\n"
    b"From: c@example.org\nSubject: third\nMessage-ID: <m3@import.test>\nStatus: O\n"
    b"X-Status: D\n\n"
    b"last line without newline")

MBOX_EXPECTED = {
    "<m1@import.test>": (
        b"From: a@example.org\r\nSubject: first\r\nMessage-ID: <m1@import.test>\r\n"
        b"Status: RO\r\nX-Status: A\r\n\r\n"
        b"From the start of a body line.\r\n"
        b"From quoted once\r\n"
        b">From quoted twice\r\n"
        b"\r\n"
        b"From here, after an empty line, but with no date\r\n",
        {"\\Seen", "\\Answered"}, 1136171045),
    "<m2@import.test>": (
        b"From: b@example.org\r\nSubject: second\r\nMessage-ID: <m2@import.test>\r\n"
        b"Date: Tue, 1 Jul 2003 10:52:37 +0200\r\nX-Status: FT\r\n\r\ncrlf body\r\n",
        {"\\Flagged", "\\Draft"}, 1057049557),
    "<m3@import.test>": (
        b"From: c@example.org\r\nSubject: third\r\nMessage-ID: <m3@import.test>\r\nStatus: O\r\n"
        b"X-Status: D\r\n\r\nlast line without newline",
        {"\\Deleted"}, 1425445567),
}


def write_maildir_tree(root):
    """A Maildir++ tree: INBOX (new/ and cur/), .Sent, .Archive.2020 (-> Archive/2020), with
    flags, a keyword through dovecot-keywords and set mtimes. Returns {mailbox: {message-id:
    (bytes as IMAP must serve them, flags, mtime)}}."""
    layout = {
        "INBOX": [
            ("new", "1600000000.M1P1.host", message(b"new one", b"unread\n"), set(), 1600000000),
            ("cur", "1600000100.M2P1.host:2,S", message(b"seen one", b"read\n"), {"\\Seen"},
             1600000100),
            ("cur", "1600000200.M3P1.host:2,FRSa", message(b"flagged one", b"x\n" * 3),
             {"\\Seen", "\\Flagged", "\\Answered", "$Forwarded"}, 1600000200),
            ("cur", "1600000300.M4P1.host:2,PT", message(b"deleted one", b"gone\n"),
             {"\\Deleted"}, 1600000300),
        ],
        "Sent": [
            ("cur", "1500000000.M5P1.host:2,S", message(b"sent one", b"crlf\r\nalready\r\n"),
             {"\\Seen"}, 1500000000),
            ("cur", "1500000001.M6P1.host:2,DS", message(b"draft one", b"draft\n"),
             {"\\Seen", "\\Draft"}, 1500000001),
        ],
        "Archive/2020": [
            ("cur", "1580000000.M7P1.host:2,", message(b"archived", b"old\n" * 50), set(),
             1580000000),
        ],
    }
    expected = {}
    for mailbox, files in layout.items():
        folder = root if mailbox == "INBOX" else os.path.join(root, "." + mailbox.replace("/", "."))
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(folder, sub), exist_ok=True)
        with open(os.path.join(folder, "dovecot-keywords"), "w") as f:
            f.write("0 $Forwarded\n")
        expected[mailbox] = {}
        for sub, name, data, flags, mtime in files:
            path = os.path.join(folder, sub, name)
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (mtime, mtime))
            mid = dovecot.message_id_of(crlf(data))
            expected[mailbox][mid] = (crlf(data), flags, mtime)
    # Not a folder: no cur/ or new/.
    os.makedirs(os.path.join(root, ".broken"))
    return expected


# The special-use mailboxes popbridge creates for every new user.
DEFAULT_MAILBOXES = {"Archive", "Drafts", "Junk", "Sent", "Trash"}

class ImportExportTest(PopbridgeCase):

    def popbridge_stopped(self):
        pb = self.new_popbridge(start=False)
        pb.write_config()
        return pb

    def run_cli(self, pb, *args, expect=0):
        r = pb.run(*args, timeout=120)
        if expect is not None:
            self.assertEqual(r.returncode, expect,
                             f"popbridge {' '.join(args)}\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}")
        return r

    def import_(self, pb, path, *extra, expect=0):
        return self.run_cli(pb, "import", "-c", pb.config_file, USER, path, *extra, expect=expect)

    def export(self, pb, path, *extra, expect=0):
        return self.run_cli(pb, "export", "-c", pb.config_file, USER, path, *extra, expect=expect)

    def imap_state(self, conn):
        """{mailbox: {message-id: (body, flags, internaldate seconds)}} over IMAP."""
        typ, data = conn.list()
        self.assertEqual(typ, "OK")
        state = {}
        for line in data:
            text = line.decode()
            name = text.rsplit(" ", 1)[1].strip('"')
            if "\\noselect" in text.lower() or "\\nonexistent" in text.lower():
                continue  # a parent that only exists through its children (Dovecot)
            typ, _ = conn.select(f'"{name}"', readonly=True)
            self.assertEqual(typ, "OK", name)
            msgs = {}
            if imap.status_messages(conn, f'"{name}"') > 0:
                for m in imap.fetch_all(conn):
                    mid = dovecot.message_id_of(m.body)
                    self.assertNotIn(mid, msgs, f"{name}: {mid} twice")
                    self.assertEqual(m.size, len(m.body))
                    msgs[mid] = (m.body, set(m.flags) - {"\\Recent"},
                                 internaldate_seconds(m.internaldate))
            if not msgs and name in DEFAULT_MAILBOXES:
                continue  # every popbridge user starts with these, empty (SPECIAL-USE)
            state[name] = msgs
        return state

    def served_state(self, pb):
        pb.start()
        conn = self.imap_login(pb)
        try:
            return self.imap_state(conn)
        finally:
            imap.safe_logout(conn)
            self.assert_clean_stop(pb)

    # ----------------------------------------------------------------- tests

    def test_import_mbox_into_inbox_and_another_mailbox(self):
        path = os.path.join(self.dir, "mail.mbox")
        with open(path, "wb") as f:
            f.write(MBOX)
        pb = self.popbridge_stopped()
        r = self.import_(pb, path)
        self.assertIn("imported 3 messages", r.stdout)
        self.import_(pb, path, "--into", "Old/Mail")
        state = self.served_state(pb)
        self.assertEqual(sorted(state), ["INBOX", "Old/Mail"])
        for mailbox in ("INBOX", "Old/Mail"):
            self.assertEqual(state[mailbox], MBOX_EXPECTED, mailbox)

    def test_importing_again_adds_only_what_is_missing(self):
        path = os.path.join(self.dir, "mail.mbox")
        with open(path, "wb") as f:
            f.write(MBOX)
        pb = self.popbridge_stopped()
        self.import_(pb, path)
        r = self.import_(pb, path)
        self.assertIn("imported 0 messages", r.stdout)
        self.assertIn("3 were already there and skipped", r.stdout)
        source = os.path.join(self.dir, "Maildir")
        expected = write_maildir_tree(source)
        self.import_(pb, source, "--into", "Tree")
        r = self.import_(pb, source, "--into", "Tree")
        self.assertIn("imported 0 messages", r.stdout)
        self.assertIn("7 were already there and skipped", r.stdout)
        state = self.served_state(pb)
        self.assertEqual(state["INBOX"], MBOX_EXPECTED)
        self.assertEqual(sum(len(state[name]) for name in state if name.startswith("Tree")), 7)

    def test_mboxo_keeps_deeper_quoting(self):
        path = os.path.join(self.dir, "o.mbox")
        with open(path, "wb") as f:
            f.write(b"From a Mon Jan  2 03:04:05 2006\nMessage-ID: <o@import.test>\n\n"
                    b">From one\n>>From two\n")
        pb = self.popbridge_stopped()
        self.import_(pb, path, "--mbox-format", "mboxo")
        state = self.served_state(pb)
        self.assertEqual(state["INBOX"]["<o@import.test>"][0],
                         b"Message-ID: <o@import.test>\r\n\r\nFrom one\r\n>>From two\r\n")

    def test_import_maildir_tree(self):
        source = os.path.join(self.dir, "Maildir")
        expected = write_maildir_tree(source)
        pb = self.popbridge_stopped()
        r = self.import_(pb, source)
        self.assertIn("imported 7 messages", r.stdout)
        self.assertIn(".broken", r.stderr)  # skipped, with a warning
        state = self.served_state(pb)
        self.assertEqual(state, expected)

    def test_refuses_while_the_daemon_runs(self):
        path = os.path.join(self.dir, "mail.mbox")
        with open(path, "wb") as f:
            f.write(MBOX)
        pb = self.new_popbridge()
        conn = self.imap_login(pb)  # the user's store is open in the daemon
        self.assertEqual(imap.status_messages(conn), 0)
        r = self.import_(pb, path, expect=1)
        self.assertIn("stop the daemon first", r.stderr)
        r = self.export(pb, os.path.join(self.dir, "out"), expect=1)
        self.assertIn("stop the daemon first", r.stderr)
        self.assertEqual(imap.status_messages(conn), 0)

    def test_bad_arguments(self):
        pb = self.popbridge_stopped()
        r = self.import_(pb, os.path.join(self.dir, "missing"), expect=2)
        self.assertIn("no such file", r.stderr)
        r = self.run_cli(pb, "import", "-c", pb.config_file, "nobody", self.dir, expect=2)
        self.assertIn('no user "nobody"', r.stderr)
        plain = os.path.join(self.dir, "plain.eml")
        with open(plain, "wb") as f:
            f.write(message(b"plain", b"not an mbox\n"))
        r = self.import_(pb, plain, expect=1)
        self.assertIn("not an mbox", r.stderr)

    def test_export_round_trip_and_dovecot_reads_it(self):
        source = os.path.join(self.dir, "Maildir")
        expected = write_maildir_tree(source)
        mbox = os.path.join(self.dir, "mail.mbox")
        with open(mbox, "wb") as f:
            f.write(MBOX)
        pb = self.popbridge_stopped()
        self.import_(pb, source)
        self.import_(pb, mbox, "--into", "Lists/Old")
        expected["Lists/Old"] = MBOX_EXPECTED
        original = self.served_state(pb)
        self.assertEqual(original, expected)

        out = os.path.join(self.dir, "export")
        r = self.export(pb, out)
        self.assertIn("exported 10 messages", r.stdout)
        # The tree: Maildir++ folders, bodies byte-identical, flags in names, mtime = date.
        exported = {}
        for mailbox in original:
            folder = out if mailbox == "INBOX" else os.path.join(out,
                                                                 "." + mailbox.replace("/", "."))
            for sub in ("cur", "new", "tmp"):
                self.assertTrue(os.path.isdir(os.path.join(folder, sub)), folder + sub)
            keywords = {}
            if os.path.exists(os.path.join(folder, "dovecot-keywords")):
                with open(os.path.join(folder, "dovecot-keywords")) as f:
                    for line in f:
                        index, word = line.split()
                        keywords[chr(ord("a") + int(index))] = word
            letters = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen",
                       "T": "\\Deleted"}
            exported[mailbox] = {}
            for name in os.listdir(os.path.join(folder, "cur")):
                self.assertRegex(name, r"^\d+\.\d+_\d+\.popbridge:2,[A-Za-z]*$")
                path = os.path.join(folder, "cur", name)
                with open(path, "rb") as f:
                    data = f.read()
                info = name.split(":2,", 1)[1]
                flags = {letters.get(c) or keywords[c] for c in info}
                self.assertEqual(info, "".join(sorted(info)), "flags in ASCII order")
                exported[mailbox][dovecot.message_id_of(data)] = (
                    data, flags, int(os.stat(path).st_mtime))
                self.assertEqual(int(name.split(".")[0]), int(os.stat(path).st_mtime))
            self.assertEqual(os.listdir(os.path.join(folder, "tmp")), [])
        self.assertEqual(exported, original)

        # A non-empty directory is refused without --force.
        r = self.export(pb, out, expect=1)
        self.assertIn("--force", r.stderr)
        self.export(pb, out, "--force")

        # Round trip: importing the export into a fresh store gives the same IMAP state.
        pb2 = self.popbridge_stopped()
        self.import_(pb2, out)
        self.assertEqual(self.served_state(pb2), original)

        # Dovecot serves the exported Maildir: same mailboxes, bodies and flags.
        reference = dovecot.Dovecot(os.path.join(self.dir, "dovecot-imap"), self.certs,
                                    imap=True)
        reference.add_user("reader", "reader-secret")
        maildir = reference.maildir("reader")
        shutil.rmtree(maildir)
        shutil.copytree(out, maildir)
        for top, dirs, files in os.walk(os.path.dirname(maildir)):
            for name in [top] + [os.path.join(top, n) for n in dirs + files]:
                shutil.chown(name, dovecot.MAIL_USER, dovecot.MAIL_GROUP)
        reference.start()
        self.addCleanup(reference.stop)
        conn = imap.login(reference.imap_port, self.certs.ca_cert, "reader", "reader-secret",
                          mode="plain")
        self.addCleanup(imap.safe_logout, conn)
        theirs = self.imap_state(conn)
        # Dovecot names Maildir++ folders with its own separator '.'.
        theirs = {name.replace(".", "/"): msgs for name, msgs in theirs.items()}
        self.assertEqual(theirs, original)


if __name__ == "__main__":
    unittest.main()
