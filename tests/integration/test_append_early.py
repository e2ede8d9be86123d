"""APPEND refused as its message literal is announced, not after it arrived (RFC 3501/9051
6.3.11, RFC 7888, RFC 7889, RFC 9208 4.3.1, RFC 3502): a synchronizing literal for a mailbox
that does not exist gets NO [TRYCREATE] instead of the continuation request, one that the quota
cannot take NO [OVERQUOTA], one over APPENDLIMIT NO [TOOBIG]; a LITERAL+ literal is read and
dropped without being staged, then answered the same way; in a MULTIAPPEND the messages
accepted so far count against the quota, the refused one is never requested, and nothing of the
command is stored. The commit still checks again (a mailbox deleted or a quota used by another
session between the continuation and the literal). Dovecot answers a missing mailbox the same
way; curl -T to a missing mailbox fails with a clear error."""

import os
import time
import unittest

from harness import clients, imap, raw, util
from harness.case import IMAP_PASSWORD, IMAP_USER, PopbridgeCase
from test_fetch_dovecot import open_reference_pair

LIMIT = 1024 * 1024  # imap.append_limit here
CURLE_UPLOAD_FAILED = 25


def message(size, n=0):
    head = (f"From: a@example.net\r\nSubject: early {n}\r\n"
            f"Message-ID: <early{n}@example.net>\r\n\r\n").encode()
    return head + b"x" * (size - len(head) - 2) + b"\r\n"


class AppendEarlyTest(PopbridgeCase):
    def start(self, quota=None):
        self.pb = self.new_popbridge(start=False)
        self.pb.append_limit = str(LIMIT)
        if quota:
            self.pb.users[0].quota = quota
        self.pb.start()
        self.conn = self.imap_login(self.pb)
        self.tmp = os.path.join(self.pb.data_dir, "users", IMAP_USER, "tmp")

    def staged_files(self):
        try:
            return os.listdir(self.tmp)
        except FileNotFoundError:
            return []

    def wait_no_staged_files(self):
        util.wait_until(lambda: not self.staged_files(), 10, "staged files removed",
                        details=lambda: f"{self.staged_files()}\n{self.pb.logs(20)}")

    def count(self, mailbox="INBOX"):
        return imap.status_messages(self.conn, mailbox)

    def assert_goes_on(self):
        """The connection still reads commands: nothing of a refused literal became one."""
        typ, data = self.conn.noop()
        self.assertEqual(typ, "OK", data)
        typ, data = self.conn.append("INBOX", None, None, message(300, 99))
        self.assertEqual(typ, "OK", data)

    # Each test starts its own Dovecot and daemon, so checks of one configuration share one.

    def test_missing_mailbox_toobig_and_curl(self):
        self.start()
        self.check_missing_mailbox()
        self.check_literal_plus_to_missing_mailbox_is_never_staged()
        self.check_toobig_before_the_literal()
        self.check_curl_upload_to_missing_mailbox()

    def check_missing_mailbox(self):
        # Synchronizing: the tagged NO comes instead of "+", so the client sends nothing more.
        _, tagged, continuations = raw.command(
            self.conn, "a1", [b"APPEND Nowhere ", ("sync", message(5000), False)])
        self.assertTrue(tagged.startswith(b"a1 NO [TRYCREATE]"), tagged)
        self.assertEqual(continuations, 0)
        # imaplib's own APPEND (a synchronizing literal) sees the same.
        typ, data = self.conn.append("Nowhere", None, None, message(400))
        self.assertEqual(typ, "NO", data)
        self.assertTrue(data[0].startswith(b"[TRYCREATE]"), data)
        # LITERAL+: the bytes come anyway and are dropped, even when they look like commands,
        # and so are the further LITERAL+ messages of a MULTIAPPEND.
        trap = b"x1 LOGOUT\r\nx2 CREATE Nowhere\r\n"
        _, tagged, continuations = raw.command(self.conn, "a2", [
            b"APPEND Nowhere ", ("nonsync", trap, False), b" (\\Seen) ", ("nonsync", trap, False)])
        self.assertTrue(tagged.startswith(b"a2 NO [TRYCREATE]"), tagged)
        # A synchronizing second message after a refused first one is not requested either.
        _, tagged, continuations = raw.command(self.conn, "a3", [
            b"APPEND Nowhere ", ("nonsync", message(3000), False), b" ",
            ("sync", message(3000), False)])
        self.assertTrue(tagged.startswith(b"a3 NO [TRYCREATE]"), tagged)
        self.assertEqual(continuations, 0)
        self.assert_goes_on()
        typ, data = self.conn.list('""', "Nowhere")
        self.assertEqual(data, [None])
        self.assertEqual(self.count(), 1)
        # A mailbox neither INBOX nor selected that exists is accepted, of course.
        self.assertEqual(self.conn.create("Box")[0], "OK")
        _, tagged, continuations = raw.command(
            self.conn, "a4", [b"APPEND Box ", ("sync", message(2000), False)])
        self.assertTrue(tagged.startswith(b"a4 OK [APPENDUID"), tagged)
        self.assertEqual(continuations, 1)

    def check_literal_plus_to_missing_mailbox_is_never_staged(self):
        # Most of a LITERAL+ message (more than AppendUpload's 256 KiB write chunk, which would
        # be on disk by now if it were staged): nothing reaches the user's tmp/.
        body = message(LIMIT - 10)
        self.conn.send(b"s1 APPEND Nowhere {%d+}\r\n" % len(body) + body[:700_000])
        time.sleep(0.3)
        self.assertEqual(self.staged_files(), [])
        self.conn.send(body[700_000:] + b"\r\n")
        pieces = raw.read_response_line(self.conn)
        self.assertTrue(pieces[0].startswith(b"s1 NO [TRYCREATE]"), pieces)
        self.assertEqual(self.staged_files(), [])
        self.assert_goes_on()

    def check_toobig_before_the_literal(self):
        before = self.count()
        self.assertIn(f"APPENDLIMIT={LIMIT}", self.conn.capabilities)
        _, tagged, continuations = raw.command(
            self.conn, "t1", [b"APPEND INBOX ", ("sync", message(LIMIT + 1), False)])
        self.assertTrue(tagged.startswith(b"t1 NO [TOOBIG]"), tagged)
        self.assertEqual(continuations, 0)
        _, tagged, _ = raw.command(
            self.conn, "t2", [b"APPEND INBOX ", ("nonsync", message(LIMIT + 1), False)])
        self.assertTrue(tagged.startswith(b"t2 NO [TOOBIG]"), tagged)
        self.assert_goes_on()
        self.assertEqual(self.count(), before + 1)

    def test_overquota_and_multiappend(self):
        self.start({"storage": "64K", "messages": 3})
        # Larger than the whole storage limit.
        _, tagged, continuations = raw.command(
            self.conn, "q1", [b"APPEND INBOX ", ("sync", message(70_000), False)])
        self.assertTrue(tagged.startswith(b"q1 NO [OVERQUOTA]"), tagged)
        self.assertEqual(continuations, 0)
        _, tagged, _ = raw.command(
            self.conn, "q2", [b"APPEND INBOX ", ("nonsync", message(70_000), False)])
        self.assertTrue(tagged.startswith(b"q2 NO [OVERQUOTA]"), tagged)
        self.assertEqual(self.conn.noop()[0], "OK")
        # One byte more than the room left is refused before the literal, exactly the room left
        # is accepted.
        _, tagged, continuations = raw.command(
            self.conn, "q3", [b"APPEND INBOX ", ("sync", message(40_000, 1), False)])
        self.assertTrue(tagged.startswith(b"q3 OK"), tagged)
        _, tagged, continuations = raw.command(
            self.conn, "q4", [b"APPEND INBOX ", ("sync", message(65536 - 40_000 + 1, 2), False)])
        self.assertTrue(tagged.startswith(b"q4 NO [OVERQUOTA]"), tagged)
        self.assertEqual(continuations, 0)
        _, tagged, continuations = raw.command(
            self.conn, "q5", [b"APPEND INBOX ", ("sync", message(65536 - 40_000, 2), False)])
        self.assertTrue(tagged.startswith(b"q5 OK"), tagged)
        self.assertEqual(continuations, 1)
        self.conn.select("INBOX")
        self.conn.store("1:*", "+FLAGS", "\\Deleted")
        self.conn.expunge()
        self.conn.unselect()
        self.assertEqual(self.count(), 0)

        # MULTIAPPEND: two messages of 30,000 bytes fit, the third would not. It is refused
        # before it is requested and the two staged ones are dropped (RFC 3502: all or none).
        self.assertEqual(self.conn.create("Box")[0], "OK")
        parts = [b"APPEND Box"]
        for n in range(3):
            parts += [b" ", ("sync", message(30_000, n), False)]
        _, tagged, continuations = raw.command(self.conn, "m1", parts)
        self.assertTrue(tagged.startswith(b"m1 NO [OVERQUOTA]"), tagged)
        self.assertEqual(continuations, 2)
        self.wait_no_staged_files()
        # LITERAL+ throughout: the same answer once the client has sent it all.
        parts = [b"APPEND Box"]
        for n in range(3):
            parts += [b" ", ("nonsync", message(30_000, n), False)]
        _, tagged, _ = raw.command(self.conn, "m2", parts)
        self.assertTrue(tagged.startswith(b"m2 NO [OVERQUOTA]"), tagged)
        self.wait_no_staged_files()
        self.assertEqual(self.count("Box"), 0)
        self.assertEqual(self.conn.noop()[0], "OK")
        # The first two are one command that fits.
        _, tagged, continuations = raw.command(self.conn, "m3", parts[:5])
        self.assertTrue(tagged.startswith(b"m3 OK [APPENDUID"), tagged)
        self.assertEqual(self.count("Box"), 2)

        # The message count: a third message fits, a fourth does not.
        typ, data = self.conn.append("INBOX", None, None, message(200, 10))
        self.assertEqual(typ, "OK", data)
        _, tagged, continuations = raw.command(
            self.conn, "q6", [b"APPEND INBOX ", ("sync", message(200, 20), False)])
        self.assertTrue(tagged.startswith(b"q6 NO [OVERQUOTA]"), tagged)
        self.assertEqual(continuations, 0)
        self.assertEqual(self.count(), 1)
        self.assertEqual(self.conn.noop()[0], "OK")

    def test_commit_checks_again(self):
        self.start({"messages": 2})
        other = self.imap_login(self.pb)
        self.assertEqual(self.conn.create("Box")[0], "OK")
        body = message(1000)
        # The mailbox is there when the literal is announced, gone when it arrives.
        self.conn.send(b"c1 APPEND Box {%d}\r\n" % len(body))
        self.assertTrue(self.conn.readline().startswith(b"+"))
        self.assertEqual(other.delete("Box")[0], "OK")
        self.conn.send(body + b"\r\n")
        pieces = raw.read_response_line(self.conn)
        self.assertTrue(pieces[0].startswith(b"c1 NO [TRYCREATE]"), pieces)
        # The quota has room when the literal is announced; another session takes it meanwhile.
        self.assertEqual(other.append("INBOX", None, None, message(500, 1))[0], "OK")
        self.conn.send(b"c2 APPEND INBOX {%d}\r\n" % len(body))
        self.assertTrue(self.conn.readline().startswith(b"+"))
        self.assertEqual(other.append("INBOX", None, None, message(500, 2))[0], "OK")
        self.conn.send(body + b"\r\n")
        pieces = raw.read_response_line(self.conn)
        self.assertTrue(pieces[0].startswith(b"c2 NO [OVERQUOTA]"), pieces)
        self.assertEqual(self.count(), 2)
        self.wait_no_staged_files()
        other.logout()

    def check_curl_upload_to_missing_mailbox(self):
        path = os.path.join(self.dir, "m.eml")
        with open(path, "wb") as f:
            f.write(message(2000))
        url = f"imaps://127.0.0.1:{self.pb.imaps_port}/Nowhere"
        r = clients.curl(self.certs.ca_cert, url, user=IMAP_USER, password=IMAP_PASSWORD,
                         upload=path, timeout=20)
        self.assertEqual(r.returncode, CURLE_UPLOAD_FAILED, r.stderr)
        self.assertIn("Upload failed", r.stderr)
        typ, data = self.conn.list('""', "Nowhere")
        self.assertEqual(data, [None])

    def test_missing_mailbox_like_dovecot(self):
        theirs, ours = open_reference_pair(self)
        for server in (theirs, ours):
            server.command(b"CAPABILITY")
        answers = []
        for server in (theirs, ours):
            server.sock.sendall(b"d1 APPEND Nowhere {100}\r\n")
            answers.append(server.file.readline())
            server.sock.sendall(b"d2 APPEND Nowhere {5+}\r\nhello\r\n")
            answers.append(server.file.readline())
            server.command(b"NOOP")
        for line in answers:
            self.assertTrue(line.startswith((b"d1 NO [TRYCREATE]", b"d2 NO [TRYCREATE]")), answers)


if __name__ == "__main__":
    unittest.main()
