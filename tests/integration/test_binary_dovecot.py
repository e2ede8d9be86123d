"""FETCH BINARY (RFC 3516) through the daemon, compared with Dovecot: a corpus of messages with
base64, quoted-printable, 8bit and binary parts (some with NUL bytes, one appended as a literal8)
and a nested message/rfc822 is APPENDed to popbridge (over TLS) and to a private Debian
dovecot-imapd; for every part BINARY.PEEK[n], BINARY.PEEK[n]<partial> and BINARY.SIZE[n] must be
byte-identical, literal8 markers included.

BINARY[] and BINARY[n] of a multipart or message/rfc822 part are compared too: both servers
decode every quoted-printable or base64 leaf inside and rewrite its header to
"Content-Transfer-Encoding: binary".

Deliberate differences, checked here against popbridge's own data instead of Dovecot:
- Dovecot 2.3.19 answers BINARY.SIZE of a part inside a multipart with numbers that disagree
  with its own BINARY[n] (75 for a 360-byte part, a wrapped-around 64-bit number for a
  quoted-printable one); popbridge's BINARY.SIZE is checked against the length of Dovecot's
  BINARY[n] instead.
- Dovecot refuses BINARY of every part of a message with one part of unknown encoding (NO
  [UNKNOWN-CTE]); popbridge answers the parts it can decode and refuses only the bad one and
  the sections that hold it (BINARY[] here).
- A message with bare LF line ends: Dovecot's BINARY[] of it ends every line in CRLF; popbridge
  sends the stored line ends (as for BODY[]). The corpus has none.
- A quoted-printable part ending in a lone "=" makes Dovecot drop the connection; popbridge
  drops the "=" (RFC 2045 6.7 robustness). The corpus avoids it; see the unit tests. Also checked: BINARY[] sets \\Seen and BINARY.PEEK
does not, an unknown Content-Transfer-Encoding answers NO [UNKNOWN-CTE] as Dovecot does, and a
message APPENDed as a literal8 is stored as sent."""

import base64
import os
import sqlite3
import unittest

from harness.case import PopbridgeCase, IMAP_USER, IMAP_PASSWORD
from test_fetch_dovecot import TlsRawImap, open_reference_pair
from test_mime_dovecot import PASSWORD, USER, RawImap


def b64(data, width=76):
    text = base64.b64encode(data)
    return b"\r\n".join(text[i:i + width] for i in range(0, len(text), width)) + b"\r\n"


BLOB = bytes(range(256)) * 3 + b"\x00\x00end"   # NULs, high bytes, bare CR and LF
PNG_LIKE = bytes((i * 7 + 3) % 255 + 1 for i in range(1000))  # no NUL: a plain literal

QP_TEXT = (b"Caf=C3=A9 cr=C3=A8me: a =3D b, and a soft=\r\n"
           b" line break that goes on and on and on =\r\n"
           b"to the end.\r\n"
           b"tab=09and space=20\r\n"
           b"last line")

MIXED = (b"From: a@example.org\r\nTo: b@example.org\r\nSubject: mixed\r\n"
         b"MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"XX\"\r\n\r\n"
         b"preamble\r\n--XX\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable"
         b"\r\n\r\n" + QP_TEXT + b"\r\n--XX\r\n"
         b"Content-Type: text/html\r\nContent-Transfer-Encoding: BASE64\r\n\r\n"
         + b64(b"<p>hello \xe2\x82\xac</p>\r\n" * 20) + b"--XX\r\n"
         b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
         b"Content-Disposition: attachment; filename=blob.bin\r\n\r\n" + b64(BLOB) + b"--XX\r\n"
         b"Content-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         + b64(PNG_LIKE, width=64) + b"--XX\r\n"
         b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
         b"na\xc3\xafve 8bit text\r\n--XX\r\n"
         b"Content-Type: text/plain\r\n\r\nno encoding given\r\n--XX--\r\nepilogue\r\n")

SINGLE_B64 = (b"From: a@example.org\r\nSubject: single\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
              + b64(b"%PDF-1.4\n" + BLOB * 3))

SINGLE_QP = (b"From: a@example.org\r\nSubject: qp\r\nMIME-Version: 1.0\r\n"
             b"Content-Type: text/plain; charset=iso-8859-1\r\n"
             b"Content-Transfer-Encoding: Quoted-Printable\r\n\r\n" + QP_TEXT + b"\r\n")

INNER = (b"From: c@example.org\r\nSubject: inner\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/alternative; boundary=\"in\"\r\n\r\n"
         b"--in\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
         b"inner =E2=82=AC text\r\n--in\r\n"
         b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         + b64(BLOB[:300]) + b"--in--\r\n")

NESTED = (b"From: a@example.org\r\nSubject: nested\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"out\"\r\n\r\n"
          b"--out\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--out\r\n"
          b"Content-Type: message/rfc822\r\n\r\n" + INNER + b"\r\n--out--\r\n")

# Sent as a literal8: the part is raw bytes with NULs (RFC 3516 4.1 allows it only so).
BINARY_PART = (b"From: a@example.org\r\nSubject: binary\r\nMIME-Version: 1.0\r\n"
               b"Content-Type: multipart/mixed; boundary=\"bb\"\r\n\r\n"
               b"--bb\r\nContent-Type: text/plain\r\n\r\nraw follows\r\n--bb\r\n"
               b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
               b"\r\n" + BLOB.replace(b"--bb", b"") + b"\r\n--bb--\r\n")

UNKNOWN = (b"From: a@example.org\r\nSubject: uue\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=\"u\"\r\n\r\n"
           b"--u\r\nContent-Type: text/plain\r\n\r\nfine\r\n--u\r\n"
           b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: x-uuencode\r\n"
           b"\r\nbegin 644 x\r\n#86)C\r\n`\r\nend\r\n--u--\r\n")

# Larger than a read chunk and a FETCH round's budget: decoding and the partial origin cross
# chunk boundaries, and the literal streams over several rounds.
LARGE_DATA = bytes((i * 2654435761 >> 13) & 0xff for i in range(500_000))
LARGE = (b"From: a@example.org\r\nSubject: large\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"L\"\r\n\r\n--L\r\n"
         b"Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
         + b64(LARGE_DATA) + b"--L\r\n"
         b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
         + b"".join(b"line %d caf=C3=A9 and a soft=\r\n break\r\n" % i for i in range(4000))
         + b"--L--\r\n")

# name -> (bytes, literal8, leaf sections to compare, multipart/message sections)
CORPUS = {
    "mixed": (MIXED, False, [b"1", b"2", b"3", b"4", b"5", b"6"], [b""]),
    "single-base64": (SINGLE_B64, False, [b"1"], [b""]),
    "single-qp": (SINGLE_QP, False, [b"1"], [b""]),
    "nested": (NESTED, False, [b"1", b"2.1", b"2.2"], [b"", b"2"]),
    "binary-part": (BINARY_PART, True, [b"1", b"2"], [b""]),
    "unknown-cte": (UNKNOWN, False, [], []),
    "large": (LARGE, False, [b"1", b"2"], []),
}

PARTIALS = [b"<0.10>", b"<5.100>", b"<3.1>", b"<250.1000000>", b"<65530.70000>",
            b"<1000000.5>"]


def run(conn, text, literal=None, literal8=False):
    """Runs a command; returns (untagged responses, tagged line) without judging the status."""
    return conn.exchange(text, literal, literal8)


def fetch_value(conn, seq, item, name):
    """The raw value of FETCH item `name` (literal header included) of message `seq`."""
    untagged, tagged = run(conn, b"FETCH %d (%s)" % (seq, item))
    if not tagged.startswith(b"OK"):
        raise AssertionError(f"FETCH {item!r}: {tagged!r}")
    for r in untagged:
        prefix = b"* %d FETCH (%s " % (seq, name)
        if r.startswith(prefix) and r.endswith(b")\r\n"):
            return r[len(prefix):-3]
    raise AssertionError(f"no {name!r} in {untagged!r}")


class BinaryDifferentialTest(PopbridgeCase):
    def setUp(self):
        super().setUp()
        self.theirs, self.ours = open_reference_pair(self)
        self.servers = (self.theirs, self.ours)
        self.names = list(CORPUS)
        for name in self.names:
            data, literal8 = CORPUS[name][:2]
            for server in self.servers:
                _, tagged = run(server, b"APPEND INBOX", data, literal8)
                self.assertTrue(tagged.startswith(b"OK"), (name, tagged))
        for server in self.servers:
            server.command(b"SELECT INBOX")

    def both(self, seq, item, name):
        return [fetch_value(server, seq, item, name) for server in self.servers]

    def test_binary_matches_dovecot(self):
        compared = 0
        for seq, name in enumerate(self.names, start=1):
            for section in CORPUS[name][2]:
                with self.subTest(message=name, section=section):
                    theirs, ours = self.both(seq, b"BINARY.PEEK[%s]" % section,
                                             b"BINARY[%s]" % section)
                    self.assertEqual(ours, theirs, "BINARY")
                    data_length = len(ours) - len(ours.split(b"\r\n", 1)[0]) - 2
                    ours = fetch_value(self.ours, seq, b"BINARY.SIZE[%s]" % section,
                                       b"BINARY.SIZE[%s]" % section)
                    self.assertEqual(int(ours), data_length, "BINARY.SIZE")
                    compared += 1
                    for partial in PARTIALS:
                        origin = partial[:partial.index(b".")] + b">"
                        theirs, ours = self.both(seq, b"BINARY.PEEK[%s]%s" % (section, partial),
                                                 b"BINARY[%s]%s" % (section, origin))
                        self.assertEqual(ours, theirs, partial)
        self.assertGreaterEqual(compared, 12)
        # Independent of Dovecot: the attachment decodes to the bytes that were encoded.
        value = fetch_value(self.ours, 1, b"BINARY.PEEK[3]", b"BINARY[3]")
        self.assertEqual(value, b"~{%d}\r\n" % len(BLOB) + BLOB)
        value = fetch_value(self.ours, 1, b"BINARY.PEEK[4]", b"BINARY[4]")
        self.assertEqual(value, b"~{%d}\r\n" % len(PNG_LIKE) + PNG_LIKE)
        large = self.names.index("large") + 1
        value = fetch_value(self.ours, large, b"BINARY.PEEK[1]", b"BINARY[1]")
        self.assertEqual(value, b"~{%d}\r\n" % len(LARGE_DATA) + LARGE_DATA)
        value = fetch_value(self.ours, 1, b"BINARY.PEEK[5]", b"BINARY[5]")
        self.assertEqual(value, b"{16}\r\nna\xc3\xafve 8bit text")
        self.assertEqual(fetch_value(self.ours, 1, b"BINARY.SIZE[3]", b"BINARY.SIZE[3]"),
                         str(len(BLOB)).encode())

    def decoded_sizes(self):
        """popbridge's cache of decoded sizes: {(part, size, has_nul)} of every row."""
        path = os.path.join(self.dir, "popbridge1", "data", "users", IMAP_USER, "meta.sqlite")
        db = sqlite3.connect(path, timeout=30)
        try:
            return {tuple(row) for row in db.execute(
                "SELECT part, size, has_nul FROM decoded_sizes")}
        finally:
            db.close()

    def set_cached_size(self, size):
        path = os.path.join(self.dir, "popbridge1", "data", "users", IMAP_USER, "meta.sqlite")
        db = sqlite3.connect(path, timeout=30)
        try:
            with db:
                db.execute("UPDATE decoded_sizes SET size = ?", (size,))
        finally:
            db.close()

    def test_decoded_sizes_are_cached(self):
        large = self.names.index("large") + 1
        self.assertEqual(self.decoded_sizes(), set())
        # The first BINARY.SIZE counts and records; the one row says what BINARY sends.
        size = fetch_value(self.ours, large, b"BINARY.SIZE[1]", b"BINARY.SIZE[1]")
        self.assertEqual(int(size), len(LARGE_DATA))
        has_nul = int(b"\0" in LARGE_DATA)
        self.assertEqual(self.decoded_sizes(), {("1", len(LARGE_DATA), has_nul)})
        # Later requests take the size from the store, not from a count: a row changed behind
        # popbridge's back shows in BINARY.SIZE and in the literal BINARY announces.
        self.set_cached_size(1000)
        self.assertEqual(fetch_value(self.ours, large, b"BINARY.SIZE[1]", b"BINARY.SIZE[1]"),
                         b"1000")
        self.assertEqual(fetch_value(self.ours, large, b"BINARY.PEEK[1]", b"BINARY[1]"),
                         b"~{1000}\r\n" + LARGE_DATA[:1000])
        self.set_cached_size(len(LARGE_DATA))
        # BINARY with a partial and the second part: cached answers equal Dovecot's.
        for item, name in ((b"BINARY.PEEK[1]<65530.70000>", b"BINARY[1]<65530>"),
                           (b"BINARY.PEEK[2]", b"BINARY[2]"), (b"BINARY.PEEK[2]", b"BINARY[2]"),
                           (b"BINARY.PEEK[2]<100.200>", b"BINARY[2]<100>")):
            theirs, ours = self.both(large, item, name)
            self.assertEqual(ours, theirs, item)
        self.assertEqual({row[0] for row in self.decoded_sizes()}, {"1", "2"})
        # BINARY[] of the whole message is recorded under "".
        whole = fetch_value(self.ours, 1, b"BINARY.PEEK[]", b"BINARY[]")
        data_length = len(whole) - len(whole.split(b"\r\n", 1)[0]) - 2
        self.assertIn(("", data_length, 1), self.decoded_sizes())  # BLOB has NULs
        # The rows go with the message's body.
        for server in self.servers:
            run(server, b"STORE %d +FLAGS.SILENT (\\Deleted)" % large)
            run(server, b"EXPUNGE")
        self.assertEqual({row[0] for row in self.decoded_sizes()}, {""})

    def test_sections_with_parts_match_dovecot(self):
        compared = 0
        for seq, name in enumerate(self.names, start=1):
            for section in CORPUS[name][3]:
                with self.subTest(message=name, section=section):
                    theirs, ours = self.both(seq, b"BINARY.PEEK[%s]" % section,
                                             b"BINARY[%s]" % section)
                    self.assertEqual(ours, theirs, "BINARY")
                    data_length = len(ours) - len(ours.split(b"\r\n", 1)[0]) - 2
                    self.assertEqual(fetch_value(self.ours, seq, b"BINARY.SIZE[%s]" % section,
                                                 b"BINARY.SIZE[%s]" % section),
                                     str(data_length).encode(), "BINARY.SIZE")
                    for partial in PARTIALS:
                        origin = partial[:partial.index(b".")] + b">"
                        theirs, ours = self.both(seq, b"BINARY.PEEK[%s]%s" % (section, partial),
                                                 b"BINARY[%s]%s" % (section, origin))
                        self.assertEqual(ours, theirs, partial)
                    compared += 1
        self.assertGreaterEqual(compared, 6)
        # Independent of Dovecot: the decoded leaf sits in the section under a rewritten header.
        whole = fetch_value(self.ours, 1, b"BINARY.PEEK[]", b"BINARY[]")
        self.assertTrue(whole.startswith(b"~{"), whole[:20])
        self.assertIn(b"Content-Type: application/octet-stream\r\n"
                      b"Content-Disposition: attachment; filename=blob.bin\r\n"
                      b"Content-Transfer-Encoding: binary\r\n\r\n" + BLOB + b"\r\n--XX\r\n",
                      whole)
        self.assertNotIn(b"base64", whole.lower())
        self.assertIn(b"Content-Transfer-Encoding: 8bit\r\n", whole)  # left alone
        # APPEND with a literal8 (RFC 3516 4.1) stores the message as sent.
        seq = self.names.index("binary-part") + 1
        value = fetch_value(self.ours, seq, b"BODY.PEEK[]", b"BODY[]")
        self.assertEqual(value, b"{%d}\r\n" % len(BINARY_PART) + BINARY_PART)
        theirs, ours = self.both(seq, b"BINARY.PEEK[]", b"BINARY[]")
        self.assertEqual(ours, theirs)

    def test_flags_and_errors(self):
        caps = self.ours.command(b"CAPABILITY")[0].split()
        self.assertIn(b"BINARY", caps)
        # RFC 3516 4.2: BINARY[] sets \Seen like BODY[]; BINARY.PEEK and BINARY.SIZE do not.
        for server in self.servers:
            run(server, b"STORE 1:* -FLAGS.SILENT (\\Seen)")
            fetch_value(server, 2, b"BINARY.PEEK[1]", b"BINARY[1]")
            fetch_value(server, 3, b"BINARY.SIZE[1]", b"BINARY.SIZE[1]")
            _, tagged = run(server, b"FETCH 1 (BINARY[2])")
            self.assertTrue(tagged.startswith(b"OK"), tagged)
        for seq in (1, 2, 3):
            theirs, ours = self.both(seq, b"FLAGS", b"FLAGS")
            self.assertEqual(ours, theirs.replace(b" \\Recent", b"").replace(b"\\Recent", b""))
            self.assertEqual(b"\\Seen" in ours, seq == 1, seq)

        seq = self.names.index("unknown-cte") + 1
        results = []
        for server in self.servers:
            untagged, tagged = run(server, b"FETCH %d (BINARY.PEEK[2])" % seq)
            results.append(tagged.split(b"]")[0] + b"]")
            self.assertFalse(any(b"BINARY" in r for r in untagged), untagged)
        self.assertEqual(results[1], results[0])
        self.assertEqual(results[1], b"NO [UNKNOWN-CTE]")
        _, tagged = run(self.ours, b"FETCH %d (BINARY.SIZE[2])" % seq)
        self.assertTrue(tagged.startswith(b"NO [UNKNOWN-CTE]"), tagged)
        # The whole message holds that part, so it cannot be decoded either, as in Dovecot.
        for item in (b"BINARY.PEEK[]", b"BINARY.SIZE[]"):
            results = []
            for server in self.servers:
                untagged, tagged = run(server, b"FETCH %d (%s)" % (seq, item))
                results.append(tagged.split(b"]")[0] + b"]")
                self.assertFalse(any(b"BINARY" in r for r in untagged), untagged)
            self.assertEqual(results, [b"NO [UNKNOWN-CTE]"] * 2, item)
        # The part popbridge can decode is answered (Dovecot refuses it too, see above).
        self.assertEqual(fetch_value(self.ours, seq, b"BINARY.PEEK[1]", b"BINARY[1]"),
                         b"{4}\r\nfine")
        # A part the message does not have is empty, as Dovecot answers.
        for part in (b"9", b"1.5"):
            untagged_t, tagged_t = run(self.theirs, b"FETCH 1 (BINARY.PEEK[%s])" % part)
            untagged_o, tagged_o = run(self.ours, b"FETCH 1 (BINARY.PEEK[%s])" % part)
            self.assertEqual(untagged_o, untagged_t, part)
            self.assertEqual(tagged_o[:2], tagged_t[:2], part)


if __name__ == "__main__":
    unittest.main()
