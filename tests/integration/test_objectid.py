"""OBJECTID (RFC 8474) through the daemon with real clients; the RFC's invariants are checked on
popbridge alone, since Debian's Dovecot 2.3 has no OBJECTID to compare with:

- CAPABILITY lists OBJECTID; CREATE's tagged OK, SELECT/EXAMINE and STATUS (MAILBOXID) give the
  same valid MAILBOXID; RENAME keeps it; a mailbox created again under a deleted one's name gets a
  new one (RFC 8474 4).
- FETCH EMAILID is the same for a message and its COPY and after a MOVE, and differs for the same
  bytes APPENDed twice (RFC 8474 5.1).
- FETCH THREADID groups a reply (In-Reply-To), a reply to it (References) with their parent and
  keeps unrelated messages apart (only popbridge's threads are checked: RFC 8474 5.2 lets a
  server without threads answer NIL).
- SEARCH EMAILID / THREADID (RFC 8474 6) find a message, its copies and its thread.
- popbridge keeps every id across a restart; imaplib sees the same ids as the raw client, and
  imapflow (which asks for EMAILID and THREADID once OBJECTID is advertised) gets them too."""

import imaplib
import re
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap

OBJECTID = rb"[A-Za-z0-9_-]{1,255}"


def message(msgid, subject, extra=""):
    return (f"From: a@example.org\r\nSubject: {subject}\r\nMessage-ID: {msgid}\r\n{extra}"
            f"Date: Fri, 1 Mar 2024 09:00:00 +0000\r\n\r\nbody of {subject}\r\n").encode()


PARENT = message("<p@x>", "parent")
REPLY = message("<r1@x>", "Re: parent", "In-Reply-To: <p@x>\r\n")
REPLY2 = message("<r2@x>", "Re: Re: parent", "References: <p@x> <r1@x>\r\n")
OTHER = message("<o@x>", "other")


def code_value(line, name):
    """The id in a "[NAME (id)]" response code of `line`, or None."""
    m = re.search(rb"\[" + name + rb" \((" + OBJECTID + rb")\)\]", line)
    return m.group(1) if m else None


def tagged(server, text):
    """Runs `text`; returns (untagged, tagged line) without raising on NO."""
    server.n += 1
    tag = b"t%d" % server.n
    server.sock.sendall(tag + b" " + text + b"\r\n")
    untagged = []
    while True:
        r = server._response()
        if r.startswith(tag + b" "):
            return untagged, r
        untagged.append(r)


def status_id(server, mailbox):
    for r in server.command(b"STATUS %s (MAILBOXID MESSAGES)" % mailbox):
        m = re.match(rb"\* STATUS \S+ \(.*MAILBOXID \((" + OBJECTID + rb")\)", r)
        if m:
            return m.group(1)
    raise AssertionError(f"no STATUS MAILBOXID for {mailbox!r}")


def select_id(server, mailbox, command=b"SELECT"):
    for r in server.command(command + b" " + mailbox):
        value = code_value(r, b"MAILBOXID")
        if value is not None:
            return value
    raise AssertionError(f"no MAILBOXID in {command!r} {mailbox!r}")


def create_id(server, mailbox):
    untagged, line = tagged(server, b"CREATE " + mailbox)
    if b" OK " not in line:
        raise AssertionError(f"CREATE {mailbox!r}: {line!r}")
    return code_value(line, b"MAILBOXID")


def fetch_ids(server, seq_range=b"1:*"):
    """{uid: (emailid, threadid or None)} of the selected mailbox."""
    out = {}
    for r in server.command(b"UID FETCH %s (EMAILID THREADID)" % seq_range):
        uid = re.search(rb"UID (\d+)", r)
        email = re.search(rb"EMAILID \((" + OBJECTID + rb")\)", r)
        thread = re.search(rb"THREADID (?:\((" + OBJECTID + rb")\)|(NIL))", r)
        if not (uid and email and thread):
            raise AssertionError(f"unexpected FETCH response {r!r}")
        out[int(uid.group(1))] = (email.group(1), thread.group(1))
    return out


def mailbox_invariants(test, server):
    """Checks the MAILBOXID rules on `server`; returns the ids seen (name -> id)."""
    a = create_id(server, b"oa")
    test.assertIsNotNone(a, "CREATE's OK carries [MAILBOXID (...)]")
    test.assertEqual(status_id(server, b"oa"), a)
    test.assertEqual(select_id(server, b"oa"), a)
    test.assertEqual(select_id(server, b"oa", b"EXAMINE"), a)
    server.command(b"UNSELECT")
    b = create_id(server, b"ob")
    test.assertNotEqual(a, b)
    inbox = status_id(server, b"INBOX")
    test.assertNotIn(inbox, (a, b))
    server.command(b"RENAME oa oc")
    test.assertEqual(status_id(server, b"oc"), a, "RENAME keeps MAILBOXID")
    server.command(b"DELETE ob")
    b2 = create_id(server, b"ob")
    test.assertNotIn(b2, (a, b), "a new mailbox under an old name gets a new MAILBOXID")
    return {"INBOX": inbox, "oc": a, "ob": b2}


def email_invariants(test, server):
    """APPENDs the corpus to oc; checks EMAILID across COPY, MOVE and a second APPEND.
    Returns the ids of oc's messages by uid and whether THREADIDs were given."""
    for data in (PARENT, REPLY, REPLY2, OTHER, PARENT):
        server.command(b"APPEND oc ()", literal=data)
    server.command(b"SELECT oc")
    ids = fetch_ids(server)
    test.assertEqual(len(ids), 5)
    emails = [ids[uid][0] for uid in sorted(ids)]
    test.assertEqual(len(set(emails)), 5, "every APPEND is a new message, same bytes or not")
    server.command(b"UID COPY 1:2 ob")
    server.command(b"UID MOVE 3 ob")
    server.command(b"SELECT ob")
    copied = fetch_ids(server)
    test.assertEqual(sorted(v[0] for v in copied.values()), sorted(emails[0:3]))
    server.command(b"SELECT oc")
    return fetch_ids(server)


class ObjectIdTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        self.ours = TlsRawImap(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(self.ours.close)
        self.ours.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))

    def test_popbridge_ids_threads_and_restart(self):
        caps = self.ours.command(b"CAPABILITY")[0].split()
        self.assertIn(b"OBJECTID", caps)
        boxes = mailbox_invariants(self, self.ours)
        ids = email_invariants(self, self.ours)
        # Left in oc: uids 1 (parent), 2 (reply), 4 (other), 5 (parent's bytes again).
        self.assertEqual(sorted(ids), [1, 2, 4, 5])
        self.assertEqual(ids[1][1], ids[2][1], "a reply shares its parent's THREADID")
        self.assertEqual(ids[5][1], ids[1][1], "so does a message with the parent's Message-ID")
        self.assertNotEqual(ids[4][1], ids[1][1], "an unrelated message has its own THREADID")
        self.ours.command(b"SELECT ob")
        moved = fetch_ids(self.ours)
        self.assertEqual(moved[3][1], ids[1][1], "a reply by References, moved, keeps its thread")
        # LIST-STATUS answers MAILBOXID too.
        listed = self.ours.command(b'LIST "" "o*" RETURN (STATUS (MAILBOXID))')
        self.assertTrue(any(b"MAILBOXID (" + boxes["oc"] + b")" in r for r in listed), listed)
        # UID FETCH of an EMAILID alone answers with UID and EMAILID only.
        one = self.ours.command(b"UID FETCH 3 (EMAILID)")
        self.assertEqual(one, [b"* 3 FETCH (UID 3 EMAILID (" + moved[3][0] + b"))\r\n"])

        self.ours.close()
        self.assert_clean_stop(self.pb)
        self.pb.start()
        again = TlsRawImap(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(again.close)
        again.command(b"LOGIN %s %s" % (IMAP_USER.encode(), IMAP_PASSWORD.encode()))
        for name, value in boxes.items():
            self.assertEqual(status_id(again, name.encode()), value, name)
        again.command(b"SELECT oc")
        self.assertEqual(fetch_ids(again), ids)
        # SEARCH EMAILID / THREADID (RFC 8474 6), also in ESEARCH form and in another mailbox.
        # The parent's bytes appended again carry its Message-ID: the same thread.
        self.assertEqual(again.command(b"UID SEARCH THREADID " + ids[1][1]),
                         [b"* SEARCH 1 2 5\r\n"])
        self.assertEqual(again.command(b"SEARCH EMAILID " + ids[5][0]), [b"* SEARCH 4\r\n"])
        self.assertEqual(again.command(b"UID SEARCH RETURN (COUNT) NOT THREADID " + ids[1][1]),
                         [b'* ESEARCH (TAG "t%d") UID COUNT 1\r\n' % again.n])
        again.command(b"SELECT ob")
        self.assertEqual(again.command(b"UID SEARCH THREADID " + ids[1][1]),
                         [b"* SEARCH 1 2 3\r\n"])
        _, bad = tagged(again, b"SEARCH EMAILID a.b")
        self.assertTrue(bad.startswith(b"t%d BAD" % again.n), bad)

        # imaplib, a real client, sees the same ids.
        conn = self.imap_login(self.pb)
        conn.select("oc", readonly=True)
        typ, data = conn.uid("FETCH", "1", "(EMAILID THREADID)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"EMAILID (" + ids[1][0] + b")", data[0])
        self.assertIn(b"THREADID (" + ids[1][1] + b")", data[0])
        typ, data = conn.status("oc", "(MAILBOXID)")
        self.assertEqual(typ, "OK")
        self.assertIn(b"MAILBOXID (" + boxes["oc"] + b")", data[0])
        typ, data = conn.uid("SEARCH", "EMAILID", ids[4][0].decode())
        self.assertEqual((typ, data), ("OK", [b"4"]))
        # Unknown or malformed items stay errors.
        with self.assertRaises(imaplib.IMAP4.error):
            conn.uid("FETCH", "1", "(EMAILID[])")


if __name__ == "__main__":
    unittest.main()
