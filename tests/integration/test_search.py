"""SEARCH and UID SEARCH (RFC 3501 sections 6.4.4 and 6.4.8) with imaplib against the real
daemon: varied messages are APPENDed with known flags and INTERNALDATEs, then every query's answer
is compared with the set computed here in Python from the same messages."""

import contextlib
import datetime
import os
import re
import sqlite3
import time
import unittest

from harness.case import IMAP_USER, PopbridgeCase


def day(text):
    return datetime.datetime.strptime(text, "%d-%b-%Y").date()


class Msg:
    def __init__(self, headers, body, internaldate, flags=()):
        self.headers = headers  # list of (name, value) as written
        self.body = body
        self.internaldate = internaldate  # IMAP date-time string, in its own zone
        self.flags = set(flags)
        self.data = ("".join(f"{n}: {v}\r\n" for n, v in headers) + "\r\n" + body).encode()
        self.uid = None

    def header(self, name):
        return [v for n, v in self.headers if n.lower() == name.lower()]

    def has(self, name, needle):
        """Header `name` contains `needle`, ASCII case-insensitively (decoded values given)."""
        return any(needle.lower() in v.lower() for v in self.decoded(name))

    def decoded(self, name):
        return [self.decoded_values.get(v, v) for v in self.header(name)]

    decoded_values = {"=?UTF-8?Q?Caf=C3=A9_menu?=": "Caf\u00e9 menu"}

    @property
    def internal_day(self):
        return day(self.internaldate.split()[0])

    @property
    def sent_day(self):
        dates = self.header("Date")
        if not dates:
            return None
        parts = dates[0].split(",")[-1].split()
        return day("-".join(parts[:3]))

    @property
    def size(self):
        return len(self.data)


def corpus():
    msgs = [
        Msg([("From", "Alice Example <alice@example.org>"), ("To", "bob@example.net"),
             ("Subject", "Quarterly report"), ("Date", "Sun, 10 Mar 2024 23:30:00 -0500"),
             ("Message-ID", "<s1@example.org>")],
            "The numbers are in.\r\nRevenue grew.\r\n",
            "10-Mar-2024 23:30:00 -0500", [r"\Seen"]),
        Msg([("From", "\"Bob\" <bob@example.net>"), ("To", "alice@example.org"),
             ("Cc", "Carol <carol@example.com>"), ("Subject", "=?UTF-8?Q?Caf=C3=A9_menu?="),
             ("Date", "9 Mar 2024 08:00:00 +0000"), ("Message-ID", "<s2@example.net>")],
            "x" * 50000 + "\r\nA MiXeD CaSe Needle here\r\n" + "y" * 30000 + "\r\n",
            " 9-Mar-2024 08:00:00 +0000", [r"\Flagged", "$Work"]),
        Msg([("From", "carol@example.com"), ("Subject", "Lunch"),
             ("Message-ID", "<s3@example.com>")],
            "hello there\r\n", "15-Mar-2024 12:00:00 +0100", [r"\Draft"]),
        Msg([("From", "Dave <dave@example.org>"), ("To", "alice@example.org"),
             ("Bcc", "eve@example.org"), ("Subject", "Invoice 42"), ("X-Priority", "1"),
             ("Date", "Thu, 1 Feb 2024 10:00:00 +0000"), ("Message-ID", "<s4@example.org>")],
            "Amount due: 42 EUR\r\n", " 1-Feb-2024 10:00:00 +0000"),
        Msg([("From", "Alice Example <alice@example.org>"), ("To", "bob@example.net"),
             ("Subject", "Re: Quarterly report"), ("Date", "Mon, 11 Mar 2024 00:30:00 +0200"),
             ("Message-ID", "<s5@example.org>")],
            "numbers look good\r\n", "11-Mar-2024 00:30:00 +0200", [r"\Answered", r"\Seen"]),
    ]
    for n in range(1, 6):
        msgs.append(Msg([("From", "list@example.org"), ("To", "alice@example.org"),
                         ("Subject", f"digest {n}"), ("List-Id", "<dev.example.org>"),
                         ("Date", f"{n} Apr 2024 06:00:00 +0000"),
                         ("Message-ID", f"<d{n}@example.org>")],
                        ("line of digest text\r\n" * (n * 150)),
                        f" {n}-Apr-2024 06:00:00 +0000", ["$Digest"] if n % 2 else []))
    return msgs


class SearchTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.pb = self.new_popbridge()
        self.conn = self.imap_login(self.pb)
        self.msgs = corpus()
        for m in self.msgs:
            flags = "(" + " ".join(sorted(m.flags)) + ")" if m.flags else None
            typ, data = self.conn.append("INBOX", flags, f'"{m.internaldate}"', m.data)
            self.assertEqual(typ, "OK", data)
            m.uid = int(re.search(rb"\[APPENDUID \d+ (\d+)\]", data[0]).group(1))
        typ, data = self.conn.select("INBOX")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(int(data[0]), len(self.msgs))

    def search(self, query, uid=False):
        if uid:
            typ, data = self.conn.uid("SEARCH", query)
        else:
            typ, data = self.conn.search(None, query)
        self.assertEqual(typ, "OK", (query, data))
        self.assertEqual(len(data), 1, (query, data))
        numbers = [int(x) for x in data[0].split()]
        self.assertEqual(numbers, sorted(numbers), f"{query}: not ascending")
        return numbers

    def expect(self, query, predicate):
        """Checks SEARCH (sequence numbers) and UID SEARCH of `query` against `predicate`."""
        want_seq = [i + 1 for i, m in enumerate(self.msgs) if predicate(m)]
        want_uid = [m.uid for m in self.msgs if predicate(m)]
        self.assertEqual(self.search(query), want_seq, query)
        self.assertEqual(self.search(query, uid=True), want_uid, "UID " + query)

    def test_queries_match_python_model(self):
        m = self.msgs
        cases = [
            ("ALL", lambda x: True),
            ("SEEN", lambda x: r"\Seen" in x.flags),
            ("UNSEEN", lambda x: r"\Seen" not in x.flags),
            ("FLAGGED", lambda x: r"\Flagged" in x.flags),
            ("ANSWERED UNFLAGGED", lambda x: r"\Answered" in x.flags and r"\Flagged" not in x.flags),
            ("DRAFT", lambda x: r"\Draft" in x.flags),
            ("UNDRAFT UNDELETED", lambda x: r"\Draft" not in x.flags),
            ("KEYWORD $work", lambda x: "$Work" in x.flags),
            ("UNKEYWORD $Digest", lambda x: "$Digest" not in x.flags),
            ("RECENT", lambda x: False),
            ("NEW", lambda x: False),
            ("OLD", lambda x: True),
            ("FROM alice", lambda x: x.has("From", "alice")),
            ('FROM "ALICE EXAMPLE"', lambda x: x.has("From", "alice example")),
            ("TO alice@example.org", lambda x: x.has("To", "alice@example.org")),
            ("CC carol", lambda x: x.has("Cc", "carol")),
            ("BCC eve", lambda x: x.has("Bcc", "eve")),
            ('SUBJECT "quarterly REPORT"', lambda x: x.has("Subject", "quarterly report")),
            ("HEADER X-Priority 1", lambda x: x.has("X-Priority", "1")),
            ('HEADER List-Id ""', lambda x: bool(x.header("List-Id"))),
            ('HEADER "list-id" "DEV.example"', lambda x: x.has("List-Id", "dev.example")),
            ("BODY needle", lambda x: "needle" in x.body.lower()),
            ('BODY "mixed case NEEDLE"', lambda x: "mixed case needle" in x.body.lower()),
            ("TEXT report", lambda x: "report" in x.data.decode().lower()),
            ("TEXT EUR", lambda x: "eur" in x.data.decode().lower()),
            ("BODY alice", lambda x: "alice" in x.body.lower()),
            ("LARGER 10000", lambda x: x.size > 10000),
            ("SMALLER 300", lambda x: x.size < 300),
            ("LARGER 1000 SMALLER 20000", lambda x: 1000 < x.size < 20000),
            ("ON 10-Mar-2024", lambda x: x.internal_day == day("10-Mar-2024")),
            ("BEFORE 10-Mar-2024", lambda x: x.internal_day < day("10-Mar-2024")),
            ('SINCE "11-mar-2024"', lambda x: x.internal_day >= day("11-Mar-2024")),
            ("SINCE 1-Mar-2024 BEFORE 1-Apr-2024",
             lambda x: day("1-Mar-2024") <= x.internal_day < day("1-Apr-2024")),
            ("SENTON 10-Mar-2024", lambda x: x.sent_day == day("10-Mar-2024")),
            ("SENTBEFORE 10-Mar-2024", lambda x: x.sent_day is not None
             and x.sent_day < day("10-Mar-2024")),
            ("SENTSINCE 2-Apr-2024", lambda x: x.sent_day is not None
             and x.sent_day >= day("2-Apr-2024")),
            ("NOT SEEN", lambda x: r"\Seen" not in x.flags),
            ("OR FLAGGED DRAFT", lambda x: bool({r"\Flagged", r"\Draft"} & x.flags)),
            ("OR FROM bob NOT (FROM list SMALLER 5000)",
             lambda x: x.has("From", "bob") or not (x.has("From", "list") and x.size < 5000)),
            ("NOT OR SEEN OR FLAGGED KEYWORD $Digest",
             lambda x: not ({r"\Seen", r"\Flagged", "$Digest"} & x.flags)),
            ("(OR SUBJECT digest SUBJECT invoice) NOT HEADER List-Id 3",
             lambda x: (x.has("Subject", "digest") or x.has("Subject", "invoice"))
             and not x.has("List-Id", "3")),
            ("OR (SEEN FROM alice) (UNSEEN BODY digest)",
             lambda x: (r"\Seen" in x.flags and x.has("From", "alice"))
             or (r"\Seen" not in x.flags and "digest" in x.body.lower())),
            ("2:4", lambda x: m.index(x) + 1 in (2, 3, 4)),
            ("7:*", lambda x: m.index(x) + 1 >= 7),
            ("1,3,9:8 NOT 3", lambda x: m.index(x) + 1 in (1, 8, 9)),
            (f"UID {m[1].uid}:{m[3].uid}", lambda x: m[1].uid <= x.uid <= m[3].uid),
            (f"UID {m[8].uid}:*", lambda x: x.uid >= m[8].uid),
            (f"UID {m[-1].uid + 100}:*", lambda x: x is m[-1]),  # RFC 3501 6.4.8: n:* has max
            (f"UID {m[0].uid},{m[4].uid} SEEN", lambda x: x in (m[0], m[4])),
            ("CHARSET UTF-8 SUBJECT menu", lambda x: x.has("Subject", "menu")),
            ("CHARSET us-ascii ALL", lambda x: True),
        ]
        self.assertGreaterEqual(len(cases), 40)
        for query, predicate in cases:
            with self.subTest(query=query):
                self.expect(query, predicate)

    def test_text_and_body_answers_stay_the_same_once_indexed(self):
        """Bodies are indexed after the commit, in the daemon's idle time; until then
        search decodes their blobs. The answers are the model's in both states."""
        body_text = lambda x: x.body.lower()  # noqa: E731
        cases = [
            ("BODY needle", lambda x: "needle" in body_text(x)),
            ('BODY "mixed case NEEDLE"', lambda x: "mixed case needle" in body_text(x)),
            ("BODY alice", lambda x: "alice" in body_text(x)),
            ("TEXT report", lambda x: "report" in x.data.decode().lower()),
            ("TEXT EUR", lambda x: "eur" in x.data.decode().lower()),
        ]
        for query, predicate in cases:
            self.expect(query, predicate)
        db = os.path.join(self.pb.data_dir, "users", IMAP_USER, "meta.sqlite")
        deadline = time.monotonic() + 30
        while True:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as c:
                pending = c.execute("SELECT count(*) FROM search_pending").fetchone()[0]
                docs = c.execute("SELECT count(*) FROM search_docs").fetchone()[0]
            if pending == 0:
                break
            self.assertLess(time.monotonic(), deadline, f"{pending} bodies still pending")
            time.sleep(0.05)
        self.assertEqual(docs, len(self.msgs), "one document per appended body")
        for query, predicate in cases:
            with self.subTest(query=query):
                self.expect(query, predicate)

    def test_utf8_literal_and_encoded_words(self):
        # A UTF-8 literal matches the RFC 2047 encoded Subject of message 2.
        self.conn.literal = "caf\u00e9".encode()
        typ, data = self.conn.search("UTF-8", "SUBJECT")
        self.assertEqual(typ, "OK", data)
        self.assertEqual(data[0].split(), [b"2"])

    def test_flags_after_store(self):
        m = self.msgs
        typ, _ = self.conn.store("1", "-FLAGS", r"(\Seen)")
        self.assertEqual(typ, "OK")
        typ, _ = self.conn.uid("STORE", f"{m[2].uid},{m[6].uid}", "+FLAGS", r"(\Deleted $Later)")
        self.assertEqual(typ, "OK")
        m[0].flags.discard(r"\Seen")
        for x in (m[2], m[6]):
            x.flags |= {r"\Deleted", "$Later"}
        self.expect("DELETED", lambda x: r"\Deleted" in x.flags)
        self.expect("UNDELETED SEEN", lambda x: r"\Deleted" not in x.flags
                    and r"\Seen" in x.flags)
        self.expect("KEYWORD $LATER", lambda x: "$Later" in x.flags)
        self.expect("OR DELETED ANSWERED", lambda x: bool({r"\Deleted", r"\Answered"} & x.flags))
        # After EXPUNGE the sequence numbers shift; SEARCH answers with the new ones.
        typ, _ = self.conn.expunge()
        self.assertEqual(typ, "OK")
        self.msgs = [x for x in m if r"\Deleted" not in x.flags]
        self.expect("ALL", lambda x: True)
        self.expect("FROM list", lambda x: x.has("From", "list"))
        self.expect("5:*", lambda x: self.msgs.index(x) + 1 >= 5)

    def test_errors(self):
        typ, data = self.conn.search("ISO-8859-1", "ALL")
        self.assertEqual(typ, "NO")
        self.assertIn(b"[BADCHARSET (US-ASCII UTF-8)]", data[0])
        for bad in ("FOO", "(SEEN", "OR SEEN", "SINCE 31-Feb-2024", "UID", "NOT"):
            with self.subTest(query=bad):
                with self.assertRaises(self.conn.error):
                    self.conn.search(None, bad)
        # The session is still usable.
        self.assertEqual(self.search("ALL"), list(range(1, len(self.msgs) + 1)))

    def test_search_needs_selected_state(self):
        typ, _ = self.conn.unselect() if hasattr(self.conn, "unselect") else ("OK", None)
        with self.assertRaises(self.conn.error):
            self.conn.search(None, "ALL")


if __name__ == "__main__":
    unittest.main()
