"""CONDSTORE and QRESYNC (RFC 7162) and ENABLE (RFC 5161) through the daemon, with Python's
imaplib. Session B changes flags, expunges, moves and appends; session A resynchronises with
SELECT (QRESYNC ...) and UID FETCH (CHANGEDSINCE ... VANISHED) and must learn exactly the
changed flags with their MODSEQ and exactly the vanished UIDs. Conditional STORE, SEARCH MODSEQ,
STATUS HIGHESTMODSEQ, [CLOSED] and live VANISHED updates are checked too, and a script of these
commands is compared, response shape by response shape, with a private Dovecot IMAP."""

import imaplib
import re
import unittest

from harness import imap as himap
from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap, open_reference_pair
from test_mime_dovecot import PASSWORD, USER, RawImap

COUNT = 8


def message(i):
    return (b"From: sender@example.org\r\nTo: alice@example.org\r\n"
            b"Subject: condstore %d\r\nMessage-ID: <cs-%d@example.org>\r\n\r\nbody %d\r\n"
            % (i, i, i))


def uid_set(text):
    """{uids} of an IMAP uid-set such as b"4:6,9"."""
    out = set()
    for part in text.decode().split(","):
        if ":" in part:
            a, b = (int(x) for x in part.split(":"))
            out.update(range(min(a, b), max(a, b) + 1))
        else:
            out.add(int(part))
    return out


_FETCH = re.compile(rb"^(\d+) \((.*)\)$")


def fetch_items(data):
    """{name: value} of one untagged FETCH's data as imaplib keeps it (b'3 (UID 5 ...)'): UID
    and MODSEQ as ints, FLAGS as a set of str."""
    m = _FETCH.match(data)
    if not m:
        raise AssertionError(f"unexpected FETCH data {data!r}")
    body = m.group(2)
    items = {"seq": int(m.group(1))}
    if (uid := re.search(rb"UID (\d+)", body)):
        items["UID"] = int(uid.group(1))
    if (modseq := re.search(rb"MODSEQ \((\d+)\)", body)):
        items["MODSEQ"] = int(modseq.group(1))
    if (flags := re.search(rb"FLAGS \(([^)]*)\)", body)):
        items["FLAGS"] = set(flags.group(1).decode().split())
    return items


class Response:
    def __init__(self, typ, text, untagged):
        self.typ = typ
        self.text = text  # the tagged response's text, e.g. b"[MODIFIED 3] Conditional ..."
        self.untagged = untagged  # imaplib's {TYPE: [data, ...]}

    def get(self, name):
        return self.untagged.get(name, [])

    def fetches(self):
        return [fetch_items(d) for d in self.get("FETCH") if isinstance(d, bytes)]

    def vanished(self, earlier):
        """UIDs of the VANISHED (EARLIER) responses, or of the plain VANISHED ones."""
        out = set()
        for data in self.get("VANISHED"):
            is_earlier = data.upper().startswith(b"(EARLIER) ")
            if is_earlier == earlier:
                out |= uid_set(data.split(b" ")[-1])
        return out

    def code(self, name):
        """The value of response code `name` in the tagged text, or None."""
        m = re.match(rb"\[" + name.encode() + rb"(?: ([^\]]*))?\]", self.text)
        return None if m is None else (m.group(1) or b"")


def run(conn, name, *args):
    """One command through imaplib, untagged responses collected afresh."""
    conn.untagged_responses.clear()
    typ, data = conn._simple_command(name, *args)
    untagged = dict(conn.untagged_responses)
    conn.untagged_responses.clear()
    return Response(typ, data[-1] if data and data[-1] is not None else b"", untagged)


class CondstoreTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        b = self.imap_login(self.pb)
        typ, data = b.create("Other")
        self.assertEqual(typ, "OK", data)
        for i in range(1, COUNT + 1):
            typ, data = b.append("INBOX", None, None, message(i))
            self.assertEqual(typ, "OK", data)
        self.b = b
        self.b.select("INBOX")

    def session(self, enable="QRESYNC"):
        conn = self.imap_login(self.pb)
        if enable:
            r = run(conn, "ENABLE", enable)
            self.assertEqual(r.typ, "OK", r.text)
            self.assertEqual(r.get("ENABLED"), [enable.encode()])
        return conn

    def select(self, conn, *params, mailbox="INBOX"):
        r = run(conn, "SELECT", mailbox, *params)
        self.assertEqual(r.typ, "OK", r.text)
        conn.state = "SELECTED"  # imaplib tracks state only through its own select()
        return r

    def state(self, conn):
        """{uid: (flags, modseq)} as the server has them now."""
        r = run(conn, "UID", "FETCH", "1:*", "(FLAGS MODSEQ)")
        self.assertEqual(r.typ, "OK", r.text)
        return {f["UID"]: (f["FLAGS"], f["MODSEQ"]) for f in r.fetches()}

    def change_from_b(self):
        """B (no CONDSTORE) changes 2, 3 and 8 (8 ends with the flags it had), expunges 5,
        moves 7 away and appends 9. Returns (changed uids, vanished uids)."""
        b = self.b
        for args in (("2", "+FLAGS", r"(\Flagged)"), ("3", "+FLAGS", "($Label)"),
                     ("8", "+FLAGS", r"(\Answered)"), ("8", "-FLAGS", r"(\Answered)"),
                     ("5", "+FLAGS", r"(\Deleted)")):
            typ, data = b.uid("STORE", *args)
            self.assertEqual(typ, "OK", data)
        typ, data = b.uid("EXPUNGE", "5")
        self.assertEqual(typ, "OK", data)
        typ, data = b.uid("MOVE", "7", "Other")
        self.assertEqual(typ, "OK", data)
        typ, data = b.append("INBOX", None, None, message(9))
        self.assertEqual(typ, "OK", data)
        return {2, 3, 8, 9}, {5, 7}

    def cached_state(self):
        """A client's cache: UIDVALIDITY and HIGHESTMODSEQ from a QRESYNC session's SELECT."""
        a = self.session()
        r = self.select(a)
        uidvalidity = int(r.get("UIDVALIDITY")[0])
        highest = int(r.get("HIGHESTMODSEQ")[0])
        before = self.state(a)
        self.assertEqual(sorted(before), list(range(1, COUNT + 1)))
        self.assertEqual(max(m for _f, m in before.values()), highest)
        return uidvalidity, highest

    def test_capabilities_and_enable(self):
        conn = self.imap_login(self.pb)
        for cap in ("ENABLE", "CONDSTORE", "QRESYNC"):
            self.assertIn(cap, conn.capabilities)
        # SELECT (QRESYNC ...) before ENABLE QRESYNC is a protocol error (RFC 7162 3.2.5).
        with self.assertRaises(imaplib.IMAP4.error):
            run(conn, "SELECT", "INBOX", "(QRESYNC (1 1))")
        r = run(conn, "ENABLE", "X-UNKNOWN", "QRESYNC", "CONDSTORE")
        self.assertEqual(r.typ, "OK")
        self.assertEqual(r.get("ENABLED"), [b"QRESYNC CONDSTORE"])
        r = self.select(conn)
        self.assertEqual(len(r.get("HIGHESTMODSEQ")), 1)
        # ENABLE is not for the unauthenticated state (RFC 5161 3.1).
        fresh = himap.connect(self.pb.imaps_port, self.certs.ca_cert)
        self.addCleanup(himap.safe_logout, fresh)
        fresh.state = "AUTH"  # past imaplib's own check, so that the server answers
        with self.assertRaisesRegex(imaplib.IMAP4.error, "Log in first"):
            run(fresh, "ENABLE", "CONDSTORE")

    def test_select_qresync_learns_exactly_what_changed(self):
        uidvalidity, h0 = self.cached_state()
        changed, vanished = self.change_from_b()

        a = self.session()
        r = self.select(a, f"(QRESYNC ({uidvalidity} {h0}))")
        now = self.state(a)
        self.assertEqual(r.vanished(earlier=True), vanished)
        self.assertFalse(r.vanished(earlier=False))
        fetched = {f["UID"]: f for f in r.fetches()}
        self.assertEqual(set(fetched), changed)
        for uid, f in fetched.items():
            self.assertEqual((f["FLAGS"], f["MODSEQ"]), now[uid], uid)
            self.assertGreater(f["MODSEQ"], h0)
        self.assertEqual(sorted(now), sorted(set(range(1, COUNT + 2)) - vanished))
        for uid in set(now) - changed:
            self.assertLessEqual(now[uid][1], h0, uid)
        h1 = int(r.get("HIGHESTMODSEQ")[0])
        self.assertEqual(h1, max(m for _f, m in now.values()))
        self.assertEqual(r.get("EXISTS")[-1], str(len(now)).encode())

        # Known UIDs narrow both the VANISHED and the FETCH answers; [CLOSED] ends the old one.
        r = self.select(a, f"(QRESYNC ({uidvalidity} {h0} 1:6))")
        self.assertIn("CLOSED", r.untagged)
        self.assertEqual(r.vanished(earlier=True), {5})
        self.assertEqual({f["UID"] for f in r.fetches()}, {2, 3})
        # Up to date: nothing to tell. A changed UIDVALIDITY: nothing either.
        for params in (f"(QRESYNC ({uidvalidity} {h1}))", f"(QRESYNC ({uidvalidity + 1} {h0}))"):
            r = self.select(a, params)
            self.assertFalse(r.get("VANISHED"), params)
            self.assertFalse(r.fetches(), params)

    def test_uid_fetch_changedsince_vanished(self):
        uidvalidity, h0 = self.cached_state()
        changed, vanished = self.change_from_b()
        a = self.session()
        self.select(a)
        now = self.state(a)
        r = run(a, "UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0} VANISHED)")
        self.assertEqual(r.typ, "OK", r.text)
        self.assertEqual(r.vanished(earlier=True), vanished)
        fetched = {f["UID"]: f for f in r.fetches()}
        self.assertEqual(set(fetched), changed)
        for uid, f in fetched.items():
            self.assertEqual((f["FLAGS"], f["MODSEQ"]), now[uid], uid)
        # Only the UIDs of the set: 7 was expunged, 5 is outside 6:8.
        r = run(a, "UID", "FETCH", "6:8", "(FLAGS)", f"(CHANGEDSINCE {h0} VANISHED)")
        self.assertEqual(r.vanished(earlier=True), {7})
        self.assertEqual({f["UID"] for f in r.fetches()}, {8})
        # CHANGEDSINCE alone (CONDSTORE): the changed messages, by sequence number too.
        r = run(a, "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0})")
        self.assertEqual({f["seq"] for f in r.fetches()},
                         {sorted(now).index(uid) + 1 for uid in changed})
        self.assertTrue(all("MODSEQ" in f for f in r.fetches()))

        plain = self.session(enable=None)
        self.select(plain)
        with self.assertRaises(imaplib.IMAP4.error):  # VANISHED needs QRESYNC on
            run(plain, "UID", "FETCH", "1:*", "(FLAGS)", f"(CHANGEDSINCE {h0} VANISHED)")

    def test_live_changes_arrive_as_vanished_with_modseq(self):
        a = self.session()
        self.select(a)
        self.change_from_b()
        r = run(a, "NOOP")
        self.assertFalse(r.get("EXPUNGE"))
        self.assertEqual(r.vanished(earlier=False), {5, 7})
        fetched = {f["UID"]: f for f in r.fetches()}
        self.assertEqual(set(fetched), {2, 3, 8})
        self.assertTrue(all("MODSEQ" in f and "FLAGS" in f for f in fetched.values()))
        self.assertEqual(r.get("EXISTS"), [str(COUNT - 1).encode()])

        # Its own EXPUNGE and MOVE: VANISHED, and the new HIGHESTMODSEQ in the tagged OK.
        r = run(a, "UID", "STORE", "1,2", "+FLAGS.SILENT", r"(\Deleted)")
        self.assertEqual(r.typ, "OK", r.text)
        # .SILENT still answers with the new MODSEQ once CONDSTORE is on (RFC 7162 3.1.3).
        self.assertEqual({f["UID"] for f in r.fetches()}, {1, 2})
        self.assertTrue(all("FLAGS" not in f for f in r.fetches()))
        r = run(a, "EXPUNGE")
        self.assertEqual(r.vanished(earlier=False), {1, 2})
        self.assertFalse(r.get("EXPUNGE"))
        highest = int(r.code("HIGHESTMODSEQ"))
        status = run(a, "STATUS", "INBOX", "(HIGHESTMODSEQ)")
        self.assertEqual(status.get("STATUS"), [b"INBOX (HIGHESTMODSEQ %d)" % highest])
        r = run(a, "UID", "MOVE", "3", "Other")
        self.assertEqual(r.vanished(earlier=False), {3})
        self.assertGreater(int(r.code("HIGHESTMODSEQ")), highest)

        # CONDSTORE without QRESYNC: EXPUNGE stays, FETCH carries MODSEQ.
        c = self.session(enable="CONDSTORE")
        self.select(c)
        typ, data = self.b.uid("STORE", "4", "+FLAGS", r"(\Deleted \Seen)")
        self.assertEqual(typ, "OK", data)
        typ, data = self.b.expunge()
        self.assertEqual(typ, "OK", data)
        r = run(c, "NOOP")
        self.assertEqual(r.get("EXPUNGE"), [b"1"])
        self.assertFalse(r.get("VANISHED"))

    def test_conditional_store(self):
        a = self.session(enable="CONDSTORE")
        self.select(a)
        before = self.state(a)
        typ, data = self.b.uid("STORE", "1", "+FLAGS", r"(\Flagged)")
        self.assertEqual(typ, "OK", data)
        since = max(m for _f, m in before.values())
        r = run(a, "UID", "STORE", "1,2", f"(UNCHANGEDSINCE {since})", "+FLAGS", r"(\Seen)")
        self.assertEqual(r.typ, "OK", r.text)
        self.assertEqual(r.code("MODIFIED"), b"1")
        # The message changed by B is untouched, and B's change is told; the other one changed,
        # with a new MODSEQ.
        fetched = {f["UID"]: f for f in r.fetches()}
        self.assertEqual(fetched[1]["FLAGS"], {r"\Flagged"})
        self.assertEqual(fetched[2]["FLAGS"], {r"\Seen"})
        now = self.state(a)
        self.assertEqual(now[1][0], {r"\Flagged"})
        self.assertEqual(now[2][0], {r"\Seen"})
        self.assertGreater(now[2][1], since)
        # By sequence number MODIFIED lists sequence numbers; UNCHANGEDSINCE 0 always fails.
        r = run(a, "STORE", "3:4", "(UNCHANGEDSINCE 0)", "+FLAGS", r"(\Seen)")
        self.assertEqual(uid_set(r.code("MODIFIED")), {3, 4})
        self.assertFalse(r.fetches())
        # Up to date: it succeeds.
        r = run(a, "STORE", "1", f"(UNCHANGEDSINCE {now[1][1]})", "+FLAGS.SILENT", r"(\Seen)")
        self.assertIsNone(r.code("MODIFIED"))
        self.assertEqual([(f["UID"], "FLAGS" in f) for f in r.fetches()], [(1, False)])
        self.assertEqual(self.state(a)[1][0], {r"\Flagged", r"\Seen"})

    def test_search_modseq_and_status(self):
        uidvalidity, h0 = self.cached_state()
        changed, _vanished = self.change_from_b()
        a = self.session(enable=None)
        r = self.select(a)
        self.assertFalse(r.get("HIGHESTMODSEQ"))  # not before CONDSTORE is on
        r = run(a, "UID", "SEARCH", "MODSEQ", str(h0 + 1))
        self.assertEqual(r.typ, "OK", r.text)
        # SEARCH MODSEQ turned CONDSTORE on: HIGHESTMODSEQ comes at once (RFC 7162 3.1).
        highest = int(r.get("HIGHESTMODSEQ")[0])
        m = re.fullmatch(rb"([\d ]*) \(MODSEQ (\d+)\)", r.get("SEARCH")[0])
        self.assertIsNotNone(m, r.get("SEARCH"))
        self.assertEqual({int(x) for x in m.group(1).split()}, changed)
        self.assertEqual(int(m.group(2)), highest)
        r = run(a, "SEARCH", "MODSEQ", str(highest + 1))
        self.assertEqual(r.get("SEARCH"), [b""])  # "* SEARCH": no (MODSEQ n) without matches
        r = run(a, "STATUS", "INBOX", "(HIGHESTMODSEQ MESSAGES)")
        self.assertEqual(r.get("STATUS"),
                         [b"INBOX (HIGHESTMODSEQ %d MESSAGES %d)" % (highest, COUNT - 1)])


def normalized(lines):
    """Response shapes: numbers become N, human text after a status is dropped, and the lines
    every SELECT sends (compared elsewhere) are left out, and so is \\Recent, which popbridge
    does not keep (IMAP4rev2 dropped it), and MAILBOXID, which only popbridge sends (RFC 8474;
    Dovecot 2.3 has no OBJECTID)."""
    skip = re.compile(rb"^\* (FLAGS|\d+ EXISTS|\d+ RECENT|OK \[(PERMANENTFLAGS|UNSEEN|UIDVALIDITY|"
                      rb"UIDNEXT|MAILBOXID)[ \]])")
    out = []
    for line in lines:
        if skip.match(line):
            continue
        line = re.sub(rb"^(\S+ (?:OK|NO|BAD)(?: \[[^\]]*\])?).*", rb"\1", line.rstrip(b"\r\n"))
        line = re.sub(rb" ?\\Recent\b", b"", line).replace(b"( ", b"(")
        out.append(re.sub(rb"\d+", b"N", line))
    return out


class DovecotShapesTest(PopbridgeCase):
    """The same script against popbridge and a private Dovecot IMAP: the same responses."""

    SCRIPT = [
        b"ENABLE QRESYNC",
        b"SELECT INBOX",
        b"STORE 1 +FLAGS (\\Seen)",
        b"STORE 2 +FLAGS.SILENT (\\Seen)",
        b"FETCH 1:3 (FLAGS) (CHANGEDSINCE 1)",
        b"STORE 3 (UNCHANGEDSINCE 1) +FLAGS (\\Flagged)",
        b"UID STORE 1,3 (UNCHANGEDSINCE 100) +FLAGS.SILENT (\\Answered)",
        b"SEARCH MODSEQ 1000",
        b"STORE 4:5 +FLAGS.SILENT (\\Deleted)",
        b"EXPUNGE",
        b"UID MOVE 6 Other",
        b"UID FETCH 1:* (FLAGS) (CHANGEDSINCE 1 VANISHED)",
        b"SELECT Other",
        b"SELECT INBOX (QRESYNC (%(uidvalidity)d 2))",
        b"UNSELECT",
    ]

    def setUp(self):
        super().setUp()
        theirs, ours = open_reference_pair(self)
        self.servers = (theirs, ours)
        for server in self.servers:
            server.command(b"CREATE Other")
            for i in range(1, 7):
                server.command(b"APPEND INBOX", literal=message(i))

    @staticmethod
    def transcript(server, command):
        """Untagged and tagged lines of one command (RawImap.command drops the tagged one)."""
        server.n += 1
        tag = b"t%d" % server.n
        server.sock.sendall(tag + b" " + command + b"\r\n")
        lines = []
        while True:
            line = server._response()
            lines.append(line)
            if line.startswith(tag + b" "):
                return [re.sub(rb"^t\d+ ", b"TAG ", line) for line in lines]

    def test_same_responses_as_dovecot(self):
        uidvalidity = {}
        for server in self.servers:
            for line in server.command(b"STATUS INBOX (UIDVALIDITY)"):
                uidvalidity[server] = int(re.search(rb"UIDVALIDITY (\d+)", line).group(1))
        for command in self.SCRIPT:
            shapes = []
            for server in self.servers:
                text = command.replace(b"%(uidvalidity)d", str(uidvalidity[server]).encode())
                shapes.append(normalized(self.transcript(server, text)))
            theirs, ours = shapes
            self.assertEqual(ours, theirs, command)


if __name__ == "__main__":
    unittest.main()
