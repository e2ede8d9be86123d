"""ESEARCH (RFC 4731), SEARCHRES (RFC 5182) and WITHIN (RFC 5032) through the daemon, with
Python's imaplib: SEARCH and UID SEARCH RETURN (MIN MAX ALL COUNT) against answers computed
here, MODSEQ in ESEARCH (RFC 7162 3.1.5), RETURN (SAVE) and "$" in FETCH, STORE, COPY, MOVE,
SEARCH and UID EXPUNGE, "$" kept across expunges and reset by SELECT, emptied by a save
answered NO and left alone by one answered BAD,
and OLDER / YOUNGER against INTERNALDATEs set relative to now."""

import re
import time
import unittest

from harness.case import PopbridgeCase
from test_condstore import run

COUNT = 10


def message(i):
    return (b"From: sender@example.org\r\nTo: alice@example.org\r\n"
            b"Subject: esearch %d\r\nMessage-ID: <es-%d@example.org>\r\n\r\nbody %d\r\n"
            % (i, i, i))


def imap_date(seconds):
    return time.strftime('"%d-%b-%Y %H:%M:%S +0000"', time.gmtime(seconds))


def numbers(text):
    """[numbers] of an IMAP sequence-set such as b"4:6,9", in order."""
    out = []
    for part in text.decode().split(","):
        a, _, b = part.partition(":")
        out.extend(range(int(a), int(b or a) + 1))
    return out


def attempt(conn, *command):
    """(typ, text) of a command that may fail; imaplib raises on BAD."""
    try:
        r = run(conn, *command)
    except conn.error as e:
        return "BAD", str(e).encode()
    return r.typ, r.text


def esearch(r):
    """The one ESEARCH response of `r` as {"TAG": str, "UID": bool, "MIN": int, ...}; ALL as a
    list of numbers."""
    data = r.get("ESEARCH")
    if len(data) != 1:
        raise AssertionError(f"expected one ESEARCH response, got {data!r}")
    m = re.fullmatch(rb'\(TAG "([^"]+)"\)( UID)?((?: [A-Z]+ \S+)*)', data[0])
    if m is None:
        raise AssertionError(f"malformed ESEARCH {data[0]!r}")
    out = {"TAG": m.group(1).decode(), "UID": bool(m.group(2))}
    items = m.group(3).split()
    for name, value in zip(items[::2], items[1::2]):
        out[name.decode()] = numbers(value) if name == b"ALL" else int(value)
    return out


class EsearchTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        conn = self.imap_login(self.pb)
        for mailbox in ("Other", "Third"):
            typ, data = conn.create(mailbox)
            self.assertEqual(typ, "OK", data)
        # Messages 1-4 arrived two days ago, 5-7 ninety minutes ago, 8-10 just now.
        now = time.time()
        ages = [2 * 86400] * 4 + [5400] * 3 + [0] * 3
        self.uids = []
        for i, age in enumerate(ages, start=1):
            typ, data = conn.append("INBOX", None, imap_date(now - age), message(i))
            self.assertEqual(typ, "OK", data)
            self.uids.append(int(re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0]).group(1)))
        typ, data = conn.select("INBOX")
        self.assertEqual(typ, "OK", data)
        # \Seen on 2, 4, 6, 8, 10; \Flagged on 3 and 4.
        for seq in (2, 4, 6, 8, 10):
            typ, data = conn.store(str(seq), "+FLAGS.SILENT", r"(\Seen)")
            self.assertEqual(typ, "OK", data)
        typ, data = conn.store("3:4", "+FLAGS.SILENT", r"(\Flagged)")
        self.assertEqual(typ, "OK", data)
        self.conn = conn

    def ok(self, *command):
        r = run(self.conn, *command)
        self.assertEqual(r.typ, "OK", (command, r.text))
        return r

    def saved(self, uid=True):
        """The messages "$" names now, by UID FETCH $ (or by FETCH $ as sequence numbers)."""
        if uid:
            r = self.ok("UID", "FETCH", "$", "(UID)")
        else:
            r = self.ok("FETCH", "$", "(UID)")
        return sorted(int(re.match(rb"(\d+) \(UID (\d+)\)", d).group(2 if uid else 1))
                      for d in r.get("FETCH") if isinstance(d, bytes))

    def test_capabilities(self):
        typ, data = self.conn.capability()
        self.assertEqual(typ, "OK", data)
        caps = data[0].split()
        for cap in (b"ESEARCH", b"SEARCHRES", b"WITHIN"):
            self.assertIn(cap, caps)

    def test_return_options(self):
        u = self.uids
        e = esearch(self.ok("SEARCH", "RETURN", "(MIN MAX COUNT ALL)", "SEEN"))
        self.assertEqual(e["MIN"], 2)
        self.assertEqual(e["MAX"], 10)
        self.assertEqual(e["COUNT"], 5)
        self.assertEqual(e["ALL"], [2, 4, 6, 8, 10])
        self.assertFalse(e["UID"])
        self.assertRegex(e["TAG"], r"^[A-Z]+\d+$")  # imaplib's tag for the command
        # RETURN () is ALL; runs of numbers collapse in the sequence-set.
        r = self.ok("SEARCH", "RETURN", "()", "NOT", "5:6")
        self.assertRegex(r.get("ESEARCH")[0], rb'^\(TAG "[^"]+"\) ALL 1:4,7:10$')
        self.assertEqual(r.get("SEARCH"), [])  # never the plain SEARCH response
        e = esearch(self.ok("UID", "SEARCH", "RETURN", "(MIN MAX)", "FLAGGED"))
        self.assertEqual((e["UID"], e["MIN"], e["MAX"]), (True, u[2], u[3]))
        self.assertNotIn("ALL", e)
        e = esearch(self.ok("UID", "SEARCH", "RETURN", "(ALL)", "UNSEEN"))
        self.assertEqual(e["ALL"], [u[0], u[2], u[4], u[6], u[8]])
        e = esearch(self.ok("SEARCH", "RETURN", "(count)", "UNSEEN", "FLAGGED"))
        self.assertEqual(e, {"TAG": e["TAG"], "UID": False, "COUNT": 1})
        # Nothing matched: no MIN, MAX or ALL; COUNT 0.
        e = esearch(self.ok("UID", "SEARCH", "RETURN", "(MIN MAX ALL COUNT)", "DELETED"))
        self.assertEqual(e, {"TAG": e["TAG"], "UID": True, "COUNT": 0})
        r = self.ok("SEARCH", "RETURN", "(MIN)", "DELETED")
        self.assertRegex(r.get("ESEARCH")[0], rb'^\(TAG "[^"]+"\)$')
        # CHARSET after RETURN.
        e = esearch(self.ok("SEARCH", "RETURN", "(COUNT)", "CHARSET", "UTF-8", "SUBJECT", "esearch"))
        self.assertEqual(e["COUNT"], COUNT)

    def test_bad_return_options(self):
        for command in (("SEARCH", "RETURN", "(FOO)", "ALL"), ("SEARCH", "RETURN", "ALL"),
                        ("SEARCH", "ALL", "RETURN", "(ALL)"), ("SEARCH", "RETURN", "(MIN MIN)", "ALL"),
                        ("SEARCH", "CHARSET", "UTF-8", "RETURN", "(ALL)", "ALL"),
                        ("SEARCH", "OLDER", "0"), ("SEARCH", "YOUNGER", "x")):
            with self.assertRaises(self.conn.error, msg=command):
                self.conn._simple_command(*command)
        typ, text = attempt(self.conn, "SEARCH", "RETURN", "(ALL)", "CHARSET", "X-NOPE", "ALL")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[BADCHARSET", text)

    def test_modseq_in_esearch(self):
        modseq = {}
        r = self.ok("FETCH", "1:*", "(MODSEQ)")  # turns CONDSTORE on
        for d in r.get("FETCH"):
            m = re.match(rb"(\d+) \(MODSEQ \((\d+)\)\)", d)
            modseq[int(m.group(1))] = int(m.group(2))
        seen = [2, 4, 6, 8, 10]
        e = esearch(self.ok("SEARCH", "RETURN", "(ALL)", "SEEN", "MODSEQ", "1"))
        self.assertEqual(e["ALL"], seen)
        self.assertEqual(e["MODSEQ"], max(modseq[s] for s in seen))
        e = esearch(self.ok("SEARCH", "RETURN", "(COUNT)", "MODSEQ", "1"))
        self.assertEqual(e["MODSEQ"], max(modseq.values()))
        # MIN/MAX alone: the modseq of the returned messages only (RFC 7162 3.1.5).
        e = esearch(self.ok("SEARCH", "RETURN", "(MIN)", "SEEN", "MODSEQ", "1"))
        self.assertEqual((e["MIN"], e["MODSEQ"]), (2, modseq[2]))
        e = esearch(self.ok("UID", "SEARCH", "RETURN", "(MIN MAX)", "SEEN", "MODSEQ", "1"))
        self.assertEqual(e["MODSEQ"], max(modseq[2], modseq[10]))
        # No match, no MODSEQ; and none without a MODSEQ key.
        e = esearch(self.ok("SEARCH", "RETURN", "(COUNT)", "MODSEQ", str(max(modseq.values()) + 1)))
        self.assertEqual(e, {"TAG": e["TAG"], "UID": False, "COUNT": 0})
        self.assertNotIn("MODSEQ", esearch(self.ok("SEARCH", "RETURN", "(ALL)", "SEEN")))

    def test_save_and_use_everywhere(self):
        u = self.uids
        # "$" before any SAVE is empty, and not an error.
        self.assertEqual(self.saved(), [])
        self.assertEqual(self.ok("SEARCH", "$").get("SEARCH"), [b""])
        # SAVE alone: no ESEARCH, no SEARCH.
        r = self.ok("SEARCH", "RETURN", "(SAVE)", "SEEN")
        self.assertEqual((r.get("ESEARCH"), r.get("SEARCH")), ([], []))
        self.assertEqual(self.saved(), [u[1], u[3], u[5], u[7], u[9]])
        self.assertEqual(self.saved(uid=False), [2, 4, 6, 8, 10])
        self.assertEqual(self.ok("SEARCH", "$", "FLAGGED").get("SEARCH"), [b"4"])
        self.assertEqual(self.ok("UID", "SEARCH", "UID", "$", "NOT", "4").get("SEARCH"),
                         [b" ".join(str(x).encode() for x in (u[1], u[5], u[7], u[9]))])
        e = esearch(self.ok("SEARCH", "RETURN", "(COUNT)", "OR", "$", "1"))
        self.assertEqual(e["COUNT"], 6)
        # STORE $ and FETCH $ by sequence numbers.
        self.ok("STORE", "$", "+FLAGS.SILENT", "(work)")
        r = self.ok("FETCH", "$", "(FLAGS)")
        self.assertEqual(len(r.get("FETCH")), 5)
        self.assertTrue(all(b"work" in d for d in r.get("FETCH")))
        e = esearch(self.ok("SEARCH", "RETURN", "(ALL)", "KEYWORD", "work"))
        self.assertEqual(e["ALL"], [2, 4, 6, 8, 10])
        # COPY $, then UID SEARCH in the copy.
        r = self.ok("COPY", "$", "Other")
        self.assertRegex(r.text, rb"^\[COPYUID \d+ [\d:,]+ [\d:,]+\]")
        # SAVE with MIN only keeps the minimum; with MIN and MAX both; with COUNT all of them.
        self.ok("SEARCH", "RETURN", "(SAVE MIN)", "UNSEEN")
        self.assertEqual(self.saved(), [u[0]])
        e = esearch(self.ok("UID", "SEARCH", "RETURN", "(SAVE MIN MAX)", "UNSEEN"))
        self.assertEqual((e["MIN"], e["MAX"]), (u[0], u[8]))
        self.assertEqual(self.saved(), [u[0], u[8]])
        e = esearch(self.ok("SEARCH", "RETURN", "(SAVE MAX COUNT)", "UNSEEN"))
        self.assertEqual((e["MAX"], e["COUNT"]), (9, 5))
        self.assertEqual(self.saved(), [u[0], u[2], u[4], u[6], u[8]])
        # The keys read the previous "$" before SAVE replaces it.
        self.ok("SEARCH", "RETURN", "(SAVE)", "$", "FLAGGED")
        self.assertEqual(self.saved(), [u[2]])
        # UID MOVE $ and UID EXPUNGE $.
        self.ok("UID", "SEARCH", "RETURN", "(SAVE)", "UID", f"{u[0]},{u[2]}")
        r = self.ok("UID", "MOVE", "$", "Third")
        self.assertEqual(sorted(r.get("EXPUNGE")), [b"1", b"2"])  # 3 became 2 after 1 left
        self.assertEqual(self.saved(), [])  # moved away: gone from "$"
        self.ok("SEARCH", "RETURN", "(SAVE)", "1:2")
        self.ok("STORE", "1", "+FLAGS.SILENT", r"(\Deleted)")
        self.ok("STORE", "2", "+FLAGS.SILENT", r"(\Deleted)")
        self.ok("STORE", "3", "+FLAGS.SILENT", r"(\Deleted)")
        r = self.ok("UID", "EXPUNGE", "$")
        self.assertEqual(r.get("EXPUNGE"), [b"1", b"1"])
        r = self.ok("SEARCH", "DELETED")
        self.assertEqual(r.get("SEARCH"), [b"1"])  # message 5 stays: not in "$"
        typ, data = self.conn.select("Other")
        self.assertEqual((typ, data), ("OK", [b"5"]))
        typ, data = self.conn.select("Third")
        self.assertEqual((typ, data), ("OK", [b"2"]))

    def test_saved_result_follows_expunges_and_resets_on_select(self):
        u = self.uids
        other = self.imap_login(self.pb)
        other.select("INBOX")
        self.ok("UID", "SEARCH", "RETURN", "(SAVE)", "5:8")
        # Another session expunges message 6 and appends one: "$" loses 6 and gains nothing.
        typ, data = other.store("6", "+FLAGS.SILENT", r"(\Deleted)")
        self.assertEqual(typ, "OK", data)
        typ, data = other.expunge()
        self.assertEqual(typ, "OK", data)
        typ, data = other.append("INBOX", None, None, message(11))
        self.assertEqual(typ, "OK", data)
        r = self.ok("NOOP")
        self.assertEqual(r.get("EXPUNGE"), [b"6"])
        self.assertEqual(self.saved(), [u[4], u[6], u[7]])
        self.assertEqual(self.saved(uid=False), [5, 6, 7])
        e = esearch(self.ok("SEARCH", "RETURN", "(ALL)", "$"))
        self.assertEqual(e["ALL"], [5, 6, 7])
        # SELECT and EXAMINE start with an empty "$", even of the same mailbox.
        typ, data = self.conn.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.saved(), [])
        self.ok("SEARCH", "RETURN", "(SAVE)", "ALL")
        self.assertEqual(len(self.saved()), COUNT)
        typ, data = self.conn.select("INBOX", readonly=True)
        self.assertEqual(typ, "OK", data)
        self.assertEqual(self.saved(), [])
        other.logout()

    def test_failed_save_no_empties_bad_keeps(self):
        # RFC 5182 2.1: a SEARCH RETURN (SAVE) answered NO empties "$"; one answered BAD must
        # not change it.
        self.ok("SEARCH", "RETURN", "(SAVE)", "1:3")
        typ, text = attempt(self.conn, "SEARCH", "RETURN", "(SAVE)", "CHARSET", "X-NOPE", "ALL")
        self.assertEqual(typ, "NO", text)
        self.assertEqual(self.saved(), [])
        for failing in (("SEARCH", "RETURN", "(SAVE)", "NOSUCHKEY"),
                        ("UID", "SEARCH", "RETURN", "(SAVE MIN)", "OLDER", "0"),
                        ("SEARCH", "RETURN", "(SAVE FOO)", "ALL")):
            self.ok("SEARCH", "RETURN", "(SAVE)", "1:3")
            typ, text = attempt(self.conn, *failing)
            self.assertEqual(typ, "BAD", (failing, text))
            self.assertEqual(self.saved(), self.uids[:3], failing)
        # "$" cannot join other numbers.
        self.assertEqual(attempt(self.conn, "FETCH", "1,$", "(UID)")[0], "BAD")

    def test_within(self):
        # INTERNALDATEs: 1-4 two days old, 5-7 ninety minutes, 8-10 now.
        cases = [
            (("OLDER", "86400"), [1, 2, 3, 4]),
            (("OLDER", "3600"), [1, 2, 3, 4, 5, 6, 7]),
            (("YOUNGER", "3600"), [8, 9, 10]),
            (("YOUNGER", "86400"), [5, 6, 7, 8, 9, 10]),
            (("YOUNGER", "4294967295"), list(range(1, COUNT + 1))),
            (("OLDER", "4294967295"), []),
            (("OLDER", "3600", "YOUNGER", "86400"), [5, 6, 7]),
            (("NOT", "YOUNGER", "3600", "SEEN"), [2, 4, 6]),
        ]
        for keys, want in cases:
            with self.subTest(keys=keys):
                r = self.ok("SEARCH", *keys)
                self.assertEqual(r.get("SEARCH"), [" ".join(map(str, want)).encode()])
                e = esearch(self.ok("UID", "SEARCH", "RETURN", "(ALL COUNT)", *keys))
                self.assertEqual(e.get("ALL", []), [self.uids[i - 1] for i in want])
                self.assertEqual(e["COUNT"], len(want))


if __name__ == "__main__":
    unittest.main()
