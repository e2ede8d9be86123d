"""SORT and THREAD (RFC 5256) through the daemon, compared with Dovecot byte for byte: the same
messages (with INTERNALDATEs) are APPENDed to popbridge and to a private Debian dovecot-imapd,
two are expunged from both so that sequence numbers and UIDs differ, and every SORT, UID SORT,
THREAD and UID THREAD below must give the same untagged response from both servers.

The corpus exercises the base subject (RFC 2047 encoded-words, Re/Fw/Fwd leaders, [blobs],
"(fwd)" trailers, "[Fwd: ...]" wrappers, folded and empty subjects), sent dates (zones, no Date,
an unparsable Date falling back to INTERNALDATE, ties broken by sequence number), first
addresses of From/To/Cc (case, groups, missing headers), and REFERENCES threading: chains,
In-Reply-To alone, a missing parent (dummy), a duplicate Message-ID, a reference loop, a
References chain that conflicts with a later one, and threads joined by subject only.

Deliberate differences, kept out of the comparison:
- With no thread at all Dovecot writes "* THREAD " with a trailing space; popbridge writes
  "* THREAD" as RFC 5256's thread-data has it. Trailing spaces are stripped before comparing.

Both casemap subjects and addresses with i;unicode-casemap (RFC 5051: titlecase, then canonical
decomposition): the corpus has accented capitals and small letters, Greek with final sigma,
Cyrillic, ß, Ø, raw UTF-8 and encoded-words, which order differently under octet or ASCII-only
folding."""

import base64
import re
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap, open_reference_pair
from test_mime_dovecot import PASSWORD, USER, RawImap


def message(subject=None, date=None, sender=None, to=None, cc=None, msgid=None, refs=None,
            reply_to_id=None, body="body\r\n"):
    lines = []
    if sender is not None:
        lines.append("From: " + sender)
    if to is not None:
        lines.append("To: " + to)
    if cc is not None:
        lines.append("Cc: " + cc)
    if subject is not None:
        lines.append("Subject: " + subject)
    if date is not None:
        lines.append("Date: " + date)
    if msgid is not None:
        lines.append("Message-ID: " + msgid)
    if refs is not None:
        lines.append("References: " + refs)
    if reply_to_id is not None:
        lines.append("In-Reply-To: " + reply_to_id)
    return ("\r\n".join(lines) + "\r\n\r\n" + body).encode()


# (INTERNALDATE, message). Dates run in 2024 so that every zone keeps a distinct instant,
# except where a tie is meant.
CORPUS = [
    ("01-Mar-2024 10:00:00 +0000",
     message("Hello world", "Fri, 1 Mar 2024 09:00:00 +0000", "Alice <alice@example.org>",
             "bob@example.net", None, "<a@x>")),
    ("01-Mar-2024 11:00:00 +0000",
     message("Re: Hello world", "Fri, 1 Mar 2024 10:30:00 +0100", "bob@example.net",
             "alice@example.org", "Carol <carol@example.com>", "<b@x>", "<a@x>", "<a@x>")),
    ("01-Mar-2024 12:00:00 +0000",
     message("RE: Re: hello WORLD", "Fri, 1 Mar 2024 12:00:00 +0000", "carol@example.com",
             "Zed <zed@example.org>", None, "<c@x>", "<a@x> <b@x>")),
    # Replies to a message that is not in the mailbox: a dummy parent.
    ("02-Mar-2024 09:00:00 +0000",
     message("Re: lost parent", "Sat, 2 Mar 2024 09:00:00 -0500", "dave@example.net",
             "alice@example.org", None, "<d@x>", "<missing@x>")),
    ("02-Mar-2024 09:30:00 +0000",
     message("Re: lost parent", "Sat, 2 Mar 2024 09:30:00 -0500", "erin@example.net",
             "alice@example.org", None, "<e@x>", "<missing@x>")),
    # In-Reply-To only.
    ("02-Mar-2024 10:00:00 +0000",
     message("Re: Hello world", "Sat, 2 Mar 2024 10:00:00 +0000", "ALICE@example.org",
             "bob@example.net", None, "<f@x>", None, "<a@x> (the first)")),
    # A duplicate Message-ID: gets a unique one.
    ("02-Mar-2024 11:00:00 +0000",
     message("Hello world", "Sat, 2 Mar 2024 11:00:00 +0000", "mallory@example.com",
             "bob@example.net", None, "<a@x>")),
    # A reference loop: h refers to i, i to h.
    ("03-Mar-2024 08:00:00 +0000",
     message("loop one", "Sun, 3 Mar 2024 08:00:00 +0000", "frank@example.org", None, None,
             "<h@x>", "<i@x>")),
    ("03-Mar-2024 08:10:00 +0000",
     message("loop two", "Sun, 3 Mar 2024 08:10:00 +0000", "grace@example.org", None, None,
             "<i@x>", "<h@x>")),
    # No Message-ID, joined to "hello world" by subject only.
    ("03-Mar-2024 09:00:00 +0000",
     message("Fwd: Hello world", "Sun, 3 Mar 2024 09:00:00 +0000", "heidi@example.org",
             "ivan@example.org")),
    # Subject forms.
    ("03-Mar-2024 10:00:00 +0000",
     message("[list] Re: [list] Weekly report", "Sun, 3 Mar 2024 10:00:00 +0000",
             "judy@example.org", "list@example.org", "Alice <alice@example.org>", "<k@x>")),
    ("03-Mar-2024 10:05:00 +0000",
     message("Weekly report (fwd)", "Sun, 3 Mar 2024 10:05:00 +0000", "ken@example.org",
             "list@example.org", None, "<l@x>")),
    ("03-Mar-2024 10:10:00 +0000",
     message("[Fwd: Weekly report]", "Sun, 3 Mar 2024 10:10:00 +0000", "leo@example.org",
             "list@example.org", None, "<m@x>")),
    ("03-Mar-2024 10:15:00 +0000",
     message("=?UTF-8?Q?Re=3A_weekly_report?=", "Sun, 3 Mar 2024 10:15:00 +0000",
             "=?UTF-8?Q?Mia?= <mia@example.org>", "list@example.org", None, "<n@x>")),
    ("03-Mar-2024 10:20:00 +0000",
     message("Re[2]: Weekly\r\n\treport", "Sun, 3 Mar 2024 10:20:00 +0000", "nick@example.org",
             "list@example.org", None, "<o@x>")),
    ("03-Mar-2024 10:25:00 +0000",
     message("[only a blob]", "Sun, 3 Mar 2024 10:25:00 +0000", "olivia@example.org",
             "undisclosed-recipients:;", None, "<p@x>")),
    ("03-Mar-2024 10:30:00 +0000",
     message("", "Sun, 3 Mar 2024 10:30:00 +0000", "peggy@example.org", None, None, "<q@x>")),
    ("03-Mar-2024 10:35:00 +0000",
     message(None, "Sun, 3 Mar 2024 10:35:00 +0000", "quentin@example.org", None, None,
             "<r@x>")),
    ("03-Mar-2024 10:40:00 +0000",
     message("Fw: FWD: re: [PATCH 1/2] fix the thing", "Sun, 3 Mar 2024 10:40:00 +0000",
             "rupert@example.org", "dev@example.org", "sybil@example.org", "<s@x>")),
    ("03-Mar-2024 10:45:00 +0000",
     message("[PATCH 2/2] fix the thing", "Sun, 3 Mar 2024 10:45:00 +0000",
             "rupert@example.org", "dev@example.org", "Trent <trent@example.org>", "<t@x>")),
    # Dates: none (INTERNALDATE counts), unparsable, a tie with another message, far zones.
    ("01-Jan-2024 00:00:00 +0000",
     message("no date", None, "victor@example.org", "walter@example.org", None, "<u@x>")),
    ("04-Mar-2024 00:00:00 +0000",
     message("bad date", "yesterday-ish", "walter@example.org", "victor@example.org", None,
             "<v@x>")),
    ("04-Mar-2024 01:00:00 +0000",
     message("tie", "Fri, 1 Mar 2024 09:00:00 +0000", "xavier@example.org", None, None,
             "<w@x>")),
    ("04-Mar-2024 02:00:00 +0000",
     message("east", "Sat, 2 Mar 2024 23:30:00 +1400", "yolanda@example.org", None,
             "zoe@example.org", "<y@x>")),
    ("04-Mar-2024 03:00:00 +0000",
     message("west", "Fri, 1 Mar 2024 14:00:00 -1200", "zack@example.org", None,
             "aaron@example.org", "<z@x>")),
    # A chain whose References disagree with an earlier message's: the message's own last
    # reference wins.
    ("05-Mar-2024 08:00:00 +0000",
     message("Re: chain", "Tue, 5 Mar 2024 08:00:00 +0000", "alice@example.org", None, None,
             "<c3@x>", "<c1@x> <c2@x>")),
    ("05-Mar-2024 08:05:00 +0000",
     message("Re: chain", "Tue, 5 Mar 2024 08:05:00 +0000", "bob@example.net", None, None,
             "<c4@x>", "<c2@x> <c1@x> <c3@x>")),
    ("05-Mar-2024 08:10:00 +0000",
     message("chain", "Tue, 5 Mar 2024 08:10:00 +0000", "carol@example.com", None, None,
             "<c1@x>")),
    ("05-Mar-2024 08:15:00 +0000",
     message("Re: chain", "Tue, 5 Mar 2024 08:15:00 +0000", "dave@example.net", None, None,
             "<c5@x>", "<c1@x> <c4@x>", "<c4@x>")),
    # Two unrelated roots with one subject and no reply marker: a dummy joins them.
    ("06-Mar-2024 08:00:00 +0000",
     message("Meeting", "Wed, 6 Mar 2024 08:00:00 +0000", "erin@example.net", None, None,
             "<m1@x>")),
    ("06-Mar-2024 09:00:00 +0000",
     message("meeting", "Wed, 6 Mar 2024 09:00:00 +0000", "frank@example.org", None, None,
             "<m2@x>")),
    ("06-Mar-2024 10:00:00 +0000",
     message("Re: Meeting", "Wed, 6 Mar 2024 10:00:00 +0000", "grace@example.org", None, None,
             "<m3@x>", "<m2@x>")),
    # Missing parents under a missing root: the inner dummies vanish, the root dummy stays.
    ("07-Mar-2024 08:00:00 +0000",
     message("Re: nested gone", "Thu, 7 Mar 2024 08:00:00 +0000", "heidi@example.org", None,
             None, "<n1@x>", "<gone1@x> <gone2@x>")),
    ("07-Mar-2024 08:05:00 +0000",
     message("Re: nested gone", "Thu, 7 Mar 2024 08:05:00 +0000", "ivan@example.org", None,
             None, "<n2@x>", "<gone1@x> <gone3@x>")),
    # Two dummy roots with one subject: their children become siblings.
    ("07-Mar-2024 09:00:00 +0000",
     message("Re: party", "Thu, 7 Mar 2024 09:00:00 +0000", "judy@example.org", None, None,
             "<p1@x>", "<x1@x>")),
    ("07-Mar-2024 09:05:00 +0000",
     message("Re: party", "Thu, 7 Mar 2024 09:05:00 +0000", "ken@example.org", None, None,
             "<p2@x>", "<x1@x>")),
    ("07-Mar-2024 09:10:00 +0000",
     message("Re: party", "Thu, 7 Mar 2024 09:10:00 +0000", "leo@example.org", None, None,
             "<p3@x>", "<x2@x>")),
    ("07-Mar-2024 09:15:00 +0000",
     message("party", "Thu, 7 Mar 2024 09:15:00 +0000", "mia@example.org", None, None,
             "<p4@x>", "<x2@x>")),
    # A reply root before the original: the original becomes the parent.
    ("08-Mar-2024 08:00:00 +0000",
     message("Re: budget", "Fri, 8 Mar 2024 08:00:00 +0000", "nick@example.org", None, None,
             "<q1@x>")),
    ("08-Mar-2024 09:00:00 +0000",
     message("budget", "Fri, 8 Mar 2024 09:00:00 +0000", "olivia@example.org", None, None,
             "<q2@x>")),
    # Only replies: a dummy holds them.
    ("08-Mar-2024 10:00:00 +0000",
     message("Re: lunch", "Fri, 8 Mar 2024 10:00:00 +0000", "peggy@example.org", None, None,
             "<r1@x>")),
    ("08-Mar-2024 10:00:00 +0000",
     message("Re: LUNCH", "Fri, 8 Mar 2024 10:00:00 +0000", "quentin@example.org", None, None,
             "<r2@x>")),
]


def encoded(text):
    return "=?UTF-8?B?" + base64.b64encode(text.encode()).decode() + "?="


# Non-ASCII subjects: "École" sorts between "ecole" and "Zebra" (E + U+0301 after "EC"), Σ, σ and
# ς are one letter, "Д" and "д" too; ß is not "ss".
UNICODE_SUBJECTS = ["\u00c9cole trip", "ecole trip", "Zebra", "\u00e9cole TRIP", "Re: \u00c4rger",
                    "\u00e4rger", "arger", "\u00d8l", "\u00f8l", "Ol", "\u03a3\u03bf\u03c2",
                    "\u03c3\u03bf\u03c3", "\u03a3\u039f\u03a3", "\u0414\u043e\u043c",
                    "Re: \u0434\u043e\u043c", "Stra\u00dfe", "STRASSE", "strasse", "stra\u00dfe",
                    "e\u0301cole trip", "\u0152uvre", "\u0153uvre"]
for n, text in enumerate(UNICODE_SUBJECTS):
    CORPUS.append(("09-Mar-2024 %02d:00:00 +0000" % n,
                   message(encoded(text) if n % 2 else text, "Sat, 9 Mar 2024 %02d:00:00 +0000" % n,
                           "u%d@example.org" % n, None, None, "<u%d@x>" % n)))

# Display names for DISPLAYFROM and DISPLAYTO (RFC 5957): quoted, encoded, empty, absent, a
# trailing comment, a group, and case and accents against bare addresses.
DISPLAY_ADDRESSES = [
    ('"Zimmer, Anna" <anna@example.org>', "Bob <bob@example.net>"),
    ("=?UTF-8?Q?=C3=89mile?= <emile@example.org>", '"" <zed@example.net>'),
    ('"" <emile@example.org>', "team:;"),
    ("mallory@example.com (Mallory M.)", "=?ISO-8859-1?Q?=D8ystein?= <o@example.no>"),
    ("anna@example.org", "Carol <carol@example.com>, Bob <bob@example.net>"),
    ("emile <EMILE@example.org>", "\"bob\" <bob@example.net>"),
    ("Team: Alice <alice@example.org>, Bob <bob@example.net>;", "undisclosed-recipients:;"),
    ("\"\u00e9mile\" <x@example.org>", "=?UTF-8?B?w4lyaWM=?= <eric@example.org>"),
]
for n, (sender, to) in enumerate(DISPLAY_ADDRESSES):
    CORPUS.append(("10-Mar-2024 %02d:00:00 +0000" % n,
                   message("display %d" % n, "Sun, 10 Mar 2024 %02d:00:00 +0000" % n, sender,
                           to, None, "<d%d@x>" % n)))

# Two fillers, expunged from both servers after the APPENDs so that sequence numbers and UIDs
# differ.
FILLER = ("01-Feb-2024 00:00:00 +0000",
          message("filler", "Thu, 1 Feb 2024 00:00:00 +0000", "filler@example.org"))
CORPUS.insert(2, FILLER)
CORPUS.insert(20, FILLER)

# Their sequence numbers, highest first.
EXPUNGED = [21, 3]

SEARCH_TAILS = [b"ALL", b"2:20", b"NOT FROM alice", b"SUBJECT hello", b"OR TO list CC alice",
                b"SINCE 3-Mar-2024", b"SINCE 9-Mar-2024"]

SORT_CRITERIA = [b"ARRIVAL", b"DATE", b"REVERSE DATE", b"SUBJECT", b"REVERSE SUBJECT DATE",
                 b"FROM", b"REVERSE FROM", b"TO", b"CC", b"SIZE", b"REVERSE SIZE",
                 b"FROM DATE", b"CC REVERSE ARRIVAL", b"TO SUBJECT REVERSE SIZE",
                 b"REVERSE ARRIVAL", b"DISPLAYFROM", b"REVERSE DISPLAYFROM", b"DISPLAYTO",
                 b"DISPLAYFROM REVERSE DATE", b"REVERSE DISPLAYTO SUBJECT"]

# ESORT (RFC 5267): RETURN options on SORT, answered by ESEARCH with MIN and MAX the first and last
# in sort order and ALL in sort order.
ESORT_COMMANDS = [
    b"SORT RETURN (MIN MAX COUNT ALL) (SUBJECT) UTF-8 ALL",
    b"UID SORT RETURN (ALL) (REVERSE DATE) UTF-8 ALL",
    b"SORT RETURN () (DISPLAYFROM) UTF-8 SINCE 3-Mar-2024",
    b"UID SORT RETURN (MIN MAX) (FROM DATE) UTF-8 NOT FROM alice",
    b"SORT RETURN (COUNT) (SIZE) UTF-8 SUBJECT nothing-matches",
    b"SORT RETURN (ALL MIN) (SIZE) UTF-8 SUBJECT nothing-matches",
    b"UID SORT RETURN (COUNT MAX) (REVERSE ARRIVAL) UTF-8 2:30",
]


def commands():
    out = []
    for criteria in SORT_CRITERIA:
        out.append(b"SORT (%s) UTF-8 ALL" % criteria)
        out.append(b"UID SORT (%s) US-ASCII ALL" % criteria)
    for tail in SEARCH_TAILS[1:]:
        out.append(b"SORT (DATE SUBJECT) UTF-8 %s" % tail)
        out.append(b"UID SORT (REVERSE FROM) UTF-8 %s" % tail)
    out.append(b"SORT (SUBJECT) UTF-8 SUBJECT nothing-matches")
    out.extend(ESORT_COMMANDS)
    for algorithm in (b"ORDEREDSUBJECT", b"REFERENCES"):
        for tail in SEARCH_TAILS:
            out.append(b"THREAD %s UTF-8 %s" % (algorithm, tail))
            out.append(b"UID THREAD %s UTF-8 %s" % (algorithm, tail))
        out.append(b"THREAD %s UTF-8 SUBJECT nothing-matches" % algorithm)
    return out


def answer(server, command):
    """The untagged SORT, THREAD or ESEARCH response, trailing white space removed (see the
    docstring) and the command's tag in ESEARCH replaced."""
    lines = [re.sub(rb'^\* ESEARCH \(TAG "[^"]*"\)', b'* ESEARCH (TAG "t")', r)
             for r in server.command(command)
             if r.startswith(b"* SORT") or r.startswith(b"* THREAD") or r.startswith(b"* ESEARCH")]
    if len(lines) != 1:
        raise AssertionError(f"{command!r}: expected one response, got {lines!r}")
    return lines[0].rstrip()


class SortThreadDifferentialTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.theirs, self.ours = open_reference_pair(self)
        for server in (self.theirs, self.ours):
            for internaldate, data in CORPUS:
                server.command(b'APPEND INBOX () "%s"' % internaldate.encode(), literal=data)
            server.command(b"SELECT INBOX")
            for seq in EXPUNGED:
                server.command(b"STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
            server.command(b"EXPUNGE")

    def test_sort_and_thread_match_dovecot(self):
        # One test method: the setup (two servers, the corpus) is the slow part.
        caps = self.ours.command(b"CAPABILITY")[0].split()
        for cap in (b"SORT", b"SORT=DISPLAY", b"ESORT", b"THREAD=ORDEREDSUBJECT",
                    b"THREAD=REFERENCES"):
            self.assertIn(cap, caps)

        nested = 0
        for command in commands():
            theirs = answer(self.theirs, command)
            self.assertEqual(answer(self.ours, command), theirs, command.decode())
            nested += b"((" in theirs
        # The comparison covers real threads, dummies included, not just flat lists.
        self.assertGreater(nested, 2)

        # SORT RETURN (SAVE ...) keeps the result as "$" (RFC 5182, RFC 5267), as a set.
        for save, use in ((b"SORT RETURN (SAVE) (SUBJECT) UTF-8 SINCE 5-Mar-2024", b"SEARCH $"),
                          (b"UID SORT RETURN (SAVE ALL) (REVERSE FROM) UTF-8 2:9",
                           b"UID SEARCH $"),
                          (b"SORT RETURN (SAVE MIN MAX) (DISPLAYFROM) UTF-8 ALL",
                           b"UID SEARCH $")):
            replies = {}
            for name, server in (("dovecot", self.theirs), ("popbridge", self.ours)):
                untagged = [r for r in server.command(save) if r.startswith(b"* ESEARCH")]
                used = [r for r in server.command(use) if r.startswith(b"* SEARCH")]
                replies[name] = (len(untagged), used)
            self.assertEqual(replies["popbridge"], replies["dovecot"], save.decode())
            self.assertNotEqual(replies["popbridge"][1], [b"* SEARCH\r\n"], save.decode())

        # Errors: an unknown charset is NO [BADCHARSET], an unknown algorithm or key BAD.
        for server in (self.theirs, self.ours):
            server.n += 1
            server.sock.sendall(b"x%d SORT (DATE) KOI8-Q ALL\r\n" % server.n)
            self.assertTrue(server._response().startswith(b"x%d NO [BADCHARSET" % server.n))
            server.sock.sendall(b"y%d THREAD NOSUCH UTF-8 ALL\r\n" % server.n)
            self.assertTrue(server._response().startswith(b"y%d BAD" % server.n))
            server.sock.sendall(b"z%d SORT (NOSUCH) UTF-8 ALL\r\n" % server.n)
            self.assertTrue(server._response().startswith(b"z%d BAD" % server.n))


if __name__ == "__main__":
    unittest.main()
